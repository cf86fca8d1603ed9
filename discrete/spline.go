package discrete

import (
	"fmt"
	"math"
)

const (
	splineDefaultBins  = 8
	splineDefaultBound = 5
	splineDefaultMin   = 1e-3
	splineMinMin       = 1e-12
	splineStackBins    = 64 // splines with at most this many bins keep their scratch on the stack
	// splineMaxDerivative caps knot derivatives (and bounds FixedSpline's
	// slopes), so that no intermediate of the formulas can overflow.
	splineMaxDerivative = 1e15
)

// SplineSettings configures a Spline. A nil *SplineSettings means every
// default; each zero field means its default.
type SplineSettings struct {
	// Bins is the number of bins K ≥ 1. Zero means 8.
	Bins int
	// Bound is B > 0: the spline maps [−B, B] onto itself and is the
	// identity outside. Zero means 5 (zuko's default).
	Bound float64
	// MinBinWidth and MinBinHeight are the smallest bin width and height as
	// a fraction of 2B; each must lie in [1e-12, 1/K). Zero means 1e-3.
	MinBinWidth, MinBinHeight float64
	// MinDerivative is the smallest derivative at an interior knot; it must
	// lie in [1e-12, 1]. Zero means 1e-3.
	MinDerivative float64
}

// Spline is the monotone rational-quadratic spline transformer of neural
// spline flows (Durkan, Bekasov, Murray and Papamakarios, "Neural Spline
// Flows", NeurIPS 2019, arXiv:1906.04032), with raw parameters as a
// conditioner network produces them (nflows' parametrization).
//
// # The spline
//
// A monotone rational-quadratic spline is given by K+1 knots
// (x_0, y_0) < … < (x_K, y_K) and positive derivatives d_0, …, d_K at them.
// In bin k, with
//
//	w = x_{k+1} − x_k,  h = y_{k+1} − y_k,  s = h/w,
//	ξ = (x − x_k)/w ∈ [0, 1],  θ = ξ(1 − ξ),
//
// it is
//
//	τ(x)  = y_k + h (s ξ² + d_k θ) / (s + (d_k + d_{k+1} − 2s) θ)
//	τ'(x) = s² (d_{k+1} ξ² + 2sθ + d_k (1 − ξ)²) / (s + (d_k + d_{k+1} − 2s) θ)²
//
// which is strictly increasing, passes through the knots with the given
// derivatives, and is C¹. Outside [x_0, x_K] the tails are linear with the
// boundary derivatives, so the map is defined, finite and invertible on all
// of R.
//
// The inverse in bin k solves a ξ² + b ξ + c = 0 for ξ ∈ [0, 1]; with
// t = (y − y_k)/h ∈ [0, 1] (dividing through by h keeps every coefficient
// free of the bound's scale) and D = d_k + d_{k+1} − 2s,
//
//	a = (s − d_k) + t D,  b = d_k − t D,  c = −s t.
//
// The root in [0, 1] is ξ = (−b + √(b² − 4ac)) / 2a, computed without
// cancellation in whichever of its two equivalent forms adds quantities of
// the same sign:
//
//	ξ = 2c / (−b − √(b² − 4ac))    if b ≥ 0  (nflows' form),
//	ξ = (−b + √(b² − 4ac)) / 2a    if b < 0.
//
// Since a + b = s > 0 and c ≤ 0, b < 0 implies a > 0; for b ≥ 0 the first
// denominator is −2d_k < 0 at t = 0 and at most −b for t > 0, which is
// negative unless b = 0, and then a = s > 0 makes √(−4ac) > 0: there is no
// division by zero anywhere. (The first form
// alone, as in nflows, cancels catastrophically when t D ≫ d_k, which
// happens with a large knot derivative at the top of a low bin.)
//
// # Parametrization
//
// On [−B, B] a Spline is the spline with K bins whose knots and interior
// derivatives are, for one block of raw parameters
//
//	φ = (w̃_0, …, w̃_{K−1}, h̃_0, …, h̃_{K−1}, d̃_1, …, d̃_{K−1})   (P = 3K − 1),
//
//	w_i = m_w + (1 − K m_w) softmax(w̃)_i,   x_j = −B + 2B Σ_{i<j} w_i,
//	h_i = m_h + (1 − K m_h) softmax(h̃)_i,   y_j = −B + 2B Σ_{i<j} h_i,
//	d_j = min(m_d + softplus(d̃_j), 10¹⁵)      (0 < j < K),
//	d_0 = d_K = 1,
//
// with x_0 = y_0 = −B and x_K = y_K = B exactly (m_w, m_h and m_d are the
// minimum width, height and derivative of SplineSettings). Outside [−B, B]
// it is the identity: these are the "linear tails" of nflows, whose boundary
// derivatives are fixed to 1 so that the map is C¹ across ±B. Only K − 1
// derivatives are therefore parameters. (The cap 10¹⁵, far above any slope
// the bins allow, only keeps absurd raw values such as 1e300 from
// overflowing; beyond it the gradient with respect to d̃_j is zero.)
//
// All raw parameters zero give uniform bins and interior derivatives
// m_d + log 2; IdentityParams gives the parameters of the identity map.
//
// In float64 the spline is monotone up to rounding: τ(x) carries an error
// of a few ε·2B, so two adjacent float64 inputs in a tall bin may map to
// outputs in reverse order by a few units in the last place; inputs further
// apart than that map in order.
//
// Forward and Inverse never produce NaN for finite inputs and finite
// parameters, at knots, at ±B, far outside the bound or with extreme raw
// parameters (softmax is computed with its maximum subtracted, softplus
// without overflow). Gradients with respect to x and φ are exact (hand-
// written through the softmax, the cumulative sums and the softplus).
//
// A Spline is immutable and safe for concurrent use. Its batch calls
// allocate nothing for K ≤ 64 and one scratch slice per call above that.
type Spline struct {
	k                int
	b                float64
	minW, minH, minD float64
}

