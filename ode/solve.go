package ode

import (
	"fmt"
	"math"
)

// Func is a vector field: it writes dy/dt at (t, y) into dst. It must not
// modify y, must write every element of dst, and should not allocate.
type Func func(dst []float64, t float64, y []float64)

// Problem is an initial value problem y' = F(t, y), y(T0) = Y0, to be
// solved up to T1. T1 < T0 integrates backward in time.
type Problem struct {
	F      Func
	T0, T1 float64
	Y0     []float64
}

// Default settings.
const (
	DefaultRTol     = 1e-6
	DefaultATol     = 1e-9
	DefaultMaxSteps = 100000
)

// Settings configure a solve. A nil *Settings and every zero field mean the
// documented default.
type Settings struct {
	// Method is the Runge–Kutta method; nil means Dopri5.
	Method *Tableau

	// RTol and ATol are the relative and absolute tolerances: the local
	// error e_i of a step is measured against
	//
	//	sc_i = ATol_i + RTol_i · max(|y0_i|, |y1_i|),
	//
	// and the step accepted when Norm(e/sc) ≤ 1. Zero means 1e-6 and 1e-9
	// (scipy's defaults, 1e-3 and 1e-6, are too loose for flows). Negative
	// or non-finite values are invalid. RTolVec and ATolVec, if not nil,
	// give per-component tolerances (length of the state) and override the
	// scalars; zeros in them are taken literally, so ATolVec of zeros gives
	// pure relative control.
	RTol, ATol       float64
	RTolVec, ATolVec []float64

	// Norm of the scaled error; nil means RMSNorm. See SemiNorm for adjoint
	// solves.
	Norm Norm

	// Controller accepts or rejects steps; nil means I{} (see PI for why).
	Controller Controller

	// FirstStep is the magnitude of the first step; 0 means Hairer's
	// initial-step heuristic (one extra evaluation of F).
	FirstStep float64
	// MinStep is the smallest step magnitude the controller may propose
	// before the solve fails with StepSizeUnderflow; 0 means 10 ulp of t.
	// The last step before T1 and a step cut by a grid may be shorter.
	MinStep float64
	// MaxStep bounds the step magnitude; 0 means no bound.
	MaxStep float64
	// MaxSteps bounds the number of step attempts (accepted and rejected);
	// 0 means 100000.
	MaxSteps int

	// Step, if positive, selects fixed-step mode with steps of this
	// magnitude, T0 + k·Step, the last one shortened to land on T1.
	// Grid, if not nil, selects fixed-step mode on the given times, which
	// must start at T0, end at T1 and be strictly monotone. Any tableau can
	// be used in fixed-step mode; tolerances and the controller are unused.
	Step float64
	Grid []float64

	// SaveAt lists times at which the solution is wanted, within [T0, T1]
	// and non-decreasing in the direction of integration (non-increasing
	// for T1 < T0). They are computed from the dense output, not by forcing
	// steps to land on them.
	SaveAt []float64
	// SaveSteps records every accepted step: its end time, state and size
	// (Result.StepT, StepY, StepH), so that steps can be re-run exactly
	// with a Stepper.
	SaveSteps bool
	// Dense records the dense output of every step in Result.Dense.
	Dense bool

	// Events are located on the dense output of each accepted step.
	Events []Event
}

// Stats counts the work of a solve.
type Stats struct {
	// NFE is the number of evaluations of F, including the initial-step
	// heuristic and the stages of rejected steps and of dense outputs.
	NFE int
	// Accepted and Rejected count the step attempts.
	Accepted, Rejected int
}

// Result holds the outcome of a solve. When a solve fails, the Result holds
// the solution up to the last accepted step: T, Y, the outputs saved so far,
// the events found so far, Stats and Status.
type Result struct {
	// T is the time reached and Y the state there: T1 on success, the
	// event time after a terminal event, the last accepted time on failure.
	T float64
	Y []float64

	// Ts holds the SaveAt times reached, and Ys the states there, one row
	// of length n per time (row-major).
	Ts, Ys []float64

	// StepT holds T0 and the end time of every accepted step, StepY the
	// states there (row-major), and StepH the signed size of each accepted
	// step (len(StepH) == len(StepT)−1). Filled only with SaveSteps.
	// Step i ran from StepT[i] with size StepH[i].
	StepT, StepY, StepH []float64

	// Events lists the events found, in the order they occurred.
	Events []EventHit
	eventY []float64

	// Dense is the dense output if Settings.Dense was set, otherwise nil.
	Dense *Dense
	dense *Dense // storage kept for reuse

	Stats  Stats
	Status Status
}

