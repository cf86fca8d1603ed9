package discrete

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
)

// tfCase is one transformer of the shared property suite, with a sampler for
// inputs inside its domain and for raw parameters, and a predicate that keeps
// finite-difference probes away from points where the map is only C¹ (spline
// knots, the kink of a leaky ReLU).
type tfCase struct {
	name  string
	t     Transformer
	x     func(r *rand.Rand) float64          // one input in the domain
	φ     func(r *rand.Rand, dst []float64)   // one block of raw parameters
	avoid func(x float64, blk []float64) bool // true: too close to a kink for fd
}

func uniform(lo, hi float64) func(r *rand.Rand) float64 {
	return func(r *rand.Rand) float64 { return lo + (hi-lo)*r.Float64() }
}

func normals(scale float64) func(r *rand.Rand, dst []float64) {
	return func(r *rand.Rand, dst []float64) {
		for i := range dst {
			dst[i] = scale * r.NormFloat64()
		}
	}
}

// nearKnot reports whether a finite-difference probe of the spline s with
// raw block blk at x is unreliable: x or τ(x) within margin of a knot (the
// bound ±B included), where the second derivative jumps, or τ'(x) outside
// [1/20, 20], where one direction is so steep that its higher derivatives,
// of order (τ')^±k, swamp even the fourth-order reference. The formulas are
// the same at every point of a bin; the steep regime is covered by the
// round-trip, monotonicity and finiteness tests of spline_test.go.
func nearKnot(s *Spline, x float64, blk []float64, margin float64) bool {
	k := s.Bins()
	xk, yk, dk := make([]float64, k+1), make([]float64, k+1), make([]float64, k+1)
	s.Knots(xk, yk, dk, blk)
	y, l := []float64{0}, []float64{0}
	if err := s.Forward(y, l, []float64{x}, blk); err != nil {
		panic(err)
	}
	if math.Abs(l[0]) > math.Log(20) {
		return true
	}
	for j := range xk {
		if math.Abs(x-xk[j]) < margin || math.Abs(y[0]-yk[j]) < margin {
			return true
		}
	}
	return false
}

func splineCase(name string, set *SplineSettings, scale float64) tfCase {
	s := NewSpline(set)
	b := s.Bound()
	return tfCase{
		name: name, t: s,
		x: uniform(-1.4*b, 1.4*b),
		φ: normals(scale),
		avoid: func(x float64, blk []float64) bool {
			return nearKnot(s, x, blk, 1e-4*b)
		},
	}
}

// fixedSplineCase is a FixedSpline with random knots and non-unit boundary
// derivatives, so that its linear tails are not the identity.
func fixedSplineCase(r *rand.Rand) tfCase {
	const k = 5
	xk, yk, dk := make([]float64, k+1), make([]float64, k+1), make([]float64, k+1)
	xk[0], yk[0] = -2+r.Float64(), -3+r.Float64()
	for j := 1; j <= k; j++ {
		xk[j] = xk[j-1] + 0.2 + r.Float64()
		yk[j] = yk[j-1] + 0.1 + 2*r.Float64()
	}
	for j := range dk {
		dk[j] = 0.2 + 3*r.Float64()
	}
	f, err := NewFixedSpline(xk, yk, dk)
	if err != nil {
		panic(err)
	}
	return tfCase{
		name: "FixedSpline", t: f,
		x: uniform(xk[0]-2, xk[k]+2),
		avoid: func(x float64, _ []float64) bool {
			for _, v := range xk {
				if math.Abs(x-v) < 1e-4 {
					return true
				}
			}
			return false
		},
	}
}

func awayFrom0(margin float64) func(x float64, _ []float64) bool {
	return func(x float64, _ []float64) bool { return math.Abs(x) < margin }
}

