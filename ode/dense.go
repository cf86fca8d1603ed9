package ode

import "math"

// Dense is the dense output of a solve: a piecewise polynomial through the
// accepted steps, evaluable anywhere between T0 and the time the solve
// reached. On step i, from t_i with size h_i,
//
//	y(t_i + θ h_i) = y_i + Σ_{j=1}^{deg} θ^j q_{i,j},   θ ∈ [0, 1],
//
// where the q_{i,j} come from the tableau's interpolant (Stepper.Interp).
// Its accuracy is that of the interpolant, order Tableau.DenseOrder.
type Dense struct {
	n, deg int
	dir    float64
	t0, t1 float64
	ts, hs []float64
	c      []float64 // per step: y_i then q_i, (deg+1)·n values
	yEnd   []float64
}

func (d *Dense) reset(n, deg int, t0, dir float64) {
	d.n, d.deg, d.dir, d.t0, d.t1 = n, deg, dir, t0, t0
	d.ts, d.hs, d.c = d.ts[:0], d.hs[:0], d.c[:0]
	d.yEnd = resize(d.yEnd, n)
}

func (d *Dense) add(t, h float64, y0, q []float64) {
	d.ts = append(d.ts, t)
	d.hs = append(d.hs, h)
	d.c = append(d.c, y0...)
	d.c = append(d.c, q...)
}

func (d *Dense) setEnd(t float64, y []float64) {
	d.t1 = t
	copy(d.yEnd, y)
}

// T0 returns the start of the interval covered.
func (d *Dense) T0() float64 { return d.t0 }

// T1 returns the end of the interval covered (the time the solve reached).
func (d *Dense) T1() float64 { return d.t1 }

// Len returns the state length.
func (d *Dense) Len() int { return d.n }

// Steps returns the number of steps (polynomial pieces).
func (d *Dense) Steps() int { return len(d.ts) }

// Eval writes the state at time t into dst and returns it; a nil dst is
// allocated. At T1 it returns the final state exactly, and at the start of
// a step the step's initial state exactly.
//
// Eval panics if t is outside the interval between T0 and T1, or if dst is
// not nil and len(dst) != Len().
func (d *Dense) Eval(dst []float64, t float64) []float64 {
	if dst == nil {
		dst = make([]float64, d.n)
	}
	if len(dst) != d.n {
		panic("ode: Dense.Eval: wrong length of dst")
	}
	if !(d.dir*(t-d.t0) >= 0 && d.dir*(d.t1-t) >= 0) {
		panic("ode: Dense.Eval: time outside the solved interval")
	}
	if t == d.t1 {
		copy(dst, d.yEnd)
		return dst
	}
	// Last step i with dir·ts[i] ≤ dir·t.
	lo, hi := 0, len(d.ts)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if d.dir*(d.ts[mid]-t) <= 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	n := d.n
	w := (d.deg + 1) * n
	piece := d.c[lo*w : (lo+1)*w]
	theta := (t - d.ts[lo]) / d.hs[lo]
	theta = math.Min(1, math.Max(0, theta))
	return EvalInterp(dst, piece[:n], piece[n:], theta)
}
