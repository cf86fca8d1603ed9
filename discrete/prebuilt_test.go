package discrete

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/train"
	"github.com/odeflow/odeflow/train/toy"
)

// pbCase is a prebuilt flow of the suite.
type pbCase struct {
	name  string
	build func(d int, s *FlowSettings) (*odeflow.Flow, error)
	// coupling: d = 1 needs a context; planar: no context.
	coupling, planar bool
	s                FlowSettings
}

func pbCases() []pbCase {
	planar := func(d int, s *FlowSettings) (*odeflow.Flow, error) { return NewPlanarFlow(d, s), nil }
	return []pbCase{
		{name: "NICE", build: NewNICE, coupling: true, s: FlowSettings{Mask: MaskHalf, Permute: PermuteReverse}},
		{name: "RealNVP", build: NewRealNVP, coupling: true},
		{name: "RealNVP/random", build: NewRealNVP, coupling: true, s: FlowSettings{Mask: MaskRandom, Permute: PermuteRandom, LogScaleBound: 1.5}},
		{name: "NSF", build: NewNSF, coupling: true},
		{name: "NSFAutoregressive", build: NewNSFAutoregressive},
		{name: "MAF", build: NewMAF},
		{name: "MAF/random", build: NewMAF, s: FlowSettings{Permute: PermuteRandom, Hidden: "6-6"}},
		{name: "IAF", build: NewIAF},
		{name: "Glow", build: NewGlow},
		{name: "Planar", build: planar, planar: true},
		{name: "RealNVP/mixture", build: NewRealNVP, coupling: true, s: FlowSettings{BaseComponents: 3}},
		{name: "MAF/mixture", build: NewMAF, s: FlowSettings{BaseComponents: 2}},
	}
}

// small fills the test sizes into s: two layers, one hidden layer of 8
// tanh units (smooth, for finite differences), 4 spline bins on [−3, 3].
func (tc pbCase) small(t testing.TB, m int) *FlowSettings {
	s := tc.s
	s.Layers = 2
	if s.Hidden == "" {
		s.Hidden = "8"
	}
	s.Act = nn.Tanh
	s.Bins, s.Bound = 4, 3
	s.ContextDim = m
	s.Src = testrand.NewSource(t, 7)
	return &s
}

// pbTransform returns the flow's transform (bound to ctx if conditional).
func pbTransform(f *odeflow.Flow, ctx *mat.Dense) odeflow.Differentiable {
	if f.Conditional() {
		return f.ConditionalTransform().Given(ctx).(odeflow.Differentiable)
	}
	return f.Transform().(odeflow.Differentiable)
}

// TestPrebuiltSuite runs every prebuilt flow's transform, with random
// parameters, through the property suite in both directions, for d = 1
// (where meaningful), 2 and 5, conditional and not.
func TestPrebuiltSuite(t *testing.T) {
	for _, tc := range pbCases() {
		for _, m := range []int{0, 2} {
			if m > 0 && tc.planar {
				continue
			}
			for _, d := range []int{1, 2, 5} {
				if d == 1 && tc.coupling && m == 0 {
					continue
				}
				t.Run(fmt.Sprintf("%s/d=%d/m=%d", tc.name, d, m), func(t *testing.T) {
					rnd := testrand.New(t)
					f, err := tc.build(d, tc.small(t, m))
					if err != nil {
						t.Fatal(err)
					}
					if f.Conditional() != (m > 0) || f.ContextDim() != m {
						t.Fatalf("conditional %v with context dimension %d, want %d", f.Conditional(), f.ContextDim(), m)
					}
					condPerturb(f.Params(), rnd, 0.3)
					const n = 4
					x := flowtest.RandDense(rnd, n, d, 1.5)
					var ctx *mat.Dense
					if m > 0 {
						ctx = flowtest.RandDense(rnd, n, m, 1)
					}
					tr := pbTransform(f, ctx)
					flowtest.CheckBoth(t, tr, x, testrand.NewSource(t, 2), nil)
					flowtest.CheckNonFinite(t, tr, x)
					flowtest.CheckNoAlloc(t, tr, x)
				})
			}
		}
	}
}

