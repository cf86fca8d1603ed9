package odeflow

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/nn"
)

// BoxUniform is the uniform distribution on the box Π_j [low_j, high_j]:
//
//	log p(x) = −Σ_j log(high_j − low_j)   inside the closed box, −Inf outside
//
// It has no parameters; its gradient is 0 everywhere. It is safe for
// concurrent use.
type BoxUniform struct {
	low, high []float64
	logVol    float64
}

// NewBoxUniform returns the uniform distribution on the box with corners low
// and high (copied). It panics if they differ in length, are empty, are not
// finite, or if low_j ≥ high_j for some j.
func NewBoxUniform(low, high []float64) *BoxUniform {
	if len(low) == 0 || len(low) != len(high) {
		panic("odeflow: NewBoxUniform: low and high must be non-empty and of equal length")
	}
	u := &BoxUniform{low: append([]float64(nil), low...), high: append([]float64(nil), high...)}
	for j := range low {
		if !(low[j] < high[j]) || math.IsInf(low[j], 0) || math.IsInf(high[j], 0) {
			panic(fmt.Sprintf("odeflow: NewBoxUniform: bad interval [%v, %v] in dimension %d", low[j], high[j], j))
		}
		u.logVol += math.Log(high[j] - low[j])
	}
	return u
}

// Dim returns the dimension of the box.
func (u *BoxUniform) Dim() int { return len(u.low) }

// Params returns nil.
func (u *BoxUniform) Params() *nn.Params { return nil }

// LogProb writes log p(x_i) into dst: −log volume inside the box, −Inf
// outside, NaN for a row holding NaN.
func (u *BoxUniform) LogProb(dst []float64, x *mat.Dense) []float64 {
	return u.LogProbGrad(dst, nil, nil, nil, x)
}

// LogProbGrad is LogProb; gx is set to 0.
func (u *BoxUniform) LogProbGrad(dst []float64, gx *mat.Dense, gparams []float64, w []float64, x *mat.Dense) []float64 {
	const op = "odeflow: BoxUniform.LogProbGrad"
	dst = prepLogProb(op, len(u.low), dst, x)
	prepGrad(op, len(u.low), len(dst), 0, gx, gparams, w)
	for i := range dst {
		lp := -u.logVol
		for j, v := range row(x, i) {
			if math.IsNaN(v) {
				lp = math.NaN()
				break
			}
			if v < u.low[j] || v > u.high[j] {
				lp = math.Inf(-1)
			}
		}
		dst[i] = lp
	}
	if gx != nil {
		zeroDense(gx)
	}
	return dst
}

// Sample fills dst with uniform draws in the box.
func (u *BoxUniform) Sample(dst *mat.Dense, src rand.Source) *mat.Dense {
	prepSample("odeflow: BoxUniform.Sample", len(u.low), dst, src)
	rnd := rand.New(src)
	n, _ := dst.Dims()
	for i := 0; i < n; i++ {
		di := row(dst, i)
		for j := range di {
			di[j] = u.low[j] + (u.high[j]-u.low[j])*rnd.Float64()
		}
	}
	return dst
}
