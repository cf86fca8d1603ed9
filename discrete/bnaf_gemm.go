package discrete

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/odeflow/odeflow/internal/kernel"
)

// bnafGemm sets C = op(A)·op(B) + beta·C for row-major matrices (op(A) m×k,
// op(B) k×n, C m×n, leading dimensions lda, ldb, ldc). With gonum's native
// BLAS and an accelerated micro-kernel of internal/kernel it runs there
// (serial, allocation-free); otherwise through blas64, tiled so that gonum's
// Dgemm stays serial and allocation-free (it spawns goroutines for four or
// more 64×64 blocks of C).
func bnafGemm(tA, tB bool, m, n, k int, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	impl := blas64.Implementation()
	_, native := impl.(gonum.Implementation)
	if native && kernel.Accelerated() {
		kernel.Gemm(tA, tB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	const tile = 64
	if !native || (m <= tile && n <= 2*tile) {
		impl.Dgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
		return
	}
	for i0 := 0; i0 < m; i0 += tile {
		mt := min(tile, m-i0)
		ao := i0 * lda
		if tA {
			ao = i0
		}
		for j0 := 0; j0 < n; j0 += tile {
			nt := min(tile, n-j0)
			bo := j0
			if tB {
				bo = j0 * ldb
			}
			impl.Dgemm(ta, tb, mt, nt, k, 1, a[ao:], lda, b[bo:], ldb, beta, c[i0*ldc+j0:], ldc)
		}
	}
}
