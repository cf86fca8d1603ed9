// Package toy generates the two-dimensional toy data sets used to judge
// density models: the eight sets of FFJORD (Grathwohl et al. 2019, "FFJORD:
// Free-form Continuous Dynamics for Scalable Reversible Generative Models",
// arXiv:1810.01367, whose lib/toy_data.py defines them) and a ring of eight
// Gaussians.
//
// Every set is drawn i.i.d. from a fixed distribution, with all randomness
// taken from the rand.Source passed in: the same source state gives the same
// data. The generators are ours; they follow FFJORD's definitions of the
// distributions (constants below), except that FFJORD places some points
// deterministically (equally spaced angles on the circles and rings, equal
// class counts) where we draw the angle or class at random, so that every
// row is an independent draw:
//
//	8gaussians     component k ~ U{0..7}, centre 4(cos kπ/4, sin kπ/4),
//	               x = (centre + 0.5 ε)/1.414, ε ~ N(0, I).
//	               True entropy log 8 + 1 + log 2π + 2 log(0.5/1.414) ≈ 2.838 nats.
//	ringgaussians  centre 3(cos kπ/4, sin kπ/4), std 0.25 (DESIGN.md §8).
//	               True entropy log 8 + 1 + log 2π + 2 log 0.25 ≈ 2.145 nats.
//	checkerboard   x₁ ~ U[−2, 2), x₂ ~ U[0, 1) − 2·B, B ~ Bernoulli(½),
//	               x₂ += ⌊x₁⌋ mod 2; x = 2(x₁, x₂): uniform on the 8 cells
//	               (i, j) of side 2 in [−4, 4)² with i + j even.
//	               Entropy log 32 ≈ 3.466 nats.
//	pinwheel       5 arms, class k ~ U{0..4}; f = (1 + 0.3 ε₁, 0.1 ε₂),
//	               angle a = 2πk/5 + 0.25 exp(f₁),
//	               x = 2 (f₁ cos a + f₂ sin a, −f₁ sin a + f₂ cos a).
//	2spirals       s = √u · 3π (u ~ U[0,1)); p = (−s cos s + 0.5 v₁, s sin s + 0.5 v₂)
//	               with v ~ U[0,1)²; arm ±1 with probability ½ each;
//	               x = ±p/3 + 0.1 ε.
//	swissroll      t = 1.5π(1 + 2u); x = (t cos t + ε₁, t sin t + ε₂)/5
//	               (scikit-learn's swiss roll with noise 1, first and third
//	               coordinates).
//	circles        radius 3 or 1.5 with probability ½ each, uniform angle,
//	               plus 0.24 ε (scikit-learn's make_circles with factor 0.5,
//	               noise 0.08, times 3).
//	moons          upper moon (cos t, sin t) or lower moon
//	               (1 − cos t, ½ − sin t) with probability ½ each, t ~ U[0, π),
//	               plus 0.1 ε, then x ↦ 2x + (−1, −0.2) (make_moons, noise 0.1).
//	rings          radius 3·{1, 0.8, 0.55, 0.25} with probability ¼ each,
//	               uniform angle, plus 0.08 ε.
package toy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// Data set names accepted by Generate.
const (
	Gaussians8    = "8gaussians"
	RingGaussians = "ringgaussians"
	Checkerboard  = "checkerboard"
	Pinwheel      = "pinwheel"
	Spirals2      = "2spirals"
	SwissRoll     = "swissroll"
	Circles       = "circles"
	Moons         = "moons"
	Rings         = "rings"
)

// point fills p with one draw.
type generator func(p []float64, r *rand.Rand)

var generators = map[string]generator{
	Gaussians8:    func(p []float64, r *rand.Rand) { gaussRing(p, r, 4/1.414, 0.5/1.414) },
	RingGaussians: func(p []float64, r *rand.Rand) { gaussRing(p, r, 3, 0.25) },
	Checkerboard:  checkerboard,
	Pinwheel:      pinwheel,
	Spirals2:      spirals,
	SwissRoll:     swissRoll,
	Circles:       circles,
	Moons:         moons,
	Rings:         rings,
}

