package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/odeflow/odeflow/internal/testrand"
)

// naive computes C = alpha·op(A)·op(B) + beta·C by the triple loop, and
// bound(i, j) = Σ_p |op(A)_ip op(B)_pj| + |beta C_ij|, the scale of the
// rounding error of any summation order.
func naive(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) (bound []float64) {
	bound = make([]float64, m*n)
	for i := range m {
		for j := range n {
			s, sa := 0.0, 0.0
			for p := range k {
				ia, ib := i*lda+p, p*ldb+j
				if tA {
					ia = p*lda + i
				}
				if tB {
					ib = j*ldb + p
				}
				av, bv := a[ia], b[ib]
				s += av * bv
				sa += math.Abs(av * bv)
			}
			old := c[i*ldc+j]
			if beta == 0 {
				c[i*ldc+j] = alpha * s
				bound[i*n+j] = math.Abs(alpha) * sa
			} else {
				c[i*ldc+j] = alpha*s + beta*old
				bound[i*n+j] = math.Abs(alpha)*sa + math.Abs(beta*old)
			}
		}
	}
	return bound
}

type shape struct {
	tA, tB           bool
	m, n, k          int
	lda, ldb, ldc    int
	alpha, beta      float64
	ar, ac, br, bc   int
	aLen, bLen, cLen int
}

func newShape(rng *rand.Rand, tA, tB bool, m, n, k int, alpha, beta float64) shape {
	s := shape{tA: tA, tB: tB, m: m, n: n, k: k, alpha: alpha, beta: beta}
	s.ar, s.ac = m, k
	if tA {
		s.ar, s.ac = k, m
	}
	s.br, s.bc = k, n
	if tB {
		s.br, s.bc = n, k
	}
	pad := func(w int) int {
		if rng.IntN(2) == 0 {
			return max(1, w)
		}
		return max(1, w) + 1 + rng.IntN(5)
	}
	s.lda, s.ldb, s.ldc = pad(s.ac), pad(s.bc), pad(n)
	size := func(r, ld int) int { return r * ld } // full rows, padding included
	s.aLen, s.bLen, s.cLen = size(s.ar, s.lda), size(s.br, s.ldb), size(m, s.ldc)
	return s
}

func randSlice(rng *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = 2*rng.Float64() - 1
	}
	return s
}

// checkGemm runs kn on s with random data and compares it with naive and
// with gonum's Dgemm, and checks that padding and inputs are untouched.
func checkGemm(t *testing.T, rng *rand.Rand, kn *impl, s shape) {
	t.Helper()
	a, b := randSlice(rng, s.aLen), randSlice(rng, s.bLen)
	c := randSlice(rng, s.cLen)
	if s.beta == 0 {
		for i := range s.m {
			for j := range s.n {
				c[i*s.ldc+j] = math.NaN()
			}
		}
	}
	a0, b0 := append([]float64(nil), a...), append([]float64(nil), b...)
	want := append([]float64(nil), c...)
	bound := naive(s.tA, s.tB, s.m, s.n, s.k, s.alpha, a, s.lda, b, s.ldb, s.beta, want, s.ldc)
	got := append([]float64(nil), c...)
	gemm(kn, s.tA, s.tB, s.m, s.n, s.k, s.alpha, a, s.lda, b, s.ldb, s.beta, got, s.ldc)

	var ref []float64
	if s.m > 0 && s.n > 0 {
		ref = append([]float64(nil), c...)
		ta, tb := blas.NoTrans, blas.NoTrans
		if s.tA {
			ta = blas.Trans
		}
		if s.tB {
			tb = blas.Trans
		}
		gonum.Implementation{}.Dgemm(ta, tb, s.m, s.n, s.k, s.alpha, a, s.lda, b, s.ldb, s.beta, ref, s.ldc)
	}
	const eps = 0x1p-52
	tol := float64(s.k+2) * eps
	name := fmt.Sprintf("%s tA=%v tB=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%v beta=%v",
		kn.name, s.tA, s.tB, s.m, s.n, s.k, s.lda, s.ldb, s.ldc, s.alpha, s.beta)
	for i := range s.m {
		for j := range s.ldc {
			o := i*s.ldc + j
			if j >= s.n {
				if math.Float64bits(got[o]) != math.Float64bits(c[o]) {
					t.Fatalf("%s: padding C[%d,%d] changed from %v to %v", name, i, j, c[o], got[o])
				}
				continue
			}
			lim := tol * bound[i*s.n+j]
			if d := math.Abs(got[o] - want[o]); !(d <= lim) {
				t.Fatalf("%s: C[%d,%d] = %v, naive %v (|diff| %g > %g)", name, i, j, got[o], want[o], d, lim)
			}
			if d := math.Abs(got[o] - ref[o]); !(d <= 2*lim) {
				t.Fatalf("%s: C[%d,%d] = %v, gonum %v (|diff| %g > %g)", name, i, j, got[o], ref[o], d, 2*lim)
			}
		}
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(a0[i]) {
			t.Fatalf("%s: a modified", name)
		}
	}
	for i := range b {
		if math.Float64bits(b[i]) != math.Float64bits(b0[i]) {
			t.Fatalf("%s: b modified", name)
		}
	}
}

