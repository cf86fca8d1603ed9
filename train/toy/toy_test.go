package toy

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/internal/testrand"
)

const nTest = 20000

func gen(t *testing.T, name string, n int, salt uint64) *mat.Dense {
	t.Helper()
	x, err := Generate(name, n, testrand.NewSource(t, salt))
	if err != nil {
		t.Fatalf("Generate(%q): %v", name, err)
	}
	return x
}

// within reports an error unless |got − want| ≤ k·se.
func within(t *testing.T, what string, got, se, want float64) {
	t.Helper()
	const k = 4
	if math.Abs(got-want) > k*se || math.IsNaN(got) {
		t.Errorf("%s = %.5g, want %.5g ± %d×%.3g", what, got, want, k, se)
	}
}

// meanSE returns the mean of v and its standard error.
func meanSE(v []float64) (mean, se float64) {
	n := float64(len(v))
	mean = floats.Sum(v) / n
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / (n - 1) / n)
}

func apply(x *mat.Dense, f func(a, b float64) float64) []float64 {
	n, _ := x.Dims()
	out := make([]float64, n)
	for i := range out {
		out[i] = f(x.At(i, 0), x.At(i, 1))
	}
	return out
}

func TestNamesAndShapes(t *testing.T) {
	want := []string{"2spirals", "8gaussians", "checkerboard", "circles", "moons", "pinwheel", "ringgaussians", "rings", "swissroll"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, name := range Names() {
		for _, n := range []int{1, 7, 100} {
			x := gen(t, name, n, 1)
			if r, c := x.Dims(); r != n || c != 2 {
				t.Errorf("%s: %d×%d, want %d×2", name, r, c, n)
			}
			for i := 0; i < n; i++ {
				if v := x.RawRowView(i); math.IsNaN(v[0]+v[1]) || math.IsInf(v[0]+v[1], 0) {
					t.Errorf("%s: row %d not finite: %v", name, i, v)
				}
			}
		}
	}
}

func TestErrors(t *testing.T) {
	src := rand.NewPCG(1, 2)
	if _, err := Generate("nosuchset", 10, src); err == nil {
		t.Error("unknown name: no error")
	}
	for _, n := range []int{0, -3} {
		if _, err := Generate(Moons, n, src); err == nil {
			t.Errorf("n = %d: no error", n)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("nil source did not panic")
		}
	}()
	_, _ = Generate(Moons, 3, nil)
}

func TestSeeded(t *testing.T) {
	seed := testrand.Seed(t)
	for _, name := range Names() {
		a, _ := Generate(name, 50, rand.NewPCG(seed, 7))
		b, _ := Generate(name, 50, rand.NewPCG(seed, 7))
		c, _ := Generate(name, 50, rand.NewPCG(seed, 8))
		if !mat.Equal(a, b) {
			t.Errorf("%s: same seed, different data", name)
		}
		if mat.Equal(a, c) {
			t.Errorf("%s: different seeds, same data", name)
		}
	}
}

// mixtureCheck tests a ring of 8 Gaussians of radius r and std sigma: the
// share of each component, the spread about the nearest centre, and the
// entropy −E log p by Monte Carlo against the closed form (the components
// are far enough apart for their overlap to be negligible).
func mixtureCheck(t *testing.T, name string, r, sigma, designEntropy float64) {
	x := gen(t, name, nTest, 3)
	var centres [8][2]float64
	for k := range centres {
		a := float64(k) * math.Pi / 4
		centres[k] = [2]float64{r * math.Cos(a), r * math.Sin(a)}
	}
	counts := make([]float64, 8)
	var dx, dy []float64
	logp := make([]float64, nTest)
	comp := make([]float64, 8)
	for i := 0; i < nTest; i++ {
		p := x.RawRowView(i)
		best, bd := 0, math.Inf(1)
		for k, c := range centres {
			d2 := (p[0]-c[0])*(p[0]-c[0]) + (p[1]-c[1])*(p[1]-c[1])
			if d2 < bd {
				best, bd = k, d2
			}
			comp[k] = -math.Log(8) - math.Log(2*math.Pi*sigma*sigma) - d2/(2*sigma*sigma)
		}
		counts[best]++
		dx = append(dx, p[0]-centres[best][0])
		dy = append(dy, p[1]-centres[best][1])
		logp[i] = floats.LogSumExp(comp)
	}
	for k, c := range counts {
		share := c / nTest
		within(t, name+": share of component "+string(rune('0'+k)), share, math.Sqrt(0.125*0.875/nTest), 0.125)
	}
	for _, d := range [][]float64{dx, dy} {
		m, se := meanSE(d)
		within(t, name+": mean offset from centre", m, se, 0)
		sq := make([]float64, len(d))
		for i, v := range d {
			sq[i] = v * v
		}
		m2, se2 := meanSE(sq)
		within(t, name+": variance about centre", m2, se2, sigma*sigma)
	}
	nlp := make([]float64, nTest)
	for i, v := range logp {
		nlp[i] = -v
	}
	h, se := meanSE(nlp)
	exact := math.Log(8) + 1 + math.Log(2*math.Pi) + 2*math.Log(sigma)
	within(t, name+": Monte Carlo entropy", h, se, exact)
	if math.Abs(exact-designEntropy) > 1e-3 {
		t.Errorf("%s: closed-form entropy %.5f, DESIGN.md says %.3f", name, exact, designEntropy)
	}
	t.Logf("%s: entropy %.4f ± %.4f (closed form %.4f)", name, h, se, exact)
}

func TestGaussians8(t *testing.T)    { mixtureCheck(t, Gaussians8, 4/1.414, 0.5/1.414, 2.838) }
func TestRingGaussians(t *testing.T) { mixtureCheck(t, RingGaussians, 3, 0.25, 2.145) }

func TestCheckerboard(t *testing.T) {
	x := gen(t, Checkerboard, nTest, 4)
	cells := map[[2]int]float64{}
	for i := 0; i < nTest; i++ {
		p := x.RawRowView(i)
		if p[0] < -4 || p[0] >= 4 || p[1] < -4 || p[1] >= 4 {
			t.Fatalf("point %v outside [−4, 4)²", p)
		}
		c := [2]int{int(math.Floor(p[0] / 2)), int(math.Floor(p[1] / 2))}
		if (c[0]+c[1])%2 != 0 {
			t.Fatalf("point %v in an empty cell %v", p, c)
		}
		cells[c]++
	}
	if len(cells) != 8 {
		t.Fatalf("%d occupied cells, want 8", len(cells))
	}
	for _, k := range cells {
		within(t, "share of cell", k/nTest, math.Sqrt(0.125*0.875/nTest), 0.125)
	}
	// Uniform within cells: the relative offset inside a cell has mean ½.
	off := apply(x, func(a, _ float64) float64 { return a/2 - math.Floor(a/2) })
	m, se := meanSE(off)
	within(t, "offset in cell", m, se, 0.5)
}

func TestPinwheel(t *testing.T) {
	x := gen(t, Pinwheel, nTest, 5)
	// |x|² = 4(f₁² + f₂²): E = 4(1 + 0.3² + 0.1²).
	m, se := meanSE(apply(x, func(a, b float64) float64 { return a*a + b*b }))
	within(t, "E|x|²", m, se, 4*(1+0.09+0.01))
	// The five arms are equally likely: the first circular moment vanishes.
	c, sec := meanSE(apply(x, func(a, b float64) float64 { return math.Cos(math.Atan2(b, a)) }))
	s, ses := meanSE(apply(x, func(a, b float64) float64 { return math.Sin(math.Atan2(b, a)) }))
	within(t, "E cos θ", c, sec, 0)
	within(t, "E sin θ", s, ses, 0)
}

// expect returns E g(s) for s with density dens on [a, b] by Legendre quadrature.
func expect(g, dens func(float64) float64, a, b float64) float64 {
	return quad.Fixed(func(s float64) float64 { return g(s) * dens(s) }, a, b, 200, quad.Legendre{}, 0)
}

func TestSpirals(t *testing.T) {
	x := gen(t, Spirals2, nTest, 6)
	for j := 0; j < 2; j++ {
		m, se := meanSE(mat.Col(nil, j, x))
		within(t, "mean (arms are mirror images)", m, se, 0)
	}
	// s = 3π√u has density 2s/(3π)² on [0, 3π]; v ~ U[0,1)²:
	// E|p|² = E s² − ½E[s cos s] + ½E[s sin s] + 1/6, E|x|² = E|p|²/9 + 2·0.01.
	b := 3 * math.Pi
	dens := func(s float64) float64 { return 2 * s / (b * b) }
	es2 := expect(func(s float64) float64 { return s * s }, dens, 0, b)
	escos := expect(func(s float64) float64 { return s * math.Cos(s) }, dens, 0, b)
	essin := expect(func(s float64) float64 { return s * math.Sin(s) }, dens, 0, b)
	want := (es2-0.5*escos+0.5*essin+1.0/6)/9 + 0.02
	m, se := meanSE(apply(x, func(a, b float64) float64 { return a*a + b*b }))
	within(t, "E|x|²", m, se, want)
}

func TestSwissRoll(t *testing.T) {
	x := gen(t, SwissRoll, nTest, 7)
	lo, hi := 1.5*math.Pi, 4.5*math.Pi
	dens := func(float64) float64 { return 1 / (hi - lo) }
	ex := expect(func(s float64) float64 { return s * math.Cos(s) / 5 }, dens, lo, hi)
	ey := expect(func(s float64) float64 { return s * math.Sin(s) / 5 }, dens, lo, hi)
	for j, want := range []float64{ex, ey} {
		m, se := meanSE(mat.Col(nil, j, x))
		within(t, "mean", m, se, want)
	}
	m, se := meanSE(apply(x, func(a, b float64) float64 { return a*a + b*b }))
	within(t, "E|x|²", m, se, ((lo*lo+lo*hi+hi*hi)/3+2)/25)
}

func TestCircles(t *testing.T) {
	x := gen(t, Circles, nTest, 8)
	m, se := meanSE(apply(x, func(a, b float64) float64 { return a*a + b*b }))
	within(t, "E|x|²", m, se, 0.5*(9+2.25)+2*0.24*0.24)
	inner, sei := meanSE(apply(x, func(a, b float64) float64 {
		if math.Hypot(a, b) < 2.25 {
			return 1
		}
		return 0
	}))
	within(t, "share of the inner circle", inner, sei, 0.5)
	for j := 0; j < 2; j++ {
		m, se := meanSE(mat.Col(nil, j, x))
		within(t, "mean", m, se, 0)
	}
}

func TestMoons(t *testing.T) {
	x := gen(t, Moons, nTest, 9)
	// Upper moon mean (0, 2/π), lower (1, ½ − 2/π): overall (½, ¼), mapped by 2x + (−1, −0.2).
	for j, want := range []float64{0, 0.3} {
		m, se := meanSE(mat.Col(nil, j, x))
		within(t, "mean", m, se, want)
	}
}

func TestRings(t *testing.T) {
	x := gen(t, Rings, nTest, 10)
	radii := []float64{3, 2.4, 1.65, 0.75}
	counts := make([]float64, 4)
	for i := 0; i < nTest; i++ {
		p := x.RawRowView(i)
		r := math.Hypot(p[0], p[1])
		best := 0
		for k, rk := range radii {
			if math.Abs(r-rk) < math.Abs(r-radii[best]) {
				best = k
			}
		}
		if math.Abs(r-radii[best]) > 6*0.08 {
			t.Fatalf("point %v at radius %.3f, far from every ring", p, r)
		}
		counts[best]++
	}
	for _, c := range counts {
		within(t, "share of a ring", c/nTest, math.Sqrt(0.25*0.75/nTest), 0.25)
	}
}
