package nn

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/odeflow/odeflow/internal/kernel"
)

// Layer is a map f: R^In → R^Out applied row by row to a batch, with its
// first and second-order derivative passes. All slices are row-major flat
// batches: x is n×In, y is n×Out, a tangent batch ẋ is (n·k)×In with row i·k+j
// holding tangent j of sample i, and ẏ is (n·k)×Out likewise.
//
// The passes share a Workspace made by NewWorkspace, which records what the
// backward passes need. The calling protocol on one workspace is
//
//	Forward(ws, y, x)                    // always first
//	VJP(ws, gx, gθ, gy)                  // any number of times after Forward
//	JVP(ws, ẏ, ẋ)                        // after Forward
//	TangentVJP(ws, gx, gẋ, gθ, gy, gẏ)   // after JVP
//
// Forward and JVP keep references to x and ẋ (they are not copied): the
// caller must leave x and ẋ unchanged until the last backward pass that uses
// the workspace. y must not alias x, nor ẏ alias ẋ. Parameters are read from
// the layer's Params at call time and must not change between a Forward and
// the passes that follow it.
//
// Backward passes write gx and gẋ (either may be nil to skip it) and add
// parameter gradients into gθ, a full-length vector aligned with Params.Data
// (p.Grad, a worker's own buffer, or part of an adjoint state; nil skips
// them). Inputs are never modified.
//
// A Layer itself holds no per-call state, so several goroutines may run it at
// once on different row blocks, each with its own Workspace and gθ. After
// NewWorkspace, no pass allocates.
//
// Every method panics if a slice has the wrong length, if the batch exceeds
// the workspace's capacity, or if the protocol above is broken.
type Layer interface {
	// In and Out return the input and output widths.
	In() int
	Out() int
	// NewWorkspace returns a workspace for batches of up to maxN rows and
	// up to maxK tangents per row (maxK may be 0 if JVP is never used).
	NewWorkspace(maxN, maxK int) Workspace
	// Forward sets y = f(x) and records what the backward passes need.
	Forward(ws Workspace, y, x []float64)
	// VJP sets gx = gyᵀ ∂f/∂x (skipped if gx is nil) and adds gyᵀ ∂f/∂θ to
	// gθ (skipped if gθ is nil), at the x of the last Forward.
	VJP(ws Workspace, gx, gθ, gy []float64)
	// JVP sets ẏ = (∂f/∂x) ẋ for each of the k = len(ẋ)/(n·In) tangents of
	// each row, at the x of the last Forward, and records ẋ.
	JVP(ws Workspace, yd, xd []float64)
	// TangentVJP is the reverse pass through the forward-plus-tangent
	// computation (y, ẏ) = (f(x), (∂f/∂x)ẋ) of the last Forward and JVP:
	// given cotangents gy on y (nil means zero) and gẏ on ẏ, it sets
	//
	//	gx = gyᵀ ∂y/∂x + gẏᵀ ∂ẏ/∂x,   gẋ = gẏᵀ ∂ẏ/∂ẋ = (∂f/∂x)ᵀ gẏ,
	//
	// and adds gyᵀ ∂y/∂θ + gẏᵀ ∂ẏ/∂θ to gθ. gx, gẋ and gθ may be nil.
	TangentVJP(ws Workspace, gx, gxd, gθ, gy, gyd []float64)
}

// Workspace holds one layer's intermediate values between its passes. Each
// Layer makes its own kind with NewWorkspace and panics if given another's.
type Workspace interface {
	// Cap returns the largest batch size and number of tangents per row
	// the workspace was made for.
	Cap() (maxN, maxK int)
}

// gemmTile bounds the C tiles handed to gonum's native Dgemm: it runs a
// product serially, without allocating, when C spans fewer than 4 blocks of
// 64×64, and otherwise starts goroutines (which allocate). Nested
// parallelism is also not wanted: callers split batches across goroutines.
const (
	gemmTileRows = 192
	gemmTileCols = 64
)