// tfCases returns the suite: every transformer of the package, with some of
// their settings and inverses. Finite differences use check.Central4: near a
// saturation (tanh close to ±1), a singular point (x^p at 0) or in a narrow
// spline bin the curvature of one direction is of order 1/d at distance d,
// and fd.Central's truncation error (h/d)² would exceed check.Tol where the
// fourth-order formula's (h/d)⁴ does not. Raw spline parameters have the
// scale of an initialized network's outputs here; extreme ones are tested by
// TestSplineExtreme and FuzzSpline.
func tfCases(r *rand.Rand) []tfCase {
	return []tfCase{
		splineCase("Spline", nil, 1),
		splineCase("Spline/K=1,B=2", &SplineSettings{Bins: 1, Bound: 2}, 1.5),
		splineCase("Spline/K=3,min=0.05", &SplineSettings{Bins: 3, Bound: 1, MinBinWidth: 0.05, MinBinHeight: 0.02, MinDerivative: 0.1}, 2),
		splineCase("Spline/K=70", &SplineSettings{Bins: 70, Bound: 4}, 1),
		func() tfCase {
			s := NewSpline(&SplineSettings{Bins: 4, Bound: 2})
			return tfCase{name: "Invert(Spline)", t: Invert(s), x: uniform(-3, 3), φ: normals(1.5),
				avoid: func(y float64, blk []float64) bool {
					xk := make([]float64, 1)
					if err := s.Inverse(xk, nil, []float64{y}, blk); err != nil {
						panic(err)
					}
					return nearKnot(s, xk[0], blk, 2e-4)
				}}
		}(),
		fixedSplineCase(r),
		{name: "Affine", t: Affine{}, x: uniform(-4, 4), φ: normals(1)},
		{name: "Affine/bound=2", t: Affine{Bound: 2}, x: uniform(-4, 4), φ: normals(2)},
		{name: "Shift", t: Shift{}, x: uniform(-4, 4), φ: normals(2)},
		{name: "Exp", t: Exp{}, x: uniform(-4, 4)},
		{name: "Invert(Exp)", t: Invert(Exp{}), x: uniform(0.02, 20)},
		{name: "Sigmoid", t: Sigmoid{}, x: uniform(-6, 6)},
		{name: "Sigmoid/alpha=0.05", t: Sigmoid{Alpha: 0.05}, x: uniform(-6, 6)},
		{name: "Logit/alpha=0.05", t: Logit(0.05), x: uniform(0, 1)},
		{name: "Logit", t: Logit(0), x: uniform(0.01, 0.99)},
		{name: "Tanh", t: Tanh{}, x: uniform(-4, 4)},
		{name: "Invert(Tanh)", t: Invert(Tanh{}), x: uniform(-0.999, 0.999)},
		{name: "Softplus", t: Softplus{}, x: uniform(-8, 8)},
		{name: "Invert(Softplus)", t: Invert(Softplus{}), x: uniform(0.01, 10)},
		{name: "LeakyReLU", t: LeakyReLU{}, x: uniform(-5, 5), avoid: awayFrom0(1e-4)},
		{name: "LeakyReLU/slope=0.3", t: LeakyReLU{Slope: 0.3}, x: uniform(-5, 5), avoid: awayFrom0(1e-4)},
		{name: "SignedPower/p=3", t: SignedPower{Power: 3}, x: uniform(-3, 3), avoid: awayFrom0(0.05)},
		{name: "SignedPower/p=0.4", t: SignedPower{Power: 0.4}, x: uniform(-3, 3), avoid: awayFrom0(0.05)},
		{name: "SoftClip", t: SoftClip{}, x: uniform(-3, 3)},
		{name: "SoftClip/B=3,k=3", t: SoftClip{Bound: 3, Sharpness: 3}, x: uniform(-6, 6)},
		{name: "Invert(SoftClip)", t: Invert(SoftClip{Bound: 2}), x: uniform(-1.9, 1.9)},
	}
}

// sample draws m inputs and c parameter blocks for tc, redrawing inputs that
// fall too close to a kink for finite differences.
func (tc tfCase) sample(r *rand.Rand, m, c int) (x, φ []float64) {
	p := tc.t.NumParams()
	φ = make([]float64, c*p)
	if p > 0 {
		for j := range c {
			tc.φ(r, φ[j*p:(j+1)*p])
		}
	}
	x = make([]float64, m)
	for i := range x {
		for {
			x[i] = tc.x(r)
			var blk []float64
			if p > 0 {
				j := i % c
				blk = φ[j*p : (j+1)*p]
			}
			if tc.avoid == nil || !tc.avoid(x[i], blk) {
				break
			}
		}
	}
	return x, φ
}

const tfM = 12 // elements per batch in the suite (divisible by the layouts below)

