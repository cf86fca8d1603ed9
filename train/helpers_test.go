package train

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/train/toy"
)

// gmmFlow returns a 2-D flow: a K-component GaussianMixture base (equal
// weights, unit scales, means from kMeans of x) behind an affine transform
// initialized to the identity, all on one Params.
func gmmFlow(k int, x *mat.Dense, src rand.Source) *odeflow.Flow {
	p := new(nn.Params)
	t := newAffine(p, "affine", 2, 0)
	w := make([]float64, k)
	scales := mat.NewDense(k, 2, nil)
	for c := range w {
		w[c] = 1
		scales.SetRow(c, []float64{1, 1})
	}
	base := odeflow.NewGaussianMixture(p, "base", w, kMeans(x, k, rand.New(src)), scales)
	return odeflow.NewFlow(base, t.bound())
}

// kMeans returns k centres for the rows of x: the best (least squared
// distance) of five runs of Lloyd's algorithm (20 iterations) from k-means++
// seeding (each next centre a row drawn with probability proportional to
// its squared distance to the nearest centre so far), as scikit-learn does.
func kMeans(x *mat.Dense, k int, r *rand.Rand) *mat.Dense {
	n, d := x.Dims()
	dist := func(a, b []float64) float64 {
		s := 0.0
		for j := range a {
			s += (a[j] - b[j]) * (a[j] - b[j])
		}
		return s
	}
	var best *mat.Dense
	bestCost := math.Inf(1)
	d2 := make([]float64, n)
	label := make([]int, n)
	for run := 0; run < 5; run++ {
		cent := mat.NewDense(k, d, nil)
		cent.SetRow(0, x.RawRowView(r.IntN(n)))
		for c := 1; c < k; c++ {
			tot := 0.0
			for i := range d2 {
				d2[i] = math.Inf(1)
				for e := 0; e < c; e++ {
					d2[i] = math.Min(d2[i], dist(x.RawRowView(i), cent.RawRowView(e)))
				}
				tot += d2[i]
			}
			u, next := r.Float64()*tot, n-1
			for i, v := range d2 {
				if u -= v; u < 0 {
					next = i
					break
				}
			}
			cent.SetRow(c, x.RawRowView(next))
		}
		cost := 0.0
		for it := 0; it < 20; it++ {
			cost = 0
			for i := 0; i < n; i++ {
				bd := math.Inf(1)
				for c := 0; c < k; c++ {
					if v := dist(x.RawRowView(i), cent.RawRowView(c)); v < bd {
						bd, label[i] = v, c
					}
				}
				cost += bd
			}
			sum := mat.NewDense(k, d, nil)
			cnt := make([]float64, k)
			for i, c := range label {
				cnt[c]++
				for j, v := range x.RawRowView(i) {
					sum.Set(c, j, sum.At(c, j)+v)
				}
			}
			for c := 0; c < k; c++ {
				if cnt[c] > 0 {
					for j := 0; j < d; j++ {
						cent.Set(c, j, sum.At(c, j)/cnt[c])
					}
				}
			}
		}
		if cost < bestCost {
			best, bestCost = cent, cost
		}
	}
	return best
}

// normalFlow returns a d-dimensional flow with a standard normal base and an
// affine transform with the given initial μ and s (x = μ + e^s z).
func normalFlow(mu, s []float64) (*odeflow.Flow, *affine) {
	p := new(nn.Params)
	t := newAffine(p, "affine", len(mu), 0)
	copy(t.mu.Of(p.Data), mu)
	copy(t.s.Of(p.Data), s)
	return odeflow.NewFlow(odeflow.NewStandardNormal(len(mu)), t.bound()), t
}

// data returns n points of a toy set drawn with rand.NewPCG(seed, salt);
// tests that build the same data twice (a "fresh process") take seed from
// testrand.Seed once.
func data(t testing.TB, name string, n int, seed, salt uint64) *mat.Dense {
	t.Helper()
	x, err := toy.Generate(name, n, rand.NewPCG(seed, salt))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// gaussian returns n draws of N(m, diag σ²).
func gaussian(n int, m, sigma []float64, src rand.Source) *mat.Dense {
	r := rand.New(src)
	x := mat.NewDense(n, len(m), nil)
	for i := 0; i < n; i++ {
		for j := range m {
			x.Set(i, j, m[j]+sigma[j]*r.NormFloat64())
		}
	}
	return x
}

func clone(v []float64) []float64 { return append([]float64(nil), v...) }

func errorsAs(err error, target any) bool { return errors.As(err, target) }
