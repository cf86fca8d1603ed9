package discrete

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// planarMaxIter bounds the iterations of the safeguarded Newton solve.
const planarMaxIter = 200

// Planar is the planar flow of Rezende & Mohamed (2015,
// https://arxiv.org/abs/1505.05770),
//
//	f(z) = z + û tanh(wᵀz + b)
//
// with the parameter blocks name+"/u" (u ∈ R^d), name+"/w" (w ∈ R^d) and
// name+"/b" (b, one element). The raw u is reparameterized so that f is
// invertible for every parameter value:
//
//	û = u + (m(wᵀu) − wᵀu) w/‖w‖²,   m(v) = −1 + softplus(v)
//
// so that wᵀû = m(wᵀu) > −1. Writing c = wᵀû and a = wᵀz + b, the Jacobian
// is I + û sech²(a) wᵀ with determinant
//
//	D(a) = 1 + c sech²(a) = (1 + c) − c tanh²(a) > 0
//
// (1 + c = softplus(wᵀu) is computed directly, so D keeps its accuracy as
// c → −1). When w = 0 the map is the translation z + u tanh(b) (û = u; the
// reparameterization is singular there, and its gradient at w = 0 is taken
// as that of the translation).
//
// # Directions
//
// The classic planar flow maps base samples to the approximate posterior:
// it is a sampler, used for variational inference, where both the sample
// and its density come from the closed form. Planar keeps that fast
// direction for sampling, so in Odeflow's convention (Forward = data →
// base):
//
//	Inverse (base → data):  x = f(z) in closed form,  Δ = +log D(wᵀz + b)
//	Forward (data → base):  z = f⁻¹(x) by a root find, Δ = −log D(a)
//
// Density evaluation of given data (Forward) pays for a scalar root find
// per row; sampling and reverse-KL training (Inverse) do not. Along w the
// inversion is one-dimensional: with r = wᵀx + b, the unknown a = wᵀz + b
// solves
//
//	φ(a) = a + c tanh(a) = r
//
// which has exactly one root since φ' = D > 0, and it lies in
// [r − |c|, r + |c|] because |tanh| ≤ 1. Newton's method is run from
// r − c tanh(r) inside that bracket, which shrinks with the sign of φ − r
// at each iterate; a Newton step leaving the bracket is replaced by
// bisection. It stops when the step is within 2 ulp of the iterate (or φ(a)
// = r exactly, or the bracket is two adjacent floats); failure after 200
// iterations gives a *odeflow.RowError wrapping odeflow.ErrNotConverged.
// Then z = x − û tanh(a). Since the reconstruction error of f(f⁻¹(x)) is û
// sech²(a) times the residual of φ, the data round trip is accurate to a
// few ulp even near the constraint boundary c → −1, where φ'(0) → 0 and a
// itself becomes ill-conditioned.
//
// # Gradients
//
// Through the root find they follow from the implicit function theorem:
// φ(a) = r gives ∂a/∂r = 1/D and ∂a/∂c = −tanh(a)/D. The gradients then
// flow through c = m(wᵀu) and û = u + k w, k = (softplus(−wᵀu) − 1)/‖w‖²
// (note m(v) − v = softplus(−v) − 1), to u, w and b.
//
// A Planar holds workspace (the roots of the batch) and a recording: it is
// not safe for concurrent use. After the first call with a given batch size
// it allocates nothing (except when it returns an error).
//
// It takes no context: in a conditional chain, lift it with
// odeflow.Unconditional. (Amortized planar flows, whose parameters a
// hypernetwork computes per sample as in variational autoencoders, are a
// different layer: a conditioner plus the same row map.)
type Planar struct {
	d       int
	p       *nn.Params
	u, w, b nn.Slot
	uh      []float64 // û
	c, opc  float64   // c = wᵀû and 1 + c
	k, v, q float64   // k, wᵀu and ‖w‖²
	zeroW   bool
	a       []float64 // a_i = wᵀz_i + b of the last call
	guh     []float64 // Backward: Σ ∂L/∂û
	gwd     []float64 // Backward: direct part of ∂L/∂w
	rec     linRec
}

