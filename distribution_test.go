package odeflow

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

// distCase is a distribution with independent references: a log-density
// from gonum's distuv, the per-dimension mean and variance, and a box that
// holds all but a negligible part of its mass.
type distCase struct {
	name     string
	build    func() DifferentiableDistribution
	box      [][2]float64
	ref      func(x []float64) float64
	mean     []float64
	variance []float64
	inside   func(rnd *rand.Rand, d int) []float64 // a random point in the support
}

func normalRef(mu, sigma []float64) func(x []float64) float64 {
	return func(x []float64) float64 {
		s := 0.0
		for j, v := range x {
			s += distuv.Normal{Mu: mu[j], Sigma: sigma[j]}.LogProb(v)
		}
		return s
	}
}

func squares(s []float64) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = v * v
	}
	return out
}

func normalPoint(rnd *rand.Rand, d int) []float64 { return randSlice(rnd, d, 1.5) }

type mixSpec struct {
	w            []float64
	means, sigma [][]float64
}

func (m mixSpec) build() DifferentiableDistribution {
	k, d := len(m.w), len(m.means[0])
	mu, sc := mat.NewDense(k, d, nil), mat.NewDense(k, d, nil)
	for c := 0; c < k; c++ {
		mu.SetRow(c, m.means[c])
		sc.SetRow(c, m.sigma[c])
	}
	return NewGaussianMixture(nil, "mix", m.w, mu, sc)
}

func (m mixSpec) ref(x []float64) float64 {
	tot, p := 0.0, 0.0
	for _, w := range m.w {
		tot += w
	}
	for c, w := range m.w {
		pc := w / tot
		for j, v := range x {
			pc *= distuv.Normal{Mu: m.means[c][j], Sigma: m.sigma[c][j]}.Prob(v)
		}
		p += pc
	}
	return math.Log(p)
}

// moments returns the per-dimension mean and variance of the mixture with
// the component noise scaled by temp.
func (m mixSpec) moments(temp float64) (mean, variance []float64) {
	d := len(m.means[0])
	mean, variance = make([]float64, d), make([]float64, d)
	tot := 0.0
	for _, w := range m.w {
		tot += w
	}
	for j := 0; j < d; j++ {
		m2 := 0.0
		for c, w := range m.w {
			mean[j] += w / tot * m.means[c][j]
			s := temp * m.sigma[c][j]
			m2 += w / tot * (s*s + m.means[c][j]*m.means[c][j])
		}
		variance[j] = m2 - mean[j]*mean[j]
	}
	return mean, variance
}

var (
	mix1 = mixSpec{w: []float64{0.2, 0.5, 0.3}, means: [][]float64{{-2}, {0.5}, {3}}, sigma: [][]float64{{0.5}, {1}, {0.3}}}
	mix2 = mixSpec{w: []float64{1, 2, 1.5}, means: [][]float64{{-2, 1}, {0.5, -1}, {2, 2}}, sigma: [][]float64{{0.5, 0.8}, {1, 0.4}, {0.6, 0.7}}}
)

