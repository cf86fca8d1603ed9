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