// NewSpline returns a spline transformer with the given settings (nil means
// all defaults). It panics if a setting is out of its documented range.
func NewSpline(s *SplineSettings) *Spline {
	var c SplineSettings
	if s != nil {
		c = *s
	}
	if c.Bins == 0 {
		c.Bins = splineDefaultBins
	}
	if c.Bound == 0 {
		c.Bound = splineDefaultBound
	}
	if c.MinBinWidth == 0 {
		c.MinBinWidth = splineDefaultMin
	}
	if c.MinBinHeight == 0 {
		c.MinBinHeight = splineDefaultMin
	}
	if c.MinDerivative == 0 {
		c.MinDerivative = splineDefaultMin
	}
	switch {
	case c.Bins < 1:
		panic(fmt.Sprintf("discrete: NewSpline: %d bins", c.Bins))
	case !(c.Bound > 0) || math.IsInf(c.Bound, 1):
		panic(fmt.Sprintf("discrete: NewSpline: bound %v is not positive and finite", c.Bound))
	case !(c.MinBinWidth >= splineMinMin) || !(c.MinBinWidth*float64(c.Bins) < 1):
		panic(fmt.Sprintf("discrete: NewSpline: minimum bin width %v not in [1e-12, 1/%d)", c.MinBinWidth, c.Bins))
	case !(c.MinBinHeight >= splineMinMin) || !(c.MinBinHeight*float64(c.Bins) < 1):
		panic(fmt.Sprintf("discrete: NewSpline: minimum bin height %v not in [1e-12, 1/%d)", c.MinBinHeight, c.Bins))
	case !(c.MinDerivative >= splineMinMin && c.MinDerivative <= 1):
		panic(fmt.Sprintf("discrete: NewSpline: minimum derivative %v not in [1e-12, 1]", c.MinDerivative))
	}
	return &Spline{k: c.Bins, b: c.Bound, minW: c.MinBinWidth, minH: c.MinBinHeight, minD: c.MinDerivative}
}

// Bins returns the number of bins K.
func (s *Spline) Bins() int { return s.k }

// Bound returns B.
func (s *Spline) Bound() float64 { return s.b }

// NumParams returns 3K − 1.
func (s *Spline) NumParams() int { return 3*s.k - 1 }

// String describes the spline.
func (s *Spline) String() string { return fmt.Sprintf("Spline(K=%d, B=%g)", s.k, s.b) }

