package odeflow_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
)

// scale is a minimal Transform: z = x / σ elementwise (data → base), with
// log|det ∂z/∂x| = −Σ log σ_j.
type scale struct{ sigma []float64 }

func (s scale) Dim() int { return len(s.sigma) }

func (s scale) apply(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse bool) error {
	n, err := odeflow.PrepareCall(op, len(s.sigma), dst, ldj, x, true)
	if err != nil {
		return err
	}
	logdet := 0.0
	for _, v := range s.sigma {
		logdet -= math.Log(v)
	}
	if inverse {
		logdet = -logdet
	}
	for i := 0; i < n; i++ {
		for j, v := range s.sigma {
			if inverse {
				dst.Set(i, j, x.At(i, j)*v)
			} else {
				dst.Set(i, j, x.At(i, j)/v)
			}
		}
		if ldj != nil {
			ldj[i] += logdet
		}
	}
	return nil
}

func (s scale) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return s.apply("scale.Forward", dst, ldj, x, false)
}

func (s scale) Inverse(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	return s.apply("scale.Inverse", dst, ldj, y, true)
}

// A flow with a standard normal base and z = x/σ is the normal N(0, diag σ²).
func ExampleFlow() {
	flow := odeflow.NewFlow(odeflow.NewStandardNormal(2), scale{[]float64{2, 0.5}})

	x := mat.NewDense(2, 2, []float64{0, 0, 2, 0.5})
	lp, err := flow.LogProb(nil, x, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("log p: %.4f %.4f\n", lp[0], lp[1])

	// One inverse pass gives samples and their log-densities.
	xs := mat.NewDense(1000, 2, nil)
	lps, err := flow.SampleAndLogProb(xs, nil, nil, rand.NewPCG(1, 2))
	if err != nil {
		fmt.Println(err)
		return
	}
	check, _ := flow.LogProb(nil, xs, nil)
	worst := 0.0
	for i := range lps {
		worst = math.Max(worst, math.Abs(lps[i]-check[i]))
	}
	fmt.Println("SampleAndLogProb agrees with LogProb:", worst < 1e-12)

	// A NaN in the data is an error naming the row.
	x.Set(1, 0, math.NaN())
	_, err = flow.LogProb(nil, x, nil)
	fmt.Println(err)
	// Output:
	// log p: -1.8379 -2.8379
	// SampleAndLogProb agrees with LogProb: true
	// odeflow: Flow.LogProb: non-finite input in 1 row [1]
}

// A chain adds log-determinants; Inverse swaps directions.
func ExampleChain() {
	a := scale{[]float64{2, 4}}
	chain := odeflow.NewChain(a, scale{[]float64{0.5, 1}}, odeflow.Inverse(a))
	x := mat.NewDense(1, 2, []float64{3, 5})
	var z mat.Dense
	ldj := make([]float64, 1)
	if err := chain.Forward(&z, ldj, x); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("z = %.4g, log|det J| = %.4f (log 2 = %.4f)\n", mat.Row(nil, 0, &z), ldj[0], math.Log(2))
	states, _ := chain.ForwardStates(x)
	for i, s := range states {
		fmt.Printf("state %d: %.4g\n", i, mat.Row(nil, 0, s))
	}
	// Output:
	// z = [6 5], log|det J| = 0.6931 (log 2 = 0.6931)
	// state 0: [3 5]
	// state 1: [1.5 1.25]
	// state 2: [3 1.25]
	// state 3: [6 5]
}

func ExampleGaussianMixture() {
	means := mat.NewDense(2, 1, []float64{-2, 2})
	scales := mat.NewDense(2, 1, []float64{1, 1})
	m := odeflow.NewGaussianMixture(nil, "mix", []float64{1, 3}, means, scales)
	x := mat.NewDense(3, 1, []float64{-2, 0, 2})
	for i, lp := range m.LogProb(nil, x) {
		fmt.Printf("log p(%g) = %.4f\n", x.At(i, 0), lp)
	}
	fmt.Printf("weights %.2f\n", m.Weights(nil))
	// Output:
	// log p(-2) = -2.3042
	// log p(0) = -2.9189
	// log p(2) = -1.2065
	// weights [0.25 0.75]
}