func distCases() []distCase {
	gammaRef := func(a, b []float64) func(x []float64) float64 {
		return func(x []float64) float64 {
			s := 0.0
			for j, v := range x {
				s += distuv.Gamma{Alpha: a[j], Beta: b[j]}.LogProb(v)
			}
			return s
		}
	}
	mm1, mv1 := mix1.moments(1)
	mm2, mv2 := mix2.moments(1)
	return []distCase{
		{name: "StandardNormal/1", build: func() DifferentiableDistribution { return NewStandardNormal(1) },
			box: [][2]float64{{-12, 12}}, ref: normalRef([]float64{0}, []float64{1}),
			mean: []float64{0}, variance: []float64{1}, inside: normalPoint},
		{name: "StandardNormal/2", build: func() DifferentiableDistribution { return NewStandardNormal(2) },
			box: [][2]float64{{-12, 12}, {-12, 12}}, ref: normalRef([]float64{0, 0}, []float64{1, 1}),
			mean: []float64{0, 0}, variance: []float64{1, 1}, inside: normalPoint},
		{name: "DiagNormal/1", build: func() DifferentiableDistribution {
			return NewDiagNormal(nil, "base", []float64{0.3}, []float64{1.7})
		}, box: [][2]float64{{-20, 20}}, ref: normalRef([]float64{0.3}, []float64{1.7}),
			mean: []float64{0.3}, variance: []float64{1.7 * 1.7}, inside: normalPoint},
		{name: "DiagNormal/2", build: func() DifferentiableDistribution {
			return NewDiagNormal(nil, "", []float64{-1, 2}, []float64{0.5, 2})
		}, box: [][2]float64{{-8, 6}, {-22, 26}}, ref: normalRef([]float64{-1, 2}, []float64{0.5, 2}),
			mean: []float64{-1, 2}, variance: []float64{0.25, 4}, inside: normalPoint},
		{name: "BoxUniform/1", build: func() DifferentiableDistribution { return NewBoxUniform([]float64{-1}, []float64{2.5}) },
			box: [][2]float64{{-1, 2.5}}, ref: func(x []float64) float64 { return distuv.Uniform{Min: -1, Max: 2.5}.LogProb(x[0]) },
			mean: []float64{0.75}, variance: []float64{3.5 * 3.5 / 12},
			inside: func(rnd *rand.Rand, d int) []float64 { return []float64{-1 + 3.5*rnd.Float64()} }},
		{name: "BoxUniform/2", build: func() DifferentiableDistribution {
			return NewBoxUniform([]float64{-1, 0}, []float64{2.5, 0.25})
		}, box: [][2]float64{{-1, 2.5}, {0, 0.25}},
			ref: func(x []float64) float64 {
				return distuv.Uniform{Min: -1, Max: 2.5}.LogProb(x[0]) + distuv.Uniform{Min: 0, Max: 0.25}.LogProb(x[1])
			},
			mean: []float64{0.75, 0.125}, variance: []float64{3.5 * 3.5 / 12, 0.25 * 0.25 / 12},
			inside: func(rnd *rand.Rand, d int) []float64 { return []float64{-1 + 3.5*rnd.Float64(), 0.25 * rnd.Float64()} }},
		{name: "Gamma/1", build: func() DifferentiableDistribution { return NewGamma([]float64{2.5}, []float64{1.5}) },
			box: [][2]float64{{0, 40}}, ref: gammaRef([]float64{2.5}, []float64{1.5}),
			mean: []float64{2.5 / 1.5}, variance: []float64{2.5 / 1.5 / 1.5},
			inside: func(rnd *rand.Rand, d int) []float64 { return []float64{0.1 + 3*rnd.Float64()} }},
		{name: "Gamma/2", build: func() DifferentiableDistribution { return NewGamma([]float64{1, 3.2}, []float64{0.5, 2}) },
			box: [][2]float64{{0, 90}, {0, 30}}, ref: gammaRef([]float64{1, 3.2}, []float64{0.5, 2}),
			mean: []float64{2, 1.6}, variance: []float64{4, 0.8},
			inside: func(rnd *rand.Rand, d int) []float64 { return []float64{0.1 + 4*rnd.Float64(), 0.1 + 3*rnd.Float64()} }},
		{name: "GaussianMixture/1", build: mix1.build, box: [][2]float64{{-10, 10}}, ref: mix1.ref,
			mean: mm1, variance: mv1, inside: normalPoint},
		{name: "GaussianMixture/2", build: mix2.build, box: [][2]float64{{-10, 10}, {-10, 10}}, ref: mix2.ref,
			mean: mm2, variance: mv2, inside: normalPoint},
	}
}

// grid returns the Gauss–Legendre product grid on box (n nodes per
// dimension) as rows of a matrix, and the weights.
func grid(box [][2]float64, n int) (*mat.Dense, []float64) {
	d := len(box)
	xs, ws := make([][]float64, d), make([][]float64, d)
	for j, b := range box {
		xs[j], ws[j] = make([]float64, n), make([]float64, n)
		quad.Legendre{}.FixedLocations(xs[j], ws[j], b[0], b[1])
	}
	total := 1
	for j := 0; j < d; j++ {
		total *= n
	}
	pts := mat.NewDense(total, d, nil)
	w := make([]float64, total)
	for i := 0; i < total; i++ {
		w[i] = 1
		k := i
		for j := d - 1; j >= 0; j-- {
			pts.Set(i, j, xs[j][k%n])
			w[i] *= ws[j][k%n]
			k /= n
		}
	}
	return pts, w
}