// tfLayouts are the parameter-block counts c tried: one block per element,
// one per column of a 4-column batch, one shared block.
var tfLayouts = []int{tfM, 4, 1}

func forEachCase(t *testing.T, f func(t *testing.T, tc tfCase, r *rand.Rand)) {
	r := testrand.New(t)
	for _, tc := range tfCases(r) {
		t.Run(tc.name, func(t *testing.T) { f(t, tc, testrand.New(t)) })
	}
}

func forEachLayout(t *testing.T, tc tfCase, f func(t *testing.T, c int)) {
	layouts := tfLayouts
	if tc.t.NumParams() == 0 {
		layouts = []int{0}
	}
	for _, c := range layouts {
		t.Run(fmt.Sprintf("c=%d", c), func(t *testing.T) { f(t, c) })
	}
}

func nanSlice(m int) []float64 {
	s := make([]float64, m)
	check.NaNFill(s)
	return s
}

// TestTransformerRoundTrip checks Inverse(Forward(x)) = x to 1e-10, that the
// inverse's log-derivative is minus the forward one, that outputs are fully
// written (NaN-prefilled) and inputs unchanged, and that in-place calls agree.
func TestTransformerRoundTrip(t *testing.T) {
	forEachCase(t, func(t *testing.T, tc tfCase, r *rand.Rand) {
		forEachLayout(t, tc, func(t *testing.T, c int) {
			x, φ := tc.sample(r, tfM, c)
			x0, φ0 := check.Clone(x), check.Clone(φ)
			y, ly := nanSlice(tfM), nanSlice(tfM)
			if err := tc.t.Forward(y, ly, x, φ); err != nil {
				t.Fatal(err)
			}
			check.Finite(t, "y", y)
			check.Finite(t, "forward ldj", ly)
			y0 := check.Clone(y)
			xr, lx := nanSlice(tfM), nanSlice(tfM)
			if err := tc.t.Inverse(xr, lx, y, φ); err != nil {
				t.Fatal(err)
			}
			check.CloseEach(t, "Inverse(Forward(x))", x, xr, 1e-10)
			neg := make([]float64, tfM)
			for i, v := range ly {
				neg[i] = -v
			}
			check.CloseEach(t, "inverse ldj", neg, lx, 1e-9)
			check.Unchanged(t, "x", x0, x)
			check.Unchanged(t, "φ", φ0, φ)
			check.Unchanged(t, "y", y0, y)

			// nil ldj gives the same values.
			y2 := nanSlice(tfM)
			if err := tc.t.Forward(y2, nil, x, φ); err != nil {
				t.Fatal(err)
			}
			check.Unchanged(t, "Forward with nil ldj", y, y2)

			// In place.
			in := check.Clone(x)
			if err := tc.t.Forward(in, nil, in, φ); err != nil {
				t.Fatal(err)
			}
			check.Unchanged(t, "in-place Forward", y, in)
			if err := tc.t.Inverse(in, nil, in, φ); err != nil {
				t.Fatal(err)
			}
			check.Unchanged(t, "in-place Inverse", xr, in)
		})
	})
}

// TestTransformerLogDeriv checks ldj against the log of the finite-difference
// derivative, in both directions.
func TestTransformerLogDeriv(t *testing.T) {
	forEachCase(t, func(t *testing.T, tc tfCase, r *rand.Rand) {
		forEachLayout(t, tc, func(t *testing.T, c int) {
			x, φ := tc.sample(r, tfM, c)
			y, ly := nanSlice(tfM), nanSlice(tfM)
			if err := tc.t.Forward(y, ly, x, φ); err != nil {
				t.Fatal(err)
			}
			for _, dir := range []struct {
				name string
				f    func(out, ldj, in, φ []float64) error
				in   []float64
			}{{"Forward", tc.t.Forward, x}, {"Inverse", tc.t.Inverse, y}} {
				ldj := nanSlice(tfM)
				if err := dir.f(nanSlice(tfM), ldj, dir.in, φ); err != nil {
					t.Fatal(err)
				}
				j := check.JacobianWith(func(out, in []float64) {
					if err := dir.f(out, nil, in, φ); err != nil {
						panic(err)
					}
				}, tfM, dir.in, check.Central4)
				want := make([]float64, tfM)
				for i := range want {
					want[i] = math.Log(j.At(i, i))
					for k := range tfM {
						// Rounding noise of the stencil is about ε|τ|/h.
						if k != i && math.Abs(j.At(i, k)) > 1e-8*math.Max(1, math.Abs(j.At(i, i))) {
							t.Fatalf("%s: element %d depends on element %d", dir.name, i, k)
						}
					}
				}
				check.Close(t, dir.name+" ldj vs log fd derivative", want, ldj, check.Tol)
			}
		})
	})
}