// TestPrebuiltStartAsIdentity checks that the flows whose layers all start
// as the identity (every coupling and autoregressive flow) have the base's
// density at the start, and that the base is the standard normal unless
// BaseComponents asks for a mixture.
func TestPrebuiltStartAsIdentity(t *testing.T) {
	for _, tc := range pbCases() {
		if tc.planar || tc.name == "Glow" { // random initial rotations and planar maps
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			s := FlowSettings{BaseComponents: tc.s.BaseComponents, Src: testrand.NewSource(t, 1)}
			f, err := tc.build(3, &s)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := f.Base().(*odeflow.StandardNormal); ok != (s.BaseComponents == 0) {
				t.Fatalf("base %T with BaseComponents = %d", f.Base(), s.BaseComponents)
			}
			x := flowtest.RandDense(testrand.New(t), 10, 3, 2)
			got, err := f.LogProb(nil, x, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := f.Base().LogProb(nil, x)
			check.Close(t, "log p at the start", want, got, 1e-13)
		})
	}
}

// pbRandomFlow builds a prebuilt flow (three layers of 16 tanh units) and
// perturbs its parameters; it fails the test if the density is then still
// close to the base's at the probe points x.
func pbRandomFlow(t *testing.T, tc pbCase, d, m int, scale float64) *odeflow.Flow {
	t.Helper()
	s := tc.s
	s.Layers, s.Hidden, s.Act, s.ContextDim, s.Src = 3, "16", nn.Tanh, m, testrand.NewSource(t, 11)
	f, err := tc.build(d, &s)
	if err != nil {
		t.Fatal(err)
	}
	condPerturb(f.Params(), testrand.New(t), scale)
	return f
}

