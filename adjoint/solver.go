package adjoint

import (
	"fmt"
	"math"

	"github.com/odeflow/odeflow/ode"
)

// Solver computes gradients of a loss of y(T1) through solves of one state
// length and parameter count, reusing its workspace from call to call.
//
// A gradient takes two calls: Forward solves from (T0, y0) to T1 and keeps
// what the chosen Method needs (the tape); the caller evaluates its loss L
// at the returned y(T1) and its cotangent ∂L/∂y(T1); Backward turns that
// cotangent into ∂L/∂y0, ∂L/∂θ, ∂L/∂T0 and ∂L/∂T1. Backward may be called
// several times after one Forward, with different cotangents.
//
// After the first Forward/Backward pair for a given Method and tableau,
// later pairs that take no more steps allocate nothing. A Solver is not safe
// for concurrent use.
type Solver struct {
	n, p int

	sys    System
	evjp   EvalVJPer
	act    ActiveEvaler // nil if sys has no passive components
	m      int          // act.Active()
	method Method
	t0, t1 float64
	ready  bool
	stats  Stats
	nEval  int
	nVJP   int
	nAct   int

	fsol   *ode.Solver
	fres   ode.Result
	frun   ode.Settings // the forward solve's settings as run
	bset   ode.Settings // Backsolve's backward settings, resolved
	y1     []float64
	evalF  ode.Func // s.eval
	recF   ode.Func // s.recordEval
	augF   ode.Func // s.augEval
	events []ode.Event

	// Checkpointed and Direct.
	steppers []*ode.Stepper
	live     []bool
	lastLive int
	full     []bool // Checkpointed's re-run: stages evaluated with the full F
	stageIdx int    // the stage rerunEval is called for
	rerunF   ode.Func
	w        []float64
	wv       [][]float64
	sv, kv   [][]float64
	kb, yb   []float64
	cur      []float64
	gth      []float64
	rec      recorder

	// Backsolve.
	asol     *ode.Solver
	ares     ode.Result
	aY0      []float64
	gnorm    groupNorm
	fullNorm ode.Norm
	semiNorm ode.Norm
	revGrid  []float64
}

// NewSolver returns a Solver for states of length n and n params
// parameters. It panics if n or params is negative.
func NewSolver(n, params int) *Solver {
	if n < 0 || params < 0 {
		panic("adjoint: negative state length or parameter count")
	}
	s := &Solver{n: n, p: params}
	s.fsol = ode.NewSolver(n)
	s.asol = ode.NewSolver(2*n + params + 1)
	buf := make([]float64, 4*n+params)
	s.y1, s.kb, s.yb, s.cur = buf[:n:n], buf[n:2*n:2*n], buf[2*n:3*n:3*n], buf[3*n:4*n:4*n]
	s.gth = buf[4*n:]
	s.aY0 = make([]float64, 2*n+params+1)
	s.evalF = s.eval
	s.recF = s.recordEval
	s.augF = s.augEval
	s.rerunF = s.rerunEval
	s.events = []ode.Event{{G: s.recordAccept}}
	s.gnorm = groupNorm{n: n, p: params}
	s.fullNorm = s.gnorm.full
	s.semiNorm = s.gnorm.semi
	s.rec.carryY = make([]float64, n)
	s.rec.carryF = make([]float64, n)
	return s
}

// Len returns the state length of the Solver.
func (s *Solver) Len() int { return s.n }

// NumParams returns the parameter count of the Solver.
func (s *Solver) NumParams() int { return s.p }

// Stats returns the counts of the last Forward and of the last Backward.
func (s *Solver) Stats() Stats { return s.stats }

// Forward solves y' = F(t, y; θ), y(t0) = y0 up to t1 (t1 < t0 integrates
// backward in time) with settings set (nil means Checkpointed with ode's
// defaults), keeps the tape of set.Method for Backward, and returns y(t1).
// The returned slice is owned by the Solver and valid until the next
// Forward. y0 is not modified.
//
// The error wraps the forward solve's *ode.Error (errors.As finds it;
// errors.Is(err, ode.MaxStepsReached.Err()) and the like work) or
// ErrSettings. After an error, Backward may not be called.
//
// Forward panics if sys.Len() or sys.NumParams() differ from the Solver's,
// if len(y0) != Len(), if set.Method is not a Method, or if sys is an
// ActiveEvaler whose Active() is outside [0, Len()].
func (s *Solver) Forward(sys System, y0 []float64, t0, t1 float64, set *Settings) ([]float64, error) {
	if sys.Len() != s.n || sys.NumParams() != s.p {
		panic(fmt.Sprintf("adjoint: system of length %d with %d parameters given to a Solver for %d and %d", sys.Len(), sys.NumParams(), s.n, s.p))
	}
	if len(y0) != s.n {
		panic(fmt.Sprintf("adjoint: len(y0) = %d, want %d", len(y0), s.n))
	}
	s.ready = false
	s.sys = sys
	s.evjp, _ = sys.(EvalVJPer)
	s.act, _ = sys.(ActiveEvaler)
	if s.act != nil {
		s.m = s.act.Active()
		if s.m < 0 || s.m > s.n {
			panic(fmt.Sprintf("adjoint: Active() = %d outside [0, %d]", s.m, s.n))
		}
	}
	s.t0, s.t1 = t0, t1
	s.stats = Stats{}
	var cfg Settings
	if set != nil {
		cfg = *set
	}
	if cfg.Method < Checkpointed || cfg.Method > Direct {
		panic(fmt.Sprintf("adjoint: unknown %v", cfg.Method))
	}
	s.method = cfg.Method
	s.frun = ode.Settings{}
	if cfg.Forward != nil {
		s.frun = *cfg.Forward
	}
	if err := checkOutputs("Forward", &s.frun); err != nil {
		return nil, err
	}
	if s.method == Backsolve {
		if err := s.resolveBackward(&cfg); err != nil {
			return nil, err
		}
	}

	F := s.evalF
	s.frun.SaveSteps = s.method == Checkpointed
	if s.method == Direct {
		s.frun.Events = s.events
		s.rec.start(s.n, methodOf(&s.frun), t1)
		F = s.recF
	}
	_, err := s.fsol.Solve(&s.fres, ode.Problem{F: F, T0: t0, T1: t1, Y0: y0}, &s.frun)
	s.stats.Forward = s.fres.Stats
	if err != nil {
		return nil, fmt.Errorf("adjoint: %v: forward solve: %w", s.method, err)
	}
	if s.method == Direct && s.rec.err != nil {
		return nil, s.rec.err
	}
	copy(s.y1, s.fres.Y)
	switch s.method {
	case Checkpointed:
		s.stats.Tape = len(s.fres.StepT) + len(s.fres.StepY) + len(s.fres.StepH)
	case Direct:
		s.stats.Tape = len(s.rec.tape) + len(s.rec.tapeT) + len(s.rec.tapeH)
	case Backsolve:
		s.stats.Tape = len(s.y1)
	}
	s.ready = true
	return s.y1, nil
}

