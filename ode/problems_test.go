package ode

import "math"

// Test problems shared by the tests and benchmarks.

// arenstorf is the restricted three-body problem of Hairer, Nørsett & Wanner
// (Solving ODEs I, II.0, eq. 0.1) with μ = 0.012277471: its solution is
// periodic with period arenstorfT, so y(T) = y(0).
const (
	arenstorfMu = 0.012277471
	arenstorfT  = 17.0652165601579625588917206249
)

var arenstorfY0 = []float64{0.994, 0, 0, -2.00158510637908252240537862224}

func arenstorf(dst []float64, _ float64, y []float64) {
	const mu = arenstorfMu
	const mup = 1 - mu
	y1, y2, y3, y4 := y[0], y[1], y[2], y[3]
	r1 := (y1+mu)*(y1+mu) + y2*y2
	r2 := (y1-mup)*(y1-mup) + y2*y2
	d1 := r1 * math.Sqrt(r1) // r1^(3/2)
	d2 := r2 * math.Sqrt(r2)
	dst[0] = y3
	dst[1] = y4
	dst[2] = y1 + 2*y4 - mup*(y1+mu)/d1 - mu*(y1-mup)/d2
	dst[3] = y2 - 2*y3 - mup*y2/d1 - mu*y2/d2
}

// Lotka–Volterra predator–prey model x' = a x − b x y, y' = −c y + d x y
// with a = 1.5, b = 1, c = 3, d = 1 (Hairer, Nørsett & Wanner, I.16),
// y0 = (1, 1), on [0, 15]. Its invariant is
// V = d x − c log x + b y − a log y.
const (
	lvA, lvB, lvC, lvD = 1.5, 1.0, 3.0, 1.0
	lvT                = 15.0
)

var lvY0 = []float64{1, 1}

func lotkaVolterra(dst []float64, _ float64, y []float64) {
	dst[0] = lvA*y[0] - lvB*y[0]*y[1]
	dst[1] = -lvC*y[1] + lvD*y[0]*y[1]
}

func lvInvariant(y []float64) float64 {
	return lvD*y[0] - lvC*math.Log(y[0]) + lvB*y[1] - lvA*math.Log(y[1])
}

// arenstorfErr is the max-norm distance of y from the initial state.
func arenstorfErr(y []float64) float64 {
	var m float64
	for i, v := range y {
		m = math.Max(m, math.Abs(v-arenstorfY0[i]))
	}
	return m
}
