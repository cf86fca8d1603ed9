package vectorfield

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/odeflow/odeflow/internal/kernel"
)

// useKernel reports whether products go to internal/kernel: when the
// registered BLAS is gonum's own and the CPU has one of the kernel's
// assembly micro-kernels (AVX2+FMA or AVX-512). Its portable Go kernel is
// slower than gonum's SSE2 Dgemv and Dgemm, so purego builds and other CPUs
// keep gonum's paths below, and an implementation registered with blas64.Use
// (OpenBLAS through netlib, say) is always used as registered.
func useKernel() (native, fast bool) {
	_, native = blas64.Implementation().(gonum.Implementation)
	return native, native && kernel.Accelerated()
}

// gemm computes C = op(A)·op(B) + beta·C, where C is m×n, op(A) is m×k and
// op(B) is k×n, all row-major with the given strides: with internal/kernel
// when useKernel says so, otherwise through blas64.Gemm.
//
// gonum's pure-Go Dgemm splits products with at least four 64×64 blocks of C
// across new goroutines, which allocates on every call. When the registered
// implementation is gonum's, gemm therefore tiles C into pieces of at most
// three blocks, which gonum computes serially without allocating; the field
// does its own, allocation-free row splitting across goroutines. Any other
// implementation (for example OpenBLAS registered with blas64.Use) gets one
// call.
func gemm(tA, tB blas.Transpose, m, n, k int, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	native, fast := useKernel()
	if fast {
		kernel.Gemm(tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if !native {
		gemmCall(tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
		return
	}
	const bs = 64
	rows, cols := 3*bs, bs // at most 3 blocks per call
	switch {
	case n <= bs:
	case n <= 3*bs:
		rows, cols = bs, 3*bs
	default:
		rows, cols = bs, 3*bs
	}
	for i0 := 0; i0 < m; i0 += rows {
		mi := min(rows, m-i0)
		var ai []float64
		if tA == blas.NoTrans {
			ai = a[i0*lda:]
		} else {
			ai = a[i0:]
		}
		for j0 := 0; j0 < n; j0 += cols {
			nj := min(cols, n-j0)
			var bj []float64
			if tB == blas.NoTrans {
				bj = b[j0:]
			} else {
				bj = b[j0*ldb:]
			}
			gemmCall(tA, tB, mi, nj, k, ai, lda, bj, ldb, beta, c[i0*ldc+j0:], ldc)
		}
	}
}

func gemmCall(tA, tB blas.Transpose, m, n, k int, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	ar, ac := m, k
	if tA != blas.NoTrans {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB != blas.NoTrans {
		br, bc = n, k
	}
	blas64.Gemm(tA, tB, 1,
		blas64.General{Rows: ar, Cols: ac, Stride: lda, Data: a[:(ar-1)*lda+ac]},
		blas64.General{Rows: br, Cols: bc, Stride: ldb, Data: b[:(br-1)*ldb+bc]},
		beta,
		blas64.General{Rows: m, Cols: n, Stride: ldc, Data: c[:(m-1)*ldc+n]})
}

// mulRows sets row r of C (m×n, stride ldc) to W x_r for the m rows x_r of
// X (m×k, stride ldx), where W is n×k row-major and wT (k×n) is its
// transpose: C = X Wᵀ = X·wT.
//
// With internal/kernel (see useKernel) this is one Gemm with wT, which the
// kernel reads in place. Otherwise, with
// gonum's implementation it is one matrix–vector product (Dgemv) per row: gonum's Dgemv kernel is register-blocked assembly, and for the
// narrow weight matrices of a vector field (64×64 and smaller) it measured
// 1.6–2× faster on this machine than its Dgemm, whose kernel is built from
// one axpy per element of X. Any other implementation gets one Gemm.
func mulRows(m, n, k int, x []float64, ldx int, w, wT []float64, c []float64, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	native, fast := useKernel()
	if fast {
		kernel.Gemm(false, false, m, n, k, 1, x, ldx, wT, n, 0, c, ldc)
		return
	}
	if !native {
		gemmCall(blas.NoTrans, blas.Trans, m, n, k, x, ldx, w, k, 0, c, ldc)
		return
	}
	impl := blas64.Implementation()
	for r := range m {
		impl.Dgemv(blas.NoTrans, n, k, 1, w, k, x[r*ldx:r*ldx+k], 1, 0, c[r*ldc:r*ldc+n], 1)
	}
}
