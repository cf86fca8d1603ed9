package vectorfield

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/odeflow/odeflow/internal/check"
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

// withParams evaluates fn with the field's parameters temporarily set to x.
func withParams(fld Field, x []float64, fn func()) {
	p := fld.Params()
	saved := check.Clone(p.Data)
	copy(p.Data, x)
	fn()
	copy(p.Data, saved)
}

// fieldSuite runs the shared derivative checks on fld: Eval, JVP, VJP and
// VJP2 with respect to z, θ, t, c (and v) against central finite
// differences, NaN-prefilled outputs, untouched inputs, and the nil
// conventions of Grads and of the cotangents.
func fieldSuite(t *testing.T, fld Field, rng *rand.Rand) {
	t.Helper()
	d, dc := fld.Dim(), fld.ContextDim()
	const n, k = 3, 2
	z := randn(rng, n*d)
	var c []float64
	if dc > 0 {
		c = randn(rng, n*dc)
	}
	v := randn(rng, n*k*d)
	a := randn(rng, n*d)
	b := randn(rng, n*k*d)
	tm := 0.2 + 0.6*rng.Float64()
	np := paramLen(fld.Params())
	var θ []float64
	if np > 0 {
		θ = check.Clone(fld.Params().Data)
	}
	inputs := [][]float64{z, c, v, a, b, θ}
	saved := make([][]float64, len(inputs))
	for i, s := range inputs {
		saved[i] = check.Clone(s)
	}

	// Eval and its Jacobian with respect to z.
	f := nanSlice(n * d)
	fld.Eval(f, tm, z, c)
	check.Finite(t, "Eval", f)
	evalZ := func(y, x []float64) { fld.Eval(y, tm, x, c) }
	Jz := check.Jacobian(evalZ, n*d, z)

	// JVP: every tangent against the fd Jacobian; f as a by-product.
	fj, jv := nanSlice(n*d), nanSlice(n*k*d)
	fld.JVP(fj, jv, tm, z, c, v)
	check.Close(t, "JVP f", f, fj, 1e-12)
	for j := range k {
		vj := make([]float64, n*d)
		got := make([]float64, n*d)
		for i := range n {
			copy(vj[i*d:(i+1)*d], v[(i*k+j)*d:(i*k+j+1)*d])
			copy(got[i*d:(i+1)*d], jv[(i*k+j)*d:(i*k+j+1)*d])
		}
		want := make([]float64, n*d)
		for r := range n * d {
			for q := range n * d {
				want[r] += Jz.At(r, q) * vj[q]
			}
		}
		check.Close(t, "JVP tangent", want, got, check.Tol)
	}
	jv2 := nanSlice(n * k * d)
	fld.JVP(nil, jv2, tm, z, c, v)
	check.Close(t, "JVP without f", jv, jv2, 1e-12)

	// VJP against fd.
	gz, gc := nanSlice(n*d), nanSlice(n*dc)
	θ0 := randn(rng, np)
	gθ := check.Clone(θ0)
	gt := fld.VJP(Grads{Z: gz, Theta: gθ, C: gc}, tm, z, c, a)
	check.Close(t, "VJP z", check.VJPRef(evalZ, n*d, z, a), gz, check.Tol)
	aDotF := func(fn func(y []float64)) float64 {
		y := make([]float64, n*d)
		fn(y)
		s := 0.0
		for i := range y {
			s += a[i] * y[i]
		}
		return s
	}
	wantT := check.GradRef(func(x []float64) float64 {
		return aDotF(func(y []float64) { fld.Eval(y, x[0], z, c) })
	}, []float64{tm})
	check.Close(t, "VJP t", wantT, []float64{gt}, check.Tol)
	if dc > 0 {
		evalC := func(y, x []float64) { fld.Eval(y, tm, z, x) }
		check.Close(t, "VJP c", check.VJPRef(evalC, n*d, c, a), gc, check.Tol)
	}
	if np > 0 {
		evalθ := func(y, x []float64) { withParams(fld, x, func() { fld.Eval(y, tm, z, c) }) }
		want := check.VJPRef(evalθ, n*d, θ, a)
		for i := range want {
			want[i] += θ0[i]
		}
		check.Close(t, "VJP θ (accumulated)", want, gθ, check.Tol)
	}
	// Nil outputs are skipped and do not change the rest.
	gz2 := nanSlice(n * d)
	gt2 := fld.VJP(Grads{Z: gz2}, tm, z, c, a)
	check.Close(t, "VJP z alone", gz, gz2, 1e-12)
	check.Close(t, "VJP t alone", []float64{gt}, []float64{gt2}, 1e-12)

	// VJP2 against fd of L = aᵀf + bᵀ(J v).
	L := func(tt float64, zz, cc, vv []float64) float64 {
		ff, jj := make([]float64, n*d), make([]float64, n*k*d)
		fld.JVP(ff, jj, tt, zz, cc, vv)
		s := 0.0
		for i := range ff {
			s += a[i] * ff[i]
		}
		for i := range jj {
			s += b[i] * jj[i]
		}
		return s
	}
	gz, gc, gv := nanSlice(n*d), nanSlice(n*dc), nanSlice(n*k*d)
	gθ = check.Clone(θ0)
	gt = fld.VJP2(Grads{Z: gz, Theta: gθ, C: gc, V: gv}, tm, z, c, v, a, b)
	check.Close(t, "VJP2 z", check.GradRef(func(x []float64) float64 { return L(tm, x, c, v) }, z), gz, check.Tol)
	check.Close(t, "VJP2 v", check.GradRef(func(x []float64) float64 { return L(tm, z, c, x) }, v), gv, check.Tol)
	check.Close(t, "VJP2 t", check.GradRef(func(x []float64) float64 { return L(x[0], z, c, v) }, []float64{tm}), []float64{gt}, check.Tol)
	if dc > 0 {
		check.Close(t, "VJP2 c", check.GradRef(func(x []float64) float64 { return L(tm, z, x, v) }, c), gc, check.Tol)
	}
	if np > 0 {
		want := check.GradRef(func(x []float64) float64 {
			var s float64
			withParams(fld, x, func() { s = L(tm, z, c, v) })
			return s
		}, θ)
		for i := range want {
			want[i] += θ0[i]
		}
		check.Close(t, "VJP2 θ (accumulated)", want, gθ, check.Tol)
	}
	// b = nil is the first-order VJP; a = nil leaves only the tangent term.
	gzA, gzB, gzAB := nanSlice(n*d), nanSlice(n*d), nanSlice(n*d)
	gtA := fld.VJP2(Grads{Z: gzA}, tm, z, c, v, a, nil)
	gtB := fld.VJP2(Grads{Z: gzB}, tm, z, c, v, nil, b)
	gtAB := fld.VJP2(Grads{Z: gzAB}, tm, z, c, v, a, b)
	gzV := nanSlice(n * d)
	gtV := fld.VJP(Grads{Z: gzV}, tm, z, c, a)
	check.Close(t, "VJP2(b=nil) = VJP", gzV, gzA, 1e-12)
	check.Close(t, "VJP2(b=nil) t = VJP t", []float64{gtV}, []float64{gtA}, 1e-12)
	sum := make([]float64, n*d)
	for i := range sum {
		sum[i] = gzA[i] + gzB[i]
	}
	check.Close(t, "VJP2 linear in (a, b)", gzAB, sum, 1e-12)
	check.Close(t, "VJP2 t linear in (a, b)", []float64{gtAB}, []float64{gtA + gtB}, 1e-12)

	for i, s := range inputs {
		check.Unchanged(t, "input", saved[i], s)
	}
	if np > 0 {
		check.Unchanged(t, "params", θ, fld.Params().Data)
	}
}

