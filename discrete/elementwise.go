package discrete

import (
	"fmt"
	"math"
)

// Elementwise bijections as Transformers. Each is strictly increasing from
// its domain onto its codomain (stated in its doc), with the log-derivative
// computed in a form that stays finite where the derivative underflows.
//
// Forward at a point where the exact result lies in the codomain but rounds
// onto its boundary (tanh(20) = 1 in float64) returns the rounded value; the
// Inverse of a point outside the open codomain, including such a boundary
// value, returns an *ElementError wrapping ErrDomain. A result that overflows
// to ±Inf gives an *ElementError wrapping odeflow.ErrNumerical.
//
// Hyperparameters (a slope, a power, a bound) are fields of the value; each
// zero field means its documented default, and an invalid value panics when
// the transformer is used.

// Affine is the transformer τ(x) = t + σ x of RealNVP and MAF, R → R, with
// two raw parameters per block, φ = (t, r): the shift t and the unconstrained
// log-scale r, so that σ = exp(ℓ(r)) > 0 and log τ' = ℓ(r). All-zero raw
// parameters give the identity.
//
// With Bound = 0 (the default) ℓ(r) = r. A positive Bound L soft-clamps the
// log-scale for stability (RealNVP's bounded scale):
//
//	ℓ(r) = L tanh(r/L) ∈ (−L, L),
//
// which is r to first order near 0.
type Affine struct {
	Bound float64
}

// NumParams returns 2.
func (a Affine) NumParams() int { return 2 }

// String describes the transformer.
func (a Affine) String() string { return fmt.Sprintf("Affine(bound=%g)", a.Bound) }

// logScale returns ℓ(r) and ℓ'(r).
func (a Affine) logScale(r float64) (float64, float64) {
	if a.Bound == 0 {
		return r, 1
	}
	t := math.Tanh(r / a.Bound)
	return a.Bound * t, 1 - t*t
}

func (a Affine) check(op string) {
	if !(a.Bound >= 0) || math.IsInf(a.Bound, 1) {
		panic(fmt.Sprintf("discrete: %s: bound %v is negative or not finite", op, a.Bound))
	}
}

// Forward sets y_i = t + exp(ℓ(r)) x_i and ldj_i = ℓ(r). See Transformer.
func (a Affine) Forward(y, ldj, x, φ []float64) error {
	const op = "discrete: Affine.Forward"
	a.check(op)
	c := tfBlocks(op, 2, x, y, ldj, φ)
	if err := tfCheckParams(op, φ, 2); err != nil {
		return err
	}
	j := 0
	for i, xi := range x {
		t, r := φ[2*j], φ[2*j+1]
		if j++; j == c {
			j = 0
		}
		if !tfFinite(xi) {
			return tfNonFinite(op, i, xi)
		}
		ls, _ := a.logScale(r)
		yi := t + math.Exp(ls)*xi
		if !tfFinite(yi) {
			return tfOverflow(op, i, xi, yi)
		}
		y[i] = yi
		if ldj != nil {
			ldj[i] = ls
		}
	}
	return nil
}

// Inverse sets x_i = (y_i − t) exp(−ℓ(r)) and ldj_i = −ℓ(r). See Transformer.
func (a Affine) Inverse(x, ldj, y, φ []float64) error {
	const op = "discrete: Affine.Inverse"
	a.check(op)
	c := tfBlocks(op, 2, y, x, ldj, φ)
	if err := tfCheckParams(op, φ, 2); err != nil {
		return err
	}
	j := 0
	for i, yi := range y {
		t, r := φ[2*j], φ[2*j+1]
		if j++; j == c {
			j = 0
		}
		if !tfFinite(yi) {
			return tfNonFinite(op, i, yi)
		}
		ls, _ := a.logScale(r)
		xi := (yi - t) * math.Exp(-ls)
		if !tfFinite(xi) {
			return tfOverflow(op, i, yi, xi)
		}
		x[i] = xi
		if ldj != nil {
			ldj[i] = -ls
		}
	}
	return nil
}

// ForwardVJP sets gx_i = gy_i σ and adds gy_i to ∂/∂t and
// (gy_i σ x_i + gldj_i) ℓ'(r) to ∂/∂r. See Transformer.
func (a Affine) ForwardVJP(gx, gφ, x, φ, gy, gldj []float64) {
	const op = "discrete: Affine.ForwardVJP"
	a.check(op)
	c := tfVJPBlocks(op, 2, gx, gφ, x, φ, gy, gldj)
	j := 0
	for i, xi := range x {
		o := 2 * j
		if j++; j == c {
			j = 0
		}
		ls, dls := a.logScale(φ[o+1])
		e := math.Exp(ls)
		g, gl := gy[i], 0.0
		if gldj != nil {
			gl = gldj[i]
		}
		if gx != nil {
			gx[i] = g * e
		}
		if gφ != nil {
			gφ[o] += g
			gφ[o+1] += (g*e*xi + gl) * dls
		}
	}
}

