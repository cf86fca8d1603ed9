//go:build amd64 && !purego

package kernel

//go:noescape
func adam512(x, gr, m, v *float64, n int, c *AdamCoef)

//go:noescape
func adamAVX(x, gr, m, v *float64, n int, c *[adamLen][4]float64)

//go:noescape
func relu512(y, d1, x *float64, n int)

//go:noescape
func reluAVX(y, d1, x *float64, n int, one *[4]float64)

// vecPrefix returns the length of the longest prefix of n values that the
// active vector kernels take in whole blocks of block values (AVX-512:
// block·2 values at a time; AVX: block), and whether those are the
// AVX-512 kernels. With neither it returns 0: the Go loops do everything.
func vecPrefix(n, block int) (k int, avx512 bool) {
	switch {
	case active.id == idAVX512:
		return n &^ (2*block - 1), true
	case hasAVX2:
		return n &^ (block - 1), false
	}
	return 0, false
}

// adamVector runs the vector Adam kernel on the longest prefix of whole
// vectors and returns its length.
func adamVector(x, g, m, v []float64, c *AdamCoef) int {
	k, wide := vecPrefix(len(x), 4)
	switch {
	case k == 0:
	case wide:
		adam512(&x[0], &g[0], &m[0], &v[0], k, c)
	default:
		var t [adamLen][4]float64
		for j, s := range [adamLen]float64{c.L2, c.B1, c.A1, c.B2, c.A2, c.IVC, c.Eps, c.Decay, c.Step} {
			t[j] = [4]float64{s, s, s, s}
		}
		adamAVX(&x[0], &g[0], &m[0], &v[0], k, &t)
	}
	return k
}

// reluOne is 1.0 four times, for the AVX kernel.
var reluOne = [4]float64{1, 1, 1, 1}

// reluVector runs the vector ReLU kernel on the longest prefix of whole
// vectors and returns its length.
func reluVector(y, d1, x []float64) int {
	k, wide := vecPrefix(len(x), 4)
	switch {
	case k == 0:
	case wide:
		relu512(&y[0], &d1[0], &x[0], k)
	default:
		reluAVX(&y[0], &d1[0], &x[0], k, &reluOne)
	}
	return k
}

//go:noescape
func mul512(dst, a, b *float64, n int)

//go:noescape
func mulAVX(dst, a, b *float64, n int)

//go:noescape
func add512(dst, s *float64, n int)

//go:noescape
func addAVX(dst, s *float64, n int)

// mulVector runs Mul's vector kernel on the longest prefix of whole vectors
// and returns its length.
func mulVector(dst, a, b []float64) int {
	k, wide := vecPrefix(len(dst), 4)
	switch {
	case k == 0:
	case wide:
		mul512(&dst[0], &a[0], &b[0], k)
	default:
		mulAVX(&dst[0], &a[0], &b[0], k)
	}
	return k
}

// addVector runs Add's vector kernel on the longest prefix of whole vectors
// and returns its length.
func addVector(dst, s []float64) int {
	k, wide := vecPrefix(len(dst), 4)
	switch {
	case k == 0:
	case wide:
		add512(&dst[0], &s[0], k)
	default:
		addAVX(&dst[0], &s[0], k)
	}
	return k
}

//go:noescape
func mulAdd512(dst, a, b *float64, n int)

//go:noescape
func mulAddAVX(dst, a, b *float64, n int)

// mulAddVector runs MulAdd's vector kernel on the longest prefix of whole
// vectors and returns its length.
func mulAddVector(dst, a, b []float64) int {
	k, wide := vecPrefix(len(dst), 4)
	switch {
	case k == 0:
	case wide:
		mulAdd512(&dst[0], &a[0], &b[0], k)
	default:
		mulAddAVX(&dst[0], &a[0], &b[0], k)
	}
	return k
}

//go:noescape
func sumSq512(x *float64, n int, part *[32]float64)

//go:noescape
func sumSqAVX(x *float64, n int, part *[32]float64)

// sumSqVector accumulates the squares of the longest prefix of x that is a
// whole number of the kernel's blocks into part and returns its length.
func sumSqVector(x []float64, part *[32]float64) int {
	k, wide := vecPrefix(len(x), 16)
	switch {
	case k == 0:
	case wide:
		sumSq512(&x[0], k, part)
	default:
		sumSqAVX(&x[0], k, part)
	}
	return k
}
