package odeflow

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

// gaussianFlow returns a flow whose density is Gaussian in closed form:
// base N(m, diag S²), transform z = W((x − μ) e^{−s}), so that
//
//	x = μ + D W⁻¹ z,  D = diag(e^s),  x ~ N(μ + D W⁻¹ m, D W⁻¹ S² W⁻ᵀ D)
//
// and the reference density of that normal.
func gaussianFlow(t *testing.T, rnd *rand.Rand) (*Flow, *nn.Params, *gauss2) {
	p := new(nn.Params)
	m, sd := []float64{0.3, -0.5}, []float64{1.4, 0.6}
	base := NewDiagNormal(p, "base", m, sd)
	a := affine(p, "a", rnd, 2)
	l := linear(p, "l", rnd)
	f := NewFlow(base, NewChain(a, l))

	_, v, _ := l.mats()
	mu, s := a.mu.Of(p.Data), a.s.Of(p.Data)
	// B = D W⁻¹.
	b := mat.NewDense(2, 2, []float64{
		math.Exp(s[0]) * v[0], math.Exp(s[0]) * v[1],
		math.Exp(s[1]) * v[2], math.Exp(s[1]) * v[3],
	})
	var mean mat.VecDense
	mean.MulVec(b, mat.NewVecDense(2, m))
	mean.AddVec(&mean, mat.NewVecDense(2, mu))
	var cov mat.Dense
	cov.Mul(b, mat.NewDiagDense(2, squares(sd)))
	cov.Mul(&cov, b.T())
	ref := &gauss2{mean: mean.RawVector().Data, cov: [3]float64{cov.At(0, 0), cov.At(0, 1), cov.At(1, 1)}}
	if ref.cov[0]*ref.cov[2]-ref.cov[1]*ref.cov[1] <= 0 {
		t.Fatal("reference covariance not positive definite")
	}
	return f, p, ref
}

// gauss2 is a bivariate normal with covariance [[c0, c1], [c1, c2]].
type gauss2 struct {
	mean []float64
	cov  [3]float64
}

// logProb returns −½ uᵀΣ⁻¹u − ½ log det Σ − log 2π with u = x − mean.
func (g *gauss2) logProb(x []float64) float64 {
	det := g.cov[0]*g.cov[2] - g.cov[1]*g.cov[1]
	u0, u1 := x[0]-g.mean[0], x[1]-g.mean[1]
	q := (g.cov[2]*u0*u0 - 2*g.cov[1]*u0*u1 + g.cov[0]*u1*u1) / det
	return -0.5*q - 0.5*math.Log(det) - math.Log(2*math.Pi)
}

func TestFlowLogProbGaussian(t *testing.T) {
	rnd := testrand.New(t)
	f, _, ref := gaussianFlow(t, rnd)
	const n = 8
	x := randDense(rnd, n, 2, 2)
	xc := flat(x)
	got := make([]float64, n)
	check.NaNFill(got)
	if _, err := f.LogProb(got, x, nil); err != nil {
		t.Fatal(err)
	}
	check.Unchanged(t, "x", xc, flat(x))
	want := make([]float64, n)
	for i := range want {
		want[i] = ref.logProb(x.RawRowView(i))
	}
	check.Close(t, "LogProb", want, got, 1e-12)

	// Samples have the reference's moments.
	const ns = 20000
	xs := mat.NewDense(ns, 2, nil)
	if err := f.Sample(xs, nil, testrand.NewSource(t, 1)); err != nil {
		t.Fatal(err)
	}
	checkMoments(t, xs, ref.mean, []float64{ref.cov[0], ref.cov[2]})

	// Temperature T scales the base noise: covariance T² Σ here.
	const temp = 0.5
	if err := f.SampleTemp(xs, temp, nil, testrand.NewSource(t, 2)); err != nil {
		t.Fatal(err)
	}
	// The mean is unchanged: the transform is affine and the base noise is
	// centred.
	checkMoments(t, xs, ref.mean, []float64{temp * temp * ref.cov[0], temp * temp * ref.cov[2]})

	// Bits per dimension follow the documented formula.
	bpd, err := f.BitsPerDim(nil, x, nil, 1.0/256)
	if err != nil {
		t.Fatal(err)
	}
	for i := range bpd {
		if w := -(want[i] - 2*math.Log(256)) / (2 * math.Ln2); math.Abs(bpd[i]-w) > 1e-12*math.Abs(w) {
			t.Errorf("bpd %v, want %v", bpd[i], w)
		}
	}
}

