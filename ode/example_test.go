package ode_test

import (
	"fmt"
	"math"

	"github.com/odeflow/odeflow/ode"
)

// Solve the harmonic oscillator d²y/dt² = −y, y(0) = 1, dy/dt(0) = 0 on [0, 3]
// with the default method (Dopri5), asking for the state at three times
// and for the time at which the position crosses zero going down.
func Example() {
	f := func(dst []float64, _ float64, y []float64) {
		dst[0] = y[1]
		dst[1] = -y[0]
	}
	p := ode.Problem{F: f, T0: 0, T1: 3, Y0: []float64{1, 0}}
	set := &ode.Settings{
		RTol:   1e-10,
		ATol:   1e-10,
		SaveAt: []float64{0.5, 1, 2},
		Events: []ode.Event{{
			G:         func(_ float64, y []float64) float64 { return y[0] },
			Direction: ode.Falling,
		}},
	}
	res, err := ode.Solve(p, set)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, t := range res.Ts {
		y := res.SavedY(i)
		fmt.Printf("t=%.4f  y=(%.6f, %.6f)  exact=(%.6f, %.6f)\n", t, y[0], y[1], math.Cos(t), -math.Sin(t))
	}
	fmt.Printf("zero crossing at t=%.8f (π/2 = %.8f)\n", res.Events[0].T, math.Pi/2)
	fmt.Printf("y(3) = (%.6f, %.6f), status: %v\n", res.Y[0], res.Y[1], res.Status)
	// Output:
	// t=0.5000  y=(0.877583, -0.479426)  exact=(0.877583, -0.479426)
	// t=1.0000  y=(0.540302, -0.841471)  exact=(0.540302, -0.841471)
	// t=2.0000  y=(-0.416147, -0.909297)  exact=(-0.416147, -0.909297)
	// zero crossing at t=1.57079633 (π/2 = 1.57079633)
	// y(3) = (-0.989992, -0.141120), status: success
}

// A Solver and a Result reused across solves allocate nothing; here the
// same solver integrates y' = −k y for several k in fixed-step RK4 mode.
func ExampleSolver() {
	s := ode.NewSolver(1)
	var res ode.Result
	for _, k := range []float64{0.5, 1, 2} {
		f := func(dst []float64, _ float64, y []float64) { dst[0] = -k * y[0] }
		if _, err := s.Solve(&res, ode.Problem{F: f, T0: 0, T1: 1, Y0: []float64{1}}, &ode.Settings{Method: ode.RK4, Step: 0.01}); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("k=%g: y(1)=%.8f exp(-k)=%.8f steps=%d\n", k, res.Y[0], math.Exp(-k), res.Stats.Accepted)
	}
	// Output:
	// k=0.5: y(1)=0.60653066 exp(-k)=0.60653066 steps=100
	// k=1: y(1)=0.36787944 exp(-k)=0.36787944 steps=100
	// k=2: y(1)=0.13533528 exp(-k)=0.13533528 steps=100
}