// NewPlanar returns a d-dimensional planar flow whose parameters are
// reserved in p under name+"/u", "/w" and "/b", with u and w drawn from
// N(0, 1/d) and b = 0. It panics if d < 1, p is nil or src is nil.
func NewPlanar(p *nn.Params, name string, d int, src rand.Source) *Planar {
	linCheckDim("discrete: NewPlanar", d)
	if p == nil {
		panic("discrete: NewPlanar: nil *nn.Params")
	}
	if src == nil {
		panic("discrete: NewPlanar: nil rand.Source")
	}
	t := &Planar{d: d, p: p, uh: make([]float64, d), guh: make([]float64, d), gwd: make([]float64, d)}
	t.u = p.Reserve(name+"/u", d)
	t.w = p.Reserve(name+"/w", d)
	t.b = p.Reserve(name+"/b", 1)
	rnd := rand.New(src)
	sd := 1 / math.Sqrt(float64(d))
	u, w := t.u.Of(p.Data), t.w.Of(p.Data)
	for j := 0; j < d; j++ {
		u[j] = sd * rnd.NormFloat64()
		w[j] = sd * rnd.NormFloat64()
	}
	return t
}

// Dim returns d.
func (t *Planar) Dim() int { return t.d }

// Params returns the shared parameter vector.
func (t *Planar) Params() *nn.Params { return t.p }

// Uhat writes the constrained vector û into dst (allocated when nil; it
// must have length d otherwise) and returns it. wᵀû ≥ −1 for any
// parameters. It panics if a non-nil dst has the wrong length.
func (t *Planar) Uhat(dst []float64) []float64 {
	if dst == nil {
		dst = make([]float64, t.d)
	}
	if len(dst) != t.d {
		panic("discrete: Planar.Uhat: wrong length")
	}
	t.refresh()
	copy(dst, t.uh)
	return dst
}

// refresh computes û, c and 1 + c from the parameters.
func (t *Planar) refresh() {
	u, w := t.u.Of(t.p.Data), t.w.Of(t.p.Data)
	v, q := 0.0, 0.0
	for j := range w {
		v += w[j] * u[j]
		q += w[j] * w[j]
	}
	t.v, t.q = v, q
	t.zeroW = q == 0
	if t.zeroW {
		copy(t.uh, u)
		t.c, t.opc, t.k = 0, 1, 0
		return
	}
	t.k = (linSoftplus(-v) - 1) / q
	for j := range u {
		t.uh[j] = u[j] + t.k*w[j]
	}
	// 1 + c > 0 even where softplus underflows (wᵀu < −745), so that D > 0.
	t.opc = math.Max(linSoftplus(v), 0x1p-1022)
	t.c = t.opc - 1
	// When u is large along w, û = u + k w cancels and its component along
	// w carries an error of order ε|wᵀu|. The maps use wᵀû = c, so move û
	// along w to make its computed wᵀû equal c up to the rounding of one dot
	// product. (In exact arithmetic the correction is zero: gradients are
	// unaffected.)
	delta := t.c
	for j, wj := range w {
		delta -= wj * t.uh[j]
	}
	for j, wj := range w {
		t.uh[j] += delta / q * wj
	}
}

// det returns D = 1 + c sech²(a) given t = tanh(a) and s2 = sech²(a),
// without cancellation.
func (t *Planar) det(th, s2 float64) float64 {
	if t.c < 0 {
		return t.opc - t.c*th*th
	}
	return 1 + t.c*s2
}

// planarSech2 returns sech²(a) = 1/cosh²(a) (0 when cosh overflows).
func planarSech2(a float64) float64 {
	ch := math.Cosh(a)
	return 1 / (ch * ch)
}

