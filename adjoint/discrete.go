package adjoint

import (
	"fmt"

	"github.com/odeflow/odeflow/ode"
	"gonum.org/v1/gonum/floats"
)

// stepper returns the cached Stepper for tab, creating it on first use.
func (s *Solver) stepper(tab *ode.Tableau) *ode.Stepper {
	for _, st := range s.steppers {
		if st.Tab == tab {
			return st
		}
	}
	st := ode.NewStepper(tab, s.n)
	s.steppers = append(s.steppers, st)
	return st
}

// prepare sizes the stage workspace for tab and marks its live stages: those
// whose derivative reaches y1, directly through B or through a later live
// stage. The cotangent of a dead stage (the FSAL stage of Dopri5, say) is
// exactly zero, so its VJP is skipped. s.lastLive is the index of the last
// live stage (the last with B_i ≠ 0).
func (s *Solver) prepare(tab *ode.Tableau) {
	ns, n := len(tab.C), s.n
	if cap(s.live) < ns {
		s.live = make([]bool, ns)
		s.full = make([]bool, ns)
		s.wv = make([][]float64, ns)
		s.sv = make([][]float64, ns)
		s.kv = make([][]float64, ns)
	}
	s.live, s.full, s.wv, s.sv, s.kv = s.live[:ns], s.full[:ns], s.wv[:ns], s.sv[:ns], s.kv[:ns]
	if cap(s.w) < ns*n {
		s.w = make([]float64, ns*n)
	}
	s.w = s.w[:ns*n]
	for i := range s.wv {
		s.wv[i] = s.w[i*n : (i+1)*n : (i+1)*n]
	}
	for i := ns - 1; i >= 0; i-- {
		live := tab.B[i] != 0
		for j := i + 1; j < ns && !live; j++ {
			live = s.live[j] && tab.A[j][i] != 0
		}
		s.live[i] = live
	}
	s.lastLive = -1
	for i := ns - 1; i >= 0 && s.lastLive < 0; i-- {
		if s.live[i] {
			s.lastLive = i
		}
	}
}

// rerunStep re-runs step k of Checkpointed's tape as far as the reverse
// pass needs it, and returns its stage inputs and derivatives.
//
// The VJPs need the stage inputs Y_i of the live stages, which need the
// derivatives K_j of the stages before the last live one; K of the last
// live stage itself enters only ∂L/∂h, needed (needH) in the first and
// last steps. Stages after the last live one (the FSAL stage) are not
// evaluated. For an ActiveEvaler the derivatives come from EvalActive with
// the passive part set to zero, which the VJPs and the cotangent
// propagation never read, except in ∂L/∂h: there the passive cotangent,
// constant through the pass (VJPs give zero beyond Active()) and equal to
// a[m:], meets the passive part of K_i through w_i = B_i a + …, so the
// stages with B_i ≠ 0 of the first and last steps are evaluated with the
// full F when a[m:] is not zero.
func (s *Solver) rerunStep(st *ode.Stepper, tab *ode.Tableau, k int, needH, passive bool) (stage, kd [][]float64) {
	nk := s.lastLive
	if needH {
		nk++
	}
	for i := range s.full {
		s.full[i] = s.act == nil || needH && passive && tab.B[i] != 0
	}
	s.stageIdx = 0
	st.StepStages(s.rerunF, s.fres.StepT[k], s.fres.StepState(k), s.fres.StepH[k], nil, nk)
	return st.Stage, st.K
}

// rerunEval is the ode.Func of Checkpointed's re-run: the full F for the
// stages marked in s.full, the active part otherwise. StepStages calls it
// for the stages in increasing order from stage 0.
func (s *Solver) rerunEval(dst []float64, t float64, y []float64) {
	i := s.stageIdx
	s.stageIdx++
	if s.full[i] {
		s.sys.Eval(dst, t, y)
		s.nEval++
		return
	}
	s.act.EvalActive(dst, t, y)
	s.nAct++
	clear(dst[s.m:])
}

