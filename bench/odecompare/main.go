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
//
// Flags select a different set of runs (the defaults give the table
// above, the one in BENCHMARKS.md):
//
//	-methods dopri5,tsit5,dop853   adaptive methods, by tableau name: heuneuler,
//	                               bosh3, fehlberg45, cashkarp, dopri5, tsit5, dop853
//	-tols 1e-6,1e-9,1e-12          tolerances (RTol = ATol)
//	-problems arenstorf,lotka      problems
//	-reps 200                      repetitions per solve
//
// notebooks/4_solver_accuracy.ipynb uses them for a work–precision diagram:
//
//	go run ./bench/odecompare -reps 20 -tols 1e-3,1e-4,1e-5,1e-6,1e-7,1e-8,1e-9,1e-10
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
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

// adaptive lists the methods -methods accepts: those of package ode with an
// error estimate.
var adaptive = []*ode.Tableau{
	ode.HeunEuler, ode.BogackiShampine, ode.Fehlberg45, ode.CashKarp,
	ode.Dopri5, ode.Tsit5, ode.DOP853,
}

// fail prints a message and exits with status 2 (a usage error) or 1.
func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "odecompare: "+format+"\n", args...)
	os.Exit(code)
}

// split returns the comma-separated fields of s, without blanks.
func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func main() {
	reps := flag.Int("reps", 200, "repetitions per solve (the best time is printed)")
	methodList := flag.String("methods", "dopri5,tsit5,dop853", "comma-separated adaptive methods")
	tolList := flag.String("tols", "1e-6,1e-9,1e-12", "comma-separated tolerances (RTol = ATol)")
	problemList := flag.String("problems", "arenstorf,lotka", "comma-separated problems: arenstorf, lotka")
	flag.Parse()
	if flag.NArg() > 0 {
		fail(2, "unexpected argument %q", flag.Arg(0))
	}
	if *reps < 1 {
		fail(2, "-reps must be at least 1, got %d", *reps)
	}
	ay0 := []float64{0.994, 0, 0, -2.00158510637908252240537862224}
	known := []problem{
		{"arenstorf", arenstorf, period, ay0, ay0},
		// 40-digit reference from mpmath.odefun (see bench/scipy_ode.py).
		{"lotka", lotka, 15, []float64{1, 1}, []float64{6.34191838849216293038450304716, 0.732320971837937517944365738303}},
	}
	var problems []problem
	for _, name := range split(*problemList) {
		i := slices.IndexFunc(known, func(p problem) bool { return p.name == name })
		if i < 0 {
			fail(2, "unknown problem %q (want arenstorf or lotka)", name)
		}
		problems = append(problems, known[i])
	}
	var methods []*ode.Tableau
	for _, name := range split(*methodList) {
		i := slices.IndexFunc(adaptive, func(t *ode.Tableau) bool { return t.Name == name })
		if i < 0 {
			var names []string
			for _, t := range adaptive {
				names = append(names, t.Name)
			}
			fail(2, "unknown method %q (want one of %s)", name, strings.Join(names, ", "))
		}
		methods = append(methods, adaptive[i])
	}
	var tols []float64
	for _, f := range split(*tolList) {
		tol, err := strconv.ParseFloat(f, 64)
		if err != nil || !(tol > 0) || math.IsInf(tol, 0) {
			fail(2, "bad tolerance %q (want a positive number)", f)
		}
		tols = append(tols, tol)
	}
	if len(problems) == 0 || len(methods) == 0 || len(tols) == 0 {
		fail(2, "-problems, -methods and -tols must each name at least one value")
	}
	fmt.Println("problem method tol nfe error seconds_per_solve")
	for _, p := range problems {
		solver := ode.NewSolver(len(p.y0))
		var res *ode.Result
		for _, m := range methods {
			for _, tol := range tols {
				set := &ode.Settings{Method: m, RTol: tol, ATol: tol}
				best := math.Inf(1)
				for r := 0; r < *reps; r++ {
					start := time.Now()
					var err error
					res, err = solver.Solve(res, ode.Problem{F: p.f, T0: 0, T1: p.t1, Y0: p.y0}, set)
					if err != nil {
						fail(1, "%s %s %.0e: %v", p.name, m.Name, tol, err)
					}
					best = math.Min(best, time.Since(start).Seconds())
				}
				e := 0.0
				for i := range p.ref {
					e = math.Max(e, math.Abs(res.Y[i]-p.ref[i]))
				}
				fmt.Printf("%s %s %.0e %d %.3e %.4e\n", p.name, m.Name, tol, res.Stats.NFE, e, best)
			}
		}
	}
}
