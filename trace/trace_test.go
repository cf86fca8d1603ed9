package trace

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/vectorfield"
)

func randn(rng *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = rng.NormFloat64()
	}
	return s
}

func nanSlice(n int) []float64 {
	s := make([]float64, n)
	check.NaNFill(s)
	return s
}

func newMLP(t testing.TB, d, dc int, kind vectorfield.Kind, act nn.Activation, workers int) *vectorfield.MLP {
	m, err := vectorfield.NewMLP(d, "6-5", act, &vectorfield.Settings{Kind: kind, ContextDim: dc,
		Src: rand.NewPCG(11, uint64(d)), Workers: workers, MinRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fields returns the fields every estimator is tested on.
func fields(t testing.TB) map[string]vectorfield.Field {
	rng := rand.New(rand.NewPCG(12, 12))
	return map[string]vectorfield.Field{
		"mlp-concatsquash-tanh-ctx": newMLP(t, 3, 2, vectorfield.ConcatSquash, nn.Tanh, 2),
		"mlp-blend-softplus":        newMLP(t, 3, 0, vectorfield.Blend, nn.Softplus, 1),
		"mlp-squash-silu-ctx":       newMLP(t, 2, 1, vectorfield.Squash, nn.SiLU, 2),
		"linear":                    vectorfield.NewLinear(mat.NewDense(3, 3, randn(rng, 9)), randn(rng, 3), nil, ""),
	}
}

type inputs struct {
	n    int
	tm   float64
	z, c []float64
}

func newInputs(rng *rand.Rand, f vectorfield.Field, n int) inputs {
	in := inputs{n: n, tm: 0.2 + 0.6*rng.Float64(), z: randn(rng, n*f.Dim())}
	if f.ContextDim() > 0 {
		in.c = randn(rng, n*f.ContextDim())
	}
	return in
}

func evalAll(e Estimator, in inputs) Values {
	d := e.Field().Dim()
	v := Values{F: nanSlice(in.n * d), Div: nanSlice(in.n), Kin: nanSlice(in.n), Frob: nanSlice(in.n)}
	e.EvalDiv(v, in.tm, in.z, in.c)
	return v
}

func TestExactMatchesFiniteDifferences(t *testing.T) {
	for name, f := range fields(t) {
		t.Run(name, func(t *testing.T) {
			rng := testrand.New(t)
			d := f.Dim()
			const n = 4
			in := newInputs(rng, f, n)
			zc, cc := check.Clone(in.z), check.Clone(in.c)
			ex := NewExact(f)
			v := evalAll(ex, in)
			check.Unchanged(t, "z", zc, in.z)
			check.Unchanged(t, "c", cc, in.c)
			want := make([]float64, n*d)
			f.Eval(want, in.tm, in.z, in.c)
			check.Close(t, "F", want, v.F, 1e-12)
			J := check.Jacobian(func(y, x []float64) { f.Eval(y, in.tm, x, in.c) }, n*d, in.z)
			for i := range n {
				tr, fro, kin := 0.0, 0.0, 0.0
				for r := range d {
					tr += J.At(i*d+r, i*d+r)
					for q := range d {
						fro += J.At(i*d+r, i*d+q) * J.At(i*d+r, i*d+q)
					}
					kin += want[i*d+r] * want[i*d+r]
				}
				check.Close(t, "Div = tr fd Jacobian", []float64{tr}, []float64{v.Div[i]}, check.Tol)
				check.Close(t, "Frob = ‖fd Jacobian‖²_F", []float64{fro}, []float64{v.Frob[i]}, check.Tol)
				check.Close(t, "Kin", []float64{kin}, []float64{v.Kin[i]}, 1e-12)
			}
			// Kin and Frob are optional.
			div := nanSlice(n)
			ex.EvalDiv(Values{F: nanSlice(n * d), Div: div}, in.tm, in.z, in.c)
			check.Close(t, "Div alone", v.Div, div, 1e-12)
		})
	}
}

func TestLinearExactTrace(t *testing.T) {
	A := mat.NewDense(3, 3, []float64{1, 2, 3, 4, 5, 6, 7, 8, 10})
	ex := NewExact(vectorfield.NewLinear(A, nil, nil, ""))
	div := nanSlice(2)
	ex.EvalDiv(Values{F: make([]float64, 6), Div: div}, 0, []float64{1, 2, 3, -1, 0, 4}, nil)
	check.Close(t, "tr A", []float64{16, 16}, div, 1e-14)
}

// estimators returns every estimator on f with its noise drawn for n samples.
func estimators(t testing.TB, f vectorfield.Field, n int) map[string]Estimator {
	es := map[string]Estimator{
		"exact":               NewExact(f),
		"hutch-rademacher-k1": NewHutchinson(f, nil),
		"hutch-gaussian-k3":   NewHutchinson(f, &HutchSettings{Probe: Gaussian, K: 3}),
		"hutchpp-gaussian":    NewHutchPP(f, &HutchPPSettings{Probe: Gaussian, Sketch: 1, K: 2}),
		"hutchpp-rademacher":  NewHutchPP(f, &HutchPPSettings{Sketch: 2, K: 1}),
	}
	for name, e := range es {
		e.Resample(n, testrand.NewSource(t, uint64(len(name))))
	}
	return es
}

// fixedTangents returns an evaluation of the quadratic form behind e with
// its tangents frozen at (t, z, c) of in: for Hutch++ the orthonormal basis
// Q is computed once here and then held fixed, which is the function whose
// gradient HutchPP.VJP is defined to be.
func fixedTangents(e Estimator, in inputs) func(dst Values, tm float64, z, c []float64) {
	switch e := e.(type) {
	case *HutchPP:
		u := check.Clone(e.tangents(in.tm, in.z, in.c))
		q := newQuad(e.Field())
		return func(dst Values, tm float64, z, c []float64) { q.eval(dst, tm, z, c, u, e.s+e.k, e.w) }
	default:
		return e.EvalDiv
	}
}

func TestEstimatorVJP(t *testing.T) {
	for fname, f := range fields(t) {
		const n = 3
		for ename, e := range estimators(t, f, n) {
			t.Run(fname+"/"+ename, func(t *testing.T) {
				rng := testrand.New(t)
				d, dc := f.Dim(), f.ContextDim()
				in := newInputs(rng, f, n)
				a := Values{F: randn(rng, n*d), Div: randn(rng, n), Kin: randn(rng, n), Frob: randn(rng, n)}
				eval := fixedTangents(e, in)
				L := func(tm float64, z, c []float64, a Values) float64 {
					v := Values{F: make([]float64, n*d), Div: make([]float64, n), Kin: make([]float64, n), Frob: make([]float64, n)}
					eval(v, tm, z, c)
					s := 0.0
					for _, p := range [][2][]float64{{a.F, v.F}, {a.Div, v.Div}, {a.Kin, v.Kin}, {a.Frob, v.Frob}} {
						for i := range p[0] {
							s += p[0][i] * p[1][i]
						}
					}
					return s
				}
				np := f.Params().Len()
				θ := check.Clone(f.Params().Data)
				saved := [][]float64{check.Clone(in.z), check.Clone(in.c), check.Clone(θ)}
				// Several patterns of nil cotangents.
				for pi, pat := range []Values{a, {Div: a.Div}, {F: a.F, Div: a.Div}, {Kin: a.Kin}, {Frob: a.Frob}, {F: a.F}} {
					gz, gc := nanSlice(n*d), nanSlice(n*dc)
					g0 := randn(rng, np)
					gθ := check.Clone(g0)
					gt := e.VJP(vectorfield.Grads{Z: gz, Theta: gθ, C: gc}, in.tm, in.z, in.c, pat)
					tag := fmt.Sprintf("pattern %d ", pi)
					check.Close(t, tag+"z", check.GradRef(func(x []float64) float64 { return L(in.tm, x, in.c, pat) }, in.z), gz, check.Tol)
					check.Close(t, tag+"t", check.GradRef(func(x []float64) float64 { return L(x[0], in.z, in.c, pat) }, []float64{in.tm}), []float64{gt}, check.Tol)
					if dc > 0 {
						check.Close(t, tag+"c", check.GradRef(func(x []float64) float64 { return L(in.tm, in.z, x, pat) }, in.c), gc, check.Tol)
					}
					want := check.GradRef(func(x []float64) float64 {
						p := f.Params()
						copy(p.Data, x)
						s := L(in.tm, in.z, in.c, pat)
						copy(p.Data, θ)
						return s
					}, θ)
					for i := range want {
						want[i] += g0[i]
					}
					check.Close(t, tag+"θ (accumulated)", want, gθ, check.Tol)
				}
				check.Unchanged(t, "z", saved[0], in.z)
				check.Unchanged(t, "c", saved[1], in.c)
				check.Unchanged(t, "θ", saved[2], f.Params().Data)
			})
		}
	}
}

// TestHutchinsonUnbiased checks that the mean of 10⁴ single-probe estimates
// of the divergence and of ‖J‖²_F lies within 4 standard errors of the exact
// values, for both probe kinds.
func TestHutchinsonUnbiased(t *testing.T) {
	f := newMLP(t, 3, 1, vectorfield.ConcatSquash, nn.Tanh, 2)
	rng := testrand.New(t)
	z, c := randn(rng, 3), randn(rng, 1)
	const tm = 0.4
	exact := evalAll(NewExact(f), inputs{n: 1, tm: tm, z: z, c: c})
	const N = 10000
	in := inputs{n: N, tm: tm, z: make([]float64, 0, N*3), c: make([]float64, 0, N)}
	for range N {
		in.z = append(in.z, z...)
		in.c = append(in.c, c...)
	}
	for _, p := range []Probe{Rademacher, Gaussian} {
		h := NewHutchinson(f, &HutchSettings{Probe: p})
		h.Resample(N, testrand.NewSource(t, uint64(p)+100))
		v := evalAll(h, in)
		for _, q := range []struct {
			name string
			got  []float64
			want float64
		}{{"div", v.Div, exact.Div[0]}, {"frob", v.Frob, exact.Frob[0]}} {
			mean, sd := stat.MeanStdDev(q.got, nil)
			se := sd / math.Sqrt(N)
			if se == 0 {
				t.Fatalf("%v %s: zero variance", p, q.name)
			}
			if math.Abs(mean-q.want) > 4*se {
				t.Errorf("%v %s: mean %.6g, exact %.6g, |diff| = %.3g standard errors", p, q.name, mean, q.want, math.Abs(mean-q.want)/se)
			}
		}
	}
}

// TestHutchPPLowerVariance compares Hutch++ (s = 2, K = 2) with Hutchinson
// (K = 6) on the same budget of 6 Jacobian–vector products per estimate, on
// a linear field whose matrix has two dominant directions in a random basis,
// so that its off-diagonal mass exceeds its diagonal mass.
func TestHutchPPLowerVariance(t *testing.T) {
	const d = 10
	rng := testrand.New(t)
	var qr mat.QR
	qr.Factorize(mat.NewDense(d, d, randn(rng, d*d)))
	var U mat.Dense
	qr.QTo(&U)
	lam := make([]float64, d)
	for i := range lam {
		lam[i] = 0.3 / float64(i+1)
	}
	lam[0], lam[1] = 20, -12
	var A mat.Dense
	A.Mul(&U, mat.NewDiagDense(d, lam))
	A.Mul(&A, U.T())
	diag, off := 0.0, 0.0
	for i := range d {
		for j := range d {
			if i == j {
				diag += A.At(i, j) * A.At(i, j)
			} else {
				off += A.At(i, j) * A.At(i, j)
			}
		}
	}
	if off < diag {
		t.Fatalf("test matrix is diagonally dominated: off %.3g < diag %.3g", off, diag)
	}
	f := vectorfield.NewLinear(&A, nil, nil, "")
	const N = 4000
	in := inputs{n: N, z: randn(rng, N*d)}
	for _, p := range []Probe{Rademacher, Gaussian} {
		h := NewHutchinson(f, &HutchSettings{Probe: p, K: 6})
		pp := NewHutchPP(f, &HutchPPSettings{Probe: p, Sketch: 2, K: 2})
		if pp.Matvecs() != 6 {
			t.Fatalf("Hutch++ budget %d, want 6", pp.Matvecs())
		}
		h.Resample(N, testrand.NewSource(t, 200+uint64(p)))
		pp.Resample(N, testrand.NewSource(t, 300+uint64(p)))
		vh, vp := evalAll(h, in), evalAll(pp, in)
		tr := mat.Trace(&A)
		mh, varH := stat.MeanVariance(vh.Div, nil)
		mp, varP := stat.MeanVariance(vp.Div, nil)
		t.Logf("%v: tr %.4g; Hutchinson mean %.4g var %.4g; Hutch++ mean %.4g var %.4g", p, tr, mh, varH, mp, varP)
		if !(varP < varH) {
			t.Errorf("%v: Hutch++ variance %.4g not below Hutchinson's %.4g", p, varP, varH)
		}
		if se := math.Sqrt(varP / N); math.Abs(mp-tr) > 4*se+1e-12 {
			t.Errorf("%v: Hutch++ mean %.6g, trace %.6g (se %.3g)", p, mp, tr, se)
		}
	}
}

// With s ≥ d sketch vectors Q spans R^d and Hutch++ is exact.
func TestHutchPPFullSketchIsExact(t *testing.T) {
	f := newMLP(t, 3, 0, vectorfield.ConcatSquash, nn.Tanh, 1)
	rng := testrand.New(t)
	in := newInputs(rng, f, 5)
	want := evalAll(NewExact(f), in)
	pp := NewHutchPP(f, &HutchPPSettings{Probe: Gaussian, Sketch: 3, K: 2})
	pp.Resample(5, testrand.NewSource(t, 9))
	got := evalAll(pp, in)
	check.Close(t, "div", want.Div, got.Div, 1e-10)
	check.Close(t, "frob", want.Frob, got.Frob, 1e-10)
}

func TestSameSeedSameNumbers(t *testing.T) {
	f := newMLP(t, 3, 0, vectorfield.ConcatSquash, nn.Tanh, 2)
	rng := testrand.New(t)
	in := newInputs(rng, f, 40)
	for _, mk := range []func() Estimator{
		func() Estimator { return NewHutchinson(f, &HutchSettings{Probe: Gaussian, K: 2}) },
		func() Estimator { return NewHutchinson(f, nil) },
		func() Estimator { return NewHutchPP(f, nil) },
	} {
		e1, e2 := mk(), mk()
		e1.Resample(40, rand.NewPCG(5, 6))
		e2.Resample(40, rand.NewPCG(5, 6))
		v1, v2 := evalAll(e1, in), evalAll(e2, in)
		check.Unchanged(t, "same seed", v1.Div, v2.Div)
		e2.Resample(40, rand.NewPCG(5, 7))
		v3 := evalAll(e2, in)
		same := true
		for i := range v1.Div {
			same = same && v1.Div[i] == v3.Div[i]
		}
		if same {
			t.Errorf("%T: a different seed gave the same estimates", e1)
		}
	}
}

func TestEstimatorAllocs(t *testing.T) {
	f := newMLP(t, 3, 2, vectorfield.ConcatSquash, nn.Tanh, 2)
	rng := testrand.New(t)
	const n = 80
	in := newInputs(rng, f, n)
	for name, e := range estimators(t, f, n) {
		v := Values{F: make([]float64, n*3), Div: make([]float64, n), Kin: make([]float64, n), Frob: make([]float64, n)}
		a := Values{F: randn(rng, n*3), Div: randn(rng, n), Kin: randn(rng, n), Frob: randn(rng, n)}
		g := vectorfield.Grads{Z: make([]float64, n*3), Theta: make([]float64, f.Params().Len()), C: make([]float64, n*2)}
		src := rand.NewPCG(1, 2)
		for _, op := range []struct {
			name string
			fn   func()
		}{
			{"EvalDiv", func() { e.EvalDiv(v, in.tm, in.z, in.c) }},
			{"VJP", func() { e.VJP(g, in.tm, in.z, in.c, a) }},
			{"VJP div only", func() { e.VJP(g, in.tm, in.z, in.c, Values{F: a.F, Div: a.Div}) }},
			{"Resample", func() { e.Resample(n, src) }},
		} {
			op.fn()
			if allocs := testing.AllocsPerRun(20, op.fn); allocs != 0 {
				t.Errorf("%s %s: %v allocations per call", name, op.name, allocs)
			}
		}
	}
}
