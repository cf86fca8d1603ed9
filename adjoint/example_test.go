package adjoint_test

import (
	"fmt"
	"math"

	"github.com/odeflow/odeflow/adjoint"
	"github.com/odeflow/odeflow/ode"
)

// decay is y' = −k y with one parameter k.
type decay struct{ k float64 }

func (d *decay) Len() int       { return 1 }
func (d *decay) NumParams() int { return 1 }
func (d *decay) Eval(dst []float64, _ float64, y []float64) {
	dst[0] = -d.k * y[0]
}
func (d *decay) VJP(ay, ak []float64, _ float64, y, a []float64) float64 {
	ay[0] = -d.k * a[0]
	ak[0] += -a[0] * y[0]
	return 0
}

// Differentiate L = y(T)²/2 for y' = −k y, y(0) = y0, with respect to y0, k
// and T by the three methods, and compare with the closed form
// y(T) = y0 e^{−kT}.
func Example() {
	sys := &decay{k: 0.7}
	y0, T := 2.0, 1.5
	s := adjoint.NewSolver(1, 1)
	for _, m := range []adjoint.Method{adjoint.Checkpointed, adjoint.Backsolve, adjoint.Direct} {
		set := &adjoint.Settings{Method: m, Forward: &ode.Settings{RTol: 1e-10, ATol: 1e-12}}
		y1, err := s.Forward(sys, []float64{y0}, 0, T, set)
		if err != nil {
			fmt.Println(err)
			return
		}
		dLdy1 := []float64{y1[0]} // ∂L/∂y(T) for L = y(T)²/2
		gy0 := make([]float64, 1)
		gk := make([]float64, 1)
		_, gT, err := s.Backward(gy0, gk, dLdy1)
		if err != nil {
			fmt.Println(err)
			return
		}
		st := s.Stats()
		fmt.Printf("%-12s dL/dy0=%.8f dL/dk=%.8f dL/dT=%.8f  (steps %d, tape %d floats)\n", m, gy0[0], gk[0], gT, st.Forward.Accepted, st.Tape)
	}
	e := math.Exp(-sys.k * T)
	y1 := y0 * e
	fmt.Printf("%-12s dL/dy0=%.8f dL/dk=%.8f dL/dT=%.8f\n", "exact", y1*e, -y1*T*y0*e, -y1*sys.k*y1)
	// Output:
	// checkpointed dL/dy0=0.24491286 dL/dk=-0.73473857 dL/dT=-0.34287800  (steps 30, tape 92 floats)
	// backsolve    dL/dy0=0.24491286 dL/dk=-0.73473857 dL/dT=-0.34287800  (steps 30, tape 1 floats)
	// direct       dL/dy0=0.24491286 dL/dk=-0.73473857 dL/dT=-0.34287800  (steps 30, tape 480 floats)
	// exact        dL/dy0=0.24491286 dL/dk=-0.73473857 dL/dT=-0.34287800
}