// TestTransformerVJP checks both VJPs, with respect to the input and the raw
// parameters, against finite differences of (output, ldj), for every
// parameter layout; that gφ is added to; that nil gldj means zero; and that
// nil destinations are skipped.
func TestTransformerVJP(t *testing.T) {
	forEachCase(t, func(t *testing.T, tc tfCase, r *rand.Rand) {
		forEachLayout(t, tc, func(t *testing.T, c int) {
			x, φ := tc.sample(r, tfM, c)
			y := nanSlice(tfM)
			if err := tc.t.Forward(y, nil, x, φ); err != nil {
				t.Fatal(err)
			}
			np := len(φ)
			for _, dir := range []struct {
				name string
				f    func(out, ldj, in, φ []float64) error
				vjp  func(gin, gφ, in, φ, gout, gldj []float64)
				in   []float64
			}{
				{"Forward", tc.t.Forward, tc.t.ForwardVJP, x},
				{"Inverse", tc.t.Inverse, tc.t.InverseVJP, y},
			} {
				// z = (in, φ) ↦ (out, ldj).
				z := append(check.Clone(dir.in), φ...)
				f := func(o, z []float64) {
					if err := dir.f(o[:tfM], o[tfM:], z[:tfM], z[tfM:]); err != nil {
						panic(err)
					}
				}
				a := make([]float64, 2*tfM)
				for i := range a {
					a[i] = r.NormFloat64()
				}
				want := check.VJPRefWith(f, 2*tfM, z, a, check.Central4)

				gout, gldj := check.Clone(a[:tfM]), check.Clone(a[tfM:])
				in0, φ0 := check.Clone(dir.in), check.Clone(φ)
				gin := nanSlice(tfM)
				base := make([]float64, np)
				for i := range base {
					base[i] = r.NormFloat64()
				}
				gφ := check.Clone(base)
				dir.vjp(gin, gφ, dir.in, φ, gout, gldj)
				check.Close(t, dir.name+"VJP gin", want[:tfM], gin, check.Tol)
				for i := range gφ {
					gφ[i] -= base[i]
				}
				check.Close(t, dir.name+"VJP gφ (added)", want[tfM:], gφ, check.Tol)
				check.Unchanged(t, "in", in0, dir.in)
				check.Unchanged(t, "φ", φ0, φ)
				check.Unchanged(t, "gout", a[:tfM], gout)
				check.Unchanged(t, "gldj", a[tfM:], gldj)

				// nil gldj is zero; nil gφ is skipped.
				wantOut := check.VJPRefWith(f, 2*tfM, z, append(check.Clone(a[:tfM]), make([]float64, tfM)...), check.Central4)
				gin2 := nanSlice(tfM)
				dir.vjp(gin2, nil, dir.in, φ, gout, nil)
				check.Close(t, dir.name+"VJP gin, nil gldj", wantOut[:tfM], gin2, check.Tol)
				// nil gin is skipped, gφ still computed.
				if np > 0 {
					gφ2 := make([]float64, np)
					dir.vjp(nil, gφ2, dir.in, φ, gout, gldj)
					check.Close(t, dir.name+"VJP gφ with nil gin", want[tfM:], gφ2, check.Tol)
				}
				// In place: gin == gout.
				g := check.Clone(gout)
				dir.vjp(g, nil, dir.in, φ, g, gldj)
				check.Unchanged(t, dir.name+"VJP in place", gin, g)
			}
		})
	})
}

