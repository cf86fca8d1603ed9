package discrete

import (
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
)

// TestSplineClosedForm checks one bin against values computed by hand from
// the paper's formula: on [0, 1] → [0, 1] with d_0 = 2, d_1 = 1/2, at ξ = 1/2,
//
//	τ  = (1/4 + 2·1/4) / (1 + (2 + 1/2 − 2)/4)          = 0.75/1.125 = 2/3,
//	τ' = (1/2·1/4 + 2·1/4 + 2·1/4) / 1.125²             = 1.125/1.265625 = 8/9,
//
// and the linear tails with slopes 2 and 1/2.
func TestSplineClosedForm(t *testing.T) {
	f, err := NewFixedSpline([]float64{0, 1}, []float64{0, 1}, []float64{2, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	x := []float64{0.5, -1, 3}
	want := []float64{2.0 / 3, -2, 2}
	wantL := []float64{math.Log(8.0 / 9), math.Log(2), math.Log(0.5)}
	y, l := nanSlice(3), nanSlice(3)
	if err := f.Forward(y, l, x, nil); err != nil {
		t.Fatal(err)
	}
	check.CloseEach(t, "τ", want, y, 1e-15)
	check.CloseEach(t, "log τ'", wantL, l, 1e-15)
}

// knotsOf returns the knots of one block of s.
func knotsOf(s *Spline, blk []float64) (xk, yk, dk []float64) {
	k := s.Bins()
	xk, yk, dk = make([]float64, k+1), make([]float64, k+1), make([]float64, k+1)
	s.Knots(xk, yk, dk, blk)
	return xk, yk, dk
}

// TestSplineParametrization checks the knots against their definition:
// bin widths minus the minimum are proportional to exp(w̃), sum to 2B, the
// ends are ±B, and the derivatives are m_d + softplus(d̃) with 1 at the ends.
func TestSplineParametrization(t *testing.T) {
	r := testrand.New(t)
	set := &SplineSettings{Bins: 6, Bound: 3, MinBinWidth: 0.01, MinBinHeight: 0.02, MinDerivative: 0.05}
	s := NewSpline(set)
	blk := make([]float64, s.NumParams())
	normals(2)(r, blk)
	xk, yk, dk := knotsOf(s, blk)
	k, b := 6, 3.0
	for _, c := range []struct {
		knots []float64
		raw   []float64
		min   float64
	}{{xk, blk[:k], 0.01}, {yk, blk[k : 2*k], 0.02}} {
		if c.knots[0] != -b || c.knots[k] != b {
			t.Errorf("end knots %v, %v, want ∓%v exactly", c.knots[0], c.knots[k], b)
		}
		// (w_j/2B − m)/(1 − K m) = softmax_j: compare each with the first.
		for j := range k {
			got := ((c.knots[j+1]-c.knots[j])/(2*b) - c.min) / ((c.knots[1]-c.knots[0])/(2*b) - c.min)
			want := math.Exp(c.raw[j] - c.raw[0])
			if math.Abs(got/want-1) > 1e-9 {
				t.Errorf("bin %d: width ratio %v, want exp(raw_%d − raw_0) = %v", j, got, j, want)
			}
		}
	}
	if dk[0] != 1 || dk[k] != 1 {
		t.Errorf("end derivatives %v, %v, want 1", dk[0], dk[k])
	}
	for j := 1; j < k; j++ {
		want := 0.05 + math.Log1p(math.Exp(blk[2*k+j-1]))
		if math.Abs(dk[j]-want) > 1e-14 {
			t.Errorf("d_%d = %v, want %v", j, dk[j], want)
		}
	}
}

// TestSplineAtKnots checks that the spline interpolates its knots with the
// knot derivatives, in both directions, including ±B.
func TestSplineAtKnots(t *testing.T) {
	r := testrand.New(t)
	for _, set := range []*SplineSettings{nil, {Bins: 1, Bound: 0.5}, {Bins: 13, Bound: 100}} {
		s := NewSpline(set)
		blk := make([]float64, s.NumParams())
		normals(2)(r, blk)
		xk, yk, dk := knotsOf(s, blk)
		n := len(xk)
		y, l := nanSlice(n), nanSlice(n)
		if err := s.Forward(y, l, xk, blk); err != nil {
			t.Fatal(err)
		}
		check.CloseEach(t, "τ(x_j)", yk, y, 1e-14)
		logd := make([]float64, n)
		for j, d := range dk {
			logd[j] = math.Log(d)
		}
		check.Close(t, "log τ'(x_j)", logd, l, 1e-12)
		if y[0] != -s.Bound() || y[n-1] != s.Bound() || l[0] != 0 || l[n-1] != 0 {
			t.Errorf("at ∓B: τ = %v, %v, ldj = %v, %v; want ∓B exactly and 0", y[0], y[n-1], l[0], l[n-1])
		}
		x, li := nanSlice(n), nanSlice(n)
		if err := s.Inverse(x, li, yk, blk); err != nil {
			t.Fatal(err)
		}
		check.CloseEach(t, "τ⁻¹(y_j)", xk, x, 1e-13)
		for j := range logd {
			logd[j] = -logd[j]
		}
		check.Close(t, "log (τ⁻¹)'(y_j)", logd, li, 1e-12)
	}
}

// TestSplineIdentityParams checks that IdentityParams gives the identity.
func TestSplineIdentityParams(t *testing.T) {
	s := NewSpline(&SplineSettings{Bins: 5, Bound: 2})
	blk := s.IdentityParams(nil)
	x := []float64{-3, -2, -1.3, -0.2, 0, 0.7, 1.999, 2, 5}
	y, l := nanSlice(len(x)), nanSlice(len(x))
	if err := s.Forward(y, l, x, blk); err != nil {
		t.Fatal(err)
	}
	check.CloseEach(t, "identity", x, y, 1e-14)
	check.Close(t, "identity ldj", make([]float64, len(x)), l, 1e-13)
}

// TestSplineFarOutside checks the identity tails far from the bound: exact
// values, zero log-derivative, gradients that pass straight through and no
// parameter gradient.
func TestSplineFarOutside(t *testing.T) {
	r := testrand.New(t)
	s := NewSpline(nil)
	p := s.NumParams()
	x := []float64{-1e6, 1e6, -1e300, 1e300, -math.MaxFloat64, math.MaxFloat64, math.Nextafter(5, 6), math.Nextafter(-5, -6), 5.5}
	m := len(x)
	φ := make([]float64, m*p)
	normals(50)(r, φ)
	y, l := nanSlice(m), nanSlice(m)
	if err := s.Forward(y, l, x, φ); err != nil {
		t.Fatal(err)
	}
	check.Unchanged(t, "far outside: τ(x) = x", x, y)
	check.Unchanged(t, "far outside: ldj = 0", make([]float64, m), l)
	xr, lr := nanSlice(m), nanSlice(m)
	if err := s.Inverse(xr, lr, x, φ); err != nil {
		t.Fatal(err)
	}
	check.Unchanged(t, "far outside: τ⁻¹(y) = y", x, xr)
	check.Unchanged(t, "far outside: inverse ldj = 0", make([]float64, m), lr)
	g := make([]float64, m)
	normals(1)(r, g)
	for _, vjp := range []func(gin, gφ, in, φ, gout, gldj []float64){s.ForwardVJP, s.InverseVJP} {
		gin, gφ := nanSlice(m), make([]float64, len(φ))
		vjp(gin, gφ, x, φ, g, g)
		check.Unchanged(t, "far outside: gin = gout", g, gin)
		check.Unchanged(t, "far outside: gφ = 0", make([]float64, len(φ)), gφ)
	}
}

// extremeBlocks returns raw parameter blocks at the edges of what a network
// may produce: saturated, all equal, alternating, a huge spread.
func extremeBlocks(r *rand.Rand, k int) map[string][]float64 {
	p := 3*k - 1
	fill := func(f func(i int) float64) []float64 {
		b := make([]float64, p)
		for i := range b {
			b[i] = f(i)
		}
		return b
	}
	return map[string][]float64{
		"all +50":       fill(func(int) float64 { return 50 }),
		"all −50":       fill(func(int) float64 { return -50 }),
		"all zero":      fill(func(int) float64 { return 0 }),
		"alternating":   fill(func(i int) float64 { return 50 * float64(1-2*(i%2)) }),
		"huge spread":   fill(func(int) float64 { return 1e3 * r.NormFloat64() }),
		"normal·50":     fill(func(int) float64 { return 50 * r.NormFloat64() }),
		"widths ≫":      fill(func(i int) float64 { return map[bool]float64{true: 700, false: -700}[i < k] }),
		"one wide bin":  fill(func(i int) float64 { return map[bool]float64{true: 300, false: 0}[i == 0 || i == k+k/2] }),
		"derivs +1e3":   fill(func(i int) float64 { return map[bool]float64{true: 1e3, false: 0}[i >= 2*k] }),
		"derivs −1e3":   fill(func(i int) float64 { return map[bool]float64{true: -1e3, false: 1}[i >= 2*k] }),
		"max float":     fill(func(i int) float64 { return math.MaxFloat64 * float64(1-2*(i%2)) }),
		"smallest diff": fill(func(i int) float64 { return 1 + float64(i%2)*1e-16 }),
	}
}

// roundTripOK reports whether xr = τ⁻¹(τ(x)), y = τ(x), is acceptable for a
// spline with possibly extreme parameters: either
//
//   - the forward error |xr − x| is at most 1e-10·max(1, |x|), the round
//     trip required of every transformer; or
//   - the backward error |τ(xr) − y| is at most 1e-13·max(B, |y|), about
//     100 units in the last place (τ itself is evaluated to a few ε·2B).
//
// The second is needed where τ is very flat (τ' far below 1e-3, reachable
// only with extreme raw parameters or a bin much wider than |x|): y, known
// to rounding, then does not determine x to 1e-10. Neither condition is
// loose: an inverse off by δ in x fails both once δ exceeds 1e-10·max(1,|x|)
// and τ'δ exceeds 100 ulps of y.
func roundTripOK(s Transformer, x, xr, y float64, blk []float64, b float64) bool {
	if math.Abs(xr-x) <= 1e-10*math.Max(1, math.Abs(x)) {
		return true
	}
	yr := []float64{0}
	if err := s.Forward(yr, nil, []float64{xr}, blk); err != nil {
		return false
	}
	return math.Abs(yr[0]-y) <= 1e-13*math.Max(b, math.Abs(y))
}

// roundingSlack is how far τ may decrease between two adjacent float64
// inputs: τ is increasing in exact arithmetic, but y = y_k + h R(ξ) carries
// a rounding error of a few ε·h, which exceeds the spacing of float64
// numbers near y when |y| ≪ h (the middle of a tall bin that straddles 0).
// 64ε·max(B, |y|) bounds it (h ≤ 2B). Points further apart than the error
// are required to increase strictly.
func roundingSlack(b, y float64) float64 {
	return 64 * 0x1p-52 * math.Max(b, math.Abs(y))
}

// checkSplineBlock runs a dense grid, every knot and its neighbours in
// float64, and points outside the bound through s with one block: every
// output finite, τ non-decreasing up to rounding (and strictly increasing
// where the rise is far above rounding), round trips within
// roundTripOK, VJPs finite.
func checkSplineBlock(t *testing.T, name string, s *Spline, blk []float64) {
	t.Helper()
	b := s.Bound()
	xk, yk, _ := knotsOf(s, blk)
	var x []float64
	for i := 0; i <= 400; i++ {
		x = append(x, -1.2*b+2.4*b*float64(i)/400)
	}
	for _, v := range append(xk, -1e6, 1e6) {
		x = append(x, v, math.Nextafter(v, math.Inf(-1)), math.Nextafter(v, math.Inf(1)))
	}
	sort.Float64s(x)
	m := len(x)
	y, l := nanSlice(m), nanSlice(m)
	if err := s.Forward(y, l, x, blk); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !check.Finite(t, name+": τ", y) || !check.Finite(t, name+": ldj", l) {
		return
	}
	for i := 1; i < m; i++ {
		// Strict increase is required where both the step Δx and the rise
		// τ'·Δx, estimated at the flatter end, are far above rounding: x
		// enters through ξ = (x − x_k)/w, resolved only to ε·w, and in a bin
		// of minimum height next to a huge knot derivative τ' can be 1e-14,
		// a plateau constant in float64.
		dx := x[i] - x[i-1]
		rise := math.Exp(math.Min(l[i], l[i-1])) * dx
		if y[i] < y[i-1]-roundingSlack(b, y[i]) || (dx > 1e-6*b && rise > 1e-8*math.Max(b, math.Abs(y[i])) && !(y[i] > y[i-1])) {
			t.Errorf("%s: not increasing: τ(%.17g) = %.17g, τ(%.17g) = %.17g", name, x[i-1], y[i-1], x[i], y[i])
			return
		}
	}
	xr, lr := nanSlice(m), nanSlice(m)
	if err := s.Inverse(xr, lr, y, blk); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	check.Finite(t, name+": τ⁻¹", xr)
	check.Finite(t, name+": inverse ldj", lr)
	for i := range x {
		if !roundTripOK(s, x[i], xr[i], y[i], blk, b) {
			t.Errorf("%s: τ⁻¹(τ(%.17g)) = %.17g (τ = %.17g, ldj %.4g)", name, x[i], xr[i], y[i], l[i])
			return
		}
	}
	// The inverse at the y knots and their neighbours.
	var yy []float64
	for _, v := range yk {
		yy = append(yy, v, math.Nextafter(v, math.Inf(-1)), math.Nextafter(v, math.Inf(1)))
	}
	sort.Float64s(yy)
	xx := nanSlice(len(yy))
	if err := s.Inverse(xx, nil, yy, blk); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	check.Finite(t, name+": τ⁻¹ at y knots", xx)
	for i := 1; i < len(xx); i++ {
		if xx[i] < xx[i-1]-roundingSlack(b, xx[i]) {
			t.Errorf("%s: τ⁻¹ decreasing at y knot: %v, %v", name, xx[i-1], xx[i])
		}
	}
	g := make([]float64, m)
	for i := range g {
		g[i] = 1
	}
	gin, gφ := nanSlice(m), make([]float64, len(blk))
	s.ForwardVJP(gin, gφ, x, blk, g, g)
	check.Finite(t, name+": ForwardVJP gx", gin)
	check.Finite(t, name+": ForwardVJP gφ", gφ)
	s.InverseVJP(gin, gφ, y, blk, g, g)
	check.Finite(t, name+": InverseVJP gy", gin)
	check.Finite(t, name+": InverseVJP gφ", gφ)
}

// TestSplineExtreme checks splines with extreme raw parameters, for several
// numbers of bins and bounds: no NaN, monotone, invertible, at the knots, at
// ±B and far outside.
func TestSplineExtreme(t *testing.T) {
	r := testrand.New(t)
	for _, set := range []*SplineSettings{
		nil,
		{Bins: 1, Bound: 1},
		{Bins: 2, Bound: 1e-3},
		{Bins: 32, Bound: 1e4},
		{Bins: 8, Bound: 3, MinBinWidth: 1e-6, MinBinHeight: 1e-6, MinDerivative: 1e-6},
	} {
		s := NewSpline(set)
		for name, blk := range extremeBlocks(r, s.Bins()) {
			checkSplineBlock(t, s.String()+" "+name, s, blk)
		}
	}
}

// TestSplineNonFiniteParams checks that a NaN or infinite raw parameter is an
// error even for elements in the identity tails.
func TestSplineNonFiniteParams(t *testing.T) {
	s := NewSpline(nil)
	blk := s.IdentityParams(nil)
	blk[3] = math.Inf(-1)
	err := s.Forward(nanSlice(1), nil, []float64{100}, blk)
	var ee *ElementError
	if !errors.As(err, &ee) || !errors.Is(err, odeflow.ErrNonFinite) || ee.Index != 0 || ee.Value != math.Inf(-1) {
		t.Errorf("error %v, want an ElementError for parameter 3 of element 0", err)
	}
}

// TestFixedSplineMatchesSpline checks that a FixedSpline built from a block's
// knots is the same map as the Spline with that block, inside and outside.
func TestFixedSplineMatchesSpline(t *testing.T) {
	r := testrand.New(t)
	s := NewSpline(&SplineSettings{Bins: 7, Bound: 2})
	blk := make([]float64, s.NumParams())
	normals(1.5)(r, blk)
	f, err := NewFixedSpline(knotsOf(s, blk))
	if err != nil {
		t.Fatal(err)
	}
	if f.Bins() != 7 {
		t.Errorf("Bins = %d, want 7", f.Bins())
	}
	x := make([]float64, 200)
	for i := range x {
		x[i] = -3 + 6*r.Float64()
	}
	y1, l1, y2, l2 := nanSlice(200), nanSlice(200), nanSlice(200), nanSlice(200)
	if err := s.Forward(y1, l1, x, blk); err != nil {
		t.Fatal(err)
	}
	if err := f.Forward(y2, l2, x, nil); err != nil {
		t.Fatal(err)
	}
	check.CloseEach(t, "FixedSpline τ", y1, y2, 1e-15)
	check.Close(t, "FixedSpline ldj", l1, l2, 1e-15)
	xk, _, _ := f.Knots()
	xk[0] = 99 // a copy
	if xk2, _, _ := f.Knots(); xk2[0] != -2 {
		t.Error("Knots does not return a copy")
	}
}

// TestNewFixedSplineErrors checks the validation of explicit knots.
func TestNewFixedSplineErrors(t *testing.T) {
	ok := []float64{0, 1, 2}
	for name, c := range map[string][3][]float64{
		"short":          {{0}, {0}, {1}},
		"lengths":        {ok, ok, {1, 1}},
		"not increasing": {{0, 2, 1}, ok, {1, 1, 1}},
		"flat y":         {ok, {0, 1, 1}, {1, 1, 1}},
		"zero deriv":     {ok, ok, {1, 0, 1}},
		"huge deriv":     {ok, ok, {1, 1e16, 1}},
		"steep bin":      {{0, 1e-16, 1}, ok, {1, 1, 1}},
		"NaN":            {ok, {0, math.NaN(), 2}, {1, 1, 1}},
		"Inf":            {{0, 1, math.Inf(1)}, ok, {1, 1, 1}},
		"too wide":       {{-math.MaxFloat64, 0, math.MaxFloat64}, ok, {1, 1, 1}},
	} {
		if _, err := NewFixedSpline(c[0], c[1], c[2]); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzSpline checks random splines at random points: finite outputs,
// monotonicity, round trips, finite VJPs, and errors (not NaN) for
// non-finite inputs. The seed corpus in testdata/fuzz/FuzzSpline holds knots,
// the bound, far-outside points and extreme parameter scales; plain `go
// test` runs it.
func FuzzSpline(f *testing.F) {
	f.Add(uint8(8), 5.0, uint64(1), 1.0, 0.3)
	f.Fuzz(func(t *testing.T, bins uint8, bound float64, seed uint64, scale float64, x float64) {
		k := 1 + int(bins%48)
		b := math.Abs(bound)
		if !(b >= 1e-3 && b <= 1e6) {
			b = 5
		}
		scale = math.Abs(scale)
		if !(scale <= 1e3) {
			scale = 1e3
		}
		s := NewSpline(&SplineSettings{Bins: k, Bound: b})
		r := rand.New(rand.NewPCG(seed, seed^0x5eed))
		blk := make([]float64, s.NumParams())
		for i := range blk {
			blk[i] = scale * r.NormFloat64()
		}
		if !tfFinite(x) {
			err := s.Forward(nanSlice(1), nil, []float64{x}, blk)
			if !errors.Is(err, odeflow.ErrNonFinite) {
				t.Fatalf("Forward(%v): error %v, want ErrNonFinite", x, err)
			}
			err = s.Inverse(nanSlice(1), nil, []float64{x}, blk)
			if !errors.Is(err, odeflow.ErrNonFinite) {
				t.Fatalf("Inverse(%v): error %v, want ErrNonFinite", x, err)
			}
			return
		}
		// The fuzzed point, its neighbours, the same point scaled into the
		// bound, and the nearest knot.
		xk, _, _ := knotsOf(s, blk)
		in := math.Mod(x, b)
		j := splineBin(xk, math.Max(-b, math.Min(b, in)))
		pts := []float64{x, in, xk[j], xk[j+1]}
		for _, v := range []float64{math.Nextafter(x, math.Inf(-1)), math.Nextafter(x, math.Inf(1))} {
			if tfFinite(v) {
				pts = append(pts, v)
			}
		}
		sort.Float64s(pts)
		m := len(pts)
		y, l := nanSlice(m), nanSlice(m)
		if err := s.Forward(y, l, pts, blk); err != nil {
			t.Fatal(err)
		}
		check.Finite(t, "τ", y)
		check.Finite(t, "ldj", l)
		for i := 1; i < m; i++ {
			if y[i] < y[i-1]-roundingSlack(b, y[i]) {
				t.Fatalf("decreasing: τ(%.17g) = %.17g > τ(%.17g) = %.17g", pts[i-1], y[i-1], pts[i], y[i])
			}
		}
		xr, lr := nanSlice(m), nanSlice(m)
		if err := s.Inverse(xr, lr, y, blk); err != nil {
			t.Fatal(err)
		}
		check.Finite(t, "τ⁻¹", xr)
		check.Finite(t, "inverse ldj", lr)
		for i := range pts {
			if !roundTripOK(s, pts[i], xr[i], y[i], blk, b) {
				t.Fatalf("τ⁻¹(τ(%.17g)) = %.17g", pts[i], xr[i])
			}
		}
		g := []float64{1, -1, 0.5, 2, -3, 1}[:m]
		gin, gφ := nanSlice(m), make([]float64, len(blk))
		s.ForwardVJP(gin, gφ, pts, blk, g, g)
		check.Finite(t, "ForwardVJP", append(gin, gφ...))
		s.InverseVJP(gin, gφ, y, blk, g, g)
		check.Finite(t, "InverseVJP", append(gin, gφ...))
	})
}
