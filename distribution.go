package odeflow

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/nn"
)

// Distribution is a probability distribution on R^d used as the base of a
// flow (or as a reference density in tests and reverse-KL targets).
//
// LogProb writes log p(x_i) for each row of x into dst and returns it; a nil
// dst is allocated, otherwise it must have length n. Points outside the
// support give −Inf, a NaN element gives NaN. It panics if x does not have
// Dim columns.
//
// Sample fills every row of dst with an independent draw, using src for all
// its randomness (same source state, same samples), and returns dst. dst
// must be non-nil and non-empty with Dim columns: its rows fix the number of
// draws. It panics otherwise, or if src is nil.
//
// Distributions may hold workspace; they are not safe for concurrent use
// unless documented.
type Distribution interface {
	Dim() int
	LogProb(dst []float64, x *mat.Dense) []float64
	Sample(dst *mat.Dense, src rand.Source) *mat.Dense
}

// DifferentiableDistribution is a distribution whose log-density can be
// differentiated with respect to its argument and its parameters, as
// maximum-likelihood training of a flow needs.
//
// LogProbGrad computes what LogProb computes into dst (same contract) and,
// with per-row weights w (nil means all 1; otherwise length n),
//
//	gx_i     = w_i ∇_x log p(x_i)           written into gx (nil skips; an empty gx is resized)
//	gparams += Σ_i w_i ∇_φ log p(x_i)       added into gparams (nil skips)
//
// gparams is full-length, aligned with Params().Data; a distribution whose
// Params is nil ignores it. Where log p is −Inf or constant (outside the
// support, a uniform) the gradient is 0. Rows whose weight is 0 contribute
// nothing even if their log-density is −Inf.
type DifferentiableDistribution interface {
	Distribution
	Parameterized
	LogProbGrad(dst []float64, gx *mat.Dense, gparams []float64, w []float64, x *mat.Dense) []float64
}

// Tempered is a distribution that can sample at a temperature T > 0: the
// noise of its sampler is scaled by T (Glow's temperature; T < 1 gives
// samples closer to the modes). For a normal distribution with scale σ this
// is the normal with scale Tσ, whose density is proportional to p^{1/T²}.
// SampleTemp(dst, 1, src) draws the same samples as Sample(dst, src).
// SampleTemp panics if temp is not positive.
type Tempered interface {
	Distribution
	SampleTemp(dst *mat.Dense, temp float64, src rand.Source) *mat.Dense
}

// Reparameterized is a distribution sampled as z = g(ε; φ) with noise ε
// independent of its parameters φ, so that a loss of samples can be
// differentiated with respect to φ (reverse-KL training of a flow whose base
// is trainable).
//
// ReparamBackward adds Σ_i gz_iᵀ ∂z_i/∂φ into gparams (full length, aligned
// with Params().Data), where z holds samples drawn by Sample at the current
// parameters and the noise ε_i = g⁻¹(z_i; φ) is held fixed. gz and z are
// n×Dim and are not modified.
type Reparameterized interface {
	DifferentiableDistribution
	ReparamBackward(gparams []float64, gz, z *mat.Dense)
}

// log2Pi is log(2π).
var log2Pi = math.Log(2 * math.Pi)

// prepLogProb checks LogProb's arguments and returns dst sized n.
func prepLogProb(op string, d int, dst []float64, x *mat.Dense) []float64 {
	checkCols(op, x, d)
	n, _ := x.Dims()
	if dst == nil {
		return make([]float64, n)
	}
	if len(dst) != n {
		panic(fmt.Sprintf("%s: len(dst) = %d, want %d", op, len(dst), n))
	}
	return dst
}

// prepSample checks Sample's arguments.
func prepSample(op string, d int, dst *mat.Dense, src rand.Source) {
	if dst == nil || dst.IsEmpty() {
		panic(op + ": dst must be non-empty (its rows are the number of draws)")
	}
	checkCols(op, dst, d)
	if src == nil {
		panic(op + ": nil rand.Source")
	}
}

// prepGrad checks the gradient arguments of LogProbGrad for n rows and np
// parameters.
func prepGrad(op string, d, n, np int, gx *mat.Dense, gparams, w []float64) {
	if w != nil && len(w) != n {
		panic(fmt.Sprintf("%s: len(w) = %d, want %d", op, len(w), n))
	}
	if gparams != nil && np > 0 && len(gparams) != np {
		panic(fmt.Sprintf("%s: len(gparams) = %d, want %d", op, len(gparams), np))
	}
	if gx == nil {
		return
	}
	if gx.IsEmpty() {
		gx.ReuseAs(n, d)
		return
	}
	if r, c := gx.Dims(); r != n || c != d {
		panic(fmt.Sprintf("%s: gx is %d×%d, want %d×%d", op, r, c, n, d))
	}
}

// weight returns w[i], or 1 when w is nil.
func weight(w []float64, i int) float64 {
	if w == nil {
		return 1
	}
	return w[i]
}

