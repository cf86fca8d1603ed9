package odeflow

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/nn"
)

// GaussianMixture is a mixture of K normal distributions with diagonal
// covariances, all parameters trainable: weights π = softmax(a) from logits
// a, means μ_k and log-scales s_k (σ_k = exp s_k):
//
//	log p(x) = log Σ_k exp( log π_k + Σ_j −½ ((x_j − μ_kj)/σ_kj)² − s_kj − ½ log 2π )
//
// evaluated with the log-sum-exp shift, so that points far from every
// component still get a finite log-density. With responsibilities
// r_k = π_k N_k(x)/p(x), the gradients are
//
//	∂/∂x_j = −Σ_k r_k (x_j − μ_kj)/σ_kj²
//	∂/∂a_k = r_k − π_k
//	∂/∂μ_kj = r_k (x_j − μ_kj)/σ_kj²
//	∂/∂s_kj = r_k (((x_j − μ_kj)/σ_kj)² − 1)
//
// Its parameters are the blocks prefix+"/logits" (K), prefix+"/loc" (K×d,
// row k is μ_k) and prefix+"/logscale" (K×d) of its *nn.Params. It
// implements Tempered: the component is drawn with the weights π and its
// noise is scaled by T. It holds a K(d+1)-element workspace and is not safe
// for concurrent use.
type GaussianMixture struct {
	k, d                  int
	p                     *nn.Params
	logits, loc, logScale nn.Slot
	work                  []float64 // K log-components
	inv                   []float64 // K×d inverse scales
}

// NewGaussianMixture returns the mixture with the given weights (positive,
// normalized internally; the logits are their logarithms), means (K×d) and
// scales (K×d, positive), reserving its parameters in p under prefix (a new
// Params if p is nil). It panics on inconsistent shapes or invalid values.
func NewGaussianMixture(p *nn.Params, prefix string, weights []float64, means, scales *mat.Dense) *GaussianMixture {
	const op = "odeflow: NewGaussianMixture"
	k := len(weights)
	if k == 0 || means == nil || scales == nil {
		panic(op + ": need at least one component")
	}
	r, d := means.Dims()
	if r != k {
		panic(fmt.Sprintf("%s: means has %d rows, want %d", op, r, k))
	}
	if sr, sc := scales.Dims(); sr != k || sc != d {
		panic(fmt.Sprintf("%s: scales is %d×%d, want %d×%d", op, sr, sc, k, d))
	}
	if p == nil {
		p = new(nn.Params)
	}
	g := &GaussianMixture{k: k, d: d, p: p, work: make([]float64, k), inv: make([]float64, k*d)}
	g.logits = p.Reserve(paramName(prefix, "logits"), k)
	g.loc = p.Reserve(paramName(prefix, "loc"), k*d)
	g.logScale = p.Reserve(paramName(prefix, "logscale"), k*d)
	a, mu, ls := g.logits.Of(p.Data), g.loc.Of(p.Data), g.logScale.Of(p.Data)
	for c, w := range weights {
		if !(w > 0) || math.IsInf(w, 1) {
			panic(fmt.Sprintf("%s: weight %d = %v is not positive and finite", op, c, w))
		}
		a[c] = math.Log(w)
		for j := 0; j < d; j++ {
			s := scales.At(c, j)
			if !(s > 0) || math.IsInf(s, 1) {
				panic(fmt.Sprintf("%s: scale (%d, %d) = %v is not positive and finite", op, c, j, s))
			}
			mu[c*d+j] = means.At(c, j)
			ls[c*d+j] = math.Log(s)
		}
	}
	return g
}

// NewRandomGaussianMixture returns a K-component mixture on R^d meant as
// the trainable base of a flow: equal weights, every scale ½, and means
// drawn from N(0, ¾ I) by src, so that the mixture starts centred with a
// covariance of about the identity, like the standard normal it replaces.
// A flow on such a base can put its mass into separate lumps without
// stretching a single Gaussian across the gaps between them (a flow is a
// diffeomorphism: on a standard normal base its density is positive on a
// connected set, and the bridges between modes cost likelihood). The
// parameters are reserved in p under prefix (a new Params if p is nil), as
// for NewGaussianMixture. It panics if d < 1, K < 1 or src is nil.
func NewRandomGaussianMixture(p *nn.Params, prefix string, d, k int, src rand.Source) *GaussianMixture {
	const op = "odeflow: NewRandomGaussianMixture"
	if d < 1 || k < 1 {
		panic(fmt.Sprintf("%s: need d ≥ 1 and K ≥ 1, got d = %d, K = %d", op, d, k))
	}
	if src == nil {
		panic(op + ": nil rand.Source")
	}
	rnd := rand.New(src)
	w := make([]float64, k)
	means := mat.NewDense(k, d, nil)
	scales := mat.NewDense(k, d, nil)
	sd := math.Sqrt(0.75)
	for c := range w {
		w[c] = 1
		for j := 0; j < d; j++ {
			means.Set(c, j, sd*rnd.NormFloat64())
			scales.Set(c, j, 0.5)
		}
	}
	return NewGaussianMixture(p, prefix, w, means, scales)
}

