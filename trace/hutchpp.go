package trace

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/odeflow/odeflow/vectorfield"
)

// HutchPPSettings configures NewHutchPP. A nil *HutchPPSettings, and every
// zero field, means the documented default.
type HutchPPSettings struct {
	// Probe is the distribution of the sketch and probe vectors. Default
	// Rademacher.
	Probe Probe
	// Sketch is s, the number of sketch vectors per sample. Default 1.
	Sketch int
	// K is the number of Hutchinson probes on the deflated remainder.
	// Default 1.
	K int
}

// HutchPP is Hutch++ (Meyer, Musco, Musco and Woodruff, "Hutch++: Optimal
// stochastic trace estimation", SOSA 2021, doi:10.1137/1.9781611976496.16).
// Per sample, with sketch vectors S (d×s) and probes G (d×K), both drawn
// once per solve:
//
//	Q      = orth(J S)                  (d×r, r ≤ s, Gram–Schmidt)
//	P      = I − Q Qᵀ
//	div    = tr(Qᵀ J Q) + (1/K) tr(Gᵀ P J P G)
//	frob   = ‖J Q‖²_F   + (1/K) ‖J P G‖²_F
//
// which uses 2s + K Jacobian–vector products in two batched passes (J S,
// then J [Q, PG]). For any fixed Q both quantities are unbiased
// (tr J = tr(QᵀJQ) + tr(PJP) and ‖J‖²_F = ‖JQ‖²_F + ‖JP‖²_F), and the
// variance only comes from the part of J outside span(Q), so when J has a few
// dominant directions it is far below Hutchinson's on the same budget.
//
// Gradients: VJP recomputes Q at (t, z, c) and then holds it fixed, that is
// it differentiates the quadratic form above with Q and G as constants.
// Because the estimate is unbiased for every fixed Q, this gradient is an
// unbiased estimate of the gradient of the true divergence (and Frobenius
// norm), though not the exact derivative of the Hutch++ estimate through the
// orthonormalization.
type HutchPP struct {
	q      quad
	probe  Probe
	s, k   int
	n      int
	sk, pr []float64 // (n·s)×d sketch, (n·K)×d probes
	y      []float64 // (n·s)×d, J S
	u      []float64 // (n·(s+K))×d tangents [Q, PG]
	w      []float64 // s ones, K times 1/K
}

// NewHutchPP returns a Hutch++ estimator for f. It panics if f is nil, a
// count is negative or the probe is invalid. Resample must be called before
// use.
func NewHutchPP(f vectorfield.Field, s *HutchPPSettings) *HutchPP {
	var set HutchPPSettings
	if s != nil {
		set = *s
	}
	if set.Sketch < 0 || set.K < 0 {
		panic("trace: negative Sketch or K")
	}
	if set.Sketch == 0 {
		set.Sketch = 1
	}
	if set.K == 0 {
		set.K = 1
	}
	if set.Probe != Rademacher && set.Probe != Gaussian {
		panic("trace: invalid probe " + set.Probe.String())
	}
	h := &HutchPP{q: newQuad(f), probe: set.Probe, s: set.Sketch, k: set.K, n: -1}
	for range h.s {
		h.w = append(h.w, 1)
	}
	for range h.k {
		h.w = append(h.w, 1/float64(h.k))
	}
	return h
}

// Field returns the field.
func (h *HutchPP) Field() vectorfield.Field { return h.q.f }

// Matvecs returns 2s + K, the Jacobian–vector products per sample and call.
func (h *HutchPP) Matvecs() int { return 2*h.s + h.k }

// Resample draws the sketch and the probes for n samples from src (sketch
// first). It panics if src is nil or n < 0.
func (h *HutchPP) Resample(n int, src rand.Source) {
	if src == nil || n < 0 {
		panic("trace: Resample needs n ≥ 0 and a source")
	}
	d := h.q.d
	rng := rand.New(src)
	grow := func(s []float64, m int) []float64 {
		if cap(s) < m {
			return make([]float64, m)
		}
		return s[:m]
	}
	h.sk = grow(h.sk, n*h.s*d)
	h.pr = grow(h.pr, n*h.k*d)
	h.y = grow(h.y, n*h.s*d)
	h.u = grow(h.u, n*(h.s+h.k)*d)
	h.probe.draw(h.sk, rng)
	h.probe.draw(h.pr, rng)
	h.n = n
}

// tangents computes [Q, PG] for every sample at (t, z, c).
func (h *HutchPP) tangents(t float64, z, c []float64) []float64 {
	n := h.q.rows(z)
	if n != h.n {
		panic(fmt.Sprintf("trace: batch of %d samples, but probes were drawn for %d (call Resample)", n, h.n))
	}
	d, s, k := h.q.d, h.s, h.k
	h.q.f.JVP(nil, h.y, t, z, c, h.sk)
	K := s + k
	for i := range n {
		u := h.u[i*K*d : (i+1)*K*d]
		copy(u[:s*d], h.y[i*s*d:(i+1)*s*d])
		orthonormalize(u[:s*d], s, d)
		for j := range k {
			gj := u[(s+j)*d : (s+j+1)*d]
			copy(gj, h.pr[(i*k+j)*d:(i*k+j+1)*d])
			// Project out span(Q) twice for accuracy.
			for range 2 {
				for l := range s {
					project(gj, u[l*d:(l+1)*d])
				}
			}
		}
	}
	return h.u
}

// orthonormalize replaces the s rows of q (each of length d) by an
// orthonormal basis of their span by modified Gram–Schmidt with one
// re-orthogonalization; a row that is (numerically) in the span of the
// previous ones is set to zero.
func orthonormalize(q []float64, s, d int) {
	for l := range s {
		row := q[l*d : (l+1)*d]
		n0 := norm(row)
		for range 2 {
			for m := range l {
				project(row, q[m*d:(m+1)*d])
			}
		}
		nr := norm(row)
		if nr <= 1e-10*n0 || nr == 0 {
			for i := range row {
				row[i] = 0
			}
			continue
		}
		for i := range row {
			row[i] /= nr
		}
	}
}

// project removes from x its component along the unit (or zero) vector q.
func project(x, q []float64) {
	s := 0.0
	for i, v := range q {
		s += v * x[i]
	}
	for i, v := range q {
		x[i] -= s * v
	}
}

func norm(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s)
}

// EvalDiv sets f and the Hutch++ estimates.
func (h *HutchPP) EvalDiv(dst Values, t float64, z, c []float64) {
	u := h.tangents(t, z, c)
	h.q.eval(dst, t, z, c, u, h.s+h.k, h.w)
}

// VJP differentiates the estimates with the noise and Q held fixed (see the
// type's documentation).
func (h *HutchPP) VJP(g vectorfield.Grads, t float64, z, c []float64, a Values) float64 {
	u := h.tangents(t, z, c)
	return h.q.vjp(g, t, z, c, u, h.s+h.k, h.w, a)
}