func TestBitsPerDimUniform(t *testing.T) {
	// A uniform model of dequantized 8-bit data costs exactly 8 bits per
	// dimension, whether it is fitted to [0, 1) (scale 1/256) or [0, 256).
	rnd := testrand.New(t)
	for _, tc := range []struct {
		hi, scale float64
	}{{1, 1.0 / 256}, {256, 1}} {
		p := new(nn.Params)
		f := NewFlow(NewBoxUniform([]float64{0, 0, 0}, []float64{tc.hi, tc.hi, tc.hi}), newAffineT(p, "id", []float64{0, 0, 0}, []float64{0, 0, 0}))
		x := mat.NewDense(4, 3, nil)
		for i := 0; i < 4; i++ {
			for j := 0; j < 3; j++ {
				x.Set(i, j, tc.hi*rnd.Float64())
			}
		}
		bpd, err := f.BitsPerDim(nil, x, nil, tc.scale)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bpd {
			if math.Abs(b-8) > 1e-12 {
				t.Errorf("scale %v: %v bits per dimension, want 8", tc.scale, b)
			}
		}
	}
}

// flowCase is a flow for the sample/log-prob and gradient tests, with a
// context for conditional flows.
type flowCase struct {
	name  string
	build func(rnd *rand.Rand) (*Flow, *nn.Params)
	m     int // context dimension, 0 if unconditional
}

func flowCases() []flowCase {
	return []flowCase{
		{name: "StandardNormal+chain", build: func(rnd *rand.Rand) (*Flow, *nn.Params) {
			p := new(nn.Params)
			return NewFlow(NewStandardNormal(2), NewChain(affine(p, "a", rnd, 2), linear(p, "l", rnd), Inverse(affine(p, "b", rnd, 2)))), p
		}},
		{name: "DiagNormal+chain", build: func(rnd *rand.Rand) (*Flow, *nn.Params) {
			p := new(nn.Params)
			base := NewDiagNormal(p, "base", []float64{0.2, -0.4}, []float64{0.7, 1.3})
			return NewFlow(base, NewChain(linear(p, "l", rnd), affine(p, "a", rnd, 2), Inverse(linear(p, "m", rnd)))), p
		}},
		{name: "DiagNormal+inverse", build: func(rnd *rand.Rand) (*Flow, *nn.Params) {
			p := new(nn.Params)
			base := NewDiagNormal(p, "base", []float64{0.2, -0.4}, []float64{0.7, 1.3})
			return NewFlow(base, Inverse(NewChain(linear(p, "l", rnd), affine(p, "a", rnd, 2)))), p
		}},
		{name: "conditional DiagNormal", m: 3, build: func(rnd *rand.Rand) (*Flow, *nn.Params) {
			p := new(nn.Params)
			base := NewDiagNormal(p, "base", []float64{0.2, -0.4}, []float64{0.7, 1.3})
			cc := NewConditionalChain(
				newCondAffineT(p, "c0", 2, 3, randSlice(rnd, 6, 0.5), randSlice(rnd, 2, 0.3)),
				Unconditional(linear(p, "l", rnd)),
				InverseConditional(newCondAffineT(p, "c1", 2, 3, randSlice(rnd, 6, 0.5), randSlice(rnd, 2, 0.3))),
			)
			return NewConditionalFlow(base, cc), p
		}},
		{name: "conditional mixture", m: 2, build: func(rnd *rand.Rand) (*Flow, *nn.Params) {
			p := new(nn.Params)
			means := randDense(rnd, 3, 2, 1)
			scales := mat.NewDense(3, 2, []float64{0.5, 0.8, 1, 0.4, 0.6, 0.7})
			base := NewGaussianMixture(p, "base", []float64{1, 2, 1.5}, means, scales)
			cc := NewConditionalChain(
				Unconditional(affine(p, "a", rnd, 2)),
				newCondAffineT(p, "c", 2, 2, randSlice(rnd, 4, 0.5), randSlice(rnd, 2, 0.3)),
			)
			return NewConditionalFlow(base, cc), p
		}},
	}
}