// TestTransformerBroadcast checks that a shared parameter block gives the
// same values as the block repeated for every element, and that the shared
// block's gradient is the sum of the per-element gradients.
func TestTransformerBroadcast(t *testing.T) {
	forEachCase(t, func(t *testing.T, tc tfCase, r *rand.Rand) {
		p := tc.t.NumParams()
		if p == 0 {
			return
		}
		const c = 4
		x, φ := tc.sample(r, tfM, c)
		full := make([]float64, tfM*p)
		for i := range tfM {
			copy(full[i*p:], φ[(i%c)*p:(i%c+1)*p])
		}
		y1, l1 := nanSlice(tfM), nanSlice(tfM)
		y2, l2 := nanSlice(tfM), nanSlice(tfM)
		if err := tc.t.Forward(y1, l1, x, φ); err != nil {
			t.Fatal(err)
		}
		if err := tc.t.Forward(y2, l2, x, full); err != nil {
			t.Fatal(err)
		}
		check.Unchanged(t, "broadcast y", y2, y1)
		check.Unchanged(t, "broadcast ldj", l2, l1)
		gy := make([]float64, tfM)
		for i := range gy {
			gy[i] = r.NormFloat64()
		}
		g1, g2 := make([]float64, len(φ)), make([]float64, len(full))
		tc.t.ForwardVJP(nil, g1, x, φ, gy, gy)
		tc.t.ForwardVJP(nil, g2, x, full, gy, gy)
		sum := make([]float64, len(φ))
		for i := range tfM {
			for k := range p {
				sum[(i%c)*p+k] += g2[i*p+k]
			}
		}
		check.Close(t, "broadcast gφ", sum, g1, 1e-12)
	})
}

// TestTransformerMonotone checks that each map is strictly increasing on a
// sorted grid of inputs, for one shared parameter block.
func TestTransformerMonotone(t *testing.T) {
	forEachCase(t, func(t *testing.T, tc tfCase, r *rand.Rand) {
		const m = 2000
		c := 0
		if tc.t.NumParams() > 0 {
			c = 1
		}
		x, φ := tc.sample(r, m, c)
		x = x[:0]
		for range m {
			x = append(x, tc.x(r))
		}
		sort.Float64s(x)
		y := nanSlice(m)
		if err := tc.t.Forward(y, nil, x, φ); err != nil {
			t.Fatal(err)
		}
		for i := 1; i < m; i++ {
			if x[i] > x[i-1] && !(y[i] > y[i-1]) {
				t.Fatalf("not increasing: τ(%.17g) = %.17g, τ(%.17g) = %.17g", x[i-1], y[i-1], x[i], y[i])
			}
		}
		xr := nanSlice(m)
		if err := tc.t.Inverse(xr, nil, y, φ); err != nil {
			t.Fatal(err)
		}
		for i := 1; i < m; i++ {
			if !(xr[i] >= xr[i-1]) {
				t.Fatalf("inverse not increasing at %d: %v, %v", i, xr[i-1], xr[i])
			}
		}
	})
}

// TestTransformerNonFinite checks that NaN and ±Inf inputs and parameters
// are reported as *ElementError wrapping odeflow.ErrNonFinite with the first
// offending element.
func TestTransformerNonFinite(t *testing.T) {
	forEachCase(t, func(t *testing.T, tc tfCase, r *rand.Rand) {
		x, φ := tc.sample(r, tfM, tfM)
		if tc.t.NumParams() == 0 {
			φ = nil
		}
		y := nanSlice(tfM)
		if err := tc.t.Forward(y, nil, x, φ); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			for _, dir := range []struct {
				name string
				f    func(out, ldj, in, φ []float64) error
				in   []float64
			}{{"Forward", tc.t.Forward, x}, {"Inverse", tc.t.Inverse, y}} {
				in := check.Clone(dir.in)
				in[7], in[9] = bad, bad
				err := dir.f(nanSlice(tfM), nanSlice(tfM), in, φ)
				var ee *ElementError
				if !errors.As(err, &ee) || !errors.Is(err, odeflow.ErrNonFinite) || ee.Index != 7 {
					t.Errorf("%s of %v at 7: error %v, want an ElementError at 7 wrapping ErrNonFinite", dir.name, bad, err)
				}
				if tc.t.NumParams() > 0 {
					pb := check.Clone(φ)
					pb[5*tc.t.NumParams()+tc.t.NumParams()-1] = bad
					err := dir.f(nanSlice(tfM), nil, dir.in, pb)
					if !errors.As(err, &ee) || !errors.Is(err, odeflow.ErrNonFinite) || ee.Index != 5 {
						t.Errorf("%s with parameter %v in block 5: error %v, want an ElementError at 5", dir.name, bad, err)
					}
				}
			}
		}
	})
}

