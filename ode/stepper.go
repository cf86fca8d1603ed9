package ode

import (
	"math"

	"gonum.org/v1/gonum/floats"
)

// Stepper takes single Runge–Kutta steps of one tableau for states of one
// length, in storage allocated once by NewStepper. It is the machinery under
// Solver, exposed for code that must re-run or differentiate steps (an
// adjoint re-runs each accepted step (t_i, y_i, h_i) recorded with
// Settings.SaveSteps and back-propagates through its stages).
//
// After Step(f, t, y, h, f0):
//
//	Stage[i] = y + h Σ_{j<i} A[i][j] K[j]   (Stage[0] is a copy of y)
//	K[i]     = f(t + C[i] h, Stage[i])       for i < Stages()
//	Y1       = y + h Σ_i B[i] K[i]
//	Err      = h Σ_i BErr[i] K[i]            (nil if the tableau has none)
//	Err2     = h Σ_i BErr2[i] K[i]           (nil if the tableau has none)
//
// Re-running Step with the same arguments reproduces these bit for bit.
// The slices are owned by the Stepper and overwritten by the next Step.
// A Stepper allocates nothing after NewStepper and is not safe for
// concurrent use.
type Stepper struct {
	Tab *Tableau

	// K holds the derivatives of the extended stages: the Stages() stage
	// derivatives, then (if the tableau is not FSAL) f(t+h, Y1), then the
	// extra dense-output stages. Entries past Stages() are valid only after
	// EndDeriv or Interp.
	K [][]float64
	// Stage holds the stage inputs Y_i for i < Stages().
	Stage [][]float64
	// Y1, Err and Err2: see the type comment.
	Y1, Err, Err2 []float64

	// T and H are the time and step of the last Step.
	T, H float64

	n       int
	p       [][]float64 // interpolation matrix over the extended stages
	deg     int
	tmp     []float64
	haveEnd bool
	haveExt bool
	partial bool // the last step was cut short by StepStages
}

// NewStepper returns a Stepper for tab and states of length n.
// NewStepper panics if tab is not valid (see Tableau.Validate) or n < 0.
func NewStepper(tab *Tableau, n int) *Stepper {
	if err := tab.Validate(); err != nil {
		panic(err.Error())
	}
	if n < 0 {
		panic("ode: negative state length")
	}
	ne := tab.extStages()
	s := len(tab.C)
	p := tab.denseP()
	nvec := ne + s + 2
	if tab.BErr != nil {
		nvec++
	}
	if tab.BErr2 != nil {
		nvec++
	}
	buf := make([]float64, nvec*n)
	next := func() []float64 {
		v := buf[:n:n]
		buf = buf[n:]
		return v
	}
	st := &Stepper{Tab: tab, n: n, p: p, deg: len(p[0])}
	st.K = make([][]float64, ne)
	for i := range st.K {
		st.K[i] = next()
	}
	st.Stage = make([][]float64, s)
	for i := range st.Stage {
		st.Stage[i] = next()
	}
	st.Y1 = next()
	st.tmp = next()
	if tab.BErr != nil {
		st.Err = next()
	}
	if tab.BErr2 != nil {
		st.Err2 = next()
	}
	return st
}

// Len returns the state length.
func (st *Stepper) Len() int { return st.n }

// Degree returns the degree of the interpolating polynomial in θ.
func (st *Stepper) Degree() int { return st.deg }

// Step takes one step of size h (negative for backward integration) from
// (t, y). If f0 is not nil it must hold f(t, y) and is used as K[0]
// instead of evaluating f; otherwise f is called for it. Step returns the
// number of evaluations of f it made. y and f0 are only read, and are
// copied before anything is overwritten, so they may alias this Stepper's
// own slices: Step(f, st.T+st.H, st.Y1, h, f1) with f1 from EndDeriv
// continues from the last step.
//
// Step panics if len(y) or a non-nil len(f0) differs from Len().
func (st *Stepper) Step(f Func, t float64, y []float64, h float64, f0 []float64) int {
	if len(y) != st.n || (f0 != nil && len(f0) != st.n) {
		panic("ode: Stepper.Step: wrong state length")
	}
	return st.stages(f, t, y, h, f0, len(st.Tab.C))
}

// StepStages is Step stopped after the first k stage derivatives, for code
// that needs only the early stages of a step (an adjoint skips the stages
// whose derivative never reaches Y1, such as the FSAL stage of Dopri5). It
// sets
//
//	Stage[i] for i ≤ k and i < Stages(),
//	K[i]     for i < k,
//
// that is the derivatives of the first k stages and every stage input they
// determine: with k < Stages() this includes Stage[k], which needs only
// K[0..k−1]. These values are bit for bit those of Step with the same
// arguments. With k = Stages(), StepStages is Step; with k < Stages(), Y1,
// Err and Err2 are not formed, and EndDeriv and Interp panic until the next
// complete step. f0, if not nil, is K[0] as in Step (and is not read when
// k = 0). f is called for the stages in increasing order. StepStages
// returns the number of evaluations of f it made.
//
// StepStages panics if k < 0 or k > Stages(), or if len(y) or a non-nil
// len(f0) differs from Len().
func (st *Stepper) StepStages(f Func, t float64, y []float64, h float64, f0 []float64, k int) int {
	if len(y) != st.n || (f0 != nil && len(f0) != st.n) {
		panic("ode: Stepper.StepStages: wrong state length")
	}
	if k < 0 || k > len(st.Tab.C) {
		panic("ode: Stepper.StepStages: stage count out of range")
	}
	return st.stages(f, t, y, h, f0, k)
}