func (tc flowCase) context(rnd *rand.Rand, n int) *mat.Dense {
	if tc.m == 0 {
		return nil
	}
	return randDense(rnd, n, tc.m, 1)
}

func TestFlowSampleAndLogProb(t *testing.T) {
	for _, tc := range flowCases() {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testrand.New(t)
			f, _ := tc.build(rnd)
			const n = 50
			c := tc.context(rnd, n)
			x := mat.NewDense(n, 2, nil)
			check.NaNFillDense(x)
			logp := make([]float64, n)
			check.NaNFill(logp)
			if _, err := f.SampleAndLogProb(x, logp, c, rand.NewPCG(7, 7)); err != nil {
				t.Fatal(err)
			}
			check.Finite(t, "samples", flat(x))
			want, err := f.LogProb(nil, x, c)
			if err != nil {
				t.Fatal(err)
			}
			check.Close(t, "SampleAndLogProb vs LogProb", want, logp, 1e-10)
			// Same seed, same samples, with Sample and with SampleStates.
			x2 := mat.NewDense(n, 2, nil)
			if err := f.Sample(x2, c, rand.NewPCG(7, 7)); err != nil {
				t.Fatal(err)
			}
			check.Unchanged(t, "Sample vs SampleAndLogProb", flat(x), flat(x2))
			states, err := f.SampleStates(n, c, rand.NewPCG(7, 7))
			if err != nil {
				t.Fatal(err)
			}
			check.Close(t, "last state", flat(x), flat(states[len(states)-1]), 1e-15)
			z := f.Base().Sample(mat.NewDense(n, 2, nil), rand.NewPCG(7, 7))
			check.Unchanged(t, "first state", flat(z), flat(states[0]))
			fs, err := f.ForwardStates(x, c)
			if err != nil {
				t.Fatal(err)
			}
			check.Close(t, "forward states end at the base draws", flat(z), flat(fs[len(fs)-1]), 1e-12)
		})
	}
}

func TestFlowLogProbGrad(t *testing.T) {
	for _, tc := range flowCases() {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testrand.New(t)
			f, p := tc.build(rnd)
			const n = 6
			x := randDense(rnd, n, 2, 1)
			c := tc.context(rnd, n)
			w := randSlice(rnd, n, 1)
			xc := flat(x)
			gx := mat.NewDense(n, 2, nil)
			check.NaNFillDense(gx)
			gp := make([]float64, p.Len())
			lp, err := f.LogProbGrad(nil, gp, gx, w, x, c)
			if err != nil {
				t.Fatal(err)
			}
			check.Unchanged(t, "x", xc, flat(x))
			want, _ := f.LogProb(nil, x, c)
			check.Close(t, "value", want, lp, 1e-14)
			loss := func(x *mat.Dense) float64 {
				lp, err := f.LogProb(nil, x, c)
				if err != nil {
					panic(err)
				}
				return mat.Dot(mat.NewVecDense(n, lp), mat.NewVecDense(n, w))
			}
			check.Close(t, "gx", check.GradRef(func(u []float64) float64 { return loss(mat.NewDense(n, 2, u)) }, xc), flat(gx), check.Tol)
			theta := check.Clone(p.Data)
			wantP := check.GradRef(func(th []float64) float64 {
				copy(p.Data, th)
				defer copy(p.Data, theta)
				return loss(x)
			}, theta)
			check.Close(t, "gparams (base and transform)", wantP, gp, check.Tol)

			// nil weights are weights 1; nil gx skips the data gradient.
			gp1 := make([]float64, p.Len())
			if _, err := f.LogProbGrad(nil, gp1, nil, nil, x, c); err != nil {
				t.Fatal(err)
			}
			ones := make([]float64, n)
			for i := range ones {
				ones[i] = 1
			}
			gp2 := make([]float64, p.Len())
			if _, err := f.LogProbGrad(nil, gp2, nil, ones, x, c); err != nil {
				t.Fatal(err)
			}
			check.Close(t, "nil weights", gp2, gp1, 1e-15)
		})
	}
}

