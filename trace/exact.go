package trace

import (
	"math/rand/v2"

	"github.com/odeflow/odeflow/vectorfield"
)

// Exact computes the divergence exactly from the d Jacobian columns
// J e_1, …, J e_d of every sample, pushed through the field as d tangents in
// one batched JVP:
//
//	div_i  = Σ_j (J_i e_j)_j = tr J_i
//	frob_i = Σ_j ‖J_i e_j‖²  = ‖J_i‖²_F
//
// Its cost grows with d (d tangent rows per sample), so it suits small d
// (up to about 10). It has no noise: Resample does nothing.
type Exact struct {
	q quad
	e []float64 // identity blocks: row i·d+j is e_j
	w []float64 // d ones
}

// NewExact returns the exact estimator for f. It panics if f is nil.
func NewExact(f vectorfield.Field) *Exact {
	ex := &Exact{q: newQuad(f)}
	ex.w = make([]float64, ex.q.d)
	for j := range ex.w {
		ex.w[j] = 1
	}
	return ex
}

// Field returns the field.
func (ex *Exact) Field() vectorfield.Field { return ex.q.f }

// Resample only reserves memory for n samples; src is not used.
func (ex *Exact) Resample(n int, src rand.Source) { ex.basis(n) }

// basis returns the identity tangents for n samples.
func (ex *Exact) basis(n int) []float64 {
	d := ex.q.d
	if len(ex.e) < n*d*d {
		ex.e = make([]float64, n*d*d)
		for r := range n * d {
			ex.e[r*d+r%d] = 1
		}
	}
	return ex.e[:n*d*d]
}

// EvalDiv sets f, the exact divergence and, when asked, ‖f‖² and ‖J‖²_F.
func (ex *Exact) EvalDiv(dst Values, t float64, z, c []float64) {
	n := ex.q.rows(z)
	ex.q.eval(dst, t, z, c, ex.basis(n), ex.q.d, ex.w)
}

// VJP differentiates the exact quantities.
func (ex *Exact) VJP(g vectorfield.Grads, t float64, z, c []float64, a Values) float64 {
	n := ex.q.rows(z)
	return ex.q.vjp(g, t, z, c, ex.basis(n), ex.q.d, ex.w, a)
}
