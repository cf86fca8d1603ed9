package ode

import (
	"fmt"
	"math"
	"testing"
)

// Benchmarks of the adaptive methods on two standard problems, for
// comparison with scipy.integrate.solve_ivp (RK45 = Dopri5, DOP853):
//
//   - Arenstorf: the periodic orbit of Hairer, Nørsett & Wanner I (II.0),
//     μ = 0.012277471, y0 = (0.994, 0, 0, −2.00158510637908252240537862224),
//     t ∈ [0, 17.0652165601579625588917206249]; error = max |y(T) − y0|.
//   - Lotka–Volterra: x' = 1.5x − xy, y' = −3y + xy, y0 = (1, 1),
//     t ∈ [0, 15]; error = max |y(15) − y_ref| with y_ref a 30-digit
//     reference computed independently (see lvRef).
//
// rtol = atol ∈ {1e-6, 1e-9, 1e-12}; default settings otherwise (I
// controller, Hairer's initial step). Custom metrics: nfe (evaluations per
// solve) and err (achieved error). Run with
//
//	go test ./ode -run '^$' -bench . -benchmem

// lvRef is the Lotka–Volterra state at t = 15 to 30 digits, computed
// independently of this package by a 40-digit Taylor-series integration
// (mpmath.odefun(F, 0, [1, 1], tol=1e-35, degree=40); see bench/scipy_ode.py).
var lvRef = []float64{6.34191838849216293038450304716, 0.732320971837937517944365738303}

// lvReference returns the Lotka–Volterra state at t = 15.
func lvReference() []float64 { return lvRef }

// TestLVReference checks the benchmark's reference solution against this
// package's tightest solves (two methods of different orders) and the
// invariant: each agrees to 1e-11, and the invariant holds to 1e-13.
func TestLVReference(t *testing.T) {
	for _, tab := range []*Tableau{DOP853, Tsit5} {
		res, err := Solve(Problem{F: lotkaVolterra, T0: 0, T1: lvT, Y0: lvY0}, &Settings{Method: tab, RTol: 1e-14, ATol: 1e-14})
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(lvRef, res.Y); d > 1e-11 {
			t.Errorf("%s at 1e-14 differs from the reference by %.3g", tab.Name, d)
		}
	}
	if d := math.Abs(lvInvariant(lvRef) - lvInvariant(lvY0)); d > 1e-13 {
		t.Errorf("reference invariant drift %.3g", d)
	}
}

func BenchmarkSolve(b *testing.B) {
	problems := []struct {
		name string
		p    Problem
		err  func(y []float64) float64
	}{
		{"Arenstorf", Problem{F: arenstorf, T0: 0, T1: arenstorfT, Y0: arenstorfY0}, arenstorfErr},
		{"LotkaVolterra", Problem{F: lotkaVolterra, T0: 0, T1: lvT, Y0: lvY0}, func(y []float64) float64 { return maxAbsDiff(y, lvReference()) }},
	}
	for _, pr := range problems {
		for _, tab := range []*Tableau{Dopri5, Tsit5, DOP853} {
			for _, tol := range []float64{1e-6, 1e-9, 1e-12} {
				b.Run(fmt.Sprintf("%s/%s/tol=%g", pr.name, tab.Name, tol), func(b *testing.B) {
					s := NewSolver(len(pr.p.Y0))
					var res Result
					set := &Settings{Method: tab, RTol: tol, ATol: tol}
					if _, err := s.Solve(&res, pr.p, set); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						if _, err := s.Solve(&res, pr.p, set); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(res.Stats.NFE), "nfe")
					e := pr.err(res.Y)
					b.ReportMetric(e, "err")
					b.ReportMetric(math.Log10(e), "log10err")
				})
			}
		}
	}
}

// BenchmarkStep measures one Dopri5 step of a 1000-dimensional linear
// decay, the shape of a batched CNF state (n·d = 500·2).
func BenchmarkStep(b *testing.B) {
	const n = 1000
	f := func(dst []float64, _ float64, y []float64) {
		for i, v := range y {
			dst[i] = -v
		}
	}
	y := make([]float64, n)
	for i := range y {
		y[i] = float64(i)
	}
	for _, tab := range []*Tableau{Dopri5, Tsit5, DOP853} {
		b.Run(tab.Name, func(b *testing.B) {
			st := NewStepper(tab, n)
			b.ReportAllocs()
			for b.Loop() {
				st.Step(f, 0, y, 0.01, nil)
			}
		})
	}
}