// Names returns the names of the data sets, sorted.
func Names() []string {
	names := make([]string, 0, len(generators))
	for k := range generators {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// Generate returns n i.i.d. draws (an n×2 matrix) of the data set called
// name, using src for all randomness. It returns an error for an unknown
// name or n ≤ 0, and panics if src is nil.
func Generate(name string, n int, src rand.Source) (*mat.Dense, error) {
	gen, ok := generators[name]
	if !ok {
		return nil, fmt.Errorf("toy: unknown data set %q (known: %v)", name, Names())
	}
	if n <= 0 {
		return nil, fmt.Errorf("toy: %d samples requested, want at least 1", n)
	}
	if src == nil {
		panic("toy: nil rand.Source")
	}
	r := rand.New(src)
	data := make([]float64, 2*n)
	for i := 0; i < n; i++ {
		gen(data[2*i:2*i+2], r)
	}
	return mat.NewDense(n, 2, data), nil
}

// gaussRing draws from 8 equally weighted normals of standard deviation
// sigma centred on a circle of radius radius at angles kπ/4.
func gaussRing(p []float64, r *rand.Rand, radius, sigma float64) {
	k := r.IntN(8)
	a := float64(k) * math.Pi / 4
	p[0] = radius*math.Cos(a) + sigma*r.NormFloat64()
	p[1] = radius*math.Sin(a) + sigma*r.NormFloat64()
}

func checkerboard(p []float64, r *rand.Rand) {
	x1 := 4*r.Float64() - 2
	x2 := r.Float64() - 2*float64(r.IntN(2))
	m := math.Mod(math.Floor(x1), 2) // −1 for odd negative ⌊x₁⌋: take it mod 2 into {0, 1}
	if m < 0 {
		m += 2
	}
	x2 += m
	p[0], p[1] = 2*x1, 2*x2
}

func pinwheel(p []float64, r *rand.Rand) {
	const (
		radialStd     = 0.3
		tangentialStd = 0.1
		arms          = 5
		rate          = 0.25
	)
	k := r.IntN(arms)
	f1 := 1 + radialStd*r.NormFloat64()
	f2 := tangentialStd * r.NormFloat64()
	a := 2*math.Pi*float64(k)/arms + rate*math.Exp(f1)
	c, s := math.Cos(a), math.Sin(a)
	p[0] = 2 * (f1*c + f2*s)
	p[1] = 2 * (-f1*s + f2*c)
}

func spirals(p []float64, r *rand.Rand) {
	s := math.Sqrt(r.Float64()) * 3 * math.Pi
	x := -s*math.Cos(s) + 0.5*r.Float64()
	y := s*math.Sin(s) + 0.5*r.Float64()
	if r.IntN(2) == 1 {
		x, y = -x, -y
	}
	p[0] = x/3 + 0.1*r.NormFloat64()
	p[1] = y/3 + 0.1*r.NormFloat64()
}

func swissRoll(p []float64, r *rand.Rand) {
	t := 1.5 * math.Pi * (1 + 2*r.Float64())
	p[0] = (t*math.Cos(t) + r.NormFloat64()) / 5
	p[1] = (t*math.Sin(t) + r.NormFloat64()) / 5
}

func circles(p []float64, r *rand.Rand) {
	radius := 3.0
	if r.IntN(2) == 1 {
		radius = 1.5
	}
	a := 2 * math.Pi * r.Float64()
	p[0] = radius*math.Cos(a) + 0.24*r.NormFloat64()
	p[1] = radius*math.Sin(a) + 0.24*r.NormFloat64()
}

func moons(p []float64, r *rand.Rand) {
	t := math.Pi * r.Float64()
	var x, y float64
	if r.IntN(2) == 0 {
		x, y = math.Cos(t), math.Sin(t)
	} else {
		x, y = 1-math.Cos(t), 0.5-math.Sin(t)
	}
	x += 0.1 * r.NormFloat64()
	y += 0.1 * r.NormFloat64()
	p[0] = 2*x - 1
	p[1] = 2*y - 0.2
}

func rings(p []float64, r *rand.Rand) {
	radii := [4]float64{3, 2.4, 1.65, 0.75}
	radius := radii[r.IntN(4)]
	a := 2 * math.Pi * r.Float64()
	p[0] = radius*math.Cos(a) + 0.08*r.NormFloat64()
	p[1] = radius*math.Sin(a) + 0.08*r.NormFloat64()
}
