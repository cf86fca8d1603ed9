package kernel

import (
	"fmt"
	"math"
)

// TanhBias computes, for every i < len(y),
//
//	v = h[i] + b[i],   y[i] = tanh(v),
//	d1[i] = 1 − y[i]²         (σ', when d1 is not nil),
//	d2[i] = −2·y[i]·d1[i]     (σ”, when d2 is not nil),
//
// the fused activation pass of a tanh layer. y may alias h. It allocates
// nothing. It panics if h or b is not as long as y, if d1 or d2 is neither
// nil nor as long as y, or if d2 is given without d1.
//
// On CPUs with AVX2 and FMA (unless the portable kernel was selected, see
// the package documentation) four values are computed at once, as math.Tanh
// does: for |v| < 0.625 the same rational function with the same operations
// in the same order, so the result is identical; for |v| ≥ 0.625,
// 1 − 2/(e^{2|v|} + 1) with e^{2|v|} = 2^k·exp(r), |r| ≤ ln2/2, from a
// degree-13 Taylor polynomial (truncation below 5e-18 relative), which
// agrees with math.Tanh to within a few units in the last place. Signs of
// zero, ±Inf (→ ±1) and NaN are as math.Tanh's. Elsewhere it is a loop over
// math.Tanh.
func TanhBias(y, d1, d2, h, b []float64) {
	n := len(y)
	if len(h) != n || len(b) != n {
		panic(fmt.Sprintf("kernel: TanhBias lengths: y %d, h %d, b %d", n, len(h), len(b)))
	}
	if d1 != nil && len(d1) != n || d2 != nil && len(d2) != n {
		panic(fmt.Sprintf("kernel: TanhBias lengths: y %d, d1 %d, d2 %d", n, len(d1), len(d2)))
	}
	if d2 != nil && d1 == nil {
		panic("kernel: TanhBias: d2 without d1")
	}
	if n == 0 {
		return
	}
	if active.id != idGo && tanhVector(y, d1, d2, h, b) {
		return
	}
	tanhGo(y, d1, d2, h, b)
}

// tanhGo is TanhBias through math.Tanh.
func tanhGo(y, d1, d2, h, b []float64) {
	h, b = h[:len(y)], b[:len(y)]
	for i := range y {
		v := math.Tanh(h[i] + b[i])
		y[i] = v
		if d1 != nil {
			s := 1 - v*v
			d1[i] = s
			if d2 != nil {
				d2[i] = -2 * v * s
			}
		}
	}
}
