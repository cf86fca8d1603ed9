package check

import (
	"math"
	"testing"
)

func TestJVPAndVJPRefOnKnownMap(t *testing.T) {
	// f(x) = (x0*x1, sin(x0), x1^2): J = [[x1, x0], [cos x0, 0], [0, 2 x1]].
	f := func(y, x []float64) { y[0] = x[0] * x[1]; y[1] = math.Sin(x[0]); y[2] = x[1] * x[1] }
	x := []float64{0.3, -1.7}
	v := []float64{0.5, 2}
	a := []float64{1, -2, 0.25}
	wantJV := []float64{x[1]*v[0] + x[0]*v[1], math.Cos(x[0]) * v[0], 2 * x[1] * v[1]}
	wantVJ := []float64{a[0]*x[1] + a[1]*math.Cos(x[0]), a[0]*x[0] + a[2]*2*x[1]}
	Close(t, "JVPRef", wantJV, JVPRef(f, 3, x, v), 1e-9)
	Close(t, "VJPRef", wantVJ, VJPRef(f, 3, x, a), 1e-9)
}

func TestCloseDetectsError(t *testing.T) {
	ft := &testing.T{}
	if Close(ft, "x", []float64{1, 2}, []float64{1, 2.001}, 1e-6) {
		t.Error("Close accepted a 5e-4 relative error at tol 1e-6")
	}
	if !Close(t, "y", []float64{1, 2}, []float64{1, 2 + 1e-9}, 1e-6) {
		t.Error("Close rejected a 5e-10 relative error")
	}
	if Unchanged(ft, "u", []float64{1}, []float64{1.5}) {
		t.Error("Unchanged missed a change")
	}
	nan := []float64{0, 1}
	NaNFill(nan)
	if Finite(ft, "f", nan) {
		t.Error("Finite accepted NaN")
	}
}

func TestCloseEachUsesElementScale(t *testing.T) {
	ft := &testing.T{}
	// 1e-9 off on an element of size 1 next to one of size 1e6: Close's
	// global scale hides it, CloseEach does not.
	want := []float64{1, 1e6}
	got := []float64{1 + 1e-9, 1e6}
	if !Close(t, "global", want, got, 1e-12) {
		t.Error("Close should use the global scale")
	}
	if CloseEach(ft, "each", want, got, 1e-10) {
		t.Error("CloseEach accepted a 1e-9 relative error at tol 1e-10")
	}
	if !CloseEach(t, "each", []float64{1e6, -3}, []float64{1e6 + 1e-5, -3}, 1e-10) {
		t.Error("CloseEach rejected a 1e-11 relative error on a large element")
	}
	if e, _ := MaxRelErrEach([]float64{1}, []float64{math.NaN()}); !math.IsInf(e, 1) {
		t.Errorf("NaN gives error %v, want +Inf", e)
	}
}

func TestCentral4IsFourthOrder(t *testing.T) {
	// f(x) = 1/(x − 1) near x = 0.99: the pole at distance 0.01 makes the
	// central difference's relative error (h/0.01)² ≈ 4e-7 · 1, while the
	// fourth-order formula's is about (h/0.01)⁴.
	f := func(y, x []float64) { y[0] = 1 / (x[0] - 1) }
	x := []float64{0.99}
	want := -1 / ((x[0] - 1) * (x[0] - 1))
	j2 := Jacobian(f, 1, x).At(0, 0)
	j4 := JacobianWith(f, 1, x, Central4).At(0, 0)
	e2, e4 := math.Abs(j2/want-1), math.Abs(j4/want-1)
	if !(e4 < 1e-9) || !(e4 < e2/100) {
		t.Errorf("relative errors: central %.3g, Central4 %.3g", e2, e4)
	}
	a := []float64{2}
	v := VJPRefWith(f, 1, x, a, Central4)
	if math.Abs(v[0]/(2*want)-1) > 1e-9 {
		t.Errorf("VJPRefWith = %v, want %v", v[0], 2*want)
	}
}