func TestDistributionIntegratesToOne(t *testing.T) {
	for _, tc := range distCases() {
		t.Run(tc.name, func(t *testing.T) {
			n := 400
			if len(tc.box) == 2 {
				n = 200
			}
			pts, w := grid(tc.box, n)
			lp := tc.build().LogProb(nil, pts)
			sum := 0.0
			for i, v := range lp {
				sum += w[i] * math.Exp(v)
			}
			if math.Abs(sum-1) > 1e-7 {
				t.Errorf("∫p = %.12g, want 1", sum)
			}
		})
	}
	// The 1-D integral also agrees with gonum's adaptive-free quad.Fixed.
	g := NewGamma([]float64{2.5}, []float64{1.5})
	x := mat.NewDense(1, 1, nil)
	lp := make([]float64, 1)
	got := quad.Fixed(func(v float64) float64 {
		x.Set(0, 0, v)
		return math.Exp(g.LogProb(lp, x)[0])
	}, 0, math.Inf(1), 300, nil, 0)
	if math.Abs(got-1) > 1e-6 {
		t.Errorf("Gamma: quad.Fixed over [0, ∞) = %.10g", got)
	}
}

func TestDistributionLogProbReference(t *testing.T) {
	for _, tc := range distCases() {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testrand.New(t)
			dist := tc.build()
			d := dist.Dim()
			x := mat.NewDense(20, d, nil)
			for i := 0; i < 20; i++ {
				x.SetRow(i, tc.inside(rnd, d))
			}
			xc := flat(x)
			got := make([]float64, 20)
			check.NaNFill(got)
			dist.LogProb(got, x)
			want := make([]float64, 20)
			for i := range want {
				want[i] = tc.ref(x.RawRowView(i))
			}
			check.Close(t, "LogProb", want, got, 1e-12)
			check.Unchanged(t, "x", xc, flat(x))
			// log(Prob) on the integration grid too (tails included).
			pts, _ := grid(tc.box, 7)
			lp := dist.LogProb(nil, pts)
			for i := range lp {
				if r := tc.ref(pts.RawRowView(i)); math.Abs(r-lp[i]) > 1e-10*math.Max(1, math.Abs(r)) {
					t.Errorf("grid point %v: %v, want %v", pts.RawRowView(i), lp[i], r)
				}
			}
		})
	}
}

func TestDistributionMoments(t *testing.T) {
	const n = 20000
	for k, tc := range distCases() {
		t.Run(tc.name, func(t *testing.T) {
			dist := tc.build()
			x := dist.Sample(mat.NewDense(n, dist.Dim(), nil), testrand.NewSource(t, uint64(k)))
			checkMoments(t, x, tc.mean, tc.variance)
		})
	}
}

// checkMoments compares the sample mean and variance of each column with the
// expected ones, within 5 standard errors (the variance's standard error
// from the sample fourth central moment).
func checkMoments(t *testing.T, x *mat.Dense, mean, variance []float64) {
	t.Helper()
	n, d := x.Dims()
	for j := 0; j < d; j++ {
		m := 0.0
		for i := 0; i < n; i++ {
			m += x.At(i, j)
		}
		m /= float64(n)
		m2, m4 := 0.0, 0.0
		for i := 0; i < n; i++ {
			u := x.At(i, j) - m
			m2 += u * u
			m4 += u * u * u * u
		}
		m2 /= float64(n - 1)
		m4 /= float64(n)
		seMean := math.Sqrt(variance[j] / float64(n))
		seVar := math.Sqrt((m4 - m2*m2) / float64(n))
		if math.Abs(m-mean[j]) > 5*seMean {
			t.Errorf("dim %d: mean %.5g, want %.5g ± %.2g", j, m, mean[j], 5*seMean)
		}
		if math.Abs(m2-variance[j]) > 5*seVar {
			t.Errorf("dim %d: variance %.5g, want %.5g ± %.2g", j, m2, variance[j], 5*seVar)
		}
	}
}

func TestDistributionSeeded(t *testing.T) {
	for _, tc := range distCases() {
		t.Run(tc.name, func(t *testing.T) {
			dist := tc.build()
			a := dist.Sample(mat.NewDense(50, dist.Dim(), nil), rand.NewPCG(3, 4))
			b := mat.NewDense(50, dist.Dim(), nil)
			check.NaNFillDense(b)
			dist.Sample(b, rand.NewPCG(3, 4))
			check.Unchanged(t, "same seed", flat(a), flat(b))
			dist.Sample(b, rand.NewPCG(5, 4))
			if mat.Equal(a, b) {
				t.Error("different seeds gave the same samples")
			}
			// Samples lie in the support.
			for _, v := range dist.LogProb(nil, a) {
				if math.IsInf(v, -1) || math.IsNaN(v) {
					t.Fatalf("sample outside the support: log p = %v", v)
				}
			}
		})
	}
}

