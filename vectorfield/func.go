package vectorfield

import "github.com/odeflow/odeflow/nn"

// Func is a Field given by per-sample functions with hand-written
// derivatives, for analytic fields and tests. Each function sees one sample:
// z has length D, c has length C (empty when C is 0), and gθ is full-length,
// aligned with P.Data. The gradient functions add (+=) into gz, gθ and gc,
// which are never nil. The functions must not modify their inputs and, if
// clones are used on several goroutines, must be safe for concurrent use.
//
// Set the exported fields, then use a *Func as a Field. Fn, JVPFn and VJPFn
// are required; VJPJVPFn is needed only by VJP2 with a non-nil b, which
// panics without it.
type Func struct {
	D, C int        // dimensions of z and c
	P    *nn.Params // θ; may be nil

	// Fn sets f to f(t, z; θ, c).
	Fn func(f []float64, t float64, z, c []float64)
	// JVPFn sets jv to (∂f/∂z) v.
	JVPFn func(jv []float64, t float64, z, c, v []float64)
	// VJPFn adds aᵀ∂f/∂z to gz, aᵀ∂f/∂θ to gθ and aᵀ∂f/∂c to gc, and
	// returns aᵀ∂f/∂t.
	VJPFn func(gz, gθ, gc []float64, t float64, z, c, a []float64) float64
	// VJPJVPFn differentiates s = bᵀ(∂f/∂z)v with v and b held fixed: it adds
	// ∂s/∂z to gz, ∂s/∂θ to gθ and ∂s/∂c to gc, and returns ∂s/∂t.
	VJPJVPFn func(gz, gθ, gc []float64, t float64, z, c, v, b []float64) float64

	scrZ, scrC, scrθ []float64
}

// Dim returns D.
func (f *Func) Dim() int { return f.D }

// ContextDim returns C.
func (f *Func) ContextDim() int { return f.C }

// Params returns P.
func (f *Func) Params() *nn.Params { return f.P }

// Clone returns a copy of f with its own scratch memory.
func (f *Func) Clone() Field {
	c := *f
	c.scrZ, c.scrC, c.scrθ = nil, nil, nil
	return &c
}

func (f *Func) scratch() {
	if f.scrZ == nil {
		f.scrZ = make([]float64, f.D)
		f.scrC = make([]float64, f.C)
		f.scrθ = make([]float64, paramLen(f.P))
	}
}

func (f *Func) rowC(c []float64, i int) []float64 {
	if f.C == 0 {
		return nil
	}
	return c[i*f.C : (i+1)*f.C]
}

// Eval calls Fn on every sample.
func (f *Func) Eval(dst []float64, t float64, z, c []float64) {
	n := batchSize("vectorfield", f.D, f.C, z, c)
	checkLen("vectorfield", "dst", dst, n*f.D, false)
	d := f.D
	for i := range n {
		f.Fn(dst[i*d:(i+1)*d], t, z[i*d:(i+1)*d], f.rowC(c, i))
	}
}

// JVP calls JVPFn on every tangent (and Fn when fo is not nil).
func (f *Func) JVP(fo, jv []float64, t float64, z, c, v []float64) {
	d := f.D
	n := batchSize("vectorfield", d, f.C, z, c)
	k := tangents("vectorfield", n, d, v)
	checkLen("vectorfield", "f", fo, n*d, true)
	checkLen("vectorfield", "jv", jv, len(v), false)
	for i := range n {
		zi, ci := z[i*d:(i+1)*d], f.rowC(c, i)
		if fo != nil {
			f.Fn(fo[i*d:(i+1)*d], t, zi, ci)
		}
		for j := range k {
			r := (i*k + j) * d
			f.JVPFn(jv[r:r+d], t, zi, ci, v[r:r+d])
		}
	}
}

// VJP calls VJPFn on every sample.
func (f *Func) VJP(g Grads, t float64, z, c, a []float64) float64 {
	d := f.D
	n := batchSize("vectorfield", d, f.C, z, c)
	checkLen("vectorfield", "a", a, n*d, false)
	checkGrads("vectorfield", g, n, d, f.C, 0, paramLen(f.P))
	return f.reverse(g, t, z, c, nil, a, nil, n, 0)
}

// VJP2 calls VJPFn on every sample and VJPJVPFn on every tangent; g.V is
// computed with VJPFn (row ik+j of g.V is b_{ik+j}ᵀ ∂f_i/∂z_i).
func (f *Func) VJP2(g Grads, t float64, z, c, v, a, b []float64) float64 {
	d := f.D
	n := batchSize("vectorfield", d, f.C, z, c)
	k := tangents("vectorfield", n, d, v)
	checkLen("vectorfield", "a", a, n*d, true)
	checkLen("vectorfield", "b", b, len(v), true)
	checkGrads("vectorfield", g, n, d, f.C, k, paramLen(f.P))
	if b != nil && f.VJPJVPFn == nil {
		panic("vectorfield: Func.VJPJVPFn is nil")
	}
	return f.reverse(g, t, z, c, v, a, b, n, k)
}

func (f *Func) reverse(g Grads, t float64, z, c, v, a, b []float64, n, k int) float64 {
	f.scratch()
	d, dc := f.D, f.C
	gθ := g.Theta
	if gθ == nil {
		gθ = f.scrθ
	}
	gt := 0.0
	for i := range n {
		zi, ci := z[i*d:(i+1)*d], f.rowC(c, i)
		gz, gc := f.scrZ, f.scrC
		if g.Z != nil {
			gz = g.Z[i*d : (i+1)*d]
		}
		if g.C != nil {
			gc = g.C[i*dc : (i+1)*dc]
		}
		zero(gz)
		zero(gc)
		if a != nil {
			gt += f.VJPFn(gz, gθ, gc, t, zi, ci, a[i*d:(i+1)*d])
		}
		for j := range k {
			r := (i*k + j) * d
			if b != nil {
				gt += f.VJPJVPFn(gz, gθ, gc, t, zi, ci, v[r:r+d], b[r:r+d])
			}
			if g.V != nil {
				gv := g.V[r : r+d]
				zero(gv)
				if b != nil {
					// ∂s/∂v = bᵀ ∂f/∂z; the θ, c and t parts go to scratch.
					f.VJPFn(gv, f.scrθ, f.scrC, t, zi, ci, b[r:r+d])
				}
			}
		}
	}
	return gt
}