// row returns row i of a raw matrix.
func row(m *mat.Dense, i int) []float64 {
	raw := m.RawMatrix()
	return raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols]
}

// checkTemp panics unless temp > 0.
func checkTemp(op string, temp float64) {
	if !(temp > 0) || math.IsInf(temp, 1) {
		panic(fmt.Sprintf("%s: temperature %v is not positive and finite", op, temp))
	}
}

// paramName joins a prefix and a block name with "/".
func paramName(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "/" + name
}

// StandardNormal is the standard normal distribution N(0, I) on R^d:
//
//	log p(x) = −½ Σ_j x_j² − (d/2) log 2π
//
// It has no parameters (Params is nil) and implements Tempered and
// Reparameterized (trivially). It is safe for concurrent use.
type StandardNormal struct{ d int }

// NewStandardNormal returns the standard normal on R^d. It panics if d < 1.
func NewStandardNormal(d int) *StandardNormal {
	if d < 1 {
		panic("odeflow: NewStandardNormal: dimension < 1")
	}
	return &StandardNormal{d: d}
}

// Dim returns d.
func (s *StandardNormal) Dim() int { return s.d }

// Params returns nil.
func (s *StandardNormal) Params() *nn.Params { return nil }

// LogProb writes log p(x_i) into dst.
func (s *StandardNormal) LogProb(dst []float64, x *mat.Dense) []float64 {
	return s.LogProbGrad(dst, nil, nil, nil, x)
}

// LogProbGrad writes log p(x_i) into dst and w_i ∇log p(x_i) = −w_i x_i into gx.
func (s *StandardNormal) LogProbGrad(dst []float64, gx *mat.Dense, gparams []float64, w []float64, x *mat.Dense) []float64 {
	const op = "odeflow: StandardNormal.LogProbGrad"
	dst = prepLogProb(op, s.d, dst, x)
	prepGrad(op, s.d, len(dst), 0, gx, gparams, w)
	c := -0.5 * float64(s.d) * log2Pi
	for i := range dst {
		xi := row(x, i)
		ss := 0.0
		for _, v := range xi {
			ss += v * v
		}
		dst[i] = c - 0.5*ss
		if gx != nil {
			wi := weight(w, i)
			gi := row(gx, i)
			for j, v := range xi {
				gi[j] = -wi * v
			}
		}
	}
	return dst
}

// Sample fills dst with draws of N(0, I).
func (s *StandardNormal) Sample(dst *mat.Dense, src rand.Source) *mat.Dense {
	return s.SampleTemp(dst, 1, src)
}

// SampleTemp fills dst with draws of N(0, T² I).
func (s *StandardNormal) SampleTemp(dst *mat.Dense, temp float64, src rand.Source) *mat.Dense {
	const op = "odeflow: StandardNormal.SampleTemp"
	prepSample(op, s.d, dst, src)
	rnd := rand.New(src)
	checkTemp(op, temp)
	n, _ := dst.Dims()
	for i := 0; i < n; i++ {
		di := row(dst, i)
		for j := range di {
			di[j] = temp * rnd.NormFloat64()
		}
	}
	return dst
}

// ReparamBackward does nothing: there are no parameters.
func (s *StandardNormal) ReparamBackward(gparams []float64, gz, z *mat.Dense) {
	checkCols("odeflow: StandardNormal.ReparamBackward", gz, s.d)
	checkCols("odeflow: StandardNormal.ReparamBackward", z, s.d)
}

// DiagNormal is a normal distribution with a diagonal covariance and
// trainable location μ and log-scale s (σ = exp s):
//
//	log p(x) = Σ_j −½ ((x_j − μ_j)/σ_j)² − s_j − ½ log 2π
//
// Its parameters are the blocks prefix+"/loc" and prefix+"/logscale" (d
// each) of its *nn.Params. It implements Tempered (noise scaled by T:
// N(μ, T²σ²)) and Reparameterized (z = μ + σ ε). It is safe for concurrent
// use as long as its parameters do not change.
type DiagNormal struct {
	d             int
	p             *nn.Params
	loc, logScale nn.Slot
}

// NewDiagNormal returns the normal with mean loc and standard deviations
// scale, reserving its parameters in p under the name prefix (a new Params
// if p is nil). It panics if loc and scale differ in length or are empty,
// or if a scale is not positive and finite.
func NewDiagNormal(p *nn.Params, prefix string, loc, scale []float64) *DiagNormal {
	if len(loc) == 0 || len(loc) != len(scale) {
		panic("odeflow: NewDiagNormal: loc and scale must be non-empty and of equal length")
	}
	if p == nil {
		p = new(nn.Params)
	}
	d := len(loc)
	g := &DiagNormal{d: d, p: p}
	g.loc = p.Reserve(paramName(prefix, "loc"), d)
	g.logScale = p.Reserve(paramName(prefix, "logscale"), d)
	copy(g.loc.Of(p.Data), loc)
	ls := g.logScale.Of(p.Data)
	for j, s := range scale {
		if !(s > 0) || math.IsInf(s, 1) {
			panic(fmt.Sprintf("odeflow: NewDiagNormal: scale[%d] = %v is not positive and finite", j, s))
		}
		ls[j] = math.Log(s)
	}
	return g
}