// Dim returns d.
func (g *GaussianMixture) Dim() int { return g.d }

// Components returns K.
func (g *GaussianMixture) Components() int { return g.k }

// Params returns the parameter vector holding logits, means and log-scales.
func (g *GaussianMixture) Params() *nn.Params { return g.p }

// Weights writes the mixture weights softmax(a) into dst (allocated if nil,
// otherwise of length K) and returns it.
func (g *GaussianMixture) Weights(dst []float64) []float64 {
	if dst == nil {
		dst = make([]float64, g.k)
	}
	if len(dst) != g.k {
		panic("odeflow: GaussianMixture.Weights: wrong length")
	}
	a := g.logits.Of(g.p.Data)
	lse := logSumExp(a)
	for c := range a {
		dst[c] = math.Exp(a[c] - lse)
	}
	return dst
}

// logSumExp returns log Σ exp(v) computed with the max shift.
func logSumExp(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		if x > m {
			m = x
		}
	}
	if math.IsInf(m, 0) || math.IsNaN(m) {
		return m
	}
	s := 0.0
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}

// LogProb writes log p(x_i) into dst.
func (g *GaussianMixture) LogProb(dst []float64, x *mat.Dense) []float64 {
	return g.LogProbGrad(dst, nil, nil, nil, x)
}

// LogProbGrad writes log p(x_i) into dst, w_i ∇_x log p(x_i) into gx, and adds
// the weighted parameter gradients (see the type's documentation) into
// gparams.
func (g *GaussianMixture) LogProbGrad(dst []float64, gx *mat.Dense, gparams []float64, w []float64, x *mat.Dense) []float64 {
	const op = "odeflow: GaussianMixture.LogProbGrad"
	dst = prepLogProb(op, g.d, dst, x)
	prepGrad(op, g.d, len(dst), g.p.Len(), gx, gparams, w)
	a, mu, ls := g.logits.Of(g.p.Data), g.loc.Of(g.p.Data), g.logScale.Of(g.p.Data)
	lseA := logSumExp(a)
	var ga, gmu, gls []float64
	if gparams != nil {
		ga, gmu, gls = g.logits.Of(gparams), g.loc.Of(gparams), g.logScale.Of(gparams)
	}
	c0 := -0.5 * float64(g.d) * log2Pi
	l, inv := g.work, g.inv
	for k, v := range ls {
		inv[k] = math.Exp(-v)
	}
	for i := range dst {
		xi := row(x, i)
		for c := 0; c < g.k; c++ {
			lc := a[c] - lseA + c0
			for j, v := range xi {
				u := (v - mu[c*g.d+j]) * inv[c*g.d+j]
				lc -= 0.5*u*u + ls[c*g.d+j]
			}
			l[c] = lc
		}
		lp := logSumExp(l)
		dst[i] = lp
		wi := weight(w, i)
		var gi []float64
		if gx != nil {
			gi = row(gx, i)
			zero(gi)
		}
		if (gi == nil && ga == nil) || math.IsInf(lp, 0) || math.IsNaN(lp) {
			continue
		}
		for c := 0; c < g.k; c++ {
			r := math.Exp(l[c] - lp) // responsibility
			wr := wi * r
			if ga != nil {
				ga[c] += wr - wi*math.Exp(a[c]-lseA)
			}
			for j, v := range xi {
				is := inv[c*g.d+j]
				u := (v - mu[c*g.d+j]) * is
				if gi != nil {
					gi[j] -= wr * u * is
				}
				if gmu != nil {
					gmu[c*g.d+j] += wr * u * is
					gls[c*g.d+j] += wr * (u*u - 1)
				}
			}
		}
	}
	return dst
}

// Sample fills dst with draws of the mixture.
func (g *GaussianMixture) Sample(dst *mat.Dense, src rand.Source) *mat.Dense {
	return g.SampleTemp(dst, 1, src)
}

// SampleTemp fills dst with draws whose component is chosen with the weights
// π and whose component noise is scaled by temp: x = μ_k + T σ_k ε.
func (g *GaussianMixture) SampleTemp(dst *mat.Dense, temp float64, src rand.Source) *mat.Dense {
	const op = "odeflow: GaussianMixture.SampleTemp"
	prepSample(op, g.d, dst, src)
	rnd := rand.New(src)
	checkTemp(op, temp)
	pi := g.Weights(g.work)
	mu, ls := g.loc.Of(g.p.Data), g.logScale.Of(g.p.Data)
	n, _ := dst.Dims()
	for i := 0; i < n; i++ {
		u := rnd.Float64()
		c := 0
		for acc := pi[0]; u >= acc && c < g.k-1; acc += pi[c] {
			c++
		}
		di := row(dst, i)
		for j := range di {
			di[j] = mu[c*g.d+j] + temp*math.Exp(ls[c*g.d+j])*rnd.NormFloat64()
		}
	}
	return dst
}