// Backward computes the gradients of a loss L(y(T1)) whose cotangent
// ∂L/∂y(T1) is a, for the last successful Forward: it sets gy0 = ∂L/∂y0,
// adds ∂L/∂θ into gtheta, and returns ∂L/∂T0 and ∂L/∂T1. A nil gy0 or gtheta
// is not written. a is not modified.
//
// For Checkpointed and Direct the gradients are those of the computed
// solution map, with the accepted step sizes held fixed except that the
// first step starts at T0 and the last one ends at T1 (see the package
// documentation); for Backsolve they are those of the exact flow, up to
// the backward solve's error.
//
// The error wraps ErrNonFinite when a, or a gradient computed from it, is
// not finite, and the backward solve's *ode.Error when Backsolve fails; gy0
// and gtheta are then left unchanged.
//
// Backward panics if no successful Forward preceded it, if len(a) != Len(),
// or if a non-nil gy0 or gtheta has the wrong length.
func (s *Solver) Backward(gy0, gtheta, a []float64) (gt0, gt1 float64, err error) {
	if !s.ready {
		panic("adjoint: Backward without a successful Forward")
	}
	if len(a) != s.n || (gy0 != nil && len(gy0) != s.n) || (gtheta != nil && len(gtheta) != s.p) {
		panic(fmt.Sprintf("adjoint: Backward: lengths of gy0, gtheta, a = %d, %d, %d, want %d, %d, %d", len(gy0), len(gtheta), len(a), s.n, s.p, s.n))
	}
	s.stats.BackwardEvals, s.stats.BackwardVJPs = 0, 0
	s.stats.BackwardSteps, s.stats.BackwardRejected = 0, 0
	s.stats.BackwardActiveEvals = 0
	s.nEval, s.nVJP, s.nAct = 0, 0, 0
	if i := nonFinite(a); i >= 0 {
		return 0, 0, fmt.Errorf("%w: ∂L/∂y(T1)[%d] = %v", ErrNonFinite, i, a[i])
	}
	for i := range s.gth {
		s.gth[i] = 0
	}
	if s.method == Backsolve {
		gt0, gt1, err = s.backsolve(a)
	} else {
		gt0, gt1, err = s.backwardDiscrete(a)
	}
	s.stats.BackwardEvals += s.nEval
	s.stats.BackwardVJPs += s.nVJP
	s.stats.BackwardActiveEvals += s.nAct
	if err != nil {
		return 0, 0, err
	}
	if i := nonFinite(s.cur); i >= 0 {
		return 0, 0, fmt.Errorf("%w: %v: ∂L/∂y0[%d] = %v", ErrNonFinite, s.method, i, s.cur[i])
	}
	if i := nonFinite(s.gth); i >= 0 {
		return 0, 0, fmt.Errorf("%w: %v: ∂L/∂θ[%d] = %v", ErrNonFinite, s.method, i, s.gth[i])
	}
	if !finite(gt0) || !finite(gt1) {
		return 0, 0, fmt.Errorf("%w: %v: ∂L/∂T0 = %v, ∂L/∂T1 = %v", ErrNonFinite, s.method, gt0, gt1)
	}
	if gy0 != nil {
		copy(gy0, s.cur)
	}
	for i, v := range gtheta {
		gtheta[i] = v + s.gth[i]
	}
	return gt0, gt1, nil
}

// eval is F for ode, counting evaluations.
func (s *Solver) eval(dst []float64, t float64, y []float64) {
	s.sys.Eval(dst, t, y)
	s.nEval++
}

// checkOutputs rejects settings that the adjoint cannot differentiate.
func checkOutputs(name string, set *ode.Settings) error {
	switch {
	case len(set.SaveAt) > 0:
		return fmt.Errorf("%w: %s.SaveAt must be empty (the loss depends on y(T1) only)", ErrSettings, name)
	case set.Dense:
		return fmt.Errorf("%w: %s.Dense must be false", ErrSettings, name)
	case len(set.Events) > 0:
		return fmt.Errorf("%w: %s.Events must be empty", ErrSettings, name)
	}
	return nil
}

// methodOf returns the tableau a solve with set uses.
func methodOf(set *ode.Settings) *ode.Tableau {
	if set.Method == nil {
		return ode.Dopri5
	}
	return set.Method
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// nonFinite returns the index of the first NaN or ±Inf in x, or −1.
func nonFinite(x []float64) int {
	for i, v := range x {
		if !finite(v) {
			return i
		}
	}
	return -1
}