// pbLogProb evaluates f.LogProb in chunks of rows (the workspaces stay
// small).
func pbLogProb(t *testing.T, f *odeflow.Flow, x, ctx *mat.Dense) []float64 {
	t.Helper()
	n, d := x.Dims()
	out := make([]float64, n)
	const chunk = 4096
	for i := 0; i < n; i += chunk {
		j := min(n, i+chunk)
		var c *mat.Dense
		if ctx != nil {
			_, m := ctx.Dims()
			c = ctx.Slice(i, j, 0, m).(*mat.Dense)
		}
		if _, err := f.LogProb(out[i:j], x.Slice(i, j, 0, d).(*mat.Dense), c); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// trapezoid returns the weight of grid point k of n points.
func trapezoid(k, n int) float64 {
	if k == 0 || k == n-1 {
		return 0.5
	}
	return 1
}

// TestPrebuiltLogProbIntegrates1D integrates exp(log p) of one-dimensional
// flows with random parameters over a fine grid (trapezoid rule on
// [−30, 30], h = 0.002): the result is 1 up to the quadrature error. The
// coupling flows are conditional here (a 1-D coupling layer needs a
// context), with one fixed context for the whole grid.
func TestPrebuiltLogProbIntegrates1D(t *testing.T) {
	const lo, hi, n = -30.0, 30.0, 30001
	h := (hi - lo) / (n - 1)
	x := mat.NewDense(n, 1, nil)
	for k := 0; k < n; k++ {
		x.Set(k, 0, lo+float64(k)*h)
	}
	base := odeflow.NewStandardNormal(1).LogProb(nil, x)
	for _, tc := range pbCases() {
		m := 0
		if tc.coupling {
			m = 2
		}
		t.Run(tc.name, func(t *testing.T) {
			f := pbRandomFlow(t, tc, 1, m, 0.4)
			var ctx *mat.Dense
			if m > 0 {
				ctx = mat.NewDense(n, m, nil)
				for k := 0; k < n; k++ {
					ctx.SetRow(k, []float64{0.7, -1.2})
				}
			}
			lp := pbLogProb(t, f, x, ctx)
			sum, dev := 0.0, 0.0
			for k, v := range lp {
				sum += trapezoid(k, n) * math.Exp(v) * h
				if math.Exp(base[k]) > 1e-3 {
					dev = max(dev, math.Abs(v-base[k]))
				}
			}
			if dev < 0.05 {
				t.Fatalf("the random flow is close to the identity (max |Δ log p| = %.3g): the test proves nothing", dev)
			}
			if math.Abs(sum-1) > 1e-5 {
				t.Errorf("∫ p = %.10f, want 1", sum)
			}
			t.Logf("∫ p − 1 = %.3g, max |Δ log p| = %.3g", sum-1, dev)
		})
	}
}

// TestPrebuiltLogProbIntegrates2D integrates exp(log p) of two-dimensional
// flows with random parameters over a grid on [−10, 10]² (trapezoid rule,
// h = 0.05), unconditional and conditional on a fixed context.
func TestPrebuiltLogProbIntegrates2D(t *testing.T) {
	const lo, hi, g = -10.0, 10.0, 401
	h := (hi - lo) / (g - 1)
	n := g * g
	x := mat.NewDense(n, 2, nil)
	for a := 0; a < g; a++ {
		for b := 0; b < g; b++ {
			x.SetRow(a*g+b, []float64{lo + float64(a)*h, lo + float64(b)*h})
		}
	}
	base := odeflow.NewStandardNormal(2).LogProb(nil, x)
	for _, tc := range pbCases() {
		for _, m := range []int{0, 1} {
			if m > 0 && (tc.planar || tc.name != "RealNVP" && tc.name != "MAF") {
				continue
			}
			t.Run(fmt.Sprintf("%s/m=%d", tc.name, m), func(t *testing.T) {
				f := pbRandomFlow(t, tc, 2, m, 0.1)
				var ctx *mat.Dense
				if m > 0 {
					ctx = mat.NewDense(n, 1, nil)
					for k := 0; k < n; k++ {
						ctx.Set(k, 0, 0.8)
					}
				}
				lp := pbLogProb(t, f, x, ctx)
				sum, dev := 0.0, 0.0
				for k, v := range lp {
					sum += trapezoid(k/g, g) * trapezoid(k%g, g) * math.Exp(v) * h * h
					if math.Exp(base[k]) > 1e-3 {
						dev = max(dev, math.Abs(v-base[k]))
					}
				}
				if dev < 0.05 {
					t.Fatalf("the random flow is close to the identity (max |Δ log p| = %.3g): the test proves nothing", dev)
				}
				if math.Abs(sum-1) > 1e-4 {
					t.Errorf("∫ p = %.8f, want 1", sum)
				}
				t.Logf("∫ p − 1 = %.3g, max |Δ log p| = %.3g", sum-1, dev)
			})
		}
	}
}

// TestPrebuiltSameSeed checks that the same source state builds the same
// model (parameters, masks, orders, permutations, rotations: the same
// densities) and another state a different one.
func TestPrebuiltSameSeed(t *testing.T) {
	x := flowtest.RandDense(testrand.New(t), 6, 4, 1)
	for _, tc := range pbCases() {
		t.Run(tc.name, func(t *testing.T) {
			build := func(seed uint64) (*odeflow.Flow, []float64) {
				s := tc.s
				s.Layers, s.Hidden, s.Mask, s.Permute = 3, "8", MaskRandom, PermuteRandom
				s.Src = rand.NewPCG(seed, 5)
				f, err := tc.build(4, &s)
				if err != nil {
					t.Fatal(err)
				}
				// Perturb every parameter by the same amounts, so that
				// masks and orders show in the densities.
				condPerturb(f.Params(), rand.New(rand.NewPCG(9, 9)), 0.3)
				lp, err := f.LogProb(nil, x, nil)
				if err != nil {
					t.Fatal(err)
				}
				return f, lp
			}
			f1, lp1 := build(1)
			f2, lp2 := build(1)
			f3, lp3 := build(2)
			check.Unchanged(t, "parameters with the same seed", f1.Params().Data, f2.Params().Data)
			check.Unchanged(t, "log p with the same seed", lp1, lp2)
			if mat.Equal(mat.NewVecDense(len(lp1), lp1), mat.NewVecDense(len(lp3), lp3)) {
				t.Error("another seed gives the same densities")
			}
			_ = f3
		})
	}
}

// TestPrebuiltFit8Gaussians trains RealNVP and MAF briefly by maximum
// likelihood on FFJORD's 8gaussians: the held-out NLL must drop well below
// its initial value (a standard normal base on data of variance ≈ 4.5 per
// coordinate starts near 6 nats) to within 0.41 nats of the entropy limit
// 2.838 (100 epochs of 12 batches).
func TestPrebuiltFit8Gaussians(t *testing.T) {
	data, err := toy.Generate(toy.Gaussians8, 2000, testrand.NewSource(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		build func(int, *FlowSettings) (*odeflow.Flow, error)
	}{{"RealNVP", NewRealNVP}, {"MAF", NewMAF}} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := tc.build(2, &FlowSettings{Layers: 4, Hidden: "32-32", Src: testrand.NewSource(t, 4)})
			if err != nil {
				t.Fatal(err)
			}
			res, err := train.Fit(context.Background(), f, data, nil, &train.Settings{
				LR: 3e-3, BatchSize: 128, Epochs: 100, ValFraction: 0.2, Src: testrand.NewSource(t, 5),
			})
			if err != nil {
				t.Fatal(err)
			}
			first, best := res.EvalLoss[0], res.BestLoss
			t.Logf("%s: validation NLL %.3f → %.3f in %d iterations (%v)", tc.name, first, best, res.Iterations, res.Elapsed)
			if !(best < first-2) || !(best < 3.25) {
				t.Errorf("validation NLL %.3f → %.3f: not learning", first, best)
			}
		})
	}
}