// TestFlowReverseKL checks SampleRecord/SampleBackward against finite
// differences of L(θ) = Σ_i w_i log q(x_i) + a_i·x_i, the samples being
// drawn with the same seed at every evaluation (fixed base noise).
func TestFlowReverseKL(t *testing.T) {
	for _, tc := range flowCases() {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testrand.New(t)
			f, p := tc.build(rnd)
			if _, ok := f.Base().(Reparameterized); !ok {
				if !panics(func() { _, _ = f.SampleRecord(mat.NewDense(2, 2, nil), nil, tc.context(rnd, 2), rand.NewPCG(1, 1)) }) {
					t.Error("SampleRecord with a trainable, non-reparameterized base did not panic")
				}
				return
			}
			const n = 6
			c := tc.context(rnd, n)
			w := randSlice(rnd, n, 1)
			a := randDense(rnd, n, 2, 1)
			loss := func() float64 {
				x := mat.NewDense(n, 2, nil)
				lq, err := f.SampleAndLogProb(x, nil, c, rand.NewPCG(11, 3))
				if err != nil {
					panic(err)
				}
				return mat.Dot(mat.NewVecDense(n, lq), mat.NewVecDense(n, w)) +
					mat.Dot(mat.NewVecDense(2*n, flat(x)), mat.NewVecDense(2*n, flat(a)))
			}
			theta := check.Clone(p.Data)
			want := check.GradRef(func(th []float64) float64 {
				copy(p.Data, th)
				defer copy(p.Data, theta)
				return loss()
			}, theta)

			x := mat.NewDense(n, 2, nil)
			lq, err := f.SampleRecord(x, nil, c, rand.NewPCG(11, 3))
			if err != nil {
				t.Fatal(err)
			}
			lp, _ := f.LogProb(nil, x, c)
			check.Close(t, "log q", lp, lq, 1e-10)
			// LogProb invalidated the transform's recording: record again.
			if _, err := f.SampleRecord(x, lq, c, rand.NewPCG(11, 3)); err != nil {
				t.Fatal(err)
			}
			ac, wc := flat(a), check.Clone(w)
			gp := make([]float64, p.Len())
			if err := f.SampleBackward(gp, a, w); err != nil {
				t.Fatal(err)
			}
			check.Unchanged(t, "gx", ac, flat(a))
			check.Unchanged(t, "glogq", wc, w)
			check.Close(t, "reverse-KL gparams", want, gp, check.Tol)

			// nil cotangents mean zero: with gx nil only the log q part remains.
			wantQ := check.GradRef(func(th []float64) float64 {
				copy(p.Data, th)
				defer copy(p.Data, theta)
				x := mat.NewDense(n, 2, nil)
				lq, _ := f.SampleAndLogProb(x, nil, c, rand.NewPCG(11, 3))
				return mat.Dot(mat.NewVecDense(n, lq), mat.NewVecDense(n, w))
			}, theta)
			if _, err := f.SampleRecord(x, lq, c, rand.NewPCG(11, 3)); err != nil {
				t.Fatal(err)
			}
			gq := make([]float64, p.Len())
			if err := f.SampleBackward(gq, nil, w); err != nil {
				t.Fatal(err)
			}
			check.Close(t, "reverse-KL, nil gx", wantQ, gq, check.Tol)
		})
	}
}

