package ode

import "math"

// Norm measures a scaled error vector r, r_i = e_i / (atol_i + rtol_i·max(|y0_i|, |y1_i|)).
// A step is within tolerance when the norm is at most 1. A Norm must not
// modify r and must not allocate; it should return 0 for an empty r.
type Norm func(r []float64) float64

// RMSNorm is the default norm, the root mean square sqrt(Σ r_i² / n), as in
// Hairer's codes, scipy and diffrax. It returns 0 for an empty vector.
func RMSNorm(r []float64) float64 {
	if len(r) == 0 {
		return 0
	}
	var s float64
	for _, v := range r {
		s += v * v
	}
	return math.Sqrt(s / float64(len(r)))
}

// MaxNorm is the maximum norm max_i |r_i|.
func MaxNorm(r []float64) float64 {
	var m float64
	for _, v := range r {
		if a := math.Abs(v); a > m || math.IsNaN(a) {
			m = a
		}
	}
	return m
}

// SemiNorm returns the RMS norm over the components outside [from, to): the
// components in [from, to) are ignored by error control. This is the seminorm
// of Kidger et al. (2021) for adjoint solves, where the parameter-gradient
// part of the augmented state need not be controlled. The mean is over the
// included components only. SemiNorm panics if from < 0 or to < from.
// Indices past the end of r are ignored.
func SemiNorm(from, to int) Norm {
	if from < 0 || to < from {
		panic("ode: SemiNorm: bad range")
	}
	return func(r []float64) float64 {
		lo, hi := min(from, len(r)), min(to, len(r))
		cnt := len(r) - (hi - lo)
		if cnt == 0 {
			return 0
		}
		var s float64
		for _, v := range r[:lo] {
			s += v * v
		}
		for _, v := range r[hi:] {
			s += v * v
		}
		return math.Sqrt(s / float64(cnt))
	}
}

// MaskNorm returns the RMS norm over the components i with include[i] true.
// The mask must have the length of the state.
func MaskNorm(include []bool) Norm {
	m := append([]bool(nil), include...)
	return func(r []float64) float64 {
		var s float64
		cnt := 0
		for i, v := range r {
			if i < len(m) && m[i] {
				s += v * v
				cnt++
			}
		}
		if cnt == 0 {
			return 0
		}
		return math.Sqrt(s / float64(cnt))
	}
}