// SavedY returns the state saved at Ts[i], a row of Ys.
func (r *Result) SavedY(i int) []float64 {
	n := len(r.Y)
	return r.Ys[i*n : (i+1)*n]
}

// StepState returns the state at StepT[i], a row of StepY.
func (r *Result) StepState(i int) []float64 {
	n := len(r.Y)
	return r.StepY[i*n : (i+1)*n]
}

// Solve solves p with settings s using a new Solver. See Solver.Solve.
func Solve(p Problem, s *Settings) (*Result, error) {
	return NewSolver(len(p.Y0)).Solve(nil, p, s)
}

// Solver solves initial value problems whose state has a fixed length,
// reusing its workspace from solve to solve. A Solver is not safe for
// concurrent use; use one per goroutine.
type Solver struct {
	n        int
	steppers []*Stepper

	y, f    []float64 // current state and derivative
	r, r2   []float64 // scaled errors
	tmp     []float64
	ybuf    []float64 // interpolated state
	q       []float64 // interpolant of the current step
	gPrev   []float64
	gNew    []float64
	pending []pendingHit

	// resolved settings of the current solve
	c config
	// controller state (a field, so that passing it to the Controller
	// interface does not allocate)
	cs ControlState
}

type config struct {
	tab        *Tableau
	rtol, atol float64
	rvec, avec []float64
	norm       Norm
	ctrl       Controller
	first      float64
	minStep    float64
	maxStep    float64
	maxSteps   int
	step       float64
	grid       []float64
	saveAt     []float64
	saveSteps  bool
	dense      bool
	events     []Event
	fixed      bool
}

// defaultController is I{} as an interface value, converted once.
var defaultController Controller = I{}

type pendingHit struct {
	idx int
	t   float64
}

// NewSolver returns a Solver for states of length n. It panics if n < 0.
func NewSolver(n int) *Solver {
	if n < 0 {
		panic("ode: negative state length")
	}
	buf := make([]float64, 6*n)
	s := &Solver{n: n}
	s.y, s.f, s.r, s.r2, s.tmp, s.ybuf = buf[:n:n], buf[n:2*n:2*n], buf[2*n:3*n:3*n], buf[3*n:4*n:4*n], buf[4*n:5*n:5*n], buf[5*n:]
	return s
}

// Len returns the state length of the Solver.
func (s *Solver) Len() int { return s.n }

// stepper returns the cached Stepper for tab, creating it on first use.
func (s *Solver) stepper(tab *Tableau) *Stepper {
	for _, st := range s.steppers {
		if st.Tab == tab {
			return st
		}
	}
	st := NewStepper(tab, s.n)
	s.steppers = append(s.steppers, st)
	return st
}

// Solve integrates p from p.T0 to p.T1 with settings set (nil means the
// defaults) and returns the result in dst, or in a new Result if dst is nil.
// A dst from an earlier solve is reused: its slices are overwritten and
// grown only when too short, so repeated solves of the same size with the
// same outputs allocate nothing.
//
// The error is nil on Success and EventStop, and otherwise an *Error that
// says where the solve stopped; the Result is returned in every case and
// holds the solution up to that point.
func (s *Solver) Solve(dst *Result, p Problem, set *Settings) (*Result, error) {
	if dst == nil {
		dst = &Result{}
	}
	n := s.n
	dst.T = p.T0
	dst.Y = resize(dst.Y, n)
	if len(p.Y0) == n {
		copy(dst.Y, p.Y0)
	}
	dst.Ts, dst.Ys = dst.Ts[:0], dst.Ys[:0]
	dst.StepT, dst.StepY, dst.StepH = dst.StepT[:0], dst.StepY[:0], dst.StepH[:0]
	dst.Events, dst.eventY = dst.Events[:0], dst.eventY[:0]
	dst.Stats = Stats{}
	dst.Status = Success
	dst.Dense = nil
	if err := s.configure(p, set); err != nil {
		dst.Status = InvalidSettings
		return dst, err
	}
	err := s.run(dst, p)
	if err != nil {
		dst.Status = err.Status
		return dst, err
	}
	return dst, nil
}