// backwardDiscrete is Backward for Checkpointed and Direct.
func (s *Solver) backwardDiscrete(a []float64) (gt0, gt1 float64, err error) {
	copy(s.cur, a)
	tab := methodOf(&s.frun)
	var nsteps int
	if s.method == Checkpointed {
		nsteps = len(s.fres.StepH)
	} else {
		nsteps = len(s.rec.tapeH)
	}
	s.stats.BackwardSteps = nsteps
	if nsteps == 0 {
		// T0 == T1: the solution map is the identity, and the limit of a
		// single step as h → 0 gives ∂L/∂T1 = aᵀF(T1, y1) = −∂L/∂T0.
		s.eval(s.yb, s.t1, s.y1)
		gt1 = floats.Dot(a, s.yb)
		return -gt1, gt1, nil
	}
	s.prepare(tab)
	ns, n := len(tab.C), s.n
	var st *ode.Stepper
	passive := false // the cotangent of the passive components is not zero
	if s.method == Checkpointed {
		st = s.stepper(tab)
		if s.act != nil {
			passive = nonZero(a[s.m:])
		}
	}
	for k := nsteps - 1; k >= 0; k-- {
		var t, h float64
		var stage, kd [][]float64
		needH := k == 0 || k == nsteps-1
		if s.method == Checkpointed {
			t, h = s.fres.StepT[k], s.fres.StepH[k]
			stage, kd = s.rerunStep(st, tab, k, needH, passive)
		} else {
			t, h = s.rec.tapeT[k], s.rec.tapeH[k]
			off := 2 * ns * n * k
			for i := 0; i < ns; i++ {
				s.sv[i] = s.rec.tape[off+i*n : off+(i+1)*n]
				s.kv[i] = s.rec.tape[off+(ns+i)*n : off+(ns+i+1)*n]
			}
			stage, kd = s.sv, s.kv
		}
		tb, hb := s.backStep(tab, stage, kd, t, h, needH)
		if k == nsteps-1 {
			gt1 = hb
		}
		if k == 0 {
			gt0 = tb - hb
		}
		if i := nonFinite(s.cur); i >= 0 {
			return 0, 0, fmt.Errorf("%w: %v: cotangent of y at t=%.17g (step %d of %d) has %v at index %d", ErrNonFinite, s.method, t, k, nsteps, s.cur[i], i)
		}
	}
	return gt0, gt1, nil
}

// backStep back-propagates through one Runge–Kutta step from (t, y) of
// size h, given its stage inputs stage[i] = Y_i and stage derivatives
// kd[i] = K_i. On entry s.cur holds ȳ1, the cotangent of the step's end;
// on return it holds the cotangent of y. The parameter cotangent is added
// into s.gth. It returns tbar = ∂L/∂t at fixed h and, if needH,
// hbar = ∂L/∂h at fixed t.
//
// With w_i = b_i ȳ1 + Σ_{j>i} a_ji Ȳ_j, the cotangent of K_i is h w_i, and
//
//	Ȳ_i = (h w_i)ᵀ ∂F/∂y(τ_i, Y_i),   τ_i = t + c_i h,
//	ȳ  = ȳ1 + Σ_i Ȳ_i,
//	θ̄ += Σ_i (h w_i)ᵀ ∂F/∂θ,
//	t̄  = Σ_i t̄_i,   t̄_i = (h w_i)ᵀ ∂F/∂t,
//	h̄  = Σ_i (w_iᵀ K_i + c_i t̄_i).
func (s *Solver) backStep(tab *ode.Tableau, stage, kd [][]float64, t, h float64, needH bool) (tbar, hbar float64) {
	ns := len(tab.C)
	cur := s.cur
	for i := 0; i < ns; i++ {
		wi, b := s.wv[i], tab.B[i]
		for m, v := range cur {
			wi[m] = b * v
		}
	}
	kb, yb := s.kb, s.yb
	for i := ns - 1; i >= 0; i-- {
		if !s.live[i] {
			continue
		}
		wi := s.wv[i]
		for m, v := range wi {
			kb[m] = h * v
		}
		at := s.sys.VJP(yb, s.gth, t+tab.C[i]*h, stage[i], kb)
		s.nVJP++
		tbar += at
		if needH {
			hbar += tab.C[i]*at + floats.Dot(wi, kd[i])
		}
		for j, aij := range tab.A[i] {
			if aij != 0 {
				floats.AddScaled(s.wv[j], aij, yb)
			}
		}
		floats.Add(cur, yb)
	}
	return tbar, hbar
}