// Dim returns d.
func (g *DiagNormal) Dim() int { return g.d }

// Params returns the parameter vector holding loc and log-scale.
func (g *DiagNormal) Params() *nn.Params { return g.p }

// Loc returns the current location (a view into Params().Data; do not keep it
// across growth of the Params).
func (g *DiagNormal) Loc() []float64 { return g.loc.Of(g.p.Data) }

// LogScale returns the current log-scales (a view into Params().Data).
func (g *DiagNormal) LogScale() []float64 { return g.logScale.Of(g.p.Data) }

// LogProb writes log p(x_i) into dst.
func (g *DiagNormal) LogProb(dst []float64, x *mat.Dense) []float64 {
	return g.LogProbGrad(dst, nil, nil, nil, x)
}

// LogProbGrad writes log p(x_i) into dst, w_i ∇_x log p(x_i) into gx, and adds
// the weighted gradients with respect to loc and log-scale into gparams:
//
//	∂/∂x_j = −(x_j − μ_j)/σ_j²,  ∂/∂μ_j = (x_j − μ_j)/σ_j²,  ∂/∂s_j = ((x_j − μ_j)/σ_j)² − 1
func (g *DiagNormal) LogProbGrad(dst []float64, gx *mat.Dense, gparams []float64, w []float64, x *mat.Dense) []float64 {
	const op = "odeflow: DiagNormal.LogProbGrad"
	dst = prepLogProb(op, g.d, dst, x)
	prepGrad(op, g.d, len(dst), g.p.Len(), gx, gparams, w)
	mu, ls := g.loc.Of(g.p.Data), g.logScale.Of(g.p.Data)
	var gmu, gls []float64
	if gparams != nil {
		gmu, gls = g.loc.Of(gparams), g.logScale.Of(gparams)
	}
	c := -0.5 * float64(g.d) * log2Pi
	for j := range ls {
		c -= ls[j]
	}
	for i := range dst {
		xi := row(x, i)
		wi := weight(w, i)
		var gi []float64
		if gx != nil {
			gi = row(gx, i)
		}
		lp := c
		for j, v := range xi {
			is := math.Exp(-ls[j])
			u := (v - mu[j]) * is
			lp -= 0.5 * u * u
			if gi != nil {
				gi[j] = -wi * u * is
			}
			if gmu != nil && wi != 0 {
				gmu[j] += wi * u * is
				gls[j] += wi * (u*u - 1)
			}
		}
		dst[i] = lp
	}
	return dst
}

// Sample fills dst with draws of N(μ, diag σ²).
func (g *DiagNormal) Sample(dst *mat.Dense, src rand.Source) *mat.Dense {
	return g.SampleTemp(dst, 1, src)
}

// SampleTemp fills dst with draws of N(μ, diag T²σ²).
func (g *DiagNormal) SampleTemp(dst *mat.Dense, temp float64, src rand.Source) *mat.Dense {
	const op = "odeflow: DiagNormal.SampleTemp"
	prepSample(op, g.d, dst, src)
	rnd := rand.New(src)
	checkTemp(op, temp)
	mu, ls := g.loc.Of(g.p.Data), g.logScale.Of(g.p.Data)
	n, _ := dst.Dims()
	for i := 0; i < n; i++ {
		di := row(dst, i)
		for j := range di {
			di[j] = mu[j] + temp*math.Exp(ls[j])*rnd.NormFloat64()
		}
	}
	return dst
}

// ReparamBackward adds Σ_i gz_iᵀ ∂z_i/∂φ into gparams for z = μ + σ ε:
//
//	∂z_j/∂μ_j = 1,  ∂z_j/∂s_j = σ_j ε_j = z_j − μ_j
func (g *DiagNormal) ReparamBackward(gparams []float64, gz, z *mat.Dense) {
	const op = "odeflow: DiagNormal.ReparamBackward"
	checkCols(op, gz, g.d)
	checkCols(op, z, g.d)
	if gz.RawMatrix().Rows != z.RawMatrix().Rows {
		panic(op + ": gz and z have different numbers of rows")
	}
	if len(gparams) != g.p.Len() {
		panic(fmt.Sprintf("%s: len(gparams) = %d, want %d", op, len(gparams), g.p.Len()))
	}
	mu := g.loc.Of(g.p.Data)
	gmu, gls := g.loc.Of(gparams), g.logScale.Of(gparams)
	n, _ := z.Dims()
	for i := 0; i < n; i++ {
		zi, gi := row(z, i), row(gz, i)
		for j := range zi {
			gmu[j] += gi[j]
			gls[j] += gi[j] * (zi[j] - mu[j])
		}
	}
}