// InverseVJP sets gy_i = gx_i/σ and adds −gx_i/σ to ∂/∂t and
// (−gx_i x_i − gldj_i) ℓ'(r) to ∂/∂r, where x_i = (y_i − t)/σ. See
// Transformer.
func (a Affine) InverseVJP(gy, gφ, y, φ, gx, gldj []float64) {
	const op = "discrete: Affine.InverseVJP"
	a.check(op)
	c := tfVJPBlocks(op, 2, gy, gφ, y, φ, gx, gldj)
	j := 0
	for i, yi := range y {
		o := 2 * j
		if j++; j == c {
			j = 0
		}
		ls, dls := a.logScale(φ[o+1])
		e := math.Exp(-ls)
		g, gl := gx[i], 0.0
		if gldj != nil {
			gl = gldj[i]
		}
		if gy != nil {
			gy[i] = g * e
		}
		if gφ != nil {
			xi := (yi - φ[o]) * e
			gφ[o] -= g * e
			gφ[o+1] += (-g*xi - gl) * dls
		}
	}
}

// Shift is the additive transformer τ(x) = x + t of NICE, R → R, with one
// raw parameter per block, φ = (t), and log τ' = 0.
type Shift struct{}

// NumParams returns 1.
func (Shift) NumParams() int { return 1 }

// String names the transformer.
func (Shift) String() string { return "Shift" }

// Forward sets y_i = x_i + t and ldj_i = 0. See Transformer.
func (Shift) Forward(y, ldj, x, φ []float64) error {
	return tfShift("discrete: Shift.Forward", 1, y, ldj, x, φ)
}

// Inverse sets x_i = y_i − t and ldj_i = 0. See Transformer.
func (Shift) Inverse(x, ldj, y, φ []float64) error {
	return tfShift("discrete: Shift.Inverse", -1, x, ldj, y, φ)
}

func tfShift(op string, sign float64, out, ldj, in, φ []float64) error {
	c := tfBlocks(op, 1, in, out, ldj, φ)
	if err := tfCheckParams(op, φ, 1); err != nil {
		return err
	}
	j := 0
	for i, v := range in {
		t := φ[j]
		if j++; j == c {
			j = 0
		}
		if !tfFinite(v) {
			return tfNonFinite(op, i, v)
		}
		o := v + sign*t
		if !tfFinite(o) {
			return tfOverflow(op, i, v, o)
		}
		out[i] = o
		if ldj != nil {
			ldj[i] = 0
		}
	}
	return nil
}

// ForwardVJP sets gx_i = gy_i and adds gy_i to ∂/∂t. See Transformer.
func (Shift) ForwardVJP(gx, gφ, x, φ, gy, gldj []float64) {
	tfShiftVJP("discrete: Shift.ForwardVJP", 1, gx, gφ, x, φ, gy, gldj)
}

// InverseVJP sets gy_i = gx_i and adds −gx_i to ∂/∂t. See Transformer.
func (Shift) InverseVJP(gy, gφ, y, φ, gx, gldj []float64) {
	tfShiftVJP("discrete: Shift.InverseVJP", -1, gy, gφ, y, φ, gx, gldj)
}

func tfShiftVJP(op string, sign float64, gin, gφ, in, φ, gout, gldj []float64) {
	c := tfVJPBlocks(op, 1, gin, gφ, in, φ, gout, gldj)
	j := 0
	for i := range in {
		g := gout[i]
		if gin != nil {
			gin[i] = g
		}
		if gφ != nil {
			gφ[j] += sign * g
		}
		if j++; j == c {
			j = 0
		}
	}
}

// Exp is τ(x) = eˣ, from R onto (0, ∞), with log τ' = x. Its inverse is the
// logarithm; Invert(Exp{}) maps (0, ∞) onto R. Forward overflows (an error)
// for x > 709.78 and rounds to 0 for x < −745.
type Exp struct{}

// NumParams returns 0.
func (Exp) NumParams() int { return 0 }

// String names the transformer.
func (Exp) String() string { return "Exp" }

