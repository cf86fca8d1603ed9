package trace

import (
	"fmt"
	"math/rand/v2"

	"github.com/odeflow/odeflow/vectorfield"
)

// HutchSettings configures NewHutchinson. A nil *HutchSettings, and every
// zero field, means the documented default.
type HutchSettings struct {
	// Probe is the probe distribution. Default Rademacher.
	Probe Probe
	// K is the number of probes per sample, averaged. Default 1.
	K int
}

// Hutchinson estimates the divergence of every sample from K probes ε_ij
// drawn once per solve (Resample) and pushed through the field as K tangents
// in one batched JVP:
//
//	div_i  = (1/K) Σ_j ε_ijᵀ J_i ε_ij       E[div_i]  = tr J_i
//	frob_i = (1/K) Σ_j ‖J_i ε_ij‖²          E[frob_i] = ‖J_i‖²_F
//
// both unbiased because E[εεᵀ] = I; frob comes from the same J ε as div.
type Hutchinson struct {
	q     quad
	probe Probe
	k     int
	n     int
	eps   []float64 // (n·K)×d
	w     []float64 // K weights 1/K
}

// NewHutchinson returns a Hutchinson estimator for f. It panics if f is nil,
// K < 0 or the probe is invalid. Resample must be called before use.
func NewHutchinson(f vectorfield.Field, s *HutchSettings) *Hutchinson {
	var set HutchSettings
	if s != nil {
		set = *s
	}
	if set.K < 0 {
		panic("trace: negative K")
	}
	if set.K == 0 {
		set.K = 1
	}
	if set.Probe != Rademacher && set.Probe != Gaussian {
		panic("trace: invalid probe " + set.Probe.String())
	}
	h := &Hutchinson{q: newQuad(f), probe: set.Probe, k: set.K, n: -1}
	h.w = make([]float64, set.K)
	for j := range h.w {
		h.w[j] = 1 / float64(set.K)
	}
	return h
}

// Field returns the field.
func (h *Hutchinson) Field() vectorfield.Field { return h.q.f }

// Resample draws n·K probes from src (row i·K+j is probe j of sample i). It
// panics if src is nil or n < 0.
func (h *Hutchinson) Resample(n int, src rand.Source) {
	if src == nil || n < 0 {
		panic("trace: Resample needs n ≥ 0 and a source")
	}
	m := n * h.k * h.q.d
	if cap(h.eps) < m {
		h.eps = make([]float64, m)
	}
	h.eps = h.eps[:m]
	h.probe.draw(h.eps, rand.New(src))
	h.n = n
}

// Probes returns the current probes, (n·K)×d; the caller must not modify
// them.
func (h *Hutchinson) Probes() []float64 { return h.eps }

func (h *Hutchinson) checkN(z []float64) {
	if n := h.q.rows(z); n != h.n {
		panic(fmt.Sprintf("trace: batch of %d samples, but probes were drawn for %d (call Resample)", n, h.n))
	}
}

// EvalDiv sets f and the Hutchinson estimates with the current probes.
func (h *Hutchinson) EvalDiv(dst Values, t float64, z, c []float64) {
	h.checkN(z)
	h.q.eval(dst, t, z, c, h.eps, h.k, h.w)
}

// VJP differentiates the estimates with the probes held fixed, which is the
// exact gradient of the estimate and an unbiased estimate of the gradient of
// the true divergence.
func (h *Hutchinson) VJP(g vectorfield.Grads, t float64, z, c []float64, a Values) float64 {
	h.checkN(z)
	return h.q.vjp(g, t, z, c, h.eps, h.k, h.w, a)
}
