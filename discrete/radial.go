package discrete

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// Radial is the radial flow of Rezende & Mohamed (2015,
// https://arxiv.org/abs/1505.05770), which contracts or expands space
// around a centre z0:
//
//	f(z) = z + β h(r) (z − z0),   h(r) = 1/(α + r),   r = ‖z − z0‖
//
// with the parameter blocks name+"/z0" (length d), name+"/alpha" and
// name+"/beta" (one raw element each, α̂ and β̂). The raw values are mapped
// so that f is invertible for every parameter value:
//
//	α = softplus(α̂) > 0,   β = −α + softplus(β̂) ≥ −α
//
// Writing γ = α + β = softplus(β̂) > 0, f scales z − z0 by
// g(r) = (γ + r)/(α + r) > 0, so directions are kept and the radius maps by
// ρ(r) = r g(r), which is strictly increasing (ρ' = (r² + 2αr + αγ)/(α+r)²
// > 0). The log-determinant of f is
//
//	ℓ(r) = (d−1) log((γ + r)/(α + r)) + log((r² + 2αr + αγ)/(α + r)²)
//
// # Directions
//
// As for Planar, the classic direction is the sampler: Inverse (base →
// data) is x = f(z), adding ℓ(‖z − z0‖), and Forward (data → base) is
// z = f⁻¹(x), adding −ℓ(r). Here both directions are closed-form: given
// ρ = ‖x − z0‖, the radius r solves ρ(α + r) = r(γ + r), that is
//
//	r² + (γ − ρ) r − αρ = 0
//
// whose non-negative root is taken in the cancellation-free form (with
// p = γ − ρ and q = √(p² + 4αρ)): r = 2αρ/(p + q) if p ≥ 0, otherwise
// r = (q − p)/2. Then z = z0 + (x − z0)(α + r)/(γ + r).
//
// # Gradients
//
// For Forward, r depends on (ρ, α, γ) through the quadratic F(r) = 0, whose
// derivative ∂F/∂r = 2r + γ − ρ = q is positive: ∂r/∂ρ = (r + α)/q,
// ∂r/∂α = ρ/q, ∂r/∂γ = −r/q. The gradient of ‖·‖ at the centre is taken as
// 0 (the map is not differentiable there; a set of measure zero).
//
// A Radial holds a recording and is not safe for concurrent use. It
// allocates nothing after construction.
//
// It takes no context: in a conditional chain, lift it with
// odeflow.Unconditional. (Amortized radial flows, whose parameters a
// hypernetwork computes per sample as in variational autoencoders, are a
// different layer: a conditioner plus the same row map.)
type Radial struct {
	d               int
	p               *nn.Params
	z0, alpha, beta nn.Slot
	al, ga          float64 // α and γ = α + β
	rec             linRec
}

// NewRadial returns a d-dimensional radial flow whose parameters are
// reserved in p under name+"/z0", "/alpha" and "/beta". It starts as the
// identity (α̂ = β̂ = 0, so β = 0) with z0 drawn from N(0, 1) (z0 = 0 if src
// is nil). It panics if d < 1 or p is nil.
func NewRadial(p *nn.Params, name string, d int, src rand.Source) *Radial {
	linCheckDim("discrete: NewRadial", d)
	if p == nil {
		panic("discrete: NewRadial: nil *nn.Params")
	}
	t := &Radial{d: d, p: p}
	t.z0 = p.Reserve(name+"/z0", d)
	t.alpha = p.Reserve(name+"/alpha", 1)
	t.beta = p.Reserve(name+"/beta", 1)
	if src != nil {
		rnd := rand.New(src)
		z0 := t.z0.Of(p.Data)
		for j := range z0 {
			z0[j] = rnd.NormFloat64()
		}
	}
	return t
}

// Dim returns d.
func (t *Radial) Dim() int { return t.d }

// Params returns the shared parameter vector.
func (t *Radial) Params() *nn.Params { return t.p }

// Alpha returns α = softplus(α̂) > 0.
func (t *Radial) Alpha() float64 { t.refresh(); return t.al }

// Beta returns β = −α + softplus(β̂) ≥ −α.
func (t *Radial) Beta() float64 { t.refresh(); return t.ga - t.al }

func (t *Radial) refresh() {
	t.al = linSoftplus(t.alpha.Of(t.p.Data)[0])
	t.ga = linSoftplus(t.beta.Of(t.p.Data)[0])
}

// ldj returns ℓ(r).
func (t *Radial) ldj(r float64) float64 {
	ar := t.al + r
	q := r*r + 2*t.al*r + t.al*t.ga
	return float64(t.d-1)*math.Log((t.ga+r)/ar) + math.Log(q/(ar*ar))
}

// ldjGrad returns the partial derivatives of ℓ(r) in r, α and γ.
func (t *Radial) ldjGrad(r float64) (lr, la, lg float64) {
	al, ga, dm := t.al, t.ga, float64(t.d-1)
	ar, gr := al+r, ga+r
	q := r*r + 2*al*r + al*ga
	lr = dm*(al-ga)/(gr*ar) + 2*ar/q - 2/ar
	la = -dm/ar + (2*r+ga)/q - 2/ar
	lg = dm/gr + al/q
	return lr, la, lg
}