// Forward sets y_i = exp(x_i) and ldj_i = x_i. See Transformer.
func (Exp) Forward(y, ldj, x, φ []float64) error {
	const op = "discrete: Exp.Forward"
	tfBlocks(op, 0, x, y, ldj, φ)
	for i, xi := range x {
		if !tfFinite(xi) {
			return tfNonFinite(op, i, xi)
		}
		yi := math.Exp(xi)
		if !tfFinite(yi) {
			return tfOverflow(op, i, xi, yi)
		}
		y[i] = yi
		if ldj != nil {
			ldj[i] = xi
		}
	}
	return nil
}

// Inverse sets x_i = log y_i and ldj_i = −log y_i for y_i > 0. See
// Transformer.
func (Exp) Inverse(x, ldj, y, φ []float64) error {
	const op = "discrete: Exp.Inverse"
	tfBlocks(op, 0, y, x, ldj, φ)
	for i, yi := range y {
		if !tfFinite(yi) {
			return tfNonFinite(op, i, yi)
		}
		if !(yi > 0) {
			return tfOutOfDomain(op, i, yi, "(0, ∞)")
		}
		xi := math.Log(yi)
		x[i] = xi
		if ldj != nil {
			ldj[i] = -xi
		}
	}
	return nil
}

// ForwardVJP sets gx_i = gy_i eˣ + gldj_i. See Transformer.
func (Exp) ForwardVJP(gx, gφ, x, φ, gy, gldj []float64) {
	tfVJPBlocks("discrete: Exp.ForwardVJP", 0, gx, gφ, x, φ, gy, gldj)
	if gx == nil {
		return
	}
	for i, xi := range x {
		g := gy[i] * math.Exp(xi)
		if gldj != nil {
			g += gldj[i]
		}
		gx[i] = g
	}
}

// InverseVJP sets gy_i = (gx_i − gldj_i)/y_i. See Transformer.
func (Exp) InverseVJP(gy, gφ, y, φ, gx, gldj []float64) {
	tfVJPBlocks("discrete: Exp.InverseVJP", 0, gy, gφ, y, φ, gx, gldj)
	if gy == nil {
		return
	}
	for i, yi := range y {
		g := gx[i]
		if gldj != nil {
			g -= gldj[i]
		}
		gy[i] = g / yi
	}
}

// Sigmoid is the logistic function with a margin α ∈ [0, ½) (Alpha; zero is
// the plain logistic function),
//
//	τ(x) = (σ(x) − α) / (1 − 2α),   σ(x) = 1/(1 + e⁻ˣ),
//
// from R onto (−α/(1−2α), (1−α)/(1−2α)), an interval that contains [0, 1].
// Its log-derivative is log σ(x) + log σ(−x) − log(1 − 2α), computed with
// softplus so that it stays finite for any finite x. Its inverse,
//
//	τ⁻¹(y) = logit(α + (1 − 2α) y),
//
// is the logit preprocessing of RealNVP and MAF for data in [0, 1] (see
// Logit). Forward rounds onto the upper end of the codomain for x > 36.7.
type Sigmoid struct {
	Alpha float64
}

// Logit returns Invert(Sigmoid{Alpha: alpha}): y = logit(α + (1 − 2α) x),
// from (−α/(1−2α), (1−α)/(1−2α)) ⊃ [0, 1] onto R, the data → base direction
// for data in the unit interval.
func Logit(alpha float64) Transformer { return Invert(Sigmoid{Alpha: alpha}) }

// NumParams returns 0.
func (Sigmoid) NumParams() int { return 0 }

// String describes the transformer.
func (s Sigmoid) String() string { return fmt.Sprintf("Sigmoid(alpha=%g)", s.Alpha) }

func (s Sigmoid) check(op string) float64 {
	if !(s.Alpha >= 0 && s.Alpha < 0.5) {
		panic(fmt.Sprintf("discrete: %s: alpha %v not in [0, 0.5)", op, s.Alpha))
	}
	return 1 - 2*s.Alpha
}

// Forward sets y_i = (σ(x_i) − α)/(1 − 2α) and its log-derivative. See
// Transformer.
func (s Sigmoid) Forward(y, ldj, x, φ []float64) error {
	const op = "discrete: Sigmoid.Forward"
	sc := s.check(op)
	tfBlocks(op, 0, x, y, ldj, φ)
	lsc := math.Log(sc)
	for i, xi := range x {
		if !tfFinite(xi) {
			return tfNonFinite(op, i, xi)
		}
		y[i] = (tfSigmoid(xi) - s.Alpha) / sc
		if ldj != nil {
			ldj[i] = -tfSoftplus(-xi) - tfSoftplus(xi) - lsc
		}
	}
	return nil
}