// TestPrebuiltMixtureBase checks BaseComponents on every prebuilt flow: the
// base is a K-component mixture whose parameters come after the layers'
// (which are those of the standard-normal build, so that models saved
// before the option existed still load), and the gradient of log p with
// respect to every parameter, base included, matches finite differences.
func TestPrebuiltMixtureBase(t *testing.T) {
	const d, k = 2, 3
	builds := map[string]func(k int, src rand.Source) (*odeflow.Flow, error){
		"BNAF": func(k int, src rand.Source) (*odeflow.Flow, error) {
			return NewBNAFFlow(d, &BNAFFlowSettings{Flows: 2, HiddenFactor: 2, BaseComponents: k, Src: src}), nil
		},
	}
	for _, tc := range pbCases() {
		if tc.s.BaseComponents > 0 {
			continue
		}
		builds[tc.name] = func(k int, src rand.Source) (*odeflow.Flow, error) {
			s := tc.s
			s.Layers, s.Hidden, s.Act, s.Bins, s.Bound, s.BaseComponents, s.Src = 2, "6", nn.Tanh, 4, 3, k, src
			return tc.build(d, &s)
		}
	}
	for name, build := range builds {
		t.Run(name, func(t *testing.T) {
			plain, err := build(0, rand.NewPCG(3, 4))
			if err != nil {
				t.Fatal(err)
			}
			f, err := build(k, rand.NewPCG(3, 4))
			if err != nil {
				t.Fatal(err)
			}
			g, ok := f.Base().(*odeflow.GaussianMixture)
			if !ok || g.Components() != k || g.Dim() != d || g.Params() != f.Params() {
				t.Fatalf("base %T, want a %d-component mixture on the flow's parameters", f.Base(), k)
			}
			np := plain.Params().Len()
			if f.Params().Len() != np+k*(2*d+1) {
				t.Fatalf("%d parameters, want %d + %d", f.Params().Len(), np, k*(2*d+1))
			}
			check.Unchanged(t, "the layers' initial parameters", plain.Params().Data, f.Params().Data[:np])
			if slot, ok := f.Params().Lookup("base/loc"); !ok || slot.Off < np {
				t.Fatalf("base/loc at %+v (found %v), want after the %d layer parameters", slot, ok, np)
			}

			rnd := testrand.New(t)
			condPerturb(f.Params(), rnd, 0.3)
			const n = 5
			x := flowtest.RandDense(rnd, n, d, 1.5)
			w := flowtest.RandSlice(rnd, n, 1)
			gp := make([]float64, f.Params().Len())
			if _, err := f.LogProbGrad(nil, gp, nil, w, x, nil); err != nil {
				t.Fatal(err)
			}
			p := f.Params()
			theta := check.Clone(p.Data)
			want := check.GradRef(func(th []float64) float64 {
				copy(p.Data, th)
				defer copy(p.Data, theta)
				lp, err := f.LogProb(nil, x, nil)
				if err != nil {
					panic(err)
				}
				return mat.Dot(mat.NewVecDense(n, lp), mat.NewVecDense(n, w))
			}, theta)
			check.Close(t, "∂ Σ w log p / ∂θ (layers and base)", want, gp, check.Tol)
			base := gp[np:]
			if mat.Norm(mat.NewVecDense(len(base), base), 2) == 0 {
				t.Error("the base's parameters get no gradient")
			}
		})
	}
}

// TestPrebuiltPanics checks the documented programmer errors of the
// prebuilt constructors' settings.
func TestPrebuiltPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"negative layers":          func() { _, _ = NewRealNVP(2, &FlowSettings{Layers: -1}) },
		"negative context":         func() { _, _ = NewMAF(2, &FlowSettings{ContextDim: -1}) },
		"negative base components": func() { _, _ = NewNSF(2, &FlowSettings{BaseComponents: -1}) },
		"planar negative base":     func() { NewPlanarFlow(2, &FlowSettings{BaseComponents: -2}) },
		"bnaf negative base":       func() { NewBNAFFlow(2, &BNAFFlowSettings{BaseComponents: -1}) },
		"bnaf negative flows":      func() { NewBNAFFlow(2, &BNAFFlowSettings{Flows: -1}) },
		"coupling d = 1":           func() { _, _ = NewRealNVP(1, nil) },
	} {
		if !panics(f) {
			t.Errorf("%s: no panic", name)
		}
	}
}
