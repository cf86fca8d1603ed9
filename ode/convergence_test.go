package ode

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// linearA is the matrix of the test problem y' = A y: skew-symmetric
// (eigenvalues 0 and ±2.69i), so the solution rotates without decay and
// every component stays of order one.
var linearA = mat.NewDense(3, 3, []float64{
	0, 2, -1,
	-2, 0, 1.5,
	1, -1.5, 0,
})

var linearY0 = []float64{1, -0.5, 0.7}

func linearF(dst []float64, _ float64, y []float64) {
	mat.NewVecDense(len(dst), dst).MulVec(linearA, mat.NewVecDense(len(y), append([]float64(nil), y...)))
}

// linearFNoAlloc is linearF written out, for allocation tests.
func linearFNoAlloc(dst []float64, _ float64, y []float64) {
	a := linearA.RawMatrix().Data
	for i := 0; i < 3; i++ {
		dst[i] = a[3*i]*y[0] + a[3*i+1]*y[1] + a[3*i+2]*y[2]
	}
}

// linearExact returns exp((t−t0)A) y0.
func linearExact(t, t0 float64, y0 []float64) []float64 {
	var e, ta mat.Dense
	ta.Scale(t-t0, linearA)
	e.Exp(&ta)
	var v mat.VecDense
	v.MulVec(&e, mat.NewVecDense(len(y0), append([]float64(nil), y0...)))
	return v.RawVector().Data
}

func maxAbsDiff(a, b []float64) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

// slope fits log(err) = p log(h) + c by least squares over the (at most)
// five points of smallest h whose error is in (lo, hi): the asymptotic
// regime, above rounding. hs must be decreasing. It returns p and the
// number of points used.
func slope(hs, errs []float64, lo, hi float64) (float64, int) {
	var x, y []float64
	for i := len(hs) - 1; i >= 0 && len(x) < 5; i-- {
		if errs[i] > lo && errs[i] < hi {
			x = append(x, math.Log(hs[i]))
			y = append(y, math.Log(errs[i]))
		}
	}
	if len(x) < 3 {
		return math.NaN(), len(x)
	}
	_, b := stat.LinearRegression(x, y, nil, false)
	return b, len(x)
}

// TestConvergenceOrder measures the global order of every tableau in
// fixed-step mode on y' = Ay against the matrix exponential: the slope of
// log(error) against log(h) must be within 0.3 of Tableau.Order.
func TestConvergenceOrder(t *testing.T) {
	const T = 10.0
	want := linearExact(T, 0, linearY0)
	for _, tab := range allTableaux {
		var hs, errs []float64
		s := NewSolver(3)
		for k := 6; k <= 32; k++ {
			n := int(math.Round(math.Pow(2, float64(k)/2)))
			h := T / float64(n)
			res, err := s.Solve(nil, Problem{F: linearFNoAlloc, T0: 0, T1: T, Y0: linearY0}, &Settings{Method: tab, Step: h})
			if err != nil {
				t.Fatalf("%s: %v", tab.Name, err)
			}
			if res.Stats.Accepted != n {
				t.Errorf("%s: %d steps, want %d", tab.Name, res.Stats.Accepted, n)
			}
			hs = append(hs, h)
			errs = append(errs, maxAbsDiff(res.Y, want))
		}
		// Asymptotic range: error small enough to be in the asymptotic
		// regime, large enough to be above rounding.
		p, used := slope(hs, errs, 1e-12, 0.1)
		t.Logf("%s: slope %.3f over %d points (order %d)", tab.Name, p, used, tab.Order)
		if !(math.Abs(p-float64(tab.Order)) <= 0.3) {
			t.Errorf("%s: convergence slope %.3f over %d points, want %d ± 0.3 (errors %.3g)", tab.Name, p, used, tab.Order, errs)
		}
	}
}

// TestDenseOutputOrder measures the order of each interpolant: one step of
// size h from the exact state, interpolated at θ = 0.4, has a local error
// that behaves like h^(DenseOrder+1).
func TestDenseOutputOrder(t *testing.T) {
	for _, tab := range allTableaux {
		st := NewStepper(tab, 3)
		q := make([]float64, st.Degree()*3)
		y := make([]float64, 3)
		var hs, errs []float64
		for k := 0; k <= 16; k++ {
			h := 1 / math.Pow(2, float64(k)/2)
			st.Step(linearF, 0, linearY0, h, nil)
			st.Interp(q, linearF)
			const theta = 0.4
			EvalInterp(y, linearY0, q, theta)
			hs = append(hs, h)
			errs = append(errs, maxAbsDiff(y, linearExact(theta*h, 0, linearY0)))
		}
		p, used := slope(hs, errs, 1e-13, 1e-2)
		t.Logf("%s: dense slope %.3f over %d points (dense order %d)", tab.Name, p, used, tab.DenseOrder)
		if !(math.Abs(p-float64(tab.DenseOrder+1)) <= 0.3) {
			t.Errorf("%s: local interpolation error slope %.3f over %d points, want %d ± 0.3 (errors %.3g)", tab.Name, p, used, tab.DenseOrder+1, errs)
		}
	}
}

// TestInterpEndpoints checks that each interpolant starts at y0 and ends
// at y1 (to rounding) and that its derivative at θ = 0 is f(t0, y0).
func TestInterpEndpoints(t *testing.T) {
	for _, tab := range allTableaux {
		st := NewStepper(tab, 3)
		q := make([]float64, st.Degree()*3)
		const h = 0.3
		st.Step(linearF, 0, linearY0, h, nil)
		st.Interp(q, linearF)
		y := make([]float64, 3)
		EvalInterp(y, linearY0, q, 0)
		if !floats.Equal(y, linearY0) {
			t.Errorf("%s: interpolant at θ=0 is %v, want %v", tab.Name, y, linearY0)
		}
		EvalInterp(y, linearY0, q, 1)
		// The monomial form of DOP853's degree-7 interpolant has
		// coefficients up to ~10³ that cancel at θ = 1, costing two digits.
		if d := maxAbsDiff(y, st.Y1); d > 1e-13 {
			t.Errorf("%s: interpolant at θ=1 differs from y1 by %.3g", tab.Name, d)
		}
		f0 := make([]float64, 3)
		linearF(f0, 0, linearY0)
		// dy/dθ at 0 is q[0], which must be h f0.
		for i := range f0 {
			if math.Abs(q[i]-h*f0[i]) > 1e-14 {
				t.Errorf("%s: interpolant slope at θ=0 is %v, want %v", tab.Name, q[i]/h, f0[i])
			}
		}
	}
}
