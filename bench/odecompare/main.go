// Command odecompare prints, for Odeflow's adaptive solvers, the same table
// as bench/scipy_ode.py prints for scipy.integrate.solve_ivp: one line per
// (problem, method, tolerance) with the function evaluations, the achieved
// error and the best wall time per solve over many repetitions.
//
//	go run ./bench/odecompare
//	python3 bench/scipy_ode.py
//
// The problems and error measures are defined identically on both sides
// (see bench/scipy_ode.py).
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/odeflow/odeflow/ode"
)

const (
	mu      = 0.012277471
	muPrime = 1 - mu
	period  = 17.0652165601579625588917206249
)

func arenstorf(dst []float64, _ float64, s []float64) {
	x, y, vx, vy := s[0], s[1], s[2], s[3]
	r1 := (x+mu)*(x+mu) + y*y
	r2 := (x-muPrime)*(x-muPrime) + y*y
	d1 := r1 * math.Sqrt(r1)
	d2 := r2 * math.Sqrt(r2)
	dst[0] = vx
	dst[1] = vy
	dst[2] = x + 2*vy - muPrime*(x+mu)/d1 - mu*(x-muPrime)/d2
	dst[3] = y - 2*vx - muPrime*y/d1 - mu*y/d2
}

func lotka(dst []float64, _ float64, s []float64) {
	dst[0] = 1.5*s[0] - s[0]*s[1]
	dst[1] = -3*s[1] + s[0]*s[1]
}

type problem struct {
	name    string
	f       ode.Func
	t1      float64
	y0, ref []float64
}

func main() {
	reps := flag.Int("reps", 200, "repetitions per solve (the best time is printed)")
	flag.Parse()
	ay0 := []float64{0.994, 0, 0, -2.00158510637908252240537862224}
	problems := []problem{
		{"arenstorf", arenstorf, period, ay0, ay0},
		// 40-digit reference from mpmath.odefun (see bench/scipy_ode.py).
		{"lotka", lotka, 15, []float64{1, 1}, []float64{6.34191838849216293038450304716, 0.732320971837937517944365738303}},
	}
	methods := []struct {
		name string
		tab  *ode.Tableau
	}{{"dopri5", ode.Dopri5}, {"tsit5", ode.Tsit5}, {"dop853", ode.DOP853}}
	fmt.Println("problem method tol nfe error seconds_per_solve")
	for _, p := range problems {
		solver := ode.NewSolver(len(p.y0))
		var res *ode.Result
		for _, m := range methods {
			for _, tol := range []float64{1e-6, 1e-9, 1e-12} {
				set := &ode.Settings{Method: m.tab, RTol: tol, ATol: tol}
				best := math.Inf(1)
				for r := 0; r < *reps; r++ {
					start := time.Now()
					var err error
					res, err = solver.Solve(res, ode.Problem{F: p.f, T0: 0, T1: p.t1, Y0: p.y0}, set)
					if err != nil {
						fmt.Fprintln(os.Stderr, "odecompare:", err)
						os.Exit(1)
					}
					best = math.Min(best, time.Since(start).Seconds())
				}
				e := 0.0
				for i := range p.ref {
					e = math.Max(e, math.Abs(res.Y[i]-p.ref[i]))
				}
				fmt.Printf("%s %s %.0e %d %.3e %.4e\n", p.name, m.name, tol, res.Stats.NFE, e, best)
			}
		}
	}
}
