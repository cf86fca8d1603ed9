package adjoint_test

import (
	"math/rand/v2"
	"testing"

	"github.com/odeflow/odeflow/adjoint"
	"github.com/odeflow/odeflow/ode"
)

// BenchmarkGradient differentiates a loss through a solve of a 2→16→2 tanh
// field (time-dependent, 98 parameters) on a batch of 64 samples (state
// 128) from 0 to 1 with Dopri5 at rtol = atol = 1e-6, by each method.
func BenchmarkGradient(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	sys := newMLP(64, 2, 16, rng)
	n, p := sys.Len(), sys.NumParams()
	y0 := randVec(rng, n, 1)
	c := randVec(rng, n, 1)
	g := &gradCase{sys: sys, y0: y0, t0: 0, t1: 1, c: c}
	for _, bc := range []struct {
		name string
		set  *adjoint.Settings
	}{
		{"checkpointed", &adjoint.Settings{Method: adjoint.Checkpointed}},
		{"direct", &adjoint.Settings{Method: adjoint.Direct}},
		{"backsolve", &adjoint.Settings{Method: adjoint.Backsolve}},
		{"backsolve-seminorm", &adjoint.Settings{Method: adjoint.Backsolve, SemiNorm: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.set.Forward = &ode.Settings{RTol: 1e-6, ATol: 1e-6}
			s := adjoint.NewSolver(n, p)
			a := make([]float64, n)
			gy0, gth := make([]float64, n), make([]float64, p)
			b.ReportAllocs()
			for b.Loop() {
				y1, err := s.Forward(sys, y0, 0, 1, bc.set)
				if err != nil {
					b.Fatal(err)
				}
				g.cot(a, y1)
				if _, _, err := s.Backward(gy0, gth, a); err != nil {
					b.Fatal(err)
				}
			}
			st := s.Stats()
			b.ReportMetric(float64(st.Forward.NFE), "fwdNFE")
			b.ReportMetric(float64(st.BackwardEvals), "bwdEvals")
			b.ReportMetric(float64(st.BackwardVJPs), "bwdVJPs")
			b.ReportMetric(float64(st.Tape), "tapeFloats")
		})
	}
}