// applyRow maps one row xi into yi (which may be xi) with the current
// parameters (refresh first): the closed-form planar map when inverse is
// set, its root-find inverse otherwise. It returns the pre-activation a,
// the row's log-determinant term when wantLDJ is set (0 otherwise), and
// whether the root find converged; a row that did not converge is still
// written, from the last iterate.
func (t *Planar) applyRow(yi, xi []float64, inverse, wantLDJ bool) (a, ldj float64, ok bool) {
	w, b := t.w.Of(t.p.Data), t.b.Of(t.p.Data)[0]
	r := b
	for j, v := range xi {
		r += w[j] * v
	}
	a, sign, ok := r, 1.0, true
	if !inverse {
		a, ok = t.solve(r)
		sign = -1
	}
	th := math.Tanh(a)
	for j, v := range xi {
		yi[j] = v + sign*t.uh[j]*th
	}
	if wantLDJ {
		ldj = sign * math.Log(t.det(th, planarSech2(a)))
	}
	return a, ldj, ok
}

// solve returns the root a of a + c tanh(a) = r and whether the safeguarded
// Newton iteration converged. The root lies in [r − |c|, r + |c|]; each
// iteration shrinks that bracket and takes the Newton step only when it
// stays inside and the step halves at least every other iteration
// (Numerical Recipes' rtsafe rule); otherwise it bisects. Without the
// second condition Newton can bounce between two points while the bracket
// barely shrinks (c ≈ 9.41, r ≈ 8.00 did not converge in 200 iterations).
func (t *Planar) solve(r float64) (float64, bool) {
	c := t.c
	if c == 0 {
		return r, true
	}
	lo, hi := r-math.Abs(c), r+math.Abs(c)
	a := r - c*math.Tanh(r)
	if !(a >= lo && a <= hi) {
		a = lo + 0.5*(hi-lo)
	}
	dxold := hi - lo
	dx := dxold
	const eps = 0x1p-52
	for it := 0; it < planarMaxIter; it++ {
		th := math.Tanh(a)
		f := a + c*th - r
		if f == 0 {
			return a, true
		}
		if f < 0 {
			lo = a
		} else {
			hi = a
		}
		df := t.det(th, planarSech2(a))
		an := a - f/df
		if !(an > lo && an < hi) || math.Abs(2*f) > math.Abs(dxold*df) {
			an = lo + 0.5*(hi-lo)
			if an == lo || an == hi {
				return an, true // the bracket is two adjacent floats
			}
		}
		dxold, dx = dx, an-a
		if math.Abs(an-a) <= 2*eps*math.Abs(an) {
			return an, true
		}
		a = an
	}
	return a, false
}

// Forward maps data to the base by inverting the planar map: z = f⁻¹(x),
// adding −log D(a) to ldj[i]. dst may be x. Rows whose root find fails give
// a *odeflow.RowError wrapping odeflow.ErrNotConverged; non-finite inputs
// one wrapping odeflow.ErrNonFinite; overflowing rows one wrapping
// odeflow.ErrNumerical.
func (t *Planar) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return t.apply("discrete: Planar.Forward", dst, ldj, x, false, true)
}

// Inverse maps base points to data by the closed-form planar map x = z +
// û tanh(wᵀz + b), adding log D(wᵀz + b) to ldj[i]. dst may be z.
func (t *Planar) Inverse(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	return t.apply("discrete: Planar.Inverse", dst, ldj, z, true, true)
}

// ForwardRecord is Forward, recording for Backward.
func (t *Planar) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	if err := t.apply("discrete: Planar.ForwardRecord", dst, ldj, x, false, false); err != nil {
		return err
	}
	t.rec.set(linForward, x, dst, ldj)
	return nil
}

// InverseRecord is Inverse, recording for Backward.
func (t *Planar) InverseRecord(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	if err := t.apply("discrete: Planar.InverseRecord", dst, ldj, z, true, false); err != nil {
		return err
	}
	t.rec.set(linInverse, z, dst, ldj)
	return nil
}