// Inverse sets x_i = logit(u_i), u_i = α + (1 − 2α) y_i, for u_i ∈ (0, 1),
// and ldj_i = log(1 − 2α) − log u_i − log(1 − u_i). See Transformer.
func (s Sigmoid) Inverse(x, ldj, y, φ []float64) error {
	const op = "discrete: Sigmoid.Inverse"
	sc := s.check(op)
	tfBlocks(op, 0, y, x, ldj, φ)
	lsc := math.Log(sc)
	for i, yi := range y {
		if !tfFinite(yi) {
			return tfNonFinite(op, i, yi)
		}
		u := s.Alpha + sc*yi
		if !(u > 0 && u < 1) {
			return tfOutOfDomain(op, i, yi, fmt.Sprintf("(%g, %g)", 0-s.Alpha/sc, (1-s.Alpha)/sc))
		}
		lu, l1u := math.Log(u), math.Log1p(-u)
		x[i] = lu - l1u
		if ldj != nil {
			ldj[i] = lsc - lu - l1u
		}
	}
	return nil
}

// ForwardVJP sets gx_i = gy_i σ(1 − σ)/(1 − 2α) + gldj_i (1 − 2σ). See
// Transformer.
func (s Sigmoid) ForwardVJP(gx, gφ, x, φ, gy, gldj []float64) {
	const op = "discrete: Sigmoid.ForwardVJP"
	sc := s.check(op)
	tfVJPBlocks(op, 0, gx, gφ, x, φ, gy, gldj)
	if gx == nil {
		return
	}
	for i, xi := range x {
		sg, sm := tfSigmoid(xi), tfSigmoid(-xi)
		g := gy[i] * sg * sm / sc
		if gldj != nil {
			g += gldj[i] * (sm - sg)
		}
		gx[i] = g
	}
}

// InverseVJP sets gy_i = (1 − 2α)(gx_i + gldj_i (2u − 1))/(u(1 − u)). See
// Transformer.
func (s Sigmoid) InverseVJP(gy, gφ, y, φ, gx, gldj []float64) {
	const op = "discrete: Sigmoid.InverseVJP"
	sc := s.check(op)
	tfVJPBlocks(op, 0, gy, gφ, y, φ, gx, gldj)
	if gy == nil {
		return
	}
	for i, yi := range y {
		u := s.Alpha + sc*yi
		g := gx[i]
		if gldj != nil {
			g += gldj[i] * (2*u - 1)
		}
		gy[i] = sc * g / (u * (1 - u))
	}
}

// Tanh is τ(x) = tanh x, from R onto (−1, 1), with
//
//	log τ' = log(1 − tanh² x) = 2 (log 2 − x − softplus(−2x)),
//
// finite for every finite x. Forward rounds onto ±1 for |x| > 19.1.
type Tanh struct{}

// NumParams returns 0.
func (Tanh) NumParams() int { return 0 }

// String names the transformer.
func (Tanh) String() string { return "Tanh" }

func tanhLogDeriv(x float64) float64 { return 2 * (math.Ln2 - x - tfSoftplus(-2*x)) }

// Forward sets y_i = tanh x_i and its log-derivative. See Transformer.
func (Tanh) Forward(y, ldj, x, φ []float64) error {
	const op = "discrete: Tanh.Forward"
	tfBlocks(op, 0, x, y, ldj, φ)
	for i, xi := range x {
		if !tfFinite(xi) {
			return tfNonFinite(op, i, xi)
		}
		y[i] = math.Tanh(xi)
		if ldj != nil {
			ldj[i] = tanhLogDeriv(xi)
		}
	}
	return nil
}

// Inverse sets x_i = atanh y_i and ldj_i = −log(1 − y_i) − log(1 + y_i) for
// |y_i| < 1. See Transformer.
func (Tanh) Inverse(x, ldj, y, φ []float64) error {
	const op = "discrete: Tanh.Inverse"
	tfBlocks(op, 0, y, x, ldj, φ)
	for i, yi := range y {
		if !tfFinite(yi) {
			return tfNonFinite(op, i, yi)
		}
		if !(yi > -1 && yi < 1) {
			return tfOutOfDomain(op, i, yi, "(-1, 1)")
		}
		x[i] = math.Atanh(yi)
		if ldj != nil {
			ldj[i] = -math.Log1p(-yi) - math.Log1p(yi)
		}
	}
	return nil
}