// IdentityParams sets dst to the raw parameters of the identity map (equal
// bins, all derivatives 1) and returns it; a nil dst is allocated. It panics
// if a non-nil dst does not have length NumParams.
func (s *Spline) IdentityParams(dst []float64) []float64 {
	p := s.NumParams()
	if dst == nil {
		dst = make([]float64, p)
	}
	if len(dst) != p {
		panic(fmt.Sprintf("discrete: Spline.IdentityParams: length %d, want %d", len(dst), p))
	}
	for i := range 2 * s.k {
		dst[i] = 0
	}
	// softplus(d̃) = 1 − m_d.
	d := math.Log(math.Expm1(1 - s.minD))
	for i := 2 * s.k; i < p; i++ {
		dst[i] = d
	}
	return dst
}

// Knots sets the K+1 knots xk, yk and derivatives dk of the spline on
// [−B, B] for one block φ of NumParams raw parameters, for inspection,
// plotting, or a FixedSpline. It panics on wrong lengths.
func (s *Spline) Knots(xk, yk, dk, φ []float64) {
	k := s.k
	if len(xk) != k+1 || len(yk) != k+1 || len(dk) != k+1 || len(φ) != s.NumParams() {
		panic(fmt.Sprintf("discrete: Spline.Knots: lengths %d, %d, %d, %d, want %d, %d, %d, %d",
			len(xk), len(yk), len(dk), len(φ), k+1, k+1, k+1, s.NumParams()))
	}
	p := make([]float64, k)
	softmaxKnots(xk, p, φ[:k], s.b, s.minW)
	softmaxKnots(yk, p, φ[k:2*k], s.b, s.minH)
	for j := range dk {
		dk[j] = s.deriv(φ, j)
	}
}

// deriv returns d_j for the block φ.
func (s *Spline) deriv(φ []float64, j int) float64 {
	if j == 0 || j == s.k {
		return 1
	}
	return math.Min(s.minD+tfSoftplus(φ[2*s.k+j-1]), splineMaxDerivative)
}

// derivGrad returns ∂d_j/∂d̃_j for an interior knot j.
func (s *Spline) derivGrad(φ []float64, j int) float64 {
	r := φ[2*s.k+j-1]
	if s.minD+tfSoftplus(r) >= splineMaxDerivative {
		return 0
	}
	return tfSigmoid(r)
}

// softmaxKnots sets p to softmax(raw) and knots (length K+1) to
//
//	knots_j = −B + 2B (j·m + (1 − K m) Σ_{i<j} p_i),
//
// with knots_0 = −B and knots_K = B exactly (the exact sum of the widths).
func softmaxKnots(knots, p, raw []float64, b, m float64) {
	k := len(raw)
	mx := raw[0]
	for _, v := range raw[1:] {
		if v > mx {
			mx = v
		}
	}
	sum := 0.0
	for i, v := range raw {
		e := math.Exp(v - mx)
		p[i] = e
		sum += e
	}
	inv := 1 / sum
	scale := 1 - float64(k)*m
	cum := 0.0
	knots[0] = -b
	for j := 1; j < k; j++ {
		p[j-1] *= inv
		cum += p[j-1]
		knots[j] = -b + 2*b*(float64(j)*m+scale*cum)
	}
	p[k-1] *= inv
	knots[k] = b
}

// tfCheckParams returns an error for the first non-finite raw parameter,
// naming the first element that reads its block.
func tfCheckParams(op string, φ []float64, p int) error {
	for i, v := range φ {
		if !tfFinite(v) {
			return tfNonFiniteParam(op, i/p, i%p, v)
		}
	}
	return nil
}

// splineScratch is per-call workspace: widths p (K), x knots (K+1), heights
// q (K), y knots (K+1).
type splineScratch struct {
	p, xk, q, yk []float64
}

func (s *Spline) scratch(buf []float64) splineScratch {
	k := s.k
	n := 4*k + 2
	if n > len(buf) {
		buf = make([]float64, n)
	}
	return splineScratch{p: buf[:k], xk: buf[k : 2*k+1], q: buf[2*k+1 : 3*k+1], yk: buf[3*k+1 : 4*k+2]}
}