// gemm computes C = A·B + beta·C (op(A) m×k, op(B) k×n, C m×n, all
// row-major with leading dimensions lda, ldb, ldc). When the registered BLAS
// is gonum's native one and the CPU has one of internal/kernel's assembly
// micro-kernels (AVX2+FMA, AVX-512), the product runs there: 4–10× faster
// than gonum's pure-Go Dgemm at these sizes, serial and allocation-free.
// Otherwise it goes through blas64: with gonum's native implementation
// (purego builds, other CPUs; kernel's portable Go kernel is slower than
// gonum's SSE2 one) C is tiled so that each call stays serial and
// allocation-free; any other implementation installed with blas64.Use gets
// one call.
func gemm(tA, tB bool, m, n, k int, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	impl := blas64.Implementation()
	_, native := impl.(gonum.Implementation)
	if native && kernel.Accelerated() {
		kernel.Gemm(tA, tB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if !native || (m <= gemmTileRows && n <= gemmTileCols) {
		impl.Dgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
		return
	}
	for i0 := 0; i0 < m; i0 += gemmTileRows {
		mt := min(gemmTileRows, m-i0)
		ao := i0 * lda
		if tA {
			ao = i0
		}
		for j0 := 0; j0 < n; j0 += gemmTileCols {
			nt := min(gemmTileCols, n-j0)
			bo := j0
			if tB {
				bo = j0 * ldb
			}
			impl.Dgemm(ta, tb, mt, nt, k, 1, a[ao:], lda, b[bo:], ldb, beta, c[i0*ldc+j0:], ldc)
		}
	}
}

// rowsOf returns the number of rows of a batch of width w in s, panicking
// if len(s) is not a multiple of w or exceeds max rows.
func rowsOf(s []float64, w, max int, what string) int {
	if len(s)%w != 0 {
		panic(fmt.Sprintf("nn: %s length %d is not a multiple of its width %d", what, len(s), w))
	}
	n := len(s) / w
	if n > max {
		panic(fmt.Sprintf("nn: batch of %d rows exceeds workspace capacity %d", n, max))
	}
	return n
}

// checkLen panics unless len(s) == n.
func checkLen(s []float64, n int, what string) {
	if len(s) != n {
		panic(fmt.Sprintf("nn: %s has length %d, want %d", what, len(s), n))
	}
}

// checkLenOrNil panics unless s is nil or len(s) == n.
func checkLenOrNil(s []float64, n int, what string) {
	if s != nil && len(s) != n {
		panic(fmt.Sprintf("nn: %s has length %d, want %d (or nil)", what, len(s), n))
	}
}

// tangentsOf returns k for a tangent batch of length l with n rows of width w.
func tangentsOf(l, n, w, maxK int, what string) int {
	if n == 0 {
		if l != 0 {
			panic(fmt.Sprintf("nn: %s has length %d for an empty batch", what, l))
		}
		return 0
	}
	if l%(n*w) != 0 {
		panic(fmt.Sprintf("nn: %s length %d is not a multiple of n·width = %d", what, l, n*w))
	}
	k := l / (n * w)
	if k > maxK {
		panic(fmt.Sprintf("nn: %d tangents per row exceed workspace capacity %d", k, maxK))
	}
	return k
}

// add sets dst[i] += s[i] (len(s) ≥ len(dst)).
func add(dst, s []float64) { kernel.Add(dst, s[:len(dst)]) }

// curved reports whether σ” can be nonzero, so that the reverse pass through
// a tangent computation needs it.
func (a Activation) curved() bool {
	switch a {
	case Identity, ReLU, LeakyReLU:
		return false
	}
	return true
}

var (
	_ Layer = (*Linear)(nil)
	_ Layer = (*ActLayer)(nil)
	_ Layer = (*MLP)(nil)
)