func invalid(format string, args ...any) *Error {
	return &Error{Status: InvalidSettings, Detail: fmt.Sprintf(format, args...)}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// configure validates p and set and resolves the defaults into s.c.
func (s *Solver) configure(p Problem, set *Settings) error {
	if set == nil {
		set = &Settings{}
	}
	n := s.n
	if p.F == nil {
		return invalid("Problem.F is nil")
	}
	if len(p.Y0) != n {
		return invalid("len(Y0) = %d, but the Solver is for length %d", len(p.Y0), n)
	}
	if !finite(p.T0) || !finite(p.T1) {
		return invalid("T0 = %v and T1 = %v must be finite", p.T0, p.T1)
	}
	c := config{
		tab:       set.Method,
		rtol:      set.RTol,
		atol:      set.ATol,
		rvec:      set.RTolVec,
		avec:      set.ATolVec,
		norm:      set.Norm,
		ctrl:      set.Controller,
		first:     set.FirstStep,
		minStep:   set.MinStep,
		maxStep:   set.MaxStep,
		maxSteps:  set.MaxSteps,
		step:      set.Step,
		grid:      set.Grid,
		saveAt:    set.SaveAt,
		saveSteps: set.SaveSteps,
		dense:     set.Dense,
		events:    set.Events,
	}
	if c.tab == nil {
		c.tab = Dopri5
	}
	if err := c.tab.Validate(); err != nil {
		return invalid("%v", err)
	}
	if c.rtol < 0 || !finite(c.rtol) || c.atol < 0 || !finite(c.atol) {
		return invalid("RTol = %v and ATol = %v must be finite and non-negative", c.rtol, c.atol)
	}
	if c.rtol == 0 {
		c.rtol = DefaultRTol
	}
	if c.atol == 0 {
		c.atol = DefaultATol
	}
	for _, v := range []struct {
		name string
		s    []float64
	}{{"RTolVec", c.rvec}, {"ATolVec", c.avec}} {
		if v.s == nil {
			continue
		}
		if len(v.s) != n {
			return invalid("len(%s) = %d, want the state length %d", v.name, len(v.s), n)
		}
		for i, x := range v.s {
			if x < 0 || !finite(x) {
				return invalid("%s[%d] = %v must be finite and non-negative", v.name, i, x)
			}
		}
	}
	if c.norm == nil {
		c.norm = RMSNorm
	}
	if c.ctrl == nil {
		c.ctrl = defaultController
	}
	for _, v := range []struct {
		name string
		x    float64
	}{{"FirstStep", c.first}, {"MinStep", c.minStep}, {"Step", c.step}} {
		if v.x < 0 || !finite(v.x) {
			return invalid("%s = %v must be finite and non-negative", v.name, v.x)
		}
	}
	if c.maxStep < 0 || math.IsNaN(c.maxStep) {
		return invalid("MaxStep = %v must be non-negative", c.maxStep)
	}
	if c.maxStep == 0 {
		c.maxStep = math.Inf(1)
	}
	if c.minStep > c.maxStep {
		return invalid("MinStep = %v exceeds MaxStep = %v", c.minStep, c.maxStep)
	}
	if c.maxSteps < 0 {
		return invalid("MaxSteps = %d must be non-negative", c.maxSteps)
	}
	if c.maxSteps == 0 {
		c.maxSteps = DefaultMaxSteps
	}
	dir := 1.0
	if p.T1 < p.T0 {
		dir = -1
	}
	if c.step > 0 && c.grid != nil {
		return invalid("Step and Grid are both set; choose one fixed-step mode")
	}
	if c.grid != nil {
		g := c.grid
		if len(g) < 2 || g[0] != p.T0 || g[len(g)-1] != p.T1 {
			return invalid("Grid must start at T0 = %v and end at T1 = %v with at least two times", p.T0, p.T1)
		}
		for i := 1; i < len(g); i++ {
			if !(dir*(g[i]-g[i-1]) > 0) {
				return invalid("Grid is not strictly monotone in the direction of integration at index %d (%v after %v)", i, g[i], g[i-1])
			}
		}
	}
	c.fixed = c.step > 0 || c.grid != nil
	if !c.fixed && !c.tab.Adaptive() {
		return invalid("method %s has no error estimate: set Settings.Step or Settings.Grid for fixed-step mode, or choose an adaptive method such as Dopri5", c.tab.Name)
	}
	lo, hi := math.Min(p.T0, p.T1), math.Max(p.T0, p.T1)
	for i, t := range c.saveAt {
		if !(t >= lo && t <= hi) {
			return invalid("SaveAt[%d] = %v is outside [%v, %v]", i, t, lo, hi)
		}
		if i > 0 && dir*(t-c.saveAt[i-1]) < 0 {
			return invalid("SaveAt is not monotone in the direction of integration at index %d (%v after %v)", i, t, c.saveAt[i-1])
		}
	}
	for i, e := range c.events {
		if e.G == nil {
			return invalid("Events[%d].G is nil", i)
		}
		if e.Direction < Falling || e.Direction > Rising {
			return invalid("Events[%d].Direction = %d, want Either, Rising or Falling", i, e.Direction)
		}
		if e.Tol < 0 || !finite(e.Tol) {
			return invalid("Events[%d].Tol = %v must be finite and non-negative", i, e.Tol)
		}
	}
	s.c = c
	return nil
}

// run performs a validated solve.
func (s *Solver) run(res *Result, p Problem) *Error {
	c := &s.c
	n := s.n
	st := s.stepper(c.tab)
	deg := st.Degree()
	s.q = resize(s.q, deg*n)
	dir := 1.0
	if p.T1 < p.T0 {
		dir = -1
	}
	t := p.T0
	y, f0 := s.y, s.f
	copy(y, p.Y0)
	F := p.F
	stats := &res.Stats
	if !allFinite(y) {
		return &Error{Status: NonFinite, T: t, Detail: "Y0 is not finite"}
	}
	F(f0, t, y)
	stats.NFE++
	if !allFinite(f0) {
		return &Error{Status: NonFinite, T: t, Detail: "F(T0, Y0) is not finite"}
	}

	// Outputs at T0.
	ks := 0 // next SaveAt index
	for ks < len(c.saveAt) && c.saveAt[ks] == p.T0 {
		res.Ts = append(res.Ts, p.T0)
		res.Ys = append(res.Ys, y...)
		ks++
	}
	if c.saveSteps {
		res.StepT = append(res.StepT, t)
		res.StepY = append(res.StepY, y...)
	}
	var dense *Dense
	if c.dense {
		if res.dense == nil {
			res.dense = &Dense{}
		}
		res.Dense = res.dense
		dense = res.Dense
		dense.reset(n, deg, p.T0, dir)
		dense.setEnd(p.T0, y)
	}
	ne := len(c.events)
	if ne > 0 {
		s.gPrev = resize(s.gPrev, ne)
		s.gNew = resize(s.gNew, ne)
		if cap(s.pending) < ne {
			s.pending = make([]pendingHit, 0, ne)
		}
		for i, e := range c.events {
			s.gPrev[i] = e.G(t, y)
		}
	}
	if p.T0 == p.T1 {
		for ks < len(c.saveAt) {
			res.Ts = append(res.Ts, p.T0)
			res.Ys = append(res.Ys, y...)
			ks++
		}
		return nil
	}

	cs := &s.cs
	cs.Reset()
	q := c.tab.ErrOrder
	var hAbs float64
	if !c.fixed {
		if c.first > 0 {
			hAbs = c.first
		} else {
			hAbs = s.initialStep(F, p, dir, f0)
			stats.NFE++
		}
	}
	attempts := 0
	lastNonFinite := false
	gridIdx := 0
	var lastH float64
	for t != p.T1 {
		if attempts >= c.maxSteps {
			return &Error{Status: MaxStepsReached, T: t, H: lastH, Detail: fmt.Sprintf("%d attempts", attempts)}
		}
		var tNew float64
		switch {
		case c.grid != nil:
			tNew = c.grid[gridIdx+1]
		case c.fixed:
			k := float64(stats.Accepted + 1)
			tNew = p.T0 + dir*k*c.step
			if dir*(tNew-p.T1) >= 0 || nearEnd(tNew, p.T1, dir) {
				tNew = p.T1
			}
		default:
			hAbs = math.Min(hAbs, c.maxStep)
			remaining := math.Abs(p.T1 - t)
			floor := math.Max(c.minStep, 10*math.Abs(math.Nextafter(t, dir*math.Inf(1))-t))
			if !(hAbs >= floor) && hAbs < remaining {
				if lastNonFinite {
					return &Error{Status: NonFinite, T: t, H: dir * hAbs, Detail: "step rejected for a non-finite error estimate until the step size underflowed"}
				}
				return &Error{Status: StepSizeUnderflow, T: t, H: dir * hAbs, Detail: fmt.Sprintf("minimum step %.3g", floor)}
			}
			tNew = t + dir*hAbs
			if dir*(tNew-p.T1) >= 0 || nearEnd(tNew, p.T1, dir) {
				tNew = p.T1
			}
		}
		h := tNew - t
		lastH = h
		attempts++
		stats.NFE += st.Step(F, t, y, h, f0)
		var factor float64
		if c.fixed {
			if !allFinite(st.Y1) {
				return &Error{Status: NonFinite, T: t, H: h, Detail: "state became non-finite in a fixed step; reduce Step"}
			}
		} else {
			e := s.errNorm(st, y)
			if math.IsNaN(e) || math.IsInf(e, 0) || !allFinite(st.Y1) {
				e = math.Inf(1)
			}
			accept, fac := c.ctrl.Adapt(cs, e, q)
			if !(fac > 0) || math.IsInf(fac, 0) {
				// A broken controller must not stall the loop.
				fac = DefaultFacMin
			}
			if !accept {
				stats.Rejected++
				lastNonFinite = math.IsInf(e, 1)
				hAbs = math.Abs(h) * fac
				continue
			}
			lastNonFinite = false
			factor = fac
		}
		stats.Accepted++
		if c.grid != nil {
			gridIdx++
		}

		// f(tNew, y1) for the next step (free for FSAL tableaux).
		var f1 []float64
		if tNew != p.T1 {
			var k int
			f1, k = st.EndDeriv(F)
			stats.NFE += k
		}
		stop, tStop := s.outputs(res, st, p, dir, t, tNew, &ks, dense)
		if c.saveSteps {
			res.StepT = append(res.StepT, tNew)
			res.StepY = append(res.StepY, st.Y1...)
			res.StepH = append(res.StepH, h)
		}
		if stop {
			// res.Y was set by outputs.
			res.T = tStop
			res.Status = EventStop
			return nil
		}
		copy(y, st.Y1)
		t = tNew
		res.T = t
		copy(res.Y, y)
		if f1 != nil {
			copy(f0, f1)
			if !allFinite(f0) {
				return &Error{Status: NonFinite, T: t, H: h, Detail: "F(t, y) is not finite at an accepted state"}
			}
		}
		hAbs = math.Abs(h) * factor
	}
	return nil
}

// nearEnd reports whether tNew is so close to T1 (within 100 ulp) that the
// step should be stretched to land on T1 rather than leave a sliver.
func nearEnd(tNew, t1, dir float64) bool {
	ulp := math.Abs(math.Nextafter(t1, math.Inf(1)) - t1)
	return dir*(t1-tNew) <= 100*ulp
}

// errNorm returns the controller's error norm for the last step from y.
func (s *Solver) errNorm(st *Stepper, y []float64) float64 {
	c := &s.c
	y1 := st.Y1
	scaled := func(dst, e []float64) {
		for i := range dst {
			rt, at := c.rtol, c.atol
			if c.rvec != nil {
				rt = c.rvec[i]
			}
			if c.avec != nil {
				at = c.avec[i]
			}
			sc := at + rt*math.Max(math.Abs(y[i]), math.Abs(y1[i]))
			switch {
			case sc > 0:
				dst[i] = e[i] / sc
			case e[i] == 0:
				dst[i] = 0
			default:
				dst[i] = math.Inf(1)
			}
		}
	}
	scaled(s.r, st.Err)
	e1 := c.norm(s.r)
	if st.Err2 == nil {
		return e1
	}
	scaled(s.r2, st.Err2)
	e2 := c.norm(s.r2)
	if e1 == 0 && e2 == 0 {
		return 0
	}
	return e1 * e1 / math.Sqrt(e1*e1+c.tab.ErrMix*e2*e2)
}

// initialStep is Hairer's starting-step heuristic (Solving ODEs I, II.4;
// scipy's select_initial_step), using the solve's norm and tolerances. It
// evaluates F once.
func (s *Solver) initialStep(F Func, p Problem, dir float64, f0 []float64) float64 {
	c := &s.c
	y0 := p.Y0
	interval := math.Abs(p.T1 - p.T0)
	scale := func(i int) float64 {
		rt, at := c.rtol, c.atol
		if c.rvec != nil {
			rt = c.rvec[i]
		}
		if c.avec != nil {
			at = c.avec[i]
		}
		return at + rt*math.Abs(y0[i])
	}
	div := func(v, sc float64) float64 {
		if sc > 0 {
			return v / sc
		}
		if v == 0 {
			return 0
		}
		return math.Inf(1)
	}
	r := s.r
	for i := range r {
		r[i] = div(y0[i], scale(i))
	}
	d0 := c.norm(r)
	for i := range r {
		r[i] = div(f0[i], scale(i))
	}
	d1 := c.norm(r)
	var h0 float64
	if d0 < 1e-5 || d1 < 1e-5 || !finite(d0) || !finite(d1) {
		h0 = 1e-6
	} else {
		h0 = 0.01 * d0 / d1
	}
	h0 = math.Min(h0, math.Min(interval, c.maxStep))
	y1 := s.tmp
	for i := range y1 {
		y1[i] = y0[i] + dir*h0*f0[i]
	}
	f1 := s.ybuf
	F(f1, p.T0+dir*h0, y1)
	for i := range r {
		r[i] = div(f1[i]-f0[i], scale(i))
	}
	d2 := c.norm(r) / h0
	var h1 float64
	if d1 <= 1e-15 && d2 <= 1e-15 {
		h1 = math.Max(1e-6, h0*1e-3)
	} else {
		h1 = math.Pow(0.01/math.Max(d1, d2), 1/float64(c.tab.ErrOrder+1))
	}
	h := math.Min(100*h0, h1)
	if !(h > 0) || math.IsInf(h, 0) {
		h = h0
	}
	return math.Min(h, math.Min(interval, c.maxStep))
}

// outputs records events, SaveAt points and dense output for the accepted
// step from t to tNew. It reports whether a terminal event stopped the solve
// and at what time; in that case res.Y holds the state there.
func (s *Solver) outputs(res *Result, st *Stepper, p Problem, dir, t, tNew float64, ks *int, dense *Dense) (bool, float64) {
	c := &s.c
	haveQ := false
	ensureQ := func() {
		if !haveQ {
			res.Stats.NFE += st.Interp(s.q, p.F)
			haveQ = true
		}
	}
	h := tNew - t
	y0, y1 := st.Stage[0], st.Y1
	stop := false
	tStop := tNew
	if len(c.events) > 0 {
		s.pending = s.pending[:0]
		for i := range c.events {
			e := &c.events[i]
			gA := s.gPrev[i]
			gB := e.G(tNew, y1)
			s.gNew[i] = gB
			if !crosses(gA, gB, e.Direction) {
				continue
			}
			ensureQ()
			tr := s.findRoot(e, t, tNew, gA, gB, y0, y1)
			// Insert in time order.
			s.pending = append(s.pending, pendingHit{i, tr})
			for j := len(s.pending) - 1; j > 0 && dir*(s.pending[j].t-s.pending[j-1].t) < 0; j-- {
				s.pending[j], s.pending[j-1] = s.pending[j-1], s.pending[j]
			}
		}
		copy(s.gPrev, s.gNew)
		for _, ph := range s.pending {
			yr := s.interpAt(ph.t, t, tNew, y0, y1)
			res.eventY = append(res.eventY, yr...)
			res.Events = append(res.Events, EventHit{Index: ph.idx, T: ph.t})
			if c.events[ph.idx].Terminal {
				stop = true
				tStop = ph.t
				copy(res.Y, yr)
				break
			}
		}
		if len(s.pending) > 0 {
			// Point the hits at their rows (eventY may have moved).
			n := s.n
			for i := range res.Events {
				res.Events[i].Y = res.eventY[i*n : (i+1)*n : (i+1)*n]
			}
		}
	}
	for *ks < len(c.saveAt) && dir*(c.saveAt[*ks]-tStop) <= 0 {
		ts := c.saveAt[*ks]
		var ys []float64
		switch {
		case ts == tNew:
			ys = y1
		case stop && ts == tStop:
			ys = res.Y
		default:
			ensureQ()
			ys = s.interpAt(ts, t, tNew, y0, y1)
		}
		res.Ts = append(res.Ts, ts)
		res.Ys = append(res.Ys, ys...)
		*ks++
	}
	if dense != nil {
		ensureQ()
		dense.add(t, h, y0, s.q)
		if stop {
			dense.setEnd(tStop, res.Y)
		} else {
			dense.setEnd(tNew, y1)
		}
	}
	return stop, tStop
}

// interpAt returns the interpolated state at time ts in the current step
// (s.q must be computed), exact at the step's ends.
func (s *Solver) interpAt(ts, t, tNew float64, y0, y1 []float64) []float64 {
	switch ts {
	case tNew:
		copy(s.ybuf, y1)
	case t:
		copy(s.ybuf, y0)
	default:
		EvalInterp(s.ybuf, y0, s.q, (ts-t)/(tNew-t))
	}
	return s.ybuf
}

func resize(s []float64, n int) []float64 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float64, n)
}