func TestDistributionGradients(t *testing.T) {
	for _, tc := range distCases() {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testrand.New(t)
			dist := tc.build()
			d := dist.Dim()
			const n = 6
			x := mat.NewDense(n, d, nil)
			for i := 0; i < n; i++ {
				x.SetRow(i, tc.inside(rnd, d))
			}
			w := randSlice(rnd, n, 1)
			xc := flat(x)
			p := dist.Params()
			np := 0
			if p != nil {
				np = p.Len()
				// Move off the symmetric initial values.
				for k := range p.Data {
					p.Data[k] += 0.2 * rnd.NormFloat64()
				}
			}
			gx := mat.NewDense(n, d, nil)
			check.NaNFillDense(gx)
			gp := make([]float64, np)
			lp := dist.LogProbGrad(nil, gx, gp, w, x)
			check.Close(t, "LogProbGrad value", dist.LogProb(nil, x), lp, 0)
			check.Unchanged(t, "x", xc, flat(x))
			loss := func(x *mat.Dense) float64 {
				s := 0.0
				for i, v := range dist.LogProb(nil, x) {
					s += w[i] * v
				}
				return s
			}
			want := check.GradRef(func(u []float64) float64 { return loss(mat.NewDense(n, d, u)) }, xc)
			check.Close(t, "gx", want, flat(gx), check.Tol)
			if p != nil {
				theta := check.Clone(p.Data)
				wantP := check.GradRef(func(th []float64) float64 {
					copy(p.Data, th)
					defer copy(p.Data, theta)
					return loss(x)
				}, theta)
				check.Close(t, "gparams", wantP, gp, check.Tol)
				// gparams accumulates.
				dist.LogProbGrad(nil, nil, gp, w, x)
				for k := range wantP {
					wantP[k] *= 2
				}
				check.Close(t, "gparams accumulate", wantP, gp, check.Tol)
			}
		})
	}
}

func TestDiagNormalReparam(t *testing.T) {
	rnd := testrand.New(t)
	p := new(nn.Params)
	g := NewDiagNormal(p, "base", []float64{0.5, -1, 2}, []float64{1.5, 0.3, 1})
	check.Close(t, "Loc", []float64{0.5, -1, 2}, g.Loc(), 0)
	check.Close(t, "LogScale", []float64{math.Log(1.5), math.Log(0.3), 0}, g.LogScale(), 0)
	if s, ok := p.Lookup("base/logscale"); !ok || s.Off != 3 {
		t.Errorf("block base/logscale at %v, %v", s, ok)
	}
	if f := NewFlow(g, Inverse(newAffineT(p, "a", []float64{0, 0, 0}, []float64{0, 0, 0}))); f.Params() != p {
		t.Error("Flow.Params is not the shared vector")
	}
	const n = 7
	a := randDense(rnd, n, 3, 1)
	z := g.Sample(mat.NewDense(n, 3, nil), rand.NewPCG(9, 9))
	gp := make([]float64, p.Len())
	g.ReparamBackward(gp, a, z)
	theta := check.Clone(p.Data)
	want := check.GradRef(func(th []float64) float64 {
		copy(p.Data, th)
		defer copy(p.Data, theta)
		zz := g.Sample(mat.NewDense(n, 3, nil), rand.NewPCG(9, 9))
		return mat.Dot(mat.NewVecDense(n*3, flat(zz)), mat.NewVecDense(n*3, flat(a)))
	}, theta)
	check.Close(t, "ReparamBackward", want, gp, check.Tol)
}

func TestTemperature(t *testing.T) {
	const n, temp = 20000, 0.6
	for k, tc := range []struct {
		name           string
		dist           Tempered
		mean, variance []float64
	}{
		{"StandardNormal", NewStandardNormal(2), []float64{0, 0}, []float64{temp * temp, temp * temp}},
		{"DiagNormal", NewDiagNormal(nil, "", []float64{1, -2}, []float64{2, 0.5}), []float64{1, -2}, squares([]float64{2 * temp, 0.5 * temp})},
		{"GaussianMixture", mix2.build().(Tempered), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mean == nil {
				tc.mean, tc.variance = mix2.moments(temp)
			}
			x := tc.dist.SampleTemp(mat.NewDense(n, 2, nil), temp, testrand.NewSource(t, uint64(k)))
			checkMoments(t, x, tc.mean, tc.variance)
			// Temperature 1 is Sample.
			a := tc.dist.SampleTemp(mat.NewDense(5, 2, nil), 1, rand.NewPCG(1, 2))
			b := tc.dist.Sample(mat.NewDense(5, 2, nil), rand.NewPCG(1, 2))
			check.Unchanged(t, "T=1", flat(b), flat(a))
			if !panics(func() { tc.dist.SampleTemp(a, 0, rand.NewPCG(1, 2)) }) {
				t.Error("temperature 0 did not panic")
			}
		})
	}
}