var coeffs = [][2]float64{{1, 0}, {1, 1}, {-0.7, 0.3}, {2, 0}, {0, 0.5}, {0, 0}, {1.5, -1}}

func TestGemmSmall(t *testing.T) {
	for _, kn := range all {
		t.Run(kn.name, func(t *testing.T) {
			t.Parallel()
			rng := testrand.New(t)
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					// Every m, n below 2·maxNR+1 against a few k, and the
					// edge values of k.
					for m := 0; m <= 2*maxMR+1; m++ {
						for n := 0; n <= 2*maxNR+1; n += 1 + rng.IntN(3) {
							for _, k := range []int{0, 1, 2, 3 + rng.IntN(70)} {
								ab := coeffs[rng.IntN(len(coeffs))]
								checkGemm(t, rng, kn, newShape(rng, tA, tB, m, n, k, ab[0], ab[1]))
							}
						}
					}
				}
			}
		})
	}
}

func TestGemmRandom(t *testing.T) {
	for _, kn := range all {
		t.Run(kn.name, func(t *testing.T) {
			t.Parallel()
			rng := testrand.New(t)
			for range 400 {
				tA, tB := rng.IntN(2) == 0, rng.IntN(2) == 0
				m, n, k := rng.IntN(71), rng.IntN(71), rng.IntN(71)
				ab := coeffs[rng.IntN(len(coeffs))]
				checkGemm(t, rng, kn, newShape(rng, tA, tB, m, n, k, ab[0], ab[1]))
			}
		})
	}
}

// TestGemmLarge covers several passes over k (k > kcMax), several packed
// column blocks (n·k > bufLen) and the shapes the vector fields use.
func TestGemmLarge(t *testing.T) {
	shapes := [][3]int{
		{300, 64, 64}, {64, 64, 300}, {64, 64, 1000}, {1000, 2, 64}, {2, 64, 513},
		{130, 200, 70}, {67, 515, 33}, {100, 300, 300}, {9, 300, 600}, {301, 1, 257},
	}
	for _, kn := range all {
		t.Run(kn.name, func(t *testing.T) {
			t.Parallel()
			rng := testrand.New(t)
			for _, sh := range shapes {
				for _, tA := range []bool{false, true} {
					for _, tB := range []bool{false, true} {
						ab := coeffs[rng.IntN(len(coeffs))]
						checkGemm(t, rng, kn, newShape(rng, tA, tB, sh[0], sh[1], sh[2], ab[0], ab[1]))
					}
				}
			}
		})
	}
}

