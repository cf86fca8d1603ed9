package trace_test

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/odeflow/odeflow/trace"
	"github.com/odeflow/odeflow/vectorfield"
)

// The divergence of the linear field f(z) = A z is tr A = 6 everywhere. The
// exact estimator returns it; the Hutchinson estimates scatter around it,
// and their mean over many samples approaches it.
func Example() {
	A := mat.NewDense(3, 3, []float64{
		1, 4, 0,
		0, 2, -5,
		3, 0, 3,
	})
	f := vectorfield.NewLinear(A, nil, nil, "")
	const n = 20000
	z := make([]float64, n*3) // the Jacobian does not depend on z
	out := trace.Values{F: make([]float64, n*3), Div: make([]float64, n), Frob: make([]float64, n)}

	trace.NewExact(f).EvalDiv(out, 0, z, nil)
	fmt.Printf("exact: div %.4g, ‖J‖²_F %.4g\n", out.Div[0], out.Frob[0])

	h := trace.NewHutchinson(f, &trace.HutchSettings{Probe: trace.Gaussian})
	h.Resample(n, rand.NewPCG(1, 2))
	h.EvalDiv(out, 0, z, nil)
	fmt.Printf("Hutchinson mean: div %.1f, ‖J‖²_F %.0f\n", stat.Mean(out.Div, nil), stat.Mean(out.Frob, nil))
	// Output:
	// exact: div 6, ‖J‖²_F 64
	// Hutchinson mean: div 6.0, ‖J‖²_F 64
}
