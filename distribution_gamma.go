package odeflow

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/odeflow/odeflow/nn"
)

// Gamma is a product of independent Gamma distributions, one per dimension,
// with shape α_j and rate β_j:
//
//	log p(x) = Σ_j α_j log β_j − log Γ(α_j) + (α_j − 1) log x_j − β_j x_j   (x_j > 0)
//
// and −Inf when some x_j < 0. At x_j = 0 the density is +Inf, β_j or 0 for
// α_j <, = or > 1. Sampling uses gonum's distuv.Gamma (Marsaglia and Tsang)
// with the given source. It has no parameters; its gradient with respect to
// x is (α_j − 1)/x_j − β_j inside the support and 0 outside. It is safe for
// concurrent use.
type Gamma struct {
	shape, rate []float64
	c           float64 // Σ_j α_j log β_j − log Γ(α_j)
}

// NewGamma returns the product of Gamma(shape_j, rate_j) (both copied). It
// panics if the slices differ in length, are empty, or hold a value that is
// not positive and finite.
func NewGamma(shape, rate []float64) *Gamma {
	if len(shape) == 0 || len(shape) != len(rate) {
		panic("odeflow: NewGamma: shape and rate must be non-empty and of equal length")
	}
	g := &Gamma{shape: append([]float64(nil), shape...), rate: append([]float64(nil), rate...)}
	for j := range shape {
		a, b := shape[j], rate[j]
		if !(a > 0) || !(b > 0) || math.IsInf(a, 1) || math.IsInf(b, 1) {
			panic(fmt.Sprintf("odeflow: NewGamma: bad shape %v or rate %v in dimension %d", a, b, j))
		}
		lg, _ := math.Lgamma(a)
		g.c += a*math.Log(b) - lg
	}
	return g
}

// Dim returns the number of dimensions.
func (g *Gamma) Dim() int { return len(g.shape) }

// Params returns nil.
func (g *Gamma) Params() *nn.Params { return nil }

// LogProb writes log p(x_i) into dst.
func (g *Gamma) LogProb(dst []float64, x *mat.Dense) []float64 {
	return g.LogProbGrad(dst, nil, nil, nil, x)
}

// LogProbGrad writes log p(x_i) into dst and w_i ∇_x log p(x_i) into gx.
func (g *Gamma) LogProbGrad(dst []float64, gx *mat.Dense, gparams []float64, w []float64, x *mat.Dense) []float64 {
	const op = "odeflow: Gamma.LogProbGrad"
	dst = prepLogProb(op, len(g.shape), dst, x)
	prepGrad(op, len(g.shape), len(dst), 0, gx, gparams, w)
	for i := range dst {
		xi := row(x, i)
		var gi []float64
		if gx != nil {
			gi = row(gx, i)
		}
		wi := weight(w, i)
		lp := g.c
		nan, outside := false, false
		for j, v := range xi {
			a, b := g.shape[j], g.rate[j]
			switch {
			case math.IsNaN(v):
				nan = true
			case v < 0 || (v == 0 && a > 1):
				outside = true
			case v == 0 && a < 1:
				lp = math.Inf(1)
			case v > 0:
				lp += (a-1)*math.Log(v) - b*v
			}
			if gi != nil {
				gi[j] = 0
				if v > 0 {
					gi[j] = wi * ((a-1)/v - b)
				}
			}
		}
		switch {
		case nan:
			lp = math.NaN()
		case outside:
			lp = math.Inf(-1)
		}
		dst[i] = lp
	}
	return dst
}

// Sample fills dst with independent Gamma draws.
func (g *Gamma) Sample(dst *mat.Dense, src rand.Source) *mat.Dense {
	prepSample("odeflow: Gamma.Sample", len(g.shape), dst, src)
	n, _ := dst.Dims()
	for i := 0; i < n; i++ {
		di := row(dst, i)
		for j := range di {
			di[j] = distuv.Gamma{Alpha: g.shape[j], Beta: g.rate[j], Src: src}.Rand()
		}
	}
	return dst
}
