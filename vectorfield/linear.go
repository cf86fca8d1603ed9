package vectorfield

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/nn"
)

// Linear is the analytic field f(t, z) = A z + b, independent of t, with A
// (d×d) and the optional bias b as parameters, so that gradients with respect
// to them can be checked and trained. Its Jacobian is A everywhere, so its
// divergence is tr A.
type Linear struct {
	d      int
	params *nn.Params
	a, b   nn.Slot // b.Len is 0 without a bias
}

// NewLinear returns the field z ↦ A z + b with A and b copied into p (a new
// Params when p is nil) as the blocks name+"/A" (row-major) and name+"/b"; b
// may be nil for no bias. name defaults to "linear". It panics if A is not
// square or b has the wrong length.
func NewLinear(A mat.Matrix, b []float64, p *nn.Params, name string) *Linear {
	r, c := A.Dims()
	if r != c {
		panic("vectorfield: NewLinear: A is not square")
	}
	if b != nil && len(b) != r {
		panic("vectorfield: NewLinear: len(b) != dim")
	}
	if p == nil {
		p = new(nn.Params)
	}
	if name == "" {
		name = "linear"
	}
	l := &Linear{d: r, params: p}
	l.a = p.Reserve(name+"/A", r*r)
	mat.NewDense(r, r, l.a.Of(p.Data)).Copy(A)
	if b != nil {
		l.b = p.Reserve(name+"/b", r)
		copy(l.b.Of(p.Data), b)
	}
	return l
}

// Dim returns d.
func (l *Linear) Dim() int { return l.d }

// ContextDim returns 0.
func (l *Linear) ContextDim() int { return 0 }

// Params returns the parameters holding A and b.
func (l *Linear) Params() *nn.Params { return l.params }

// Clone returns l itself: a Linear field has no scratch memory.
func (l *Linear) Clone() Field { return l }

// Eval sets dst = z Aᵀ + b row by row.
func (l *Linear) Eval(dst []float64, t float64, z, c []float64) {
	n := batchSize("vectorfield", l.d, 0, z, c)
	checkLen("vectorfield", "dst", dst, n*l.d, false)
	l.apply(dst, z, true)
}

func (l *Linear) apply(dst, z []float64, bias bool) {
	d := l.d
	gemm(blas.NoTrans, blas.Trans, len(z)/d, d, d, z, d, l.a.Of(l.params.Data), d, 0, dst, d)
	if bias && l.b.Len > 0 {
		b := l.b.Of(l.params.Data)
		for r := 0; r < len(dst); r += d {
			addTo(dst[r:r+d], b)
		}
	}
}

// JVP sets jv = v Aᵀ row by row and f when it is not nil.
func (l *Linear) JVP(f, jv []float64, t float64, z, c, v []float64) {
	n := batchSize("vectorfield", l.d, 0, z, c)
	tangents("vectorfield", n, l.d, v)
	checkLen("vectorfield", "f", f, n*l.d, true)
	checkLen("vectorfield", "jv", jv, len(v), false)
	if n == 0 {
		return
	}
	if f != nil {
		l.apply(f, z, true)
	}
	l.apply(jv, v, false)
}

// VJP: g.Z = a A, ∂/∂A += aᵀ z, ∂/∂b += Σ_i a_i; ∂L/∂t = 0.
func (l *Linear) VJP(g Grads, t float64, z, c, a []float64) float64 {
	n := batchSize("vectorfield", l.d, 0, z, c)
	checkLen("vectorfield", "a", a, n*l.d, false)
	checkGrads("vectorfield", g, n, l.d, 0, 0, l.params.Len())
	l.reverse(g, z, a, nil, nil)
	return 0
}

// VJP2: as VJP, plus ∂/∂A += bᵀ v and g.V = b A (f is linear, so the
// tangent term has no z-derivative).
func (l *Linear) VJP2(g Grads, t float64, z, c, v, a, b []float64) float64 {
	n := batchSize("vectorfield", l.d, 0, z, c)
	k := tangents("vectorfield", n, l.d, v)
	checkLen("vectorfield", "a", a, n*l.d, true)
	checkLen("vectorfield", "b", b, len(v), true)
	checkGrads("vectorfield", g, n, l.d, 0, k, l.params.Len())
	l.reverse(g, z, a, v, b)
	return 0
}

func (l *Linear) reverse(g Grads, z, a, v, b []float64) {
	d := l.d
	n := len(z) / d
	if n == 0 {
		return
	}
	A := l.a.Of(l.params.Data)
	if g.Z != nil {
		if a != nil {
			gemm(blas.NoTrans, blas.NoTrans, n, d, d, a, d, A, d, 0, g.Z, d)
		} else {
			zero(g.Z)
		}
	}
	if g.V != nil {
		if b != nil {
			gemm(blas.NoTrans, blas.NoTrans, len(v)/d, d, d, b, d, A, d, 0, g.V, d)
		} else {
			zero(g.V)
		}
	}
	if g.Theta == nil {
		return
	}
	gA := l.a.Of(g.Theta)
	if a != nil {
		gemm(blas.Trans, blas.NoTrans, d, d, n, a, d, z, d, 1, gA, d)
		if l.b.Len > 0 {
			gb := l.b.Of(g.Theta)
			for r := 0; r < len(a); r += d {
				addTo(gb, a[r:r+d])
			}
		}
	}
	if b != nil {
		gemm(blas.Trans, blas.NoTrans, d, d, len(v)/d, b, d, v, d, 1, gA, d)
	}
}