// radius returns the root r of r² + (γ − ρ) r − αρ = 0 and q = ∂F/∂r.
func (t *Radial) radius(rho float64) (r, q float64) {
	p := t.ga - rho
	q = math.Hypot(p, 2*math.Sqrt(t.al*rho))
	if p >= 0 {
		return 2 * t.al * rho / (p + q), q
	}
	return (q - p) / 2, q
}

// Forward maps data to the base by the closed-form inverse of the radial
// map, adding −ℓ(r) to ldj[i]. dst may be x. It returns a *odeflow.RowError
// for non-finite input rows, or (wrapping odeflow.ErrNumerical) for rows
// that overflow.
func (t *Radial) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return t.apply("discrete: Radial.Forward", dst, ldj, x, false, true)
}

// Inverse maps base points to data by the radial map x = f(z), adding
// ℓ(‖z − z0‖) to ldj[i]. dst may be z.
func (t *Radial) Inverse(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	return t.apply("discrete: Radial.Inverse", dst, ldj, z, true, true)
}

// ForwardRecord is Forward, recording for Backward.
func (t *Radial) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	if err := t.apply("discrete: Radial.ForwardRecord", dst, ldj, x, false, false); err != nil {
		return err
	}
	t.rec.set(linForward, x, dst, ldj)
	return nil
}

// InverseRecord is Inverse, recording for Backward.
func (t *Radial) InverseRecord(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	if err := t.apply("discrete: Radial.InverseRecord", dst, ldj, z, true, false); err != nil {
		return err
	}
	t.rec.set(linInverse, z, dst, ldj)
	return nil
}

// norm returns ‖u − z0‖.
func radialDist(u, z0 []float64) float64 {
	s := 0.0
	for j, v := range u {
		e := v - z0[j]
		s += e * e
	}
	return math.Sqrt(s)
}

func (t *Radial) apply(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse, inPlace bool) error {
	t.rec.dir = linNone
	n, err := odeflow.PrepareCall(op, t.d, dst, ldj, x, inPlace)
	if err != nil {
		return err
	}
	t.refresh()
	z0 := t.z0.Of(t.p.Data)
	for i := 0; i < n; i++ {
		xi, yi := linRow(x, i), linRow(dst, i)
		rho := radialDist(xi, z0)
		var r, s, sign float64
		if inverse {
			r, s, sign = rho, (t.ga+rho)/(t.al+rho), 1
		} else {
			r, _ = t.radius(rho)
			s, sign = (t.al+r)/(t.ga+r), -1
		}
		for j, v := range xi {
			yi[j] = z0[j] + s*(v-z0[j])
		}
		if ldj != nil {
			ldj[i] += sign * t.ldj(r)
		}
	}
	return linNumerical(op, dst)
}

// Backward propagates derivatives through the recorded call (see
// odeflow.Differentiable), into the input and into z0, α̂ and β̂. It panics
// without a recording.
func (t *Radial) Backward(gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) error {
	t.rec.check("discrete: Radial.Backward", t.d, t.p.Len(), gin, gparams, gout, gldj)
	t.refresh()
	z0 := t.z0.Of(t.p.Data)
	var gz0 []float64
	if gparams != nil {
		gz0 = t.z0.Of(gparams)
	}
	al, ga := t.al, t.ga
	inv := t.rec.dir == linInverse
	gA, gG := 0.0, 0.0 // ∂L/∂α, ∂L/∂γ
	for i := 0; i < t.rec.n; i++ {
		g, in := linRow(gout, i), linRow(t.rec.in, i)
		gl := 0.0
		if gldj != nil {
			gl = gldj[i]
		}
		rho := radialDist(in, z0)
		dot := 0.0 // gout·(in − z0)
		for j, v := range g {
			dot += v * (in[j] - z0[j])
		}
		var s, grho float64 // the scale of in − z0, and ∂L/∂‖in − z0‖
		if inv {
			// x = z0 + s(r)(z − z0), s = (γ+r)/(α+r), r = ρ; Δ = ℓ(r).
			r := rho
			ar := al + r
			s = (ga + r) / ar
			lr, la, lg := t.ldjGrad(r)
			grho = dot*(al-ga)/(ar*ar) + gl*lr
			gA += -dot*s/ar + gl*la
			gG += dot/ar + gl*lg
		} else {
			// z = z0 + s (x − z0), s = (α+r)/(γ+r), r = r(ρ, α, γ); Δ = −ℓ(r).
			r, q := t.radius(rho)
			gr := ga + r
			s = (al + r) / gr
			lr, la, lg := t.ldjGrad(r)
			gradR := dot*(ga-al)/(gr*gr) - gl*lr
			grho = gradR * (r + al) / q
			gA += dot/gr - gl*la + gradR*rho/q
			gG += -dot*s/gr - gl*lg - gradR*r/q
		}
		c := 0.0
		if rho > 0 {
			c = grho / rho
		}
		var gi []float64
		if gin != nil {
			gi = linRow(gin, i)
		}
		for j, v := range g {
			ge := s*v + c*(in[j]-z0[j]) // ∂L/∂(in − z0)
			if gi != nil {
				gi[j] = ge
			}
			if gz0 != nil {
				gz0[j] += v - ge
			}
		}
	}
	if gparams != nil {
		t.alpha.Of(gparams)[0] += gA * linSigmoid(t.alpha.Of(t.p.Data)[0])
		t.beta.Of(gparams)[0] += gG * linSigmoid(t.beta.Of(t.p.Data)[0])
	}
	return nil
}
