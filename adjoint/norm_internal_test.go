package adjoint

import (
	"math"
	"testing"

	"github.com/odeflow/odeflow/internal/testrand"
)

// TestGroupNorm checks the norms of the augmented state against their
// definitions: the mixed norm is the largest group RMS, the seminorm the
// larger of the y and a groups, so semi ≤ full everywhere, with equality
// when a_θ and a_t are zero; NaN propagates.
func TestGroupNorm(t *testing.T) {
	rng := testrand.New(t)
	rmsOf := func(r []float64) float64 {
		if len(r) == 0 {
			return 0
		}
		var s float64
		for _, v := range r {
			s += v * v
		}
		return math.Sqrt(s / float64(len(r)))
	}
	for _, dims := range [][2]int{{3, 5}, {2, 0}, {1, 40}} {
		n, p := dims[0], dims[1]
		g := groupNorm{n: n, p: p}
		r := make([]float64, 2*n+p+1)
		for trial := 0; trial < 200; trial++ {
			for i := range r {
				r[i] = rng.NormFloat64() * math.Exp(3*rng.NormFloat64())
			}
			want := math.Max(math.Max(rmsOf(r[:n]), rmsOf(r[n:2*n])), math.Max(rmsOf(r[2*n:2*n+p]), math.Abs(r[2*n+p])))
			if got := g.full(r); math.Abs(got-want) > 1e-14*want {
				t.Fatalf("full = %v, want %v", got, want)
			}
			if g.semi(r) > g.full(r) {
				t.Fatalf("semi %v > full %v", g.semi(r), g.full(r))
			}
			for i := 2 * n; i < len(r); i++ {
				r[i] = 0
			}
			if g.semi(r) != g.full(r) {
				t.Fatalf("semi %v != full %v with a_θ = a_t = 0", g.semi(r), g.full(r))
			}
		}
		r[0] = math.NaN()
		if !math.IsNaN(g.full(r)) || !math.IsNaN(g.semi(r)) {
			t.Errorf("NaN not propagated")
		}
	}
}
