// Package check holds the shared property suite that every layer, field,
// transform and estimator in Odeflow is run through: derivatives against
// finite differences (gonum's diff/fd, central formula, float64), outputs
// pre-filled with NaN, and inputs left unchanged.
//
// Tolerances are relative to the scale of the reference:
//
//	|got_i − want_i| ≤ tol · max(1, ‖want‖_∞)
//
// With the central formula and its default step (6e-6) the truncation and
// rounding errors of the reference are both about 1e-10 of the function's
// scale, so tol = 1e-6 leaves four orders of magnitude of slack for honest
// implementations while catching any wrong term.
package check

import (
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Tol is the default relative tolerance for derivative checks.
const Tol = 1e-6

// NaNFill sets every element of s to NaN, so that a routine that forgets to
// write part of its output is caught.
func NaNFill(s []float64) {
	for i := range s {
		s[i] = math.NaN()
	}
}

// NaNFillDense sets every element of m to NaN.
func NaNFillDense(m *mat.Dense) {
	r, c := m.Dims()
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			m.Set(i, j, math.NaN())
		}
	}
}

// Clone returns a copy of s.
func Clone(s []float64) []float64 { return append([]float64(nil), s...) }

// Jacobian returns the m×len(x) Jacobian of f at x by central differences.
// f must not modify x and must write all m elements of y.
func Jacobian(f func(y, x []float64), m int, x []float64) *mat.Dense {
	j := mat.NewDense(m, len(x), nil)
	fd.Jacobian(j, f, x, &fd.JacobianSettings{Formula: fd.Central})
	return j
}

// VJPRef returns aᵀJ, the finite-difference reference for a VJP of f at x
// with cotangent a (len m).
func VJPRef(f func(y, x []float64), m int, x, a []float64) []float64 {
	j := Jacobian(f, m, x)
	out := make([]float64, len(x))
	mat.NewVecDense(len(x), out).MulVec(j.T(), mat.NewVecDense(m, Clone(a)))
	return out
}

// JVPRef returns J v, the finite-difference reference for a JVP of f at x
// with tangent v (len(x)).
func JVPRef(f func(y, x []float64), m int, x, v []float64) []float64 {
	j := Jacobian(f, m, x)
	out := make([]float64, m)
	mat.NewVecDense(m, out).MulVec(j, mat.NewVecDense(len(x), Clone(v)))
	return out
}

// GradRef returns the central-difference gradient of a scalar function.
func GradRef(f func(x []float64) float64, x []float64) []float64 {
	g := make([]float64, len(x))
	fd.Gradient(g, f, x, &fd.Settings{Formula: fd.Central})
	return g
}

// MaxRelErr returns max_i |got_i − want_i| / max(1, ‖want‖_∞), and the index
// where it is reached. It panics if the lengths differ.
func MaxRelErr(want, got []float64) (float64, int) {
	if len(want) != len(got) {
		panic(fmt.Sprintf("check: length mismatch %d != %d", len(want), len(got)))
	}
	scale := math.Max(1, floats.Norm(want, math.Inf(1)))
	worst, at := 0.0, -1
	for i := range want {
		e := math.Abs(got[i]-want[i]) / scale
		if math.IsNaN(got[i]) || math.IsNaN(want[i]) {
			e = math.Inf(1)
		}
		if e > worst || at < 0 {
			worst, at = e, i
		}
	}
	return worst, at
}

// Close reports through t an error if got and want differ by more than tol in
// the sense of MaxRelErr. It returns whether they were close.
func Close(t testing.TB, name string, want, got []float64, tol float64) bool {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: length %d, want %d", name, len(got), len(want))
		return false
	}
	e, at := MaxRelErr(want, got)
	if e > tol {
		t.Errorf("%s: relative error %.3g > %.3g at index %d: got %.12g want %.12g", name, e, tol, at, got[at], want[at])
		return false
	}
	return true
}

