package adjoint

import (
	"fmt"
	"math"

	"github.com/odeflow/odeflow/ode"
	"gonum.org/v1/gonum/floats"
)

// backwardController is the default controller of the backward solve, as
// an interface value converted once.
var backwardController ode.Controller = ode.PI{}

// resolveBackward sets s.bset, the settings of Backsolve's backward solve.
func (s *Solver) resolveBackward(cfg *Settings) error {
	if cfg.Backward != nil {
		s.bset = *cfg.Backward
		if err := checkOutputs("Backward", &s.bset); err != nil {
			return err
		}
	} else {
		s.bset = s.frun
		s.bset.RTolVec, s.bset.ATolVec = nil, nil
		s.bset.Norm = nil
		if g := s.frun.Grid; g != nil {
			if cap(s.revGrid) < len(g) {
				s.revGrid = make([]float64, len(g))
			}
			s.revGrid = s.revGrid[:len(g)]
			for i, v := range g {
				s.revGrid[len(g)-1-i] = v
			}
			s.bset.Grid = s.revGrid
		}
	}
	s.bset.SaveSteps = false
	if s.bset.Controller == nil {
		s.bset.Controller = backwardController
	}
	if s.bset.Norm == nil {
		if cfg.SemiNorm {
			s.bset.Norm = s.semiNorm
		} else {
			s.bset.Norm = s.fullNorm
		}
	}
	return nil
}

// backsolve is Backward for Backsolve: it integrates the augmented state
// [y, a, a_θ, a_t] from T1 back to T0.
func (s *Solver) backsolve(a []float64) (gt0, gt1 float64, err error) {
	n, p := s.n, s.p
	y := s.aY0
	copy(y[:n], s.y1)
	copy(y[n:2*n], a)
	for i := 2 * n; i < 2*n+p; i++ {
		y[i] = 0
	}
	s.eval(s.yb, s.t1, s.y1)
	gt1 = floats.Dot(a, s.yb)
	y[2*n+p] = -gt1
	_, err = s.asol.Solve(&s.ares, ode.Problem{F: s.augF, T0: s.t1, T1: s.t0, Y0: y}, &s.bset)
	s.stats.BackwardSteps = s.ares.Stats.Accepted
	s.stats.BackwardRejected = s.ares.Stats.Rejected
	if err != nil {
		return 0, 0, fmt.Errorf("adjoint: backsolve: backward solve from T1=%.17g to T0=%.17g: %w", s.t1, s.t0, err)
	}
	r := s.ares.Y
	copy(s.cur, r[n:2*n])
	copy(s.gth, r[2*n:2*n+p])
	return r[2*n+p], gt1, nil
}

// augEval is the right-hand side of the adjoint equations integrated
// backward in time:
//
//	y'   =  F(t, y)
//	a'   = −aᵀ∂F/∂y
//	a_θ' = −aᵀ∂F/∂θ
//	a_t' = −aᵀ∂F/∂t
func (s *Solver) augEval(dst []float64, t float64, aug []float64) {
	n, p := s.n, s.p
	y, a := aug[:n], aug[n:2*n]
	fy, ay, ath := dst[:n], dst[n:2*n], dst[2*n:2*n+p]
	for i := range ath {
		ath[i] = 0
	}
	var at float64
	if s.evjp != nil {
		at = s.evjp.EvalVJP(fy, ay, ath, t, y, a)
	} else {
		s.sys.Eval(fy, t, y)
		at = s.sys.VJP(ay, ath, t, y, a)
	}
	s.nEval++
	s.nVJP++
	neg := dst[n : 2*n+p]
	for i, v := range neg {
		neg[i] = -v
	}
	dst[2*n+p] = -at
}

// groupNorm measures the scaled error of the augmented state by groups:
// the mixed norm is the largest RMS norm of the groups y, a, a_θ, a_t (the
// default norm of torchdiffeq for a tuple state), and the seminorm the
// larger of those of y and a. The seminorm is never larger than the mixed
// norm, so a step the mixed norm accepts the seminorm accepts too, with a
// next step at least as large.
type groupNorm struct{ n, p int }

func (g *groupNorm) semi(r []float64) float64 {
	return max(rms(r[:g.n]), rms(r[g.n:2*g.n]))
}

func (g *groupNorm) full(r []float64) float64 {
	return max(g.semi(r), rms(r[2*g.n:2*g.n+g.p]), rms(r[2*g.n+g.p:]))
}

func rms(r []float64) float64 {
	if len(r) == 0 {
		return 0
	}
	var s float64
	for _, v := range r {
		s += v * v
	}
	return math.Sqrt(s / float64(len(r)))
}
