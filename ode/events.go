package ode

import "math"

// Direction selects which zero crossings of an event function count. It
// refers to g followed in the direction of integration: when integrating
// backward (T1 < T0), Rising means g increases as t decreases, as in
// scipy's solve_ivp.
type Direction int

const (
	// Falling counts crossings from positive to negative (or zero).
	Falling Direction = -1
	// Either counts crossings in both directions.
	Either Direction = 0
	// Rising counts crossings from negative to positive (or zero).
	Rising Direction = 1
)

// Event is a zero crossing of G(t, y) to be found during a solve.
//
// After every accepted step the solver evaluates G at the step's end. When
// the sign changes between the two ends of the step (or G becomes exactly
// zero) in the chosen Direction, the crossing is located on the step's dense
// output by the Illinois variant of regula falsi, safeguarded by bisection,
// to within Tol in t. The reported time is the end of the final bracket on
// the far side of the crossing, so G there has its new sign (or is zero).
// A root at T0 itself is not reported, nor a second crossing of the same
// event inside one step.
type Event struct {
	// G is the event function. It must not modify y.
	G func(t float64, y []float64) float64
	// Direction of the crossings that count.
	Direction Direction
	// Terminal stops the solve at the first crossing; Result.T and Result.Y
	// are then the event time and state, and Status is EventStop.
	Terminal bool
	// Tol is the absolute tolerance on the event time; 0 means a few ulp
	// of t (the accuracy of the dense output, not of the root finder, then
	// limits the event time).
	Tol float64
}

// EventHit is an event found by a solve.
type EventHit struct {
	// Index of the event in Settings.Events.
	Index int
	// T is the time of the crossing and Y the (interpolated) state there.
	// Y is a row of storage owned by the Result.
	T float64
	Y []float64
}

// crosses reports whether g goes from gA to gB through zero in direction d.
func crosses(gA, gB float64, d Direction) bool {
	if gA == 0 || math.IsNaN(gA) || math.IsNaN(gB) {
		return false
	}
	if gB != 0 && (gA < 0) == (gB < 0) {
		return false
	}
	switch d {
	case Rising:
		return gA < 0
	case Falling:
		return gA > 0
	}
	return true
}

// findRoot locates the crossing of e.G in (t, tNew] on the dense output
// held in s.q, by Illinois regula falsi with bisection as a safeguard.
func (s *Solver) findRoot(e *Event, t, tNew, gA, gB float64, y0, y1 []float64) float64 {
	if gB == 0 {
		return tNew
	}
	// a keeps the sign of gA (before the crossing), b that of gB (after).
	a, fa, b, fb := t, gA, tNew, gB
	tol := e.Tol
	if tol == 0 {
		tol = 4 * 2.220446049250313e-16 * math.Max(math.Abs(t), math.Abs(tNew))
	}
	side := 0
	for iter := 0; iter < 200; iter++ {
		width := math.Abs(b - a)
		if width <= tol {
			break
		}
		var m float64
		if iter%4 == 3 {
			// Every fourth iteration bisects, bounding the work by that
			// of bisection even when regula falsi stalls.
			m = a + (b-a)/2
		} else {
			m = (fa*b - fb*a) / (fa - fb)
		}
		if !(m > math.Min(a, b) && m < math.Max(a, b)) {
			m = a + (b-a)/2
			if m == a || m == b {
				break
			}
		}
		fm := e.G(m, s.interpAt(m, t, tNew, y0, y1))
		switch {
		case fm == 0:
			return m
		case math.IsNaN(fm):
			return b
		case (fm < 0) == (fb < 0):
			b, fb = m, fm
			if side == -1 {
				fa /= 2
			}
			side = -1
		default:
			a, fa = m, fm
			if side == 1 {
				fb /= 2
			}
			side = 1
		}
	}
	return b
}
