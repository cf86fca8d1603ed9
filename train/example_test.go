package train_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/train"
	"github.com/odeflow/odeflow/train/toy"
)

// identity is the identity transform, with its (trivial) derivatives, so
// that the examples' flows are just their trainable base distributions.
type identity struct {
	d int
	n int
}

func (t *identity) Dim() int           { return t.d }
func (t *identity) Params() *nn.Params { return nil }
func (t *identity) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	n, err := odeflow.PrepareCall("identity", t.d, dst, ldj, x, true)
	if err == nil {
		dst.Copy(x)
		t.n = n
	}
	return err
}
func (t *identity) Inverse(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	return t.Forward(dst, ldj, y)
}
func (t *identity) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return t.Forward(dst, ldj, x)
}
func (t *identity) InverseRecord(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	return t.Forward(dst, ldj, y)
}
func (t *identity) Backward(gin *mat.Dense, _ []float64, gout *mat.Dense, _ []float64) error {
	odeflow.PrepareBackward("identity", t.d, t.n, 0, gin, nil, gout, nil)
	if gin != nil {
		gin.Copy(gout)
	}
	return nil
}

// Fit a diagonal normal to FFJORD's 8gaussians by maximum likelihood: the
// optimum is the sample mean and standard deviation.
func ExampleFit() {
	x, err := toy.Generate(toy.Gaussians8, 4000, rand.NewPCG(1, 2))
	if err != nil {
		fmt.Println(err)
		return
	}
	base := odeflow.NewDiagNormal(nil, "base", []float64{1, 1}, []float64{1, 1})
	flow := odeflow.NewFlow(base, &identity{d: 2})
	res, err := train.Fit(context.Background(), flow, x, nil, &train.Settings{
		Schedule:  nn.Cosine{Base: 0.05, Floor: 1e-4, Steps: 600},
		BatchSize: 200,
		Epochs:    30,
		Src:       rand.NewPCG(3, 4),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Status, res.Iterations, "iterations")
	for j := 0; j < 2; j++ {
		m, s := stat.MeanStdDev(mat.Col(nil, j, x), nil)
		fmt.Printf("dimension %d: loc %.2f scale %.2f (sample mean %.2f, std %.2f)\n",
			j, base.Loc()[j], math.Exp(base.LogScale()[j]), m, s)
	}
	// Output:
	// finished 600 iterations
	// dimension 0: loc -0.01 scale 2.02 (sample mean -0.01, std 2.02)
	// dimension 1: loc 0.02 scale 2.03 (sample mean 0.02, std 2.03)
}

// Fit a normal flow to an unnormalized density by reverse KL and estimate
// its normalizer: p̃(x) = exp(−(x − 2)²/(2·0.5²)), Z = 0.5·√(2π).
func ExampleFitKL() {
	target := func(dst []float64, grad *mat.Dense, x, _ *mat.Dense) {
		for i := range dst {
			u := (x.At(i, 0) - 2) / 0.5
			dst[i] = -0.5 * u * u
			if grad != nil {
				grad.Set(i, 0, -u/0.5)
			}
		}
	}
	base := odeflow.NewDiagNormal(nil, "q", []float64{0}, []float64{1})
	flow := odeflow.NewFlow(base, &identity{d: 1})
	res, err := train.FitKL(context.Background(), flow, target, &train.Settings{
		Iterations: 1000,
		BatchSize:  64,
		Schedule:   nn.Cosine{Base: 0.05, Floor: 1e-4, Steps: 1000},
		Src:        rand.NewPCG(5, 6),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("q: mean %.2f, scale %.2f\n", base.Loc()[0], math.Exp(base.LogScale()[0]))
	fmt.Printf("log Z: estimate %.3f, exact %.3f\n", res.KL.LogZ, math.Log(0.5*math.Sqrt(2*math.Pi)))
	// Output:
	// q: mean 2.00, scale 0.50
	// log Z: estimate 0.226, exact 0.226
}
