package discrete

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/nn"
)

// benchBNAF returns a BNAF of dimension 2 with the given hidden layers and
// factor, a batch of 256 data rows and its base points.
func benchBNAF(b *testing.B, layers, a int) (*BNAF, *mat.Dense, *mat.Dense) {
	p := new(nn.Params)
	t := NewBNAF(p, "b", BNAFSettings{Dim: 2, Layers: layers, HiddenFactor: a, Src: rand.NewPCG(1, 2)})
	x := flowtest.RandDense(rand.New(rand.NewPCG(3, 4)), 256, 2, 1)
	z := mat.NewDense(256, 2, nil)
	if err := t.Forward(z, nil, x); err != nil {
		b.Fatal(err)
	}
	return t, x, z
}

var bnafBenchSizes = []struct {
	name      string
	layers, a int
}{
	{"L=1_a=8", 1, 8},
	{"L=2_a=16", 2, 16},
}

// BenchmarkBNAFForward measures Forward with log-determinant, d = 2,
// batch 256.
func BenchmarkBNAFForward(b *testing.B) {
	for _, s := range bnafBenchSizes {
		b.Run(s.name, func(b *testing.B) {
			t, x, _ := benchBNAF(b, s.layers, s.a)
			y := mat.NewDense(256, 2, nil)
			ldj := make([]float64, 256)
			b.ReportAllocs()
			for b.Loop() {
				if err := t.Forward(y, ldj, x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBNAFForwardBackward measures ForwardRecord followed by Backward
// into the input and the parameters, d = 2, batch 256.
func BenchmarkBNAFForwardBackward(b *testing.B) {
	for _, s := range bnafBenchSizes {
		b.Run(s.name, func(b *testing.B) {
			t, x, _ := benchBNAF(b, s.layers, s.a)
			y, gin := mat.NewDense(256, 2, nil), mat.NewDense(256, 2, nil)
			gout := flowtest.RandDense(rand.New(rand.NewPCG(5, 6)), 256, 2, 1)
			ldj, gldj := make([]float64, 256), make([]float64, 256)
			for i := range gldj {
				gldj[i] = 1
			}
			gp := make([]float64, t.Params().Len())
			b.ReportAllocs()
			for b.Loop() {
				if err := t.ForwardRecord(y, ldj, x); err != nil {
					b.Fatal(err)
				}
				if err := t.Backward(gin, gp, gout, gldj); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBNAFInverse measures Inverse (bisection with safeguarded Newton)
// with log-determinant, d = 2, batch 256.
func BenchmarkBNAFInverse(b *testing.B) {
	for _, s := range bnafBenchSizes {
		b.Run(s.name, func(b *testing.B) {
			t, _, z := benchBNAF(b, s.layers, s.a)
			x := mat.NewDense(256, 2, nil)
			ldj := make([]float64, 256)
			b.ReportAllocs()
			for b.Loop() {
				if err := t.Inverse(x, ldj, z); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
