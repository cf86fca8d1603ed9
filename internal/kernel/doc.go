// Package kernel holds the numerical hot loops of Odeflow's neural fields
// and layers: a dense matrix product (Gemm), a fused tanh activation pass
// (TanhBias) and the elementwise passes of a training step (Adam, ReLUD,
// Mul, Add, MulAdd, SumSq), with assembly kernels for amd64 and a portable
// Go fallback.
//
// # Matrix product
//
// Gemm computes C = alpha·op(A)·op(B) + beta·C on row-major float64
// matrices, with op either the identity or the transpose, BLAS's dgemm
// without its column-major layout. The driver blocks the product the way
// GotoBLAS and BLIS do, on a smaller scale suited to the narrow matrices of a
// vector field (64×64 weights against a few hundred to a few thousand rows):
//
//	for each stretch of kc ≤ 256 of the inner dimension:
//	    pack op(B)[kc rows, nc columns] into panels of nr columns (≤ 32 KiB)
//	    for each tile of mr rows of C:
//	        for each panel: micro-kernel, mr×nr accumulators in registers
//
// An untransposed B at most 256 columns wide (or any untransposed B when C
// has few rows) is not packed: the micro-kernel reads its full panels in
// place through B's row stride, and only a last, partial panel is packed.
// A is read in place through a row stride and a column stride, so op(A) = A
// and op(A) = Aᵀ cost the same and A is never copied (except when C has
// fewer than mr rows in all, when they are copied, zero-padded, to the
// stack). The last, partial tile of rows is shifted up to overlap the one
// before it, so that it still lies inside A; partial tiles are computed into
// a stack buffer and merged. The packing buffer is a fixed-size array on
// the stack, so Gemm needs no workspace and allocates nothing.
//
// Micro-kernels, selected once at start-up from CPUID and XGETBV (the OS
// must have enabled the vector state):
//
//	avx512  8×16 tile, AVX-512F (32 zmm registers; 16 accumulators)
//	avx2    6×8 tile, AVX2 + FMA (12 ymm accumulators)
//	go      4×4 tile of scalar accumulators, portable Go
//
// On a 2.1 GHz AMD EPYC (Zen 5) a 300×64 by 64×64 product runs at about 80
// GFLOP/s with avx512, 45 with avx2, and 5 with go (gonum's pure-Go Dgemm: 9,
// its Dgemv per row: 19).
//
// # Tanh
//
// TanhBias computes y = tanh(h + b) and optionally σ' = 1 − y² and
// σ” = −2yσ' in one pass. The vector version (AVX2 + FMA, and AVX-512F when
// the avx512 kernel is active) follows math.Tanh: on |x| < 0.625 the same
// rational function evaluated with the same operations, so the result is
// identical; above, 1 − 2/(e^{2|x|}+1) with its own exponential (argument
// reduction by ln 2 in two parts, a degree-13 Taylor polynomial, the power of
// two built in the exponent bits), within 1e-15 relative of math.Tanh (4e-16
// measured on two million points). Both branches run for every value and one
// division serves both. It costs about 1.1 ns per value with AVX-512 and 2.5
// with AVX2, against 13 for a loop over math.Tanh.
//
// # Elementwise passes
//
// The passes of a training step that are not products run through small
// vector kernels too (AVX-512F eight values at a time when the avx512 Gemm
// kernel is active, else AVX four at a time, the tail in Go): Adam's update
// (Adam), the ReLU activation with its derivative (ReLUD, no branches: the
// random signs of pre-activations defeat a branch predictor), Mul, Add and
// MulAdd (σ'-products, bias-gradient sums, MADE masks) and the sum of
// squares of a gradient norm (SumSq). Every one but SumSq performs the
// Go loop's operations in the same order with the same roundings (no fused
// multiply-add), so its result is the same on every CPU; SumSq keeps 32,
// 16 or 4 partial sums depending on the kernel.
//
// # Selection and build tags
//
// The assembly is built on amd64 unless the build tag purego is given:
//
//	go test -tags purego ./...
//
// builds only the portable code, as on every other architecture (gonum's
// equivalent tag is noasm; purego is the name the Go standard library's
// crypto packages use). The environment variable ODEFLOW_KERNEL=avx2 or
// ODEFLOW_KERNEL=go, read at start-up, selects a slower kernel than the best
// the CPU supports (for benchmarks and to rule out the assembly when
// chasing a numerical difference); a name the CPU cannot run is ignored.
// Name reports the choice and Accelerated whether it is assembly.
//
// Callers that have a faster path than the portable kernel (gonum's SSE2
// Dgemv, for instance) should test Accelerated and keep it when it is false.
package kernel
