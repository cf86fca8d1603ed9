package kernel

import (
	"fmt"
	"math"
)

// AdamCoef holds the coefficients of one Adam step (see Adam).
type AdamCoef struct {
	L2     float64 // coupled weight decay λ (Adam); 0 for none
	B1, A1 float64 // β1 and 1 − β1
	B2, A2 float64 // β2 and 1 − β2
	IVC    float64 // 1/(1 − β2ᵗ)
	Eps    float64 // ε
	Decay  float64 // decoupled decay lr·λ (AdamW); 0 for none
	Step   float64 // lr/(1 − β1ᵗ)
}

// adamLen is the number of coefficients, in the order of AdamCoef's fields.
const adamLen = 9

// Adam applies one Adam update to every i < len(x):
//
//	γ = g[i] + L2·x[i]
//	m[i] = B1·m[i] + A1·γ
//	v[i] = B2·v[i] + A2·(γ·γ)
//	x[i] = (x[i] − Decay·x[i]) − (Step·m[i]) / (√(v[i]·IVC) + Eps)
//
// each operation rounded once, in this order, so that the vector kernels
// (AVX-512F eight values at a time when the avx512 Gemm kernel is active,
// else AVX four at a time; the portable kernel elsewhere) give the same bits
// as the Go loop. It allocates nothing. It panics if g, m or v is not as
// long as x.
func Adam(x, g, m, v []float64, c *AdamCoef) {
	n := len(x)
	if len(g) != n || len(m) != n || len(v) != n {
		panic(fmt.Sprintf("kernel: Adam lengths: x %d, g %d, m %d, v %d", n, len(g), len(m), len(v)))
	}
	i := 0
	if active.id != idGo {
		i = adamVector(x, g, m, v, c)
	}
	adamGo(x[i:], g[i:], m[i:], v[i:], c)
}

// adamGo is Adam's portable loop. The explicit float64 conversions forbid
// the compiler to fuse a product and a sum into one rounding.
func adamGo(x, g, m, v []float64, c *AdamCoef) {
	g, m, v = g[:len(x)], m[:len(x)], v[:len(x)]
	for i, xi := range x {
		gi := g[i] + float64(c.L2*xi)
		mi := float64(c.B1*m[i]) + float64(c.A1*gi)
		vi := float64(c.B2*v[i]) + float64(c.A2*float64(gi*gi))
		m[i], v[i] = mi, vi
		den := math.Sqrt(vi*c.IVC) + c.Eps
		x[i] = (xi - float64(c.Decay*xi)) - float64(c.Step*mi)/den
	}
}

// ReLUD sets, for every i < len(x), y[i] = max(x[i], 0) and d1[i] = 1 if
// x[i] > 0, else 0; a NaN x[i] gives NaN in both. y may alias x. The vector
// kernels (no branches) give the same bits as the Go loop. It panics if y
// or d1 is not as long as x.
func ReLUD(y, d1, x []float64) {
	n := len(x)
	if len(y) != n || len(d1) != n {
		panic(fmt.Sprintf("kernel: ReLUD lengths: y %d, d1 %d, x %d", len(y), len(d1), n))
	}
	i := 0
	if active.id != idGo {
		i = reluVector(y, d1, x)
	}
	reluGo(y[i:], d1[i:], x[i:])
}

// reluGo is ReLUD's portable loop.
func reluGo(y, d1, x []float64) {
	y, d1 = y[:len(x)], d1[:len(x)]
	for i, v := range x {
		switch {
		case v > 0:
			y[i], d1[i] = v, 1
		case v != v:
			y[i], d1[i] = v, v
		default:
			y[i], d1[i] = 0, 0
		}
	}
}
