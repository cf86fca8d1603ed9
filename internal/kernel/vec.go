package kernel

import "fmt"

// Mul sets dst[i] = a[i]·b[i] for every i < len(dst). dst may alias a or b.
// It allocates nothing and panics if a or b is not as long as dst.
func Mul(dst, a, b []float64) {
	n := len(dst)
	if len(a) != n || len(b) != n {
		panic(fmt.Sprintf("kernel: Mul lengths: dst %d, a %d, b %d", n, len(a), len(b)))
	}
	i := 0
	if active.id != idGo {
		i = mulVector(dst, a, b)
	}
	a, b = a[i:n], b[i:n]
	for j := range a {
		dst[i+j] = a[j] * b[j]
	}
}

// Add sets dst[i] += s[i] for every i < len(dst). It allocates nothing and
// panics if s is not as long as dst.
func Add(dst, s []float64) {
	n := len(dst)
	if len(s) != n {
		panic(fmt.Sprintf("kernel: Add lengths: dst %d, s %d", n, len(s)))
	}
	i := 0
	if active.id != idGo {
		i = addVector(dst, s)
	}
	s = s[i:n]
	for j := range s {
		dst[i+j] += s[j]
	}
}

// MulAdd sets dst[i] += a[i]·b[i] for every i < len(dst), the product and
// the sum each rounded (no fused multiply-add, as the Go expression). It
// allocates nothing and panics if a or b is not as long as dst.
func MulAdd(dst, a, b []float64) {
	n := len(dst)
	if len(a) != n || len(b) != n {
		panic(fmt.Sprintf("kernel: MulAdd lengths: dst %d, a %d, b %d", n, len(a), len(b)))
	}
	i := 0
	if active.id != idGo {
		i = mulAddVector(dst, a, b)
	}
	a, b = a[i:n], b[i:n]
	for j := range a {
		dst[i+j] += float64(a[j] * b[j])
	}
}

// SumSq returns Σ x[i]², accumulated in several interleaved partial sums
// (32 with AVX-512F, 16 with AVX, 4 in the portable loop) added up at the
// end, so that the rounding depends on the kernel but not on anything
// else. It allocates nothing.
func SumSq(x []float64) float64 {
	var part [32]float64
	i := 0
	if active.id != idGo {
		i = sumSqVector(x, &part)
	}
	var s [4]float64
	x = x[i:]
	j := 0
	for ; j+4 <= len(x); j += 4 {
		s[0] += x[j] * x[j]
		s[1] += x[j+1] * x[j+1]
		s[2] += x[j+2] * x[j+2]
		s[3] += x[j+3] * x[j+3]
	}
	for ; j < len(x); j++ {
		s[0] += x[j] * x[j]
	}
	for k := 0; k < 4; k++ {
		part[k] += s[k]
	}
	// Pairwise: 32 → 16 → … → 1.
	for w := 16; w >= 1; w /= 2 {
		for k := range w {
			part[k] += part[k+w]
		}
	}
	return part[0]
}