func TestFlowErrors(t *testing.T) {
	rnd := testrand.New(t)
	p := new(nn.Params)
	f := NewFlow(NewStandardNormal(2), NewChain(linear(p, "l", rnd), nanT{2}))
	x := randDense(rnd, 5, 2, 1)
	x.Set(3, 0, math.NaN())
	_, err := f.LogProb(nil, x, nil)
	var re *RowError
	if !errors.As(err, &re) || !errors.Is(err, ErrNonFinite) || fmt.Sprint(re.Rows) != "[3]" {
		t.Errorf("NaN input: %v", err)
	}

	// A transform that produces NaN on rows 1 and 4: those rows are named
	// and NaN, the others are valid.
	x = randDense(rnd, 5, 2, 0.1)
	l := f.Transform().(*Chain).Member(0).(*linear2T)
	lw, lv, lld := l.mats()
	for _, i := range []int{1, 4} {
		// x = W⁻¹ (20, 0): W x has a first coordinate of 20 > 10.
		x.Set(i, 0, lv[0]*20)
		x.Set(i, 1, lv[2]*20)
	}
	lp := make([]float64, 5)
	_, err = f.LogProb(lp, x, nil)
	if !errors.As(err, &re) || !errors.Is(err, ErrNumerical) || fmt.Sprint(re.Rows) != "[1 4]" {
		t.Fatalf("NaN output: %v", err)
	}
	for i, v := range lp {
		if i == 1 || i == 4 {
			if !math.IsNaN(v) {
				t.Errorf("row %d: %v, want NaN", i, v)
			}
			continue
		}
		var z mat.VecDense
		z.MulVec(mat.NewDense(2, 2, lw[:]), x.RowView(i))
		want := NewStandardNormal(2).LogProb(nil, mat.NewDense(1, 2, z.RawVector().Data))[0] + lld
		if math.Abs(v-want) > 1e-12 {
			t.Errorf("row %d: %v, want %v", i, v, want)
		}
	}

	// Shapes from data are errors; misuse panics.
	if _, err := f.LogProb(nil, mat.NewDense(2, 3, nil), nil); err == nil {
		t.Error("wrong number of columns: no error")
	}
	cf := NewConditionalFlow(NewStandardNormal(2), newCondAffineT(p, "c", 2, 3, make([]float64, 6), []float64{0, 0}))
	if _, err := cf.LogProb(nil, mat.NewDense(2, 2, nil), mat.NewDense(3, 3, nil)); err == nil {
		t.Error("context rows differ: no error")
	}
	if _, err := cf.LogProb(nil, mat.NewDense(2, 2, nil), mat.NewDense(2, 4, nil)); err == nil {
		t.Error("context columns: no error")
	}
	if !panics(func() { _, _ = cf.LogProb(nil, mat.NewDense(2, 2, nil), nil) }) {
		t.Error("nil context for a conditional flow: no panic")
	}
	if !panics(func() { _, _ = f.LogProb(nil, mat.NewDense(2, 2, nil), mat.NewDense(2, 1, nil)) }) {
		t.Error("context for an unconditional flow: no panic")
	}
	if !panics(func() {
		_ = NewFlow(NewBoxUniform([]float64{0, 0}, []float64{1, 1}), f.Transform()).SampleTemp(mat.NewDense(2, 2, nil), 0.5, nil, rand.NewPCG(1, 1))
	}) {
		t.Error("temperature with a non-tempered base: no panic")
	}
	if !panics(func() { _ = f.SampleBackward(nil, nil, nil) }) {
		t.Error("SampleBackward without SampleRecord: no panic")
	}
	if cf.ContextDim() != 3 || !cf.Conditional() || f.Conditional() || f.ContextDim() != 0 || cf.ConditionalTransform() == nil || f.Dim() != 2 {
		t.Error("Flow accessors")
	}
}

func TestFlowNoAllocs(t *testing.T) {
	rnd := testrand.New(t)
	p := new(nn.Params)
	base := NewDiagNormal(p, "base", []float64{0, 0}, []float64{1, 1})
	f := NewFlow(base, NewChain(affine(p, "a", rnd, 2), linear(p, "l", rnd), affine(p, "b", rnd, 2)))
	const n = 64
	x := randDense(rnd, n, 2, 1)
	lp := make([]float64, n)
	gp := make([]float64, p.Len())
	w := randSlice(rnd, n, 1)
	xs := mat.NewDense(n, 2, nil)
	src := rand.NewPCG(1, 2)
	run := func() {
		if _, err := f.LogProbGrad(lp, gp, nil, w, x, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := f.SampleRecord(xs, lp, nil, src); err != nil {
			t.Fatal(err)
		}
		if err := f.SampleBackward(gp, x, w); err != nil {
			t.Fatal(err)
		}
	}
	run()
	if a := testing.AllocsPerRun(20, run); a != 0 {
		t.Errorf("%v allocations per training step, want 0", a)
	}
}

func BenchmarkFlowLogProbGrad(b *testing.B) {
	rnd := testrand.New(b)
	p := new(nn.Params)
	base := NewDiagNormal(p, "base", []float64{0, 0}, []float64{1, 1})
	f := NewFlow(base, NewChain(affine(p, "a", rnd, 2), linear(p, "l", rnd), affine(p, "b", rnd, 2)))
	const n = 256
	x := randDense(rnd, n, 2, 1)
	lp := make([]float64, n)
	gp := make([]float64, p.Len())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.LogProbGrad(lp, gp, nil, nil, x, nil); err != nil {
			b.Fatal(err)
		}
	}
}
