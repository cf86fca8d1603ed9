package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// BenchmarkGemm times the products of FFJORD's toy field (64×64 weights,
// 300 and 3000 stacked rows: a batch of 100 or 1000 samples with two
// tangents each) for every kernel, and gonum's Dgemm and row-by-row Dgemv
// for comparison. The reported GFLOP/s is 2mnk/time.
//
//	go test ./internal/kernel -run '^$' -bench Gemm
func BenchmarkGemm(b *testing.B) {
	type prod struct {
		name    string
		tA, tB  bool
		m, n, k int
	}
	var prods []prod
	for _, rows := range []int{300, 3000} {
		prods = append(prods,
			prod{fmt.Sprintf("XW/%d", rows), false, false, rows, 64, 64},    // X·W_effᵀ, Wᵀ stored
			prod{fmt.Sprintf("XWt/%d", rows), false, true, rows, 64, 64},    // X·Wᵀ, W stored
			prod{fmt.Sprintf("GtX/%d", rows), true, false, 64, 64, rows},    // Gᵀ·X
			prod{fmt.Sprintf("XW-out2/%d", rows), false, true, rows, 2, 64}, // last layer
		)
	}
	// A 128-128 conditioner layer of a coupling flow at batch 128.
	prods = append(prods,
		prod{"cond/XWt/128", false, true, 128, 128, 128},
		prod{"cond/GW/128", false, false, 128, 128, 128},
		prod{"cond/GtX/128", true, false, 128, 128, 128},
	)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, p := range prods {
		lda, ldb := p.k, p.n
		if p.tA {
			lda = p.m
		}
		if p.tB {
			ldb = p.k
		}
		a, bb, c := randSlice(rng, p.m*p.k), randSlice(rng, p.k*p.n), randSlice(rng, p.m*p.n)
		flops := 2 * float64(p.m*p.n*p.k)
		report := func(b *testing.B) {
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		for _, kn := range all {
			b.Run(p.name+"/"+kn.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					gemm(kn, p.tA, p.tB, p.m, p.n, p.k, 1, a, lda, bb, ldb, 0, c, p.n)
				}
				report(b)
			})
		}
		ta, tb := blas.NoTrans, blas.NoTrans
		if p.tA {
			ta = blas.Trans
		}
		if p.tB {
			tb = blas.Trans
		}
		var impl gonum.Implementation
		b.Run(p.name+"/gonum-dgemm", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for i0 := 0; i0 < p.m; i0 += 192 { // serial tiles, as before
					mi := min(192, p.m-i0)
					ao := i0 * lda
					if p.tA {
						ao = i0
					}
					impl.Dgemm(ta, tb, mi, p.n, p.k, 1, a[ao:], lda, bb, ldb, 0, c[i0*p.n:], p.n)
				}
			}
			report(b)
		})
		if !p.tA && p.tB {
			b.Run(p.name+"/gonum-dgemv", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					for r := range p.m {
						impl.Dgemv(blas.NoTrans, p.n, p.k, 1, bb, p.k, a[r*p.k:(r+1)*p.k], 1, 0, c[r*p.n:(r+1)*p.n], 1)
					}
				}
				report(b)
			})
		}
	}
}

// BenchmarkTanhBias times the fused tanh pass on one 64-wide layer of 300
// stacked rows, against the math.Tanh loop.
func BenchmarkTanhBias(b *testing.B) {
	const n = 300 * 64
	rng := rand.New(rand.NewPCG(1, 1))
	h, bias := randSlice(rng, n), randSlice(rng, n)
	for i := range h {
		h[i] *= 3
	}
	y, d1, d2 := make([]float64, n), make([]float64, n), make([]float64, n)
	b.Run("vector", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			TanhBias(y, d1, d2, h, bias)
		}
		b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/n, "ns/value")
	})
	b.Run("math.Tanh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tanhGo(y, d1, d2, h, bias)
		}
		b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/n, "ns/value")
	})
}

// BenchmarkAdam times one Adam update of 102 400 parameters (a RealNVP of
// six 128-128 conditioners), vector kernel against the Go loop.
func BenchmarkAdam(b *testing.B) {
	const n = 102400
	rng := rand.New(rand.NewPCG(1, 1))
	x, g, m, v := randSlice(rng, n), randSlice(rng, n), make([]float64, n), make([]float64, n)
	c := &AdamCoef{B1: 0.9, A1: 0.1, B2: 0.999, A2: 0.001, IVC: 1000, Eps: 1e-8, Step: 1e-3}
	b.Run("vector", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Adam(x, g, m, v, c)
		}
		b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/n, "ns/value")
	})
	b.Run("go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			adamGo(x, g, m, v, c)
		}
		b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/n, "ns/value")
	})
}

// BenchmarkReLUD times the ReLU pass over one 128×128 layer.
func BenchmarkReLUD(b *testing.B) {
	const n = 128 * 128
	rng := rand.New(rand.NewPCG(1, 1))
	x, y, d := randSlice(rng, n), make([]float64, n), make([]float64, n)
	b.Run("vector", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ReLUD(y, d, x)
		}
		b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/n, "ns/value")
	})
	b.Run("go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			reluGo(y, d, x)
		}
		b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/n, "ns/value")
	})
}