// ForwardVJP sets gx_i = gy_i (1 − tanh² x_i) − 2 gldj_i tanh x_i. See
// Transformer.
func (Tanh) ForwardVJP(gx, gφ, x, φ, gy, gldj []float64) {
	tfVJPBlocks("discrete: Tanh.ForwardVJP", 0, gx, gφ, x, φ, gy, gldj)
	if gx == nil {
		return
	}
	for i, xi := range x {
		g := gy[i] * math.Exp(tanhLogDeriv(xi))
		if gldj != nil {
			g -= 2 * gldj[i] * math.Tanh(xi)
		}
		gx[i] = g
	}
}

// InverseVJP sets gy_i = (gx_i + 2 gldj_i y_i)/(1 − y_i²). See Transformer.
func (Tanh) InverseVJP(gy, gφ, y, φ, gx, gldj []float64) {
	tfVJPBlocks("discrete: Tanh.InverseVJP", 0, gy, gφ, y, φ, gx, gldj)
	if gy == nil {
		return
	}
	for i, yi := range y {
		g := gx[i]
		if gldj != nil {
			g += 2 * gldj[i] * yi
		}
		gy[i] = g / ((1 - yi) * (1 + yi))
	}
}

// Softplus is τ(x) = log(1 + eˣ), from R onto (0, ∞), with
// log τ' = log σ(x) = −softplus(−x). Its inverse is
// τ⁻¹(y) = log(eʸ − 1) = y + log(1 − e⁻ʸ), computed in that stable form.
// Forward rounds to 0 for x < −745.
type Softplus struct{}

// NumParams returns 0.
func (Softplus) NumParams() int { return 0 }

// String names the transformer.
func (Softplus) String() string { return "Softplus" }

// Forward sets y_i = softplus(x_i) and ldj_i = −softplus(−x_i). See
// Transformer.
func (Softplus) Forward(y, ldj, x, φ []float64) error {
	const op = "discrete: Softplus.Forward"
	tfBlocks(op, 0, x, y, ldj, φ)
	for i, xi := range x {
		if !tfFinite(xi) {
			return tfNonFinite(op, i, xi)
		}
		y[i] = tfSoftplus(xi)
		if ldj != nil {
			ldj[i] = -tfSoftplus(-xi)
		}
	}
	return nil
}

// Inverse sets x_i = y_i + log(1 − e^{−y_i}) and
// ldj_i = −log(1 − e^{−y_i}) for y_i > 0. See Transformer.
func (Softplus) Inverse(x, ldj, y, φ []float64) error {
	const op = "discrete: Softplus.Inverse"
	tfBlocks(op, 0, y, x, ldj, φ)
	for i, yi := range y {
		if !tfFinite(yi) {
			return tfNonFinite(op, i, yi)
		}
		if !(yi > 0) {
			return tfOutOfDomain(op, i, yi, "(0, ∞)")
		}
		l := math.Log(-math.Expm1(-yi))
		x[i] = yi + l
		if ldj != nil {
			ldj[i] = -l
		}
	}
	return nil
}

// ForwardVJP sets gx_i = gy_i σ(x_i) + gldj_i σ(−x_i). See Transformer.
func (Softplus) ForwardVJP(gx, gφ, x, φ, gy, gldj []float64) {
	tfVJPBlocks("discrete: Softplus.ForwardVJP", 0, gx, gφ, x, φ, gy, gldj)
	if gx == nil {
		return
	}
	for i, xi := range x {
		g := gy[i] * tfSigmoid(xi)
		if gldj != nil {
			g += gldj[i] * tfSigmoid(-xi)
		}
		gx[i] = g
	}
}

// InverseVJP sets gy_i = gx_i/(1 − e^{−y_i}) − gldj_i/(e^{y_i} − 1). See
// Transformer.
func (Softplus) InverseVJP(gy, gφ, y, φ, gx, gldj []float64) {
	tfVJPBlocks("discrete: Softplus.InverseVJP", 0, gy, gφ, y, φ, gx, gldj)
	if gy == nil {
		return
	}
	for i, yi := range y {
		g := gx[i] / -math.Expm1(-yi)
		if gldj != nil {
			g -= gldj[i] / math.Expm1(yi)
		}
		gy[i] = g
	}
}

// LeakyReLU is τ(x) = x for x ≥ 0 and a·x for x < 0, with slope a > 0
// (Slope; zero means 0.01), a bijection of R with log τ' = 0 or log a. At 0
// the derivative is taken from the right (1).
type LeakyReLU struct {
	Slope float64
}

// NumParams returns 0.
func (LeakyReLU) NumParams() int { return 0 }

// String describes the transformer.
func (l LeakyReLU) String() string { return fmt.Sprintf("LeakyReLU(slope=%g)", l.slope("")) }

