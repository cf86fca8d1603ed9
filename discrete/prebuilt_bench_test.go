package discrete

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/train/toy"
)

// pbBenchFlow builds a prebuilt flow on d = 2 with the benchmark sizes and
// a batch of 256 rows of 8gaussians.
func pbBenchFlow(b *testing.B, build func(int, *FlowSettings) (*odeflow.Flow, error), layers int) (*odeflow.Flow, *mat.Dense) {
	f, err := build(2, &FlowSettings{Layers: layers, Hidden: "128-128", Src: rand.NewPCG(1, 2)})
	if err != nil {
		b.Fatal(err)
	}
	x, err := toy.Generate(toy.Gaussians8, 256, rand.NewPCG(3, 4))
	if err != nil {
		b.Fatal(err)
	}
	return f, x
}

// benchTrainStep times one maximum-likelihood training iteration: the mean
// NLL of the batch and its gradient (Flow.LogProbGrad) and an Adam step.
func benchTrainStep(b *testing.B, f *odeflow.Flow, x *mat.Dense) {
	n, _ := x.Dims()
	p := f.Params()
	opt := nn.NewAdam(p.Len(), p.Trainable(nil), nil)
	w := make([]float64, n)
	for i := range w {
		w[i] = -1 / float64(n)
	}
	lp := make([]float64, n)
	step := func() {
		p.ZeroGrad()
		if _, err := f.LogProbGrad(lp, p.Grad, nil, w, x, nil); err != nil {
			b.Fatal(err)
		}
		opt.Step(p.Data, p.Grad, 1e-4)
	}
	step()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		step()
	}
}

// BenchmarkRealNVPTrainStep: RealNVP, 6 affine coupling layers with
// 128-128 ReLU conditioners, d = 2, batch 256.
func BenchmarkRealNVPTrainStep(b *testing.B) {
	f, x := pbBenchFlow(b, NewRealNVP, 6)
	benchTrainStep(b, f, x)
}

// BenchmarkMAFTrainStep: MAF, 5 autoregressive layers with 128-128 ReLU
// MADEs, d = 2, batch 256.
func BenchmarkMAFTrainStep(b *testing.B) {
	f, x := pbBenchFlow(b, NewMAF, 5)
	benchTrainStep(b, f, x)
}

// BenchmarkNSFTrainStep: coupling NSF, 6 layers, 8 bins, 128-128, d = 2.
func BenchmarkNSFTrainStep(b *testing.B) {
	f, x := pbBenchFlow(b, NewNSF, 6)
	benchTrainStep(b, f, x)
}

// benchSample times drawing 256 samples.
func benchSample(b *testing.B, f *odeflow.Flow) {
	dst := mat.NewDense(256, 2, nil)
	src := rand.NewPCG(5, 6)
	if err := f.Sample(dst, nil, src); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := f.Sample(dst, nil, src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMAFSample: sampling a MAF takes d = 2 network passes per layer.
func BenchmarkMAFSample(b *testing.B) {
	f, _ := pbBenchFlow(b, NewMAF, 5)
	benchSample(b, f)
}

// BenchmarkIAFSample: sampling an IAF takes one pass per layer.
func BenchmarkIAFSample(b *testing.B) {
	f, _ := pbBenchFlow(b, NewIAF, 5)
	benchSample(b, f)
}