// splineBin returns the k with knots[k] ≤ v ≤ knots[k+1], for knots[0] ≤ v ≤
// knots[K], preferring the bin that starts at v when v is a knot.
func splineBin(knots []float64, v float64) int {
	lo, hi := 0, len(knots)-1
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if knots[mid] <= v {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// Forward sets y_i = τ(x_i; φ) and, if ldj is not nil, ldj_i = log τ'(x_i).
// See Transformer.
func (s *Spline) Forward(y, ldj, x, φ []float64) error {
	return s.apply("discrete: Spline.Forward", false, y, ldj, x, φ)
}

// Inverse sets x_i = τ⁻¹(y_i; φ) and, if ldj is not nil,
// ldj_i = −log τ'(x_i). See Transformer.
func (s *Spline) Inverse(x, ldj, y, φ []float64) error {
	return s.apply("discrete: Spline.Inverse", true, x, ldj, y, φ)
}

// apply implements Forward and Inverse: in is the call's input (x, or y
// for the inverse) and out its output. Outside [−B, B] both directions are
// the identity with log-derivative 0; inside, the bin is found among the
// input's knots (x-knots forward, y-knots inverse).
func (s *Spline) apply(op string, inverse bool, out, ldj, in, φ []float64) error {
	P := s.NumParams()
	c := tfBlocks(op, P, in, out, ldj, φ)
	if err := tfCheckParams(op, φ, P); err != nil {
		return err
	}
	var buf [4*splineStackBins + 2]float64
	w := s.scratch(buf[:])
	k, b := s.k, s.b
	j := 0
	for i, v := range in {
		blk := φ[j*P : j*P+P]
		if j++; j == c {
			j = 0
		}
		if !tfFinite(v) {
			return tfNonFinite(op, i, v)
		}
		if v < -b || v > b {
			out[i] = v
			if ldj != nil {
				ldj[i] = 0
			}
			continue
		}
		softmaxKnots(w.xk, w.p, blk[:k], b, s.minW)
		softmaxKnots(w.yk, w.q, blk[k:2*k], b, s.minH)
		var o, l float64
		if inverse {
			bk := splineBin(w.yk, v)
			o, l = rqsInverse(v, w.xk[bk], w.xk[bk+1], w.yk[bk], w.yk[bk+1], s.deriv(blk, bk), s.deriv(blk, bk+1))
			l = -l
		} else {
			bk := splineBin(w.xk, v)
			o, l = rqsForward(v, w.xk[bk], w.xk[bk+1], w.yk[bk], w.yk[bk+1], s.deriv(blk, bk), s.deriv(blk, bk+1))
		}
		out[i] = o
		if ldj != nil {
			ldj[i] = l
		}
	}
	return nil
}

// ForwardVJP sets gx and adds into gφ the gradient of
// Σ_i gy_i y_i + gldj_i ldj_i through Forward. See Transformer.
func (s *Spline) ForwardVJP(gx, gφ, x, φ, gy, gldj []float64) {
	s.vjp("discrete: Spline.ForwardVJP", false, gx, gφ, x, φ, gy, gldj)
}

// InverseVJP sets gy and adds into gφ the gradient of
// Σ_i gx_i x_i + gldj_i ldj_i through Inverse. See Transformer.
func (s *Spline) InverseVJP(gy, gφ, y, φ, gx, gldj []float64) {
	s.vjp("discrete: Spline.InverseVJP", true, gy, gφ, y, φ, gx, gldj)
}

// vjp implements both VJPs. in is the primal input (x for the forward
// direction, y for the inverse), gout and gldj the cotangents of the call's
// outputs, gin the cotangent of its input.
//
// For the inverse x = τ⁻¹(y; φ), L = −ℓ(x; φ) with ℓ = log τ', the implicit
// function theorem gives, with the total cotangent on x
//
//	ḡ = gx − gL ∂ℓ/∂x,
//	gy = ḡ / τ',   gφ += −(ḡ/τ') ∂τ/∂φ − gL ∂ℓ/∂φ,
//
// which is the forward VJP at x with cotangents (−ḡ/τ', −gL).
func (s *Spline) vjp(op string, inverse bool, gin, gφ, in, φ, gout, gldj []float64) {
	P := s.NumParams()
	c := tfVJPBlocks(op, P, gin, gφ, in, φ, gout, gldj)
	var buf [4*splineStackBins + 2]float64
	w := s.scratch(buf[:])
	k, b := s.k, s.b
	j := 0
	for i, v := range in {
		off := j * P
		blk := φ[off : off+P]
		if j++; j == c {
			j = 0
		}
		gv := gout[i]
		gl := 0.0
		if gldj != nil {
			gl = gldj[i]
		}
		if v < -b || v > b {
			// Identity tail: τ = x, log τ' = 0, nothing depends on φ.
			if gin != nil {
				gin[i] = gv
			}
			continue
		}
		softmaxKnots(w.xk, w.p, blk[:k], b, s.minW)
		softmaxKnots(w.yk, w.q, blk[k:2*k], b, s.minH)
		var bk int
		var xv float64
		if inverse {
			bk = splineBin(w.yk, v)
		} else {
			bk = splineBin(w.xk, v)
		}
		x0, x1, y0, y1 := w.xk[bk], w.xk[bk+1], w.yk[bk], w.yk[bk+1]
		d0, d1 := s.deriv(blk, bk), s.deriv(blk, bk+1)
		if inverse {
			xv, _ = rqsInverse(v, x0, x1, y0, y1, d0, d1)
		} else {
			xv = v
		}
		pt := rqsPartials(xv, x0, x1, y0, y1, d0, d1)
		ga, gb := gv, gl // cotangents on τ and on ℓ
		if inverse {
			gbar := gv - gl*pt.lx
			ga, gb = -gbar/pt.dydx, -gl
			if gin != nil {
				gin[i] = gbar / pt.dydx
			}
		} else if gin != nil {
			gin[i] = ga*pt.dydx + gb*pt.lx
		}
		if gφ == nil {
			continue
		}
		gx0, gx1, gy0, gy1, gd0, gd1 := pt.knotGrads(ga, gb)
		g := gφ[off : off+P]
		softmaxKnotsVJP(g[:k], w.p, bk, gx0, gx1, b, s.minW)
		softmaxKnotsVJP(g[k:2*k], w.q, bk, gy0, gy1, b, s.minH)
		if bk > 0 {
			g[2*k+bk-1] += gd0 * s.derivGrad(blk, bk)
		}
		if bk+1 < k {
			g[2*k+bk] += gd1 * s.derivGrad(blk, bk+1)
		}
	}
}

// softmaxKnotsVJP adds into g (the K raw logits' gradient) the contribution
// of cotangents g0 on knot k and g1 on knot k+1 of softmaxKnots. With
// G_j = 2B g_j for an interior knot (the end knots are constants) and
// C_j = Σ_{i<j} p_i,
//
//	∂L/∂raw_m = (1 − K m) p_m Σ_j G_j ([m < j] − C_j).
func softmaxKnotsVJP(g, p []float64, k int, g0, g1, b, m float64) {
	K := len(p)
	var G0, G1 float64
	if k > 0 {
		G0 = 2 * b * g0
	}
	if k+1 < K {
		G1 = 2 * b * g1
	}
	if G0 == 0 && G1 == 0 {
		return
	}
	scale := 1 - float64(K)*m
	C0, C1 := 0.0, 0.0
	for i := range k {
		C0 += p[i]
	}
	C1 = C0 + p[k]
	for i, pi := range p {
		t := -G0*C0 - G1*C1
		if i < k {
			t += G0
		}
		if i < k+1 {
			t += G1
		}
		g[i] += scale * pi * t
	}
}

// rqsForward returns τ(x) and log τ'(x) in the bin [x0, x1] → [y0, y1] with
// end derivatives d0 and d1.
func rqsForward(x, x0, x1, y0, y1, d0, d1 float64) (y, l float64) {
	w, h := x1-x0, y1-y0
	s := h / w
	ξ := splineClamp01((x - x0) / w)
	θ := ξ * (1 - ξ)
	den := s + (d0+d1-2*s)*θ
	y = y0 + h*(s*ξ*ξ+d0*θ)/den
	y = math.Min(math.Max(y, y0), y1)
	m := d1*ξ*ξ + 2*s*θ + d0*(1-ξ)*(1-ξ)
	return y, math.Log(s * s * m / (den * den))
}

// rqsInverse returns τ⁻¹(y) and log τ'(τ⁻¹(y)) in the bin [x0, x1] → [y0, y1]
// with end derivatives d0 and d1, by the stable roots of Spline's documentation.
func rqsInverse(y, x0, x1, y0, y1, d0, d1 float64) (x, l float64) {
	w, h := x1-x0, y1-y0
	s := h / w
	t := splineClamp01((y - y0) / h)
	D := d0 + d1 - 2*s
	a := (s - d0) + t*D
	b := d0 - t*D
	c := -s * t
	sq := math.Sqrt(math.Max(b*b-4*a*c, 0))
	var ξ float64
	if b >= 0 {
		ξ = 2 * c / (-b - sq)
	} else {
		ξ = (sq - b) / (2 * a)
	}
	ξ = splineClamp01(ξ)
	x = math.Min(math.Max(x0+ξ*w, x0), x1)
	θ := ξ * (1 - ξ)
	den := s + D*θ
	m := d1*ξ*ξ + 2*s*θ + d0*(1-ξ)*(1-ξ)
	return x, math.Log(s * s * m / (den * den))
}

// splineClamp01 clamps v to [0, 1] (and turns −0 into 0).
func splineClamp01(v float64) float64 {
	if v <= 0 {
		return 0
	}
	if v >= 1 {
		return 1
	}
	return v
}

// rqsPart holds the partial derivatives of y = τ and ℓ = log τ' in one bin
// with respect to the local variables ξ, s, h, d0, d1, and what is needed to
// map them back to x and the knots.
type rqsPart struct {
	w, s, ξ, r       float64 // bin width, slope h/w, position, R = (y − y0)/h
	dydx, lx         float64 // τ'(x) and ∂ℓ/∂x
	yξ, ys, yd0, yd1 float64 // ∂y/∂(ξ, s, d0, d1) at fixed h
	lξ, ls, ld0, ld1 float64 // ∂ℓ/∂(ξ, s, d0, d1)
}

// rqsPartials differentiates τ and log τ' at x in one bin. With
// Num = sξ² + d0θ, Den = s + Dθ, M = d1ξ² + 2sθ + d0(1−ξ)²:
//
//	y = y0 + h Num/Den,   ℓ = 2 log s + log M − 2 log Den.
func rqsPartials(x, x0, x1, y0, y1, d0, d1 float64) rqsPart {
	w, h := x1-x0, y1-y0
	s := h / w
	ξ := splineClamp01((x - x0) / w)
	θ := ξ * (1 - ξ)
	θξ := 1 - 2*ξ
	D := d0 + d1 - 2*s
	num := s*ξ*ξ + d0*θ
	den := s + D*θ
	r := num / den
	m := d1*ξ*ξ + 2*s*θ + d0*(1-ξ)*(1-ξ)

	var p rqsPart
	p.w, p.s, p.ξ, p.r = w, s, ξ, r
	// R = Num/Den; R_v = (Num_v − R Den_v)/Den.
	p.yξ = h * ((2*s*ξ + d0*θξ) - r*D*θξ) / den
	p.ys = h * (ξ*ξ - r*(1-2*θ)) / den
	p.yd0 = h * (θ - r*θ) / den
	p.yd1 = h * (-r * θ) / den
	mξ := 2*d1*ξ + 2*s*θξ - 2*d0*(1-ξ)
	p.lξ = mξ/m - 2*D*θξ/den
	p.ls = 2/s + 2*θ/m - 2*(1-2*θ)/den
	p.ld0 = (1-ξ)*(1-ξ)/m - 2*θ/den
	p.ld1 = ξ*ξ/m - 2*θ/den
	p.dydx = s * s * m / (den * den)
	p.lx = p.lξ / w
	return p
}

// knotGrads maps cotangents ga on y and gb on ℓ to the bin's knot positions
// and derivatives, through ξ = (x − x0)/w, s = h/w, w = x1 − x0,
// h = y1 − y0.
func (p *rqsPart) knotGrads(ga, gb float64) (gx0, gx1, gy0, gy1, gd0, gd1 float64) {
	gξ := ga*p.yξ + gb*p.lξ
	gs := ga*p.ys + gb*p.ls
	gh := ga*p.r + gs/p.w
	gw := -(gξ*p.ξ + gs*p.s) / p.w
	gx0 = -gξ/p.w - gw
	gx1 = gw
	gy0 = ga - gh
	gy1 = gh
	gd0 = ga*p.yd0 + gb*p.ld0
	gd1 = ga*p.yd1 + gb*p.ld1
	return
}

// FixedSpline is a monotone rational-quadratic spline with explicit knots,
// the same for every element (NumParams is 0): an elementwise layer of fixed
// shape, or one block of a Spline frozen through Spline.Knots. Inside
// [x_0, x_K] it is the spline of Spline's documentation; outside it continues
// linearly with the boundary derivatives,
//
//	τ(x) = y_0 + d_0 (x − x_0)  for x < x_0,
//	τ(x) = y_K + d_K (x − x_K)  for x > x_K,
//
// so it is a C¹ bijection of R. With x_0 = y_0 = −B, x_K = y_K = B and
// d_0 = d_K = 1 the tails are the identity, as in Spline.
//
// A FixedSpline is immutable and safe for concurrent use; its batch calls do
// not allocate.
type FixedSpline struct {
	xk, yk, dk []float64
	ld0, ldK   float64 // log d_0, log d_K
}

// NewFixedSpline returns the spline through the knots (xk_j, yk_j) with
// derivatives dk_j, j = 0, …, K (K ≥ 1). The slices are copied. It returns an
// error if the lengths differ or are below 2, if a value is not finite, if xk
// or yk is not strictly increasing, or if a derivative or a bin's slope
// (yk_{j+1} − yk_j)/(xk_{j+1} − xk_j) lies outside [1e-15, 1e15] (the range
// in which no intermediate of the formulas can overflow).
func NewFixedSpline(xk, yk, dk []float64) (*FixedSpline, error) {
	n := len(xk)
	if n < 2 || len(yk) != n || len(dk) != n {
		return nil, fmt.Errorf("discrete: NewFixedSpline: knot lengths %d, %d, %d: want equal and at least 2", len(xk), len(yk), len(dk))
	}
	for j := range n {
		if !tfFinite(xk[j]) || !tfFinite(yk[j]) || !tfFinite(dk[j]) {
			return nil, fmt.Errorf("discrete: NewFixedSpline: knot %d (%v, %v, %v) is not finite", j, xk[j], yk[j], dk[j])
		}
		if !(dk[j] >= 1/splineMaxDerivative && dk[j] <= splineMaxDerivative) {
			return nil, fmt.Errorf("discrete: NewFixedSpline: derivative %v at knot %d is not in [1e-15, 1e15]", dk[j], j)
		}
		if j > 0 && (!(xk[j] > xk[j-1]) || !(yk[j] > yk[j-1])) {
			return nil, fmt.Errorf("discrete: NewFixedSpline: knots %d and %d are not strictly increasing", j-1, j)
		}
		if j > 0 {
			w, h := xk[j]-xk[j-1], yk[j]-yk[j-1]
			if !tfFinite(w) || !tfFinite(h) {
				return nil, fmt.Errorf("discrete: NewFixedSpline: bin %d is too wide for float64", j-1)
			}
			if sl := h / w; !(sl >= 1/splineMaxDerivative && sl <= splineMaxDerivative) {
				return nil, fmt.Errorf("discrete: NewFixedSpline: slope %v of bin %d is not in [1e-15, 1e15]", sl, j-1)
			}
		}
	}
	f := &FixedSpline{
		xk: append([]float64(nil), xk...),
		yk: append([]float64(nil), yk...),
		dk: append([]float64(nil), dk...),
	}
	f.ld0, f.ldK = math.Log(dk[0]), math.Log(dk[n-1])
	return f, nil
}

// Bins returns the number of bins K.
func (f *FixedSpline) Bins() int { return len(f.xk) - 1 }

// Knots returns copies of the knots and derivatives.
func (f *FixedSpline) Knots() (xk, yk, dk []float64) {
	return append([]float64(nil), f.xk...), append([]float64(nil), f.yk...), append([]float64(nil), f.dk...)
}

// NumParams returns 0.
func (f *FixedSpline) NumParams() int { return 0 }

// String describes the spline.
func (f *FixedSpline) String() string {
	return fmt.Sprintf("FixedSpline(K=%d, [%g, %g])", f.Bins(), f.xk[0], f.xk[len(f.xk)-1])
}

// Forward sets y_i = τ(x_i) and, if ldj is not nil, ldj_i = log τ'(x_i). φ
// must be empty. See Transformer.
func (f *FixedSpline) Forward(y, ldj, x, φ []float64) error {
	const op = "discrete: FixedSpline.Forward"
	tfBlocks(op, 0, x, y, ldj, φ)
	K := len(f.xk) - 1
	for i, xi := range x {
		if !tfFinite(xi) {
			return tfNonFinite(op, i, xi)
		}
		var yi, l float64
		switch {
		case xi < f.xk[0]:
			yi, l = f.yk[0]+f.dk[0]*(xi-f.xk[0]), f.ld0
		case xi > f.xk[K]:
			yi, l = f.yk[K]+f.dk[K]*(xi-f.xk[K]), f.ldK
		default:
			k := splineBin(f.xk, xi)
			yi, l = rqsForward(xi, f.xk[k], f.xk[k+1], f.yk[k], f.yk[k+1], f.dk[k], f.dk[k+1])
		}
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

// Inverse sets x_i = τ⁻¹(y_i) and, if ldj is not nil, ldj_i = −log τ'(x_i).
// φ must be empty. See Transformer.
func (f *FixedSpline) Inverse(x, ldj, y, φ []float64) error {
	const op = "discrete: FixedSpline.Inverse"
	tfBlocks(op, 0, y, x, ldj, φ)
	K := len(f.xk) - 1
	for i, yi := range y {
		if !tfFinite(yi) {
			return tfNonFinite(op, i, yi)
		}
		var xi, l float64
		switch {
		case yi < f.yk[0]:
			xi, l = f.xk[0]+(yi-f.yk[0])/f.dk[0], f.ld0
		case yi > f.yk[K]:
			xi, l = f.xk[K]+(yi-f.yk[K])/f.dk[K], f.ldK
		default:
			k := splineBin(f.yk, yi)
			xi, l = rqsInverse(yi, f.xk[k], f.xk[k+1], f.yk[k], f.yk[k+1], f.dk[k], f.dk[k+1])
		}
		if !tfFinite(xi) {
			return tfOverflow(op, i, yi, xi)
		}
		x[i] = xi
		if ldj != nil {
			ldj[i] = -l
		}
	}
	return nil
}

// ForwardVJP sets gx_i = gy_i τ'(x_i) + gldj_i ∂log τ'/∂x. φ and gφ must be
// empty. See Transformer.
func (f *FixedSpline) ForwardVJP(gx, gφ, x, φ, gy, gldj []float64) {
	f.vjp("discrete: FixedSpline.ForwardVJP", false, gx, gφ, x, φ, gy, gldj)
}

// InverseVJP sets gy_i = (gx_i − gldj_i ∂log τ'/∂x) / τ'(x_i) at
// x_i = τ⁻¹(y_i). φ and gφ must be empty. See Transformer.
func (f *FixedSpline) InverseVJP(gy, gφ, y, φ, gx, gldj []float64) {
	f.vjp("discrete: FixedSpline.InverseVJP", true, gy, gφ, y, φ, gx, gldj)
}

func (f *FixedSpline) vjp(op string, inverse bool, gin, gφ, in, φ, gout, gldj []float64) {
	tfVJPBlocks(op, 0, gin, gφ, in, φ, gout, gldj)
	if gin == nil {
		return
	}
	K := len(f.xk) - 1
	lo, hi := f.xk[0], f.xk[K]
	if inverse {
		lo, hi = f.yk[0], f.yk[K]
	}
	for i, v := range in {
		gv := gout[i]
		gl := 0.0
		if gldj != nil {
			gl = gldj[i]
		}
		// Linear tails: constant log-derivative.
		if v < lo || v > hi {
			d := f.dk[0]
			if v > hi {
				d = f.dk[K]
			}
			if inverse {
				gin[i] = gv / d
			} else {
				gin[i] = gv * d
			}
			continue
		}
		var k int
		xv := v
		if inverse {
			k = splineBin(f.yk, v)
			xv, _ = rqsInverse(v, f.xk[k], f.xk[k+1], f.yk[k], f.yk[k+1], f.dk[k], f.dk[k+1])
		} else {
			k = splineBin(f.xk, v)
		}
		pt := rqsPartials(xv, f.xk[k], f.xk[k+1], f.yk[k], f.yk[k+1], f.dk[k], f.dk[k+1])
		if inverse {
			gin[i] = (gv - gl*pt.lx) / pt.dydx
		} else {
			gin[i] = gv*pt.dydx + gl*pt.lx
		}
	}
}