func (l LeakyReLU) slope(op string) float64 {
	if l.Slope == 0 {
		return 0.01
	}
	if !(l.Slope > 0) || math.IsInf(l.Slope, 1) {
		panic(fmt.Sprintf("discrete: %s: slope %v is not positive and finite", op, l.Slope))
	}
	return l.Slope
}

// Forward sets y_i = x_i or a x_i and ldj_i = 0 or log a. See Transformer.
func (l LeakyReLU) Forward(y, ldj, x, φ []float64) error {
	const op = "discrete: LeakyReLU.Forward"
	a := l.slope(op)
	tfBlocks(op, 0, x, y, ldj, φ)
	la := math.Log(a)
	for i, xi := range x {
		if !tfFinite(xi) {
			return tfNonFinite(op, i, xi)
		}
		yi, lv := xi, 0.0
		if xi < 0 {
			yi, lv = a*xi, la
			if !tfFinite(yi) {
				return tfOverflow(op, i, xi, yi)
			}
		}
		y[i] = yi
		if ldj != nil {
			ldj[i] = lv
		}
	}
	return nil
}

// Inverse sets x_i = y_i or y_i/a and ldj_i = 0 or −log a. See Transformer.
func (l LeakyReLU) Inverse(x, ldj, y, φ []float64) error {
	const op = "discrete: LeakyReLU.Inverse"
	a := l.slope(op)
	tfBlocks(op, 0, y, x, ldj, φ)
	la := math.Log(a)
	for i, yi := range y {
		if !tfFinite(yi) {
			return tfNonFinite(op, i, yi)
		}
		xi, lv := yi, 0.0
		if yi < 0 {
			xi, lv = yi/a, -la
			if !tfFinite(xi) {
				return tfOverflow(op, i, yi, xi)
			}
		}
		x[i] = xi
		if ldj != nil {
			ldj[i] = lv
		}
	}
	return nil
}

// ForwardVJP sets gx_i = gy_i or a gy_i (the log-derivative is piecewise
// constant). See Transformer.
func (l LeakyReLU) ForwardVJP(gx, gφ, x, φ, gy, gldj []float64) {
	const op = "discrete: LeakyReLU.ForwardVJP"
	a := l.slope(op)
	tfVJPBlocks(op, 0, gx, gφ, x, φ, gy, gldj)
	if gx == nil {
		return
	}
	for i, xi := range x {
		if xi < 0 {
			gx[i] = a * gy[i]
		} else {
			gx[i] = gy[i]
		}
	}
}

// InverseVJP sets gy_i = gx_i or gx_i/a. See Transformer.
func (l LeakyReLU) InverseVJP(gy, gφ, y, φ, gx, gldj []float64) {
	const op = "discrete: LeakyReLU.InverseVJP"
	a := l.slope(op)
	tfVJPBlocks(op, 0, gy, gφ, y, φ, gx, gldj)
	if gy == nil {
		return
	}
	for i, yi := range y {
		if yi < 0 {
			gy[i] = gx[i] / a
		} else {
			gy[i] = gx[i]
		}
	}
}

// SignedPower is τ(x) = sign(x)|x|^p with p > 0 (Power; it must be set, and
// zero or a negative or non-finite value panics), a bijection of R with
//
//	log τ' = log p + (p − 1) log|x|.
//
// For p ≠ 1 the derivative at x = 0 is 0 (p > 1) or ∞ (p < 1): the
// log-derivative there is −Inf or +Inf, which Forward and Inverse return as
// the exact value (no error), and the VJPs are infinite or NaN there. Results
// that overflow are errors.
type SignedPower struct {
	Power float64
}

// NumParams returns 0.
func (SignedPower) NumParams() int { return 0 }

// String describes the transformer.
func (s SignedPower) String() string { return fmt.Sprintf("SignedPower(p=%g)", s.Power) }

func (s SignedPower) check(op string) float64 {
	if !(s.Power > 0) || math.IsInf(s.Power, 1) {
		panic(fmt.Sprintf("discrete: %s: power %v is not positive and finite", op, s.Power))
	}
	return s.Power
}

// spow returns sign(x)|x|^p and log p + (p − 1) log|x| (0 when p = 1).
func spow(x, p, lp float64) (float64, float64) {
	ax := math.Abs(x)
	y := math.Copysign(math.Pow(ax, p), x)
	if p == 1 {
		return y, 0
	}
	return y, lp + (p-1)*math.Log(ax)
}