func TestFieldSuiteMLP(t *testing.T) {
	acts := []string{"tanh", "softplus", "silu", "elu"}
	for kind := Kind(0); kind < numKinds; kind++ {
		for ai, an := range acts {
			for _, dc := range []int{0, 2} {
				act := mustAct(t, an)
				workers := 1 + (ai+int(kind))%2 // alternate serial and split calls
				name := kind.String() + "/" + an + "/c" + string(rune('0'+dc))
				t.Run(name, func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(kind)+1, uint64(ai*10+dc)))
					m, err := NewMLP(3, "5-4", act, &Settings{Kind: kind, ContextDim: dc,
						Src: rand.NewPCG(7, uint64(kind)), Workers: workers, MinRows: 1})
					if err != nil {
						t.Fatal(err)
					}
					fieldSuite(t, m, rng)
				})
			}
		}
	}
}

func TestFieldSuiteMLPNoHidden(t *testing.T) {
	m, err := NewMLP(2, "", 0, &Settings{Kind: Blend, ContextDim: 1})
	if err != nil {
		t.Fatal(err)
	}
	fieldSuite(t, m, rand.New(rand.NewPCG(3, 3)))
}

func TestFieldSuiteLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	A := randMat(rng, 3)
	for _, bias := range [][]float64{nil, {0.5, -1, 2}} {
		fieldSuite(t, NewLinear(A, bias, nil, ""), rng)
	}
}

