package cnf

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/ode"
)

// Trajectory solves the block's ODE for the batch x with the evaluation
// settings and returns the states at the given ODE times, for plots.
//
// Forward (inverse false) starts from data x at t = 0: times must lie in
// [0, T()] and be non-decreasing. Inverse (inverse true) starts from base
// points x at t = T and runs to 0: times must lie in [0, T()] and be
// non-increasing. states[k] is the n×d batch at times[k] (from the solver's
// dense output) and ldj[k][i] the log-determinant accumulated by row i
// from the start to times[k] (∫ tr ∂f/∂z dt over the time elapsed,
// negative in the inverse direction). A conditional block needs its context
// bound by Given. The recording of a record call is invalidated. Errors are
// those of Forward, and an *ode.Error with Status InvalidSettings for times
// outside the interval or out of order.
func (b *Block) Trajectory(x *mat.Dense, times []float64, inverse bool) (states []*mat.Dense, ldj [][]float64, err error) {
	const op = "cnf: Block.Trajectory"
	b.rec.valid = false
	if x == nil {
		panic(op + ": nil matrix")
	}
	n, c := x.Dims()
	if c != b.d {
		panic(fmt.Sprintf("%s: input has %d columns, want %d", op, c, b.d))
	}
	if err := odeflow.CheckFinite(op, x); err != nil {
		return nil, nil, err
	}
	b.bindContext(op, n)
	b.setup(n, 0)
	N := b.sys.Len()
	y0 := b.load(x, n, N)
	set := b.oset
	set.SaveAt = times
	t0, t1 := b.span(inverse)
	res, err := ode.NewSolver(N).Solve(nil, ode.Problem{F: b.evalF, T0: t0, T1: t1, Y0: y0}, &set)
	if res != nil {
		b.stats.Forward = res.Stats
		b.nfeF += res.Stats.NFE
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	d := b.d
	for k := range res.Ts {
		y := res.SavedY(k)
		states = append(states, mat.NewDense(n, d, append([]float64(nil), y[:n*d]...)))
		ldj = append(ldj, append([]float64(nil), y[n*d:n*d+n]...))
	}
	return states, ldj, nil
}