// Forward sets y_i = sign(x_i)|x_i|^p and ldj_i = log p + (p − 1) log|x_i|.
// See Transformer.
func (s SignedPower) Forward(y, ldj, x, φ []float64) error {
	const op = "discrete: SignedPower.Forward"
	p := s.check(op)
	tfBlocks(op, 0, x, y, ldj, φ)
	lp := math.Log(p)
	for i, xi := range x {
		if !tfFinite(xi) {
			return tfNonFinite(op, i, xi)
		}
		yi, l := spow(xi, p, lp)
		if !tfFinite(yi) {
			return tfOverflow(op, i, xi, yi)
		}
		y[i] = yi
		if ldj != nil {
			ldj[i] = l
		}
	}
	return nil
}

// Inverse sets x_i = sign(y_i)|y_i|^{1/p} and
// ldj_i = −log p − (1 − 1/p) log|y_i|. See Transformer.
func (s SignedPower) Inverse(x, ldj, y, φ []float64) error {
	const op = "discrete: SignedPower.Inverse"
	p := s.check(op)
	tfBlocks(op, 0, y, x, ldj, φ)
	q := 1 / p
	lq := -math.Log(p)
	for i, yi := range y {
		if !tfFinite(yi) {
			return tfNonFinite(op, i, yi)
		}
		xi, l := spow(yi, q, lq)
		if !tfFinite(xi) {
			return tfOverflow(op, i, yi, xi)
		}
		x[i] = xi
		if ldj != nil {
			ldj[i] = l
		}
	}
	return nil
}

// ForwardVJP sets gx_i = gy_i p|x_i|^{p−1} + gldj_i (p − 1)/x_i. See
// Transformer.
func (s SignedPower) ForwardVJP(gx, gφ, x, φ, gy, gldj []float64) {
	const op = "discrete: SignedPower.ForwardVJP"
	p := s.check(op)
	tfVJPBlocks(op, 0, gx, gφ, x, φ, gy, gldj)
	if gx != nil {
		spowVJP(gx, x, p, gy, gldj)
	}
}

// InverseVJP sets gy_i = gx_i |y_i|^{1/p−1}/p + gldj_i (1/p − 1)/y_i. See
// Transformer.
func (s SignedPower) InverseVJP(gy, gφ, y, φ, gx, gldj []float64) {
	const op = "discrete: SignedPower.InverseVJP"
	p := s.check(op)
	tfVJPBlocks(op, 0, gy, gφ, y, φ, gx, gldj)
	if gy != nil {
		spowVJP(gy, y, 1/p, gx, gldj)
	}
}

// spowVJP is the VJP of (sign(v)|v|^p, log p + (p − 1) log|v|) at v.
func spowVJP(gin, in []float64, p float64, gout, gldj []float64) {
	for i, v := range in {
		g := gout[i] * p * math.Pow(math.Abs(v), p-1)
		if gldj != nil && p != 1 {
			if gl := gldj[i]; gl != 0 {
				g += gl * (p - 1) / v
			}
		}
		gin[i] = g
	}
}

// SoftClip is a smooth bijection of R onto (−B, B) that is close to the
// identity for |x| ≪ B (Bound B > 0, zero means 1; Sharpness k ≥ 1, zero
// means 1): with n = 2k and r = |x|/B,
//
//	τ(x) = x (1 + rⁿ)^(−1/n),
//	τ'(x) = (1 + rⁿ)^(−(n+1)/n),
//	τ⁻¹(y) = y (1 − (|y|/B)ⁿ)^(−1/n).
//
// It is C^∞ (rⁿ is a polynomial in x for even n), odd, τ(x) = x − O(x^{n+1}),
// and a larger k keeps it closer to the identity inside the bound and clips
// more sharply at it. For r > 1 it is evaluated as sign(x) B (1 + r⁻ⁿ)^(−1/n)
// so that no power overflows; Forward rounds onto ±B for r beyond about
// 2^(53/n).
type SoftClip struct {
	Bound     float64
	Sharpness int
}

// NumParams returns 0.
func (SoftClip) NumParams() int { return 0 }

// String describes the transformer.
func (s SoftClip) String() string {
	b, n := s.params("")
	return fmt.Sprintf("SoftClip(bound=%g, sharpness=%d)", b, n/2)
}

// params returns B and n = 2k.
func (s SoftClip) params(op string) (float64, int) {
	b, k := s.Bound, s.Sharpness
	if b == 0 {
		b = 1
	}
	if k == 0 {
		k = 1
	}
	if !(b > 0) || math.IsInf(b, 1) || k < 0 {
		panic(fmt.Sprintf("discrete: %s: bound %v or sharpness %d out of range", op, s.Bound, s.Sharpness))
	}
	return b, 2 * k
}