func TestDistributionEdges(t *testing.T) {
	u := NewBoxUniform([]float64{0, 0}, []float64{1, 2})
	x := mat.NewDense(4, 2, []float64{0.5, 0.5, 1.5, 0.5, 0, 2, math.NaN(), 0.5})
	lp := u.LogProb(nil, x)
	if lp[0] != -math.Log(2) || !math.IsInf(lp[1], -1) || lp[2] != -math.Log(2) || !math.IsNaN(lp[3]) {
		t.Errorf("BoxUniform edges: %v", lp)
	}
	g := NewGamma([]float64{0.5, 1, 2}, []float64{1, 3, 1})
	pts := mat.NewDense(4, 3, []float64{
		1, 0, 1, // α = 1 at 0: density β
		0, 1, 1, // α < 1 at 0: +Inf
		1, 1, 0, // α > 1 at 0: outside
		1, -1, 1, // negative: outside
	})
	lp = g.LogProb(nil, pts)
	want0 := distuv.Gamma{Alpha: 0.5, Beta: 1}.LogProb(1) + math.Log(3) + distuv.Gamma{Alpha: 2, Beta: 1}.LogProb(1)
	if math.Abs(lp[0]-want0) > 1e-12 || !math.IsInf(lp[1], 1) || !math.IsInf(lp[2], -1) || !math.IsInf(lp[3], -1) {
		t.Errorf("Gamma edges: %v (want %v, +Inf, -Inf, -Inf)", lp, want0)
	}
	// Far from every component the mixture's log-density stays finite and
	// matches the dominant component's: the widest one (μ = 0.5, σ = 1, π = 0.5).
	m := mix1.build()
	far := mat.NewDense(1, 1, []float64{200})
	got := m.LogProb(nil, far)[0]
	want := math.Log(0.5) + distuv.Normal{Mu: 0.5, Sigma: 1}.LogProb(200)
	if math.Abs(got-want) > 1e-9*math.Abs(want) {
		t.Errorf("mixture far away: %v, want %v", got, want)
	}
	gx := mat.NewDense(1, 1, nil)
	m.LogProbGrad(nil, gx, make([]float64, m.Params().Len()), nil, far)
	if wantG := -(200 - 0.5); math.Abs(gx.At(0, 0)-wantG) > 1e-9*math.Abs(wantG) {
		t.Errorf("mixture gradient far away: %v, want %v", gx.At(0, 0), wantG)
	}
}

func TestDistributionPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"normal dim", func() { NewStandardNormal(0) }},
		{"diag scale", func() { NewDiagNormal(nil, "", []float64{0}, []float64{0}) }},
		{"diag lengths", func() { NewDiagNormal(nil, "", []float64{0}, []float64{1, 1}) }},
		{"uniform order", func() { NewBoxUniform([]float64{1}, []float64{1}) }},
		{"uniform inf", func() { NewBoxUniform([]float64{math.Inf(-1)}, []float64{1}) }},
		{"gamma shape", func() { NewGamma([]float64{-1}, []float64{1}) }},
		{"mixture weight", func() {
			NewGaussianMixture(nil, "", []float64{0}, mat.NewDense(1, 1, nil), mat.NewDense(1, 1, []float64{1}))
		}},
		{"mixture shapes", func() {
			NewGaussianMixture(nil, "", []float64{1, 1}, mat.NewDense(1, 1, nil), mat.NewDense(1, 1, []float64{1}))
		}},
		{"random mixture K", func() { NewRandomGaussianMixture(new(nn.Params), "", 2, 0, rand.NewPCG(1, 1)) }},
		{"random mixture d", func() { NewRandomGaussianMixture(new(nn.Params), "", 0, 3, rand.NewPCG(1, 1)) }},
		{"random mixture nil source", func() { NewRandomGaussianMixture(new(nn.Params), "", 2, 3, nil) }},
		{"logprob columns", func() { NewStandardNormal(2).LogProb(nil, mat.NewDense(1, 3, nil)) }},
		{"logprob dst", func() { NewStandardNormal(2).LogProb(make([]float64, 2), mat.NewDense(1, 2, nil)) }},
		{"sample empty", func() { NewStandardNormal(2).Sample(new(mat.Dense), rand.NewPCG(1, 1)) }},
		{"sample nil source", func() { NewStandardNormal(2).Sample(mat.NewDense(1, 2, nil), nil) }},
	} {
		if !panics(tc.f) {
			t.Errorf("%s: no panic", tc.name)
		}
	}
}