// TestGemmSpecial checks that NaN and Inf in A, B or C propagate where the
// product reads them, and that beta = 0 discards NaN in C.
func TestGemmSpecial(t *testing.T) {
	for _, kn := range all {
		const m, n, k = 9, 17, 5
		a := make([]float64, m*k)
		b := make([]float64, k*n)
		for i := range a {
			a[i] = 1
		}
		for i := range b {
			b[i] = 1
		}
		a[3*k+2] = math.NaN()
		b[1*n+4] = math.Inf(1)
		c := make([]float64, m*n)
		for i := range c {
			c[i] = math.NaN()
		}
		gemm(kn, false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		for i := range m {
			for j := range n {
				v := c[i*n+j]
				switch {
				case i == 3:
					if !math.IsNaN(v) {
						t.Errorf("%s: C[%d,%d] = %v, want NaN", kn.name, i, j, v)
					}
				case j == 4:
					if !math.IsInf(v, 1) {
						t.Errorf("%s: C[%d,%d] = %v, want +Inf", kn.name, i, j, v)
					}
				case v != k:
					t.Errorf("%s: C[%d,%d] = %v, want %d", kn.name, i, j, v, k)
				}
			}
		}
		// beta = 1 keeps a NaN already in C.
		c2 := make([]float64, m*n)
		c2[5] = math.NaN()
		gemm(kn, true, true, m, n, 0, 1, nil, m, nil, 1, 1, c2, n)
		if !math.IsNaN(c2[5]) || c2[6] != 0 {
			t.Errorf("%s: k = 0, beta = 1 changed C", kn.name)
		}
	}
}

func TestGemmPanics(t *testing.T) {
	a, b, c := make([]float64, 12), make([]float64, 12), make([]float64, 12)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"negative m", func() { Gemm(false, false, -1, 3, 4, 1, a, 4, b, 3, 0, c, 3) }},
		{"short a", func() { Gemm(false, false, 4, 3, 4, 1, a, 4, b, 3, 0, c, 3) }},
		{"short b", func() { Gemm(false, true, 3, 4, 4, 1, a, 4, b, 4, 0, c, 4) }},
		{"short c", func() { Gemm(false, false, 3, 5, 4, 1, a, 4, b, 3, 0, c, 5) }},
		{"small lda", func() { Gemm(false, false, 3, 3, 4, 1, a, 3, b, 3, 0, c, 3) }},
		{"small ldc", func() { Gemm(true, false, 3, 3, 4, 1, a, 3, b, 3, 0, c, 2) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}

func TestGemmAllocs(t *testing.T) {
	rng := testrand.New(t)
	const m, n, k = 37, 70, 300
	a, b, c := randSlice(rng, m*k), randSlice(rng, k*n), randSlice(rng, m*n)
	for _, kn := range all {
		for _, tA := range []bool{false, true} {
			lda := k
			if tA {
				lda = m
			}
			got := testing.AllocsPerRun(10, func() {
				gemm(kn, tA, false, m, n, k, 1, a, lda, b, n, 0.5, c, n)
			})
			if got != 0 {
				t.Errorf("%s tA=%v: %v allocations per call", kn.name, tA, got)
			}
		}
	}
	if got := testing.AllocsPerRun(10, func() { Gemm(false, true, m, k, n, 1, c, n, b, n, 0, a, k) }); got != 0 {
		t.Errorf("Gemm: %v allocations per call", got)
	}
}

func TestChoose(t *testing.T) {
	if got := choose(all, "go"); got != goImpl {
		t.Errorf("choose(go) = %s", got.name)
	}
	if got := choose(all, "none"); got != all[0] {
		t.Errorf("choose(none) = %s, want %s", got.name, all[0].name)
	}
	if all[len(all)-1] != goImpl {
		t.Errorf("the portable kernel is not last in %v", len(all))
	}
	t.Logf("kernels: %d, active %s", len(all), Name())
}
