// Command arenstorf solves the Arenstorf orbit, a periodic solution of the
// restricted three-body problem (Hairer, Nørsett & Wanner, Solving ODEs I,
// section II.0), with each adaptive method of package ode at several
// tolerances, and prints how closely the orbit returns to its start after
// one period, with the work it took.
//
//	go run ./examples/arenstorf
package main

import (
	"fmt"
	"math"
	"os"
	"time"

	"github.com/odeflow/odeflow/ode"
)

const (
	mu      = 0.012277471
	muPrime = 1 - mu
	// period of the orbit
	period = 17.0652165601579625588917206249
)

var y0 = []float64{0.994, 0, 0, -2.00158510637908252240537862224}

// arenstorf is the right-hand side in first-order form (x, y, x', y').
func arenstorf(dst []float64, _ float64, s []float64) {
	x, y, vx, vy := s[0], s[1], s[2], s[3]
	d1 := math.Pow((x+mu)*(x+mu)+y*y, 1.5)
	d2 := math.Pow((x-muPrime)*(x-muPrime)+y*y, 1.5)
	dst[0] = vx
	dst[1] = vy
	dst[2] = x + 2*vy - muPrime*(x+mu)/d1 - mu*(x-muPrime)/d2
	dst[3] = y - 2*vx - muPrime*y/d1 - mu*y/d2
}

func main() {
	fmt.Println("Arenstorf orbit, one period: distance of y(T) from y(0)")
	fmt.Printf("%-16s %8s %12s %8s %8s %10s\n", "method", "tol", "error", "NFE", "steps", "time")
	for _, m := range []*ode.Tableau{ode.Dopri5, ode.Tsit5, ode.DOP853} {
		for _, tol := range []float64{1e-6, 1e-9, 1e-12} {
			start := time.Now()
			res, err := ode.Solve(ode.Problem{F: arenstorf, T0: 0, T1: period, Y0: y0},
				&ode.Settings{Method: m, RTol: tol, ATol: tol})
			elapsed := time.Since(start)
			if err != nil {
				fmt.Fprintln(os.Stderr, "arenstorf:", err)
				os.Exit(1)
			}
			e := 0.0
			for i := range y0 {
				e = math.Max(e, math.Abs(res.Y[i]-y0[i]))
			}
			fmt.Printf("%-16s %8.0e %12.3e %8d %8d %10s\n", m.Name, tol, e,
				res.Stats.NFE, res.Stats.Accepted, elapsed.Round(time.Microsecond))
		}
	}
}