func TestDistributionNoAllocs(t *testing.T) {
	x := randDense(testrand.New(t), 64, 2, 1)
	dst := make([]float64, 64)
	gx := mat.NewDense(64, 2, nil)
	for _, tc := range distCases() {
		dist := tc.build()
		if dist.Dim() != 2 {
			continue
		}
		var gp []float64
		if p := dist.Params(); p != nil {
			gp = make([]float64, p.Len())
		}
		a := testing.AllocsPerRun(10, func() { dist.LogProbGrad(dst, gx, gp, nil, x) })
		if a != 0 {
			t.Errorf("%s: %v allocations per LogProbGrad", tc.name, a)
		}
	}
}

func BenchmarkGaussianMixtureLogProbGrad(b *testing.B) {
	rnd := testrand.New(b)
	const k, d, n = 8, 2, 256
	w := make([]float64, k)
	sc := mat.NewDense(k, d, nil)
	for i := range w {
		w[i] = 1
		sc.SetRow(i, []float64{0.5, 0.5})
	}
	m := NewGaussianMixture(nil, "", w, randDense(rnd, k, d, 2), sc)
	x := randDense(rnd, n, d, 2)
	dst := make([]float64, n)
	gx := mat.NewDense(n, d, nil)
	gp := make([]float64, m.Params().Len())
	b.ReportAllocs()
	for b.Loop() {
		m.LogProbGrad(dst, gx, gp, nil, x)
	}
}

// TestRandomGaussianMixture checks the starting point of a mixture base: K
// equal weights, scales ½, means that depend only on the seed and whose
// spread matches N(0, ¾ I) (over many components, so a wrong spread fails).
func TestRandomGaussianMixture(t *testing.T) {
	const d, k = 3, 4000
	p := new(nn.Params)
	p.Reserve("before", 5)
	g := NewRandomGaussianMixture(p, "base", d, k, rand.NewPCG(7, 8))
	if g.Dim() != d || g.Components() != k || g.Params() != p {
		t.Fatalf("Dim %d Components %d, want %d %d", g.Dim(), g.Components(), d, k)
	}
	if p.Len() != 5+k*(2*d+1) {
		t.Fatalf("%d parameters, want %d", p.Len(), 5+k*(2*d+1))
	}
	for _, w := range g.Weights(nil) {
		if math.Abs(w-1.0/k) > 1e-15 {
			t.Fatalf("weight %v, want %v", w, 1.0/k)
		}
	}
	ls, _ := p.Lookup("base/logscale")
	for _, v := range ls.Of(p.Data) {
		if math.Abs(v-math.Log(0.5)) > 1e-15 {
			t.Fatalf("log-scale %v, want log ½", v)
		}
	}
	loc, _ := p.Lookup("base/loc")
	var sum, sq float64
	for _, v := range loc.Of(p.Data) {
		sum += v
		sq += v * v
	}
	n := float64(k * d)
	mean, vr := sum/n, sq/n-(sum/n)*(sum/n)
	// Standard errors: √(0.75/n) ≈ 0.008 for the mean, 0.75·√(2/n) ≈ 0.01
	// for the variance; 5 of them.
	if math.Abs(mean) > 0.04 || math.Abs(vr-0.75) > 0.05 {
		t.Errorf("means have mean %.4f and variance %.4f, want 0 and 0.75", mean, vr)
	}
	q := new(nn.Params)
	q.Reserve("before", 5)
	NewRandomGaussianMixture(q, "base", d, k, rand.NewPCG(7, 8))
	if !slices.Equal(p.Data, q.Data) {
		t.Error("the same seed gave different mixtures")
	}
	if own := NewRandomGaussianMixture(nil, "base", d, k, rand.NewPCG(7, 8)).Params(); own == nil || !slices.Equal(own.Data, p.Data[5:]) {
		t.Error("with nil *nn.Params: no parameters of its own, or other values")
	}
}