// Unchanged reports an error if after differs from before in any bit
// (NaNs compare equal to NaNs).
func Unchanged(t testing.TB, name string, before, after []float64) bool {
	t.Helper()
	if len(before) != len(after) {
		t.Errorf("%s: input length changed from %d to %d", name, len(before), len(after))
		return false
	}
	for i := range before {
		if math.Float64bits(before[i]) != math.Float64bits(after[i]) {
			t.Errorf("%s: input modified at %d: %v -> %v", name, i, before[i], after[i])
			return false
		}
	}
	return true
}

// SameBits reports whether a and b have the same length and the same bits
// in every element (NaNs of one payload compare equal).
func SameBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// Finite reports an error if any element of s is NaN or ±Inf.
func Finite(t testing.TB, name string, s []float64) bool {
	t.Helper()
	for i, v := range s {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("%s: element %d is %v", name, i, v)
			return false
		}
	}
	return true
}

// LogAbsDet returns log|det J| of a square matrix via LU.
func LogAbsDet(j *mat.Dense) float64 {
	var lu mat.LU
	lu.Factorize(j)
	ld, _ := lu.LogDet()
	return ld
}

// MaxRelErrEach returns max_i |got_i − want_i| / max(1, |want_i|), each
// element against its own scale, and the index where it is reached: the
// measure for round trips, where a batch mixes elements of very different
// sizes. NaN in either slice counts as an infinite error. It panics if the
// lengths differ.
func MaxRelErrEach(want, got []float64) (float64, int) {
	if len(want) != len(got) {
		panic(fmt.Sprintf("check: length mismatch %d != %d", len(want), len(got)))
	}
	worst, at := 0.0, -1
	for i := range want {
		e := math.Abs(got[i]-want[i]) / math.Max(1, math.Abs(want[i]))
		if math.IsNaN(e) {
			e = math.Inf(1)
		}
		if e > worst || at < 0 {
			worst, at = e, i
		}
	}
	return worst, at
}

// CloseEach reports through t an error if some element of got differs from
// want by more than tol in the sense of MaxRelErrEach (|got_i − want_i| ≤
// tol·max(1, |want_i|)). It returns whether they were close.
func CloseEach(t testing.TB, name string, want, got []float64, tol float64) bool {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: length %d, want %d", name, len(got), len(want))
		return false
	}
	e, at := MaxRelErrEach(want, got)
	if e > tol {
		t.Errorf("%s: relative error %.3g > %.3g at index %d: got %.17g want %.17g", name, e, tol, at, got[at], want[at])
		return false
	}
	return true
}

// Central4 is the fourth-order central difference for first derivatives,
//
//	f'(x) ≈ (f(x−2h) − 8f(x−h) + 8f(x+h) − f(x+2h)) / 12h,   h = 6e-6,
//
// whose truncation error is O(h⁴) instead of fd.Central's O(h²). Use it (with
// JacobianWith or VJPRefWith) for maps whose curvature is large on the scale
// of their argument, such as a steep inverse in a narrow spline bin, where
// fd.Central's h²·f⁽³⁾ term alone exceeds Tol. Its rounding error is about
// 1.5 ε |f| / h, as for fd.Central.
var Central4 = fd.Formula{
	Stencil: []fd.Point{
		{Loc: -2, Coeff: 1.0 / 12},
		{Loc: -1, Coeff: -8.0 / 12},
		{Loc: 1, Coeff: 8.0 / 12},
		{Loc: 2, Coeff: -1.0 / 12},
	},
	Derivative: 1,
	Step:       6e-6,
}

// JacobianWith is Jacobian with the given finite-difference formula (for
// example Central4).
func JacobianWith(f func(y, x []float64), m int, x []float64, formula fd.Formula) *mat.Dense {
	j := mat.NewDense(m, len(x), nil)
	fd.Jacobian(j, f, x, &fd.JacobianSettings{Formula: formula})
	return j
}

// VJPRefWith is VJPRef with the given finite-difference formula.
func VJPRefWith(f func(y, x []float64), m int, x, a []float64, formula fd.Formula) []float64 {
	j := JacobianWith(f, m, x, formula)
	out := make([]float64, len(x))
	mat.NewVecDense(len(x), out).MulVec(j.T(), mat.NewVecDense(m, Clone(a)))
	return out
}
