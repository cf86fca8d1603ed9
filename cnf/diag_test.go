package cnf_test

import (
	"testing"

	"github.com/odeflow/odeflow/adjoint"
	"github.com/odeflow/odeflow/cnf"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/internal/testrand"
)

func TestDiagL1(t *testing.T) {
	rnd := testrand.New(t)
	x := flowtest.RandDense(rnd, 5, 2, 1)
	gd := newGradModel(t, adjoint.Direct, cnf.Settings{L1: 0.5}, 0)
	pd, _ := gd.grad(t, x, nil)
	for _, tol := range []float64{1e-6, 1e-8, 1e-10, 1e-12, 1e-14} {
		g := newGradModel(t, adjoint.Backsolve, cnf.Settings{L1: 0.5}, 0)
		g.blk = nil
		s := cnf.Settings{L1: 0.5}
		_ = s
		gb := newGradModelTol(t, tol)
		pb, _ := gb.grad(t, x, nil)
		e, i := check.MaxRelErr(pd, pb)
		t.Logf("tol %g: err %.3g at %d, stats %+v", tol, e, i, gb.blk.Stats().Adjoint)
	}
}

func newGradModelTol(t *testing.T, tol float64) *gradModel {
	g := newGradModel(t, adjoint.Backsolve, cnf.Settings{L1: 0.5}, 0)
	_ = g
	return g
}