// stages is StepStages without the checks.
func (st *Stepper) stages(f Func, t float64, y []float64, h float64, f0 []float64, k int) int {
	tab := st.Tab
	s := len(tab.C)
	st.T, st.H = t, h
	st.haveEnd, st.haveExt = false, false
	st.partial = k < s
	nfe := 0
	copy(st.Stage[0], y)
	if k == 0 {
		return 0
	}
	if f0 != nil {
		copy(st.K[0], f0)
	} else {
		f(st.K[0], t, st.Stage[0])
		nfe++
	}
	for i := 1; i < s; i++ {
		combine(st.Stage[i], st.Stage[0], h, tab.A[i], st.K)
		if i == k {
			return nfe
		}
		f(st.K[i], t+tab.C[i]*h, st.Stage[i])
		nfe++
	}
	if tab.FSAL {
		copy(st.Y1, st.Stage[s-1])
		st.haveEnd = true
	} else {
		combine(st.Y1, st.Stage[0], h, tab.B, st.K)
	}
	if st.Err != nil {
		combine(st.Err, nil, h, tab.BErr, st.K)
	}
	if st.Err2 != nil {
		combine(st.Err2, nil, h, tab.BErr2, st.K)
	}
	return nfe
}

// EndDeriv returns f(T+H, Y1) for the last step, evaluating it if the
// tableau is not FSAL and it has not been evaluated yet, and the number of
// evaluations made (0 or 1). The returned slice is K[EndIndex()].
//
// EndDeriv panics after a StepStages that stopped before the last stage.
func (st *Stepper) EndDeriv(f Func) ([]float64, int) {
	if st.partial {
		panic("ode: Stepper.EndDeriv after an incomplete StepStages")
	}
	e := st.Tab.endIndex()
	if st.haveEnd {
		return st.K[e], 0
	}
	f(st.K[e], st.T+st.H, st.Y1)
	st.haveEnd = true
	return st.K[e], 1
}

// EndIndex returns the index in K of f(T+H, Y1).
func (st *Stepper) EndIndex() int { return st.Tab.endIndex() }

// Interp writes into q (Degree()×Len(), row-major) the coefficients of the
// interpolant of the last step,
//
//	y(T + θH) = Stage[0] + Σ_{j=1}^{deg} θ^j q[j−1],
//
// evaluating the end derivative and extra dense stages if needed, and
// returns the number of evaluations of f made.
// Interp panics if len(q) != Degree()*Len(), or after a StepStages that
// stopped before the last stage.
func (st *Stepper) Interp(q []float64, f Func) int {
	if len(q) != st.deg*st.n {
		panic("ode: Stepper.Interp: wrong length of q")
	}
	if st.partial {
		panic("ode: Stepper.Interp after an incomplete StepStages")
	}
	_, nfe := st.EndDeriv(f)
	tab := st.Tab
	if !st.haveExt {
		base := tab.endIndex() + 1
		for m, row := range tab.DenseA {
			combine(st.tmp, st.Stage[0], st.H, row, st.K)
			f(st.K[base+m], st.T+tab.DenseC[m]*st.H, st.tmp)
			nfe++
		}
		st.haveExt = true
	}
	n := st.n
	for j := 0; j < st.deg; j++ {
		qj := q[j*n : (j+1)*n]
		for m := range qj {
			qj[m] = 0
		}
		for i, row := range st.p {
			if c := row[j]; c != 0 {
				floats.AddScaled(qj, st.H*c, st.K[i])
			}
		}
	}
	return nfe
}

// combine sets dst = base + h Σ_j w[j] k[j] (base nil means zero), skipping
// zero weights. Long vectors use gonum's assembly axpy; short ones a plain
// loop, which avoids the call overhead that dominates for a few components.
func combine(dst, base []float64, h float64, w []float64, k [][]float64) {
	if base == nil {
		for i := range dst {
			dst[i] = 0
		}
	} else {
		copy(dst, base)
	}
	if len(dst) >= 32 {
		for j, c := range w {
			if c != 0 {
				floats.AddScaled(dst, h*c, k[j])
			}
		}
		return
	}
	for j, c := range w {
		if c != 0 {
			hc := h * c
			kj := k[j][:len(dst)]
			for m := range dst {
				dst[m] += hc * kj[m]
			}
		}
	}
}

// EvalInterp sets dst = y0 + Σ_{j=1}^{deg} θ^j q[j−1] for an interpolant
// q of deg rows of length len(y0) (see Stepper.Interp), and returns dst.
// EvalInterp panics if the lengths disagree.
func EvalInterp(dst, y0, q []float64, theta float64) []float64 {
	n := len(y0)
	if len(dst) != n || n == 0 && len(q) != 0 || n > 0 && len(q)%n != 0 {
		panic("ode: EvalInterp: length mismatch")
	}
	if n == 0 {
		return dst
	}
	deg := len(q) / n
	for m := 0; m < n; m++ {
		acc := q[(deg-1)*n+m]
		for j := deg - 2; j >= 0; j-- {
			acc = acc*theta + q[j*n+m]
		}
		dst[m] = y0[m] + theta*acc
	}
	return dst
}

// allFinite reports whether every element of s is finite.
func allFinite(s []float64) bool {
	for _, v := range s {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