// TestTransformerNoAllocs checks that no batch call allocates.
func TestTransformerNoAllocs(t *testing.T) {
	forEachCase(t, func(t *testing.T, tc tfCase, r *rand.Rand) {
		c := tfM
		if tc.t.NumParams() == 0 {
			c = 0
		}
		x, φ := tc.sample(r, tfM, c)
		y, ldj, xr, g, gin := make([]float64, tfM), make([]float64, tfM), make([]float64, tfM), make([]float64, tfM), make([]float64, tfM)
		gφ := make([]float64, len(φ))
		for i := range g {
			g[i] = 1
		}
		want := 0.0
		if s, ok := tc.t.(*Spline); ok && s.Bins() > splineStackBins {
			want = 1 // one scratch slice per call above the stack limit
		}
		allocs := testing.AllocsPerRun(20, func() {
			if tc.t.Forward(y, ldj, x, φ) != nil || tc.t.Inverse(xr, ldj, y, φ) != nil {
				panic("unexpected error")
			}
			tc.t.ForwardVJP(gin, gφ, x, φ, g, g)
			tc.t.InverseVJP(gin, gφ, y, φ, g, g)
		})
		if allocs > 4*want {
			t.Errorf("%v allocations per run of 4 calls, want at most %v", allocs, 4*want)
		}
	})
}

// TestTransformerPanics checks that wrong lengths panic with the package
// prefix.
func TestTransformerPanics(t *testing.T) {
	s := NewSpline(nil)
	p := s.NumParams()
	x := make([]float64, 6)
	for name, f := range map[string]func(){
		"short y":           func() { _ = s.Forward(make([]float64, 5), nil, x, make([]float64, 6*p)) },
		"short ldj":         func() { _ = s.Forward(make([]float64, 6), make([]float64, 2), x, make([]float64, 6*p)) },
		"φ not a multiple":  func() { _ = s.Forward(make([]float64, 6), nil, x, make([]float64, 6*p+1)) },
		"blocks ∤ m":        func() { _ = s.Forward(make([]float64, 6), nil, x, make([]float64, 4*p)) },
		"no φ":              func() { _ = s.Inverse(make([]float64, 6), nil, x, nil) },
		"φ to Exp":          func() { _ = Exp{}.Forward(make([]float64, 6), nil, x, []float64{1}) },
		"nil gout":          func() { s.ForwardVJP(nil, nil, x, make([]float64, 6*p), nil, nil) },
		"short gφ":          func() { s.InverseVJP(nil, make([]float64, 3), x, make([]float64, 6*p), x, nil) },
		"short gin":         func() { Affine{}.ForwardVJP(make([]float64, 2), nil, x, make([]float64, 2), x, nil) },
		"bad alpha":         func() { _ = Sigmoid{Alpha: 0.5}.Forward(x, nil, x, nil) },
		"bad power":         func() { _ = SignedPower{}.Forward(x, nil, x, nil) },
		"bad slope":         func() { _ = LeakyReLU{Slope: -1}.Forward(x, nil, x, nil) },
		"bad clip":          func() { _ = SoftClip{Bound: -1}.Forward(x, nil, x, nil) },
		"bad affine bound":  func() { _ = Affine{Bound: math.NaN()}.Forward(x, nil, x, []float64{0, 0}) },
		"bad spline bins":   func() { NewSpline(&SplineSettings{Bins: -1}) },
		"bad spline min":    func() { NewSpline(&SplineSettings{Bins: 10, MinBinWidth: 0.1}) },
		"bad spline bound":  func() { NewSpline(&SplineSettings{Bound: math.Inf(1)}) },
		"bad spline deriv":  func() { NewSpline(&SplineSettings{MinDerivative: -1}) },
		"bad identity dst":  func() { s.IdentityParams(make([]float64, 3)) },
		"bad knots lengths": func() { s.Knots(x, x, x, make([]float64, p)) },
	} {
		func() {
			defer func() {
				r := recover()
				if r == nil {
					t.Errorf("%s: no panic", name)
					return
				}
				if msg, ok := r.(string); !ok || len(msg) < 10 || msg[:10] != "discrete: " {
					t.Errorf("%s: panic %v without the package prefix", name, r)
				}
			}()
			f()
		}()
	}
}
