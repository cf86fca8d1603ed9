package cnf

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/adjoint"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/ode"
	"github.com/odeflow/odeflow/vectorfield"
)

// plainSystem hides the block system's adjoint.ActiveEvaler methods.
type plainSystem struct{ adjoint.System }

// TestActiveEvaler: the block's system is an adjoint.ActiveEvaler whose
// active part is z. Its EvalActive gives the z part of Eval, and
// Checkpointed's gradient with it agrees with the gradient without it (and
// with Direct's) to rounding, while the re-run evaluates the full dynamics
// only at the stages with B_i ≠ 0 of the first and last steps: 2·5 of the
// 2·6 + 5·(steps−2) re-run evaluations of Dopri5, whose last live stage
// is the sixth.
func TestActiveEvaler(t *testing.T) {
	cases := []struct {
		name string
		s    Settings
		ctx  int
	}{
		{"exact", Settings{}, 0},
		{"exact-regularized", Settings{Kinetic: 0.3, Frobenius: 0.2, L1: 0.1, L2: 0.4}, 0},
		{"hutchinson", Settings{Divergence: Hutchinson, Probes: 2}, 0},
		{"conditional", Settings{Kinetic: 0.5}, 2},
	}
	for _, tc := range cases {
		rng := testrand.New(t)
		const n, d = 7, 2
		p := new(nn.Params)
		f, err := vectorfield.NewMLP(d, "8-8", nn.Tanh, &vectorfield.Settings{
			Params: p, ContextDim: tc.ctx, Src: rand.NewPCG(rng.Uint64(), 3), Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		tc.s.Train = &SolverSettings{RTol: 1e-7, ATol: 1e-7}
		b := newBlock("test", f, &tc.s)
		if tc.ctx > 0 {
			b.cond, b.ctxM = true, mat.NewDense(n, tc.ctx, check.Clone(randSlice(rng, n*tc.ctx)))
		}
		b.bindContext("test", n)
		b.setup(n, len(b.regs))
		sys := b.sys
		N, P := sys.Len(), sys.NumParams()
		x := mat.NewDense(n, d, randSlice(rng, n*d))
		y0 := check.Clone(b.load(x, n, N))
		var _ adjoint.ActiveEvaler = sys
		if m := sys.Active(); m != n*d {
			t.Fatalf("%s: Active() = %d, want %d", tc.name, m, n*d)
		}

		// EvalActive is the z part of Eval, and writes nothing else.
		full := make([]float64, N)
		sys.Eval(full, 0.3, y0)
		act := make([]float64, N)
		check.NaNFill(act)
		sys.EvalActive(act, 0.3, y0)
		e, _ := check.MaxRelErr(full[:n*d], act[:n*d])
		t.Logf("%s: EvalActive vs Eval: relative difference %.2e", tc.name, e)
		check.Close(t, tc.name+": EvalActive", full[:n*d], act[:n*d], 1e-14)
		if i := nonNaN(act[n*d:]); i >= 0 {
			t.Errorf("%s: EvalActive wrote the passive element %d", tc.name, n*d+i)
		}

		a := randSlice(rng, N) // cotangents on z, ℓ and the regularizers
		set := &adjoint.Settings{Forward: &ode.Settings{Method: ode.Dopri5, RTol: 1e-7, ATol: 1e-7}}
		grad := func(s adjoint.System, m adjoint.Method) ([]float64, adjoint.Stats) {
			sol := adjoint.NewSolver(N, P)
			set.Method = m
			if _, err := sol.Forward(s, y0, 0, b.T(), set); err != nil {
				t.Fatal(err)
			}
			out := make([]float64, N+P+2)
			gt0, gt1, err := sol.Backward(out[:N], out[N:N+P], a)
			if err != nil {
				t.Fatal(err)
			}
			out[N+P], out[N+P+1] = gt0, gt1
			return out, sol.Stats()
		}
		with, ws := grad(sys, adjoint.Checkpointed)
		without, ps := grad(plainSystem{sys}, adjoint.Checkpointed)
		direct, _ := grad(sys, adjoint.Direct)
		check.Close(t, tc.name+": with vs without ActiveEvaler", without, with, 1e-12)
		check.Close(t, tc.name+": with ActiveEvaler vs Direct", direct, with, 1e-12)
		steps := ws.Forward.Accepted
		if steps < 3 {
			t.Fatalf("%s: %d steps: the test needs interior steps", tc.name, steps)
		}
		total, fullEvals := 2*6+5*(steps-2), 2*5
		if ps.BackwardEvals != total || ps.BackwardActiveEvals != 0 {
			t.Errorf("%s: without ActiveEvaler: %d evaluations, %d active, want %d, 0", tc.name, ps.BackwardEvals, ps.BackwardActiveEvals, total)
		}
		if ws.BackwardEvals != fullEvals || ws.BackwardActiveEvals != total-fullEvals {
			t.Errorf("%s: with ActiveEvaler: %d full and %d active evaluations, want %d and %d",
				tc.name, ws.BackwardEvals, ws.BackwardActiveEvals, fullEvals, total-fullEvals)
		}
		t.Logf("%s: %d steps: %s", tc.name, steps, fmt.Sprintf("%d full + %d active re-run evaluations instead of %d full", ws.BackwardEvals, ws.BackwardActiveEvals, total))
	}
}

func randSlice(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

// nonNaN returns the index of the first element of v that is not NaN, or −1.
func nonNaN(v []float64) int {
	for i, x := range v {
		if x == x {
			return i
		}
	}
	return -1
}