// softClip returns τ(x), log τ'(x) and ∂log τ'/∂x.
func softClip(x, b float64, n int) (y, l, lx float64) {
	nf := float64(n)
	r := math.Abs(x) / b
	var q float64 // r^{n−1}/(1 + rⁿ)
	if r <= 1 {
		rn := tfPowi(r, n)
		y = x * math.Exp(-math.Log1p(rn)/nf)
		l = -(1 + 1/nf) * math.Log1p(rn)
		q = tfPowi(r, n-1) / (1 + rn)
	} else {
		rm := tfPowi(1/r, n) // r⁻ⁿ
		y = math.Copysign(b*math.Exp(-math.Log1p(rm)/nf), x)
		l = -(1 + 1/nf) * (nf*math.Log(r) + math.Log1p(rm))
		q = 1 / (r * (1 + rm))
	}
	lx = -math.Copysign((nf+1)*q/b, x)
	return y, l, lx
}

// tfPowi returns vⁿ for n ≥ 0 by repeated squaring.
func tfPowi(v float64, n int) float64 {
	r := 1.0
	for n > 0 {
		if n&1 == 1 {
			r *= v
		}
		v *= v
		n >>= 1
	}
	return r
}

// Forward sets y_i = τ(x_i) and ldj_i = −(1 + 1/n) log(1 + rⁿ). See
// Transformer.
func (s SoftClip) Forward(y, ldj, x, φ []float64) error {
	const op = "discrete: SoftClip.Forward"
	b, n := s.params(op)
	tfBlocks(op, 0, x, y, ldj, φ)
	for i, xi := range x {
		if !tfFinite(xi) {
			return tfNonFinite(op, i, xi)
		}
		yi, l, _ := softClip(xi, b, n)
		y[i] = yi
		if ldj != nil {
			ldj[i] = l
		}
	}
	return nil
}

// Inverse sets x_i = y_i (1 − v)^(−1/n), v = (|y_i|/B)ⁿ, and
// ldj_i = −(1 + 1/n) log(1 − v), for |y_i| < B. See Transformer.
func (s SoftClip) Inverse(x, ldj, y, φ []float64) error {
	const op = "discrete: SoftClip.Inverse"
	b, n := s.params(op)
	tfBlocks(op, 0, y, x, ldj, φ)
	nf := float64(n)
	for i, yi := range y {
		if !tfFinite(yi) {
			return tfNonFinite(op, i, yi)
		}
		if !(math.Abs(yi) < b) {
			return tfOutOfDomain(op, i, yi, fmt.Sprintf("(%g, %g)", -b, b))
		}
		l1v := math.Log1p(-tfPowi(math.Abs(yi)/b, n)) // log(1 − v)
		xi := yi * math.Exp(-l1v/nf)
		if !tfFinite(xi) {
			return tfOverflow(op, i, yi, xi)
		}
		x[i] = xi
		if ldj != nil {
			ldj[i] = -(1 + 1/nf) * l1v
		}
	}
	return nil
}

// ForwardVJP sets gx_i = gy_i τ'(x_i) − gldj_i (n+1) sign(x) rⁿ⁻¹/(B(1 + rⁿ)).
// See Transformer.
func (s SoftClip) ForwardVJP(gx, gφ, x, φ, gy, gldj []float64) {
	const op = "discrete: SoftClip.ForwardVJP"
	b, n := s.params(op)
	tfVJPBlocks(op, 0, gx, gφ, x, φ, gy, gldj)
	if gx == nil {
		return
	}
	for i, xi := range x {
		_, l, lx := softClip(xi, b, n)
		g := gy[i] * math.Exp(l)
		if gldj != nil {
			g += gldj[i] * lx
		}
		gx[i] = g
	}
}

// InverseVJP sets gy_i = gx_i (1 − v)^(−(n+1)/n) + gldj_i (n+1) sign(y)
// (|y|/B)ⁿ⁻¹/(B(1 − v)). See Transformer.
func (s SoftClip) InverseVJP(gy, gφ, y, φ, gx, gldj []float64) {
	const op = "discrete: SoftClip.InverseVJP"
	b, n := s.params(op)
	tfVJPBlocks(op, 0, gy, gφ, y, φ, gx, gldj)
	if gy == nil {
		return
	}
	nf := float64(n)
	for i, yi := range y {
		r := math.Abs(yi) / b
		rn1 := tfPowi(r, n-1)
		omv := 1 - rn1*r // 1 − v
		g := gx[i] * math.Exp(-(1+1/nf)*math.Log(omv))
		if gldj != nil {
			g += gldj[i] * math.Copysign((nf+1)*rn1/(b*omv), yi)
		}
		gy[i] = g
	}
}
