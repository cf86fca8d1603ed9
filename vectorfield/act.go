package vectorfield

import (
	"math"

	"github.com/odeflow/odeflow/internal/kernel"
	"github.com/odeflow/odeflow/nn"
)

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// activate adds the bias be to every row of h (rows of width len(be)), and
// sets y = σ(h), and d1 = σ'(h), d2 = σ”(h) when they are not nil.
func activate(act nn.Activation, h, y, d1, d2, be []float64) {
	out := len(be)
	switch {
	case act == nn.Tanh && (d2 == nil || d1 != nil):
		// internal/kernel's fused pass: four or eight values at once on
		// CPUs with AVX2, a math.Tanh loop elsewhere.
		for r := 0; r < len(h); r += out {
			var ar, br []float64
			if d1 != nil {
				ar = d1[r : r+out]
			}
			if d2 != nil {
				br = d2[r : r+out]
			}
			kernel.TanhBias(y[r:r+out], ar, br, h[r:r+out], be)
		}
	default:
		for r := 0; r < len(h); r += out {
			hr, yr := h[r:r+out], y[r:r+out]
			for o, bv := range be {
				v, a1, a2 := act.D2(hr[o] + bv)
				yr[o] = v
				if d1 != nil {
					d1[r+o] = a1
				}
				if d2 != nil {
					d2[r+o] = a2
				}
			}
		}
	}
}

// activateBack turns, in place, the cotangents G on the stacked outputs
// (y; ẏ) of an activation layer into cotangents on its inputs (h; ḣ):
//
//	ḡh_i     = ḡy_i ⊙ σ'(h_i) + Σ_j ḡẏ_ij ⊙ σ''(h_i) ⊙ ḣ_ij
//	ḡḣ_ij    = ḡẏ_ij ⊙ σ'(h_i)
//
// H holds the stacked pre-activations (its tangent rows are ḣ).
func activateBack(G []float64, n, k, out int, d1, d2, H []float64) {
	for i := range n {
		p := G[i*out : (i+1)*out]
		a1 := d1[i*out : (i+1)*out]
		for o, v := range a1 {
			p[o] *= v
		}
		if k == 0 {
			continue
		}
		a2 := d2[i*out : (i+1)*out]
		for j := range k {
			r := (n + i*k + j) * out
			q, hd := G[r:r+out], H[r:r+out]
			for o, v := range a1 {
				p[o] += q[o] * a2[o] * hd[o]
				q[o] *= v
			}
		}
	}
}