// recorder captures, for Direct, the stage inputs and derivatives of the
// accepted steps of a forward solve. Every evaluation of F is appended to a
// log; the ode solver calls the event function recordAccept once at T0 and
// once after each accepted step, before any evaluation of the next step
// attempt. At that point the log ends with the accepted attempt's stages
// 1..s−1, followed, for a tableau that is not FSAL and a step that does not
// end at T1, by f(t_{k+1}, y_{k+1}); earlier entries belong to rejected
// attempts (or to the initial-step heuristic) and are dropped. Stage 0 of
// a step is the derivative carried from the previous accept. The stage
// times are checked against t_k + c_i h_k, so a change in the solver's
// evaluation order is reported instead of silently producing a wrong tape.
type recorder struct {
	n       int
	tab     *ode.Tableau
	t1      float64
	started bool
	tk      float64

	logT, logY, logF []float64
	carryY, carryF   []float64
	// tape holds per step Y_0..Y_{s−1} then K_0..K_{s−1}; tapeT and tapeH
	// the step's start and size.
	tape, tapeT, tapeH []float64
	err                error
}

func (r *recorder) start(n int, tab *ode.Tableau, t1 float64) {
	r.n, r.tab, r.t1 = n, tab, t1
	r.started = false
	r.err = nil
	r.logT, r.logY, r.logF = r.logT[:0], r.logY[:0], r.logF[:0]
	r.tape, r.tapeT, r.tapeH = r.tape[:0], r.tapeT[:0], r.tapeH[:0]
}

func (r *recorder) clearLog() {
	r.logT, r.logY, r.logF = r.logT[:0], r.logY[:0], r.logF[:0]
}

func (r *recorder) fail(t float64, what string) {
	if r.err == nil {
		r.err = fmt.Errorf("adjoint: direct: cannot match the solver's evaluations to the step accepted at t=%.17g (%s); use Checkpointed", t, what)
	}
}

// recordEval is F for ode in Direct mode.
func (s *Solver) recordEval(dst []float64, t float64, y []float64) {
	s.sys.Eval(dst, t, y)
	s.nEval++
	r := &s.rec
	r.logT = append(r.logT, t)
	r.logY = append(r.logY, y...)
	r.logF = append(r.logF, dst...)
}

// recordAccept is the event function of Direct's forward solve: it never
// crosses zero and commits an accepted step to the tape.
func (s *Solver) recordAccept(t float64, _ []float64) float64 {
	r := &s.rec
	if r.err != nil {
		return 1
	}
	n := r.n
	if !r.started {
		if len(r.logT) != 1 || r.logT[0] != t {
			r.fail(t, "no single evaluation at T0")
			return 1
		}
		copy(r.carryY, r.logY)
		copy(r.carryF, r.logF)
		r.tk, r.started = t, true
		r.clearLog()
		return 1
	}
	tab := r.tab
	ns := len(tab.C)
	h := t - r.tk
	end := len(r.logT)
	endDeriv := !tab.FSAL && t != r.t1
	if endDeriv {
		end--
	}
	start := end - (ns - 1)
	if start < 0 {
		r.fail(t, "too few evaluations")
		return 1
	}
	if endDeriv && r.logT[end] != r.tk+h {
		r.fail(t, "no end derivative")
		return 1
	}
	for i := 1; i < ns; i++ {
		if r.logT[start+i-1] != r.tk+tab.C[i]*h {
			r.fail(t, fmt.Sprintf("stage %d time", i))
			return 1
		}
	}
	r.tapeT = append(r.tapeT, r.tk)
	r.tapeH = append(r.tapeH, h)
	r.tape = append(r.tape, r.carryY...)
	r.tape = append(r.tape, r.logY[start*n:end*n]...)
	r.tape = append(r.tape, r.carryF...)
	r.tape = append(r.tape, r.logF[start*n:end*n]...)
	switch {
	case tab.FSAL:
		copy(r.carryY, r.logY[(end-1)*n:end*n])
		copy(r.carryF, r.logF[(end-1)*n:end*n])
	case endDeriv:
		copy(r.carryY, r.logY[end*n:(end+1)*n])
		copy(r.carryF, r.logF[end*n:(end+1)*n])
	}
	r.tk = t
	r.clearLog()
	return 1
}

// nonZero reports whether some element of x is not zero.
func nonZero(x []float64) bool {
	for _, v := range x {
		if v != 0 {
			return true
		}
	}
	return false
}