func (t *Planar) apply(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse, inPlace bool) error {
	t.rec.dir = linNone
	n, err := odeflow.PrepareCall(op, t.d, dst, ldj, x, inPlace)
	if err != nil {
		return err
	}
	t.refresh()
	if cap(t.a) < n {
		t.a = make([]float64, n)
	}
	t.a = t.a[:n]
	var failed []int
	for i := 0; i < n; i++ {
		a, l, ok := t.applyRow(linRow(dst, i), linRow(x, i), inverse, ldj != nil)
		if !ok {
			failed = append(failed, i)
		}
		t.a[i] = a
		if ldj != nil {
			ldj[i] += l
		}
	}
	if failed != nil {
		return &odeflow.RowError{Op: op, Rows: failed, Err: odeflow.ErrNotConverged}
	}
	return linNumerical(op, dst)
}

// Backward propagates derivatives through the recorded call (see
// odeflow.Differentiable), into the input and into u, w and b; through the
// root find of Forward by the implicit function theorem. It panics without
// a recording.
func (t *Planar) Backward(gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) error {
	t.rec.check("discrete: Planar.Backward", t.d, t.p.Len(), gin, gparams, gout, gldj)
	t.refresh()
	w := t.w.Of(t.p.Data)
	inv := t.rec.dir == linInverse
	for j := range t.guh {
		t.guh[j], t.gwd[j] = 0, 0
	}
	gc, gb := 0.0, 0.0
	c := t.c
	for i := 0; i < t.rec.n; i++ {
		g, in := linRow(gout, i), linRow(t.rec.in, i)
		gl := 0.0
		if gldj != nil {
			gl = gldj[i]
		}
		a := t.a[i]
		th, s2 := math.Tanh(a), planarSech2(a)
		dd := t.det(th, s2)
		gu := 0.0 // g·û
		for j, v := range g {
			gu += v * t.uh[j]
		}
		var ga float64 // ∂L/∂a (inverse) or ∂L/∂r (forward)
		var sgn float64
		if inv {
			// x = z + û t(a), a = wᵀz + b, Δ = log D(a).
			ga = gu*s2 - gl*2*c*th*s2/dd
			gc += gl * s2 / dd
			sgn = 1
		} else {
			// z = x − û t(a), φ(a) = wᵀx + b, Δ = −log D(a).
			gt := -gu + gl*2*c*th/dd
			gat := gt * s2
			ga = gat / dd
			gc += -gl*s2/dd - gat*th/dd
			sgn = -1
		}
		if gin != nil {
			gi := linRow(gin, i)
			for j, v := range g {
				gi[j] = v + ga*w[j]
			}
		}
		if gparams != nil {
			gb += ga
			for j, v := range g {
				t.guh[j] += sgn * v * th
				t.gwd[j] += ga * in[j]
			}
		}
	}
	if gparams == nil {
		return nil
	}
	gpu, gpw := t.u.Of(gparams), t.w.Of(gparams)
	t.b.Of(gparams)[0] += gb
	if t.zeroW {
		for j := range gpu {
			gpu[j] += t.guh[j]
			gpw[j] += t.gwd[j]
		}
		return nil
	}
	// û = u + k w, k = (softplus(−v) − 1)/q, c = softplus(v) − 1, with
	// v = wᵀu and q = ‖w‖².
	u := t.u.Of(t.p.Data)
	gk := 0.0
	for j, v := range t.guh {
		gk += v * w[j]
	}
	gv := -gk*linSigmoid(-t.v)/t.q + gc*linSigmoid(t.v)
	gq := -gk * t.k / t.q
	for j := range gpu {
		gpu[j] += t.guh[j] + gv*w[j]
		gpw[j] += t.k*t.guh[j] + gv*u[j] + 2*gq*w[j] + t.gwd[j]
	}
	return nil
}