func TestFieldSuiteFunc(t *testing.T) {
	fieldSuite(t, newTestFunc(), rand.New(rand.NewPCG(5, 5)))
}

func TestMLPEvalMatchesFormulas(t *testing.T) {
	acts := []string{"tanh", "softplus", "silu", "elu", "sigmoid", "relu", "leakyrelu", "identity"}
	rng := rand.New(rand.NewPCG(6, 6))
	for kind := Kind(0); kind < numKinds; kind++ {
		for _, an := range acts {
			m, err := NewMLP(2, "6-5", mustAct(t, an), &Settings{Kind: kind, ContextDim: 1, Src: rand.NewPCG(8, 8), MinRows: 2})
			if err != nil {
				t.Fatal(err)
			}
			const n = 7
			z, c := randn(rng, n*2), randn(rng, n)
			tm := rng.Float64()
			got := nanSlice(n * 2)
			m.Eval(got, tm, z, c)
			want := refEval(m, tm, z, c)
			check.Close(t, kind.String()+"/"+an, want, got, 1e-12)
		}
	}
}

// refEval evaluates m sample by sample from the layer formulas of FFJORD's
// diffeq_layers, without the effective-weight rewriting.
func refEval(m *MLP, tm float64, z, c []float64) []float64 {
	s := m.s
	P := s.params.Data
	d, dc := s.d, s.dc
	n := len(z) / d
	out := make([]float64, 0, n*d)
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	for i := range n {
		x := append(check.Clone(z[i*d:(i+1)*d]), c[i*dc:(i+1)*dc]...)
		for l, ly := range s.layers {
			lin := func(W, b []float64) []float64 {
				y := make([]float64, ly.out)
				for o := range y {
					y[o] = b[o]
					for q := range ly.in {
						y[o] += W[o*ly.in+q] * x[q]
					}
				}
				return y
			}
			y := lin(ly.w.Of(P), ly.b.Of(P))
			switch s.kind {
			case Concat:
				for o := range y {
					y[o] += ly.wt.Of(P)[o] * tm
				}
			case Squash, ConcatSquash:
				for o := range y {
					y[o] *= sig(ly.wg.Of(P)[o]*tm + ly.bg.Of(P)[o])
					if s.kind == ConcatSquash {
						y[o] += ly.wb.Of(P)[o] * tm
					}
				}
			case Blend:
				y1 := lin(ly.w1.Of(P), ly.b1.Of(P))
				for o := range y {
					y[o] += (y1[o] - y[o]) * tm
				}
			}
			if l < len(s.layers)-1 {
				for o := range y {
					y[o] = s.act.F(y[o])
				}
			}
			x = y
		}
		out = append(out, x...)
	}
	return out
}
