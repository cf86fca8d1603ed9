package discrete

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

// linRandomize sets every trainable parameter of p to scale·N(0, 1).
func linRandomize(p *nn.Params, rnd *rand.Rand, scale float64) {
	tr := p.Trainable(nil)
	for k := range p.Data {
		if tr[k] {
			p.Data[k] = scale * rnd.NormFloat64()
		}
	}
}

// linCase builds one layer of dimension d on p with parameters of the given
// scale, drawing from rnd.
type linCase struct {
	name  string
	build func(p *nn.Params, d int, rnd *rand.Rand, scale float64) odeflow.Differentiable
}

func linCases() []linCase {
	src := func(rnd *rand.Rand) rand.Source { return rand.NewPCG(rnd.Uint64(), rnd.Uint64()) }
	return []linCase{
		{"permutation/fixed", func(p *nn.Params, d int, rnd *rand.Rand, _ float64) odeflow.Differentiable {
			return NewPermutation(rnd.Perm(d))
		}},
		{"permutation/random", func(p *nn.Params, d int, rnd *rand.Rand, _ float64) odeflow.Differentiable {
			return NewRandomPermutation(d, src(rnd))
		}},
		{"permutation/reverse", func(p *nn.Params, d int, rnd *rand.Rand, _ float64) odeflow.Differentiable {
			return NewReversePermutation(d)
		}},
		{"rotation", func(p *nn.Params, d int, rnd *rand.Rand, scale float64) odeflow.Differentiable {
			r := NewRotation(p, "rot", d, src(rnd))
			linRandomize(p, rnd, scale)
			return r
		}},
		{"lu", func(p *nn.Params, d int, rnd *rand.Rand, scale float64) odeflow.Differentiable {
			l := NewLU(p, "lu", d, src(rnd))
			linRandomize(p, rnd, scale)
			// L, U and a spread of log|s| at scale 3 make W ill-conditioned
			// (cond₂ ~ 1e11 at d = 5), beyond any round trip to 1e-10 or any
			// fd log-determinant; large parameters are exercised through b
			// and a common offset of log|s| (the overall scale of W, kept in
			// [e^−1.5, e^1.5]: a much smaller W next to a large b loses the
			// round trip to cancellation in z − b).
			for _, blk := range []string{"lu/L", "lu/U"} {
				sl, _ := p.Lookup(blk)
				for k := range sl.Of(p.Data) {
					sl.Of(p.Data)[k] = min(scale, 1) * rnd.NormFloat64()
				}
			}
			sl, _ := p.Lookup("lu/logs")
			off := scale / 2 * (2*rnd.Float64() - 1)
			for k := range sl.Of(p.Data) {
				sl.Of(p.Data)[k] = off + 0.3*rnd.NormFloat64()
			}
			return l
		}},
		{"actnorm", func(p *nn.Params, d int, rnd *rand.Rand, scale float64) odeflow.Differentiable {
			a := NewActNorm(p, "an", d)
			linRandomize(p, rnd, scale)
			if err := a.Init(flowtest.RandDense(rnd, 7, d, 2)); err != nil {
				panic(err)
			}
			linRandomize(p, rnd, scale) // initialized, with random parameters
			return a
		}},
		{"planar", func(p *nn.Params, d int, rnd *rand.Rand, scale float64) odeflow.Differentiable {
			t := NewPlanar(p, "pl", d, src(rnd))
			linRandomize(p, rnd, scale)
			return t
		}},
		{"radial", func(p *nn.Params, d int, rnd *rand.Rand, scale float64) odeflow.Differentiable {
			t := NewRadial(p, "ra", d, src(rnd))
			linRandomize(p, rnd, scale)
			return t
		}},
		{"chain", func(p *nn.Params, d int, rnd *rand.Rand, scale float64) odeflow.Differentiable {
			a := NewActNorm(p, "an", d)
			c := odeflow.NewChain(a, NewLU(p, "lu", d, src(rnd)), NewRotation(p, "rot", d, src(rnd)),
				NewPlanar(p, "pl", d, src(rnd)), NewReversePermutation(d), NewRadial(p, "ra", d, src(rnd)))
			// The chain checks composition on one shared *nn.Params; large
			// parameters are the single layers' cases. Six layers at large
			// scale compound into maps that vary on a 1e-3 length scale,
			// where central differences (step 6e-6) are no longer a
			// reference to 1e-6.
			linRandomize(p, rnd, min(scale, 1)/2)
			if err := a.Init(flowtest.RandDense(rnd, 5, d, 1)); err != nil {
				panic(err)
			}
			return c
		}},
	}
}

// TestLinearSuite runs every layer through the shared property suite in
// both directions, for several dimensions and parameter scales.
func TestLinearSuite(t *testing.T) {
	for ci, tc := range linCases() {
		for _, d := range []int{1, 2, 5} {
			for si, scale := range []float64{0.5, 1, 3} {
				t.Run(fmt.Sprintf("%s/d=%d/scale=%g", tc.name, d, scale), func(t *testing.T) {
					rnd := rand.New(testrand.NewSource(t, uint64(100*ci+10*d+si)))
					p := new(nn.Params)
					tr := tc.build(p, d, rnd, scale)
					x := flowtest.RandDense(rnd, 4, d, 1.5)
					flowtest.CheckBoth(t, tr, x, testrand.NewSource(t, uint64(ci)), nil)
				})
			}
		}
	}
}

func TestLinearNonFinite(t *testing.T) {
	for ci, tc := range linCases() {
		t.Run(tc.name, func(t *testing.T) {
			rnd := rand.New(testrand.NewSource(t, uint64(ci)))
			tr := tc.build(new(nn.Params), 3, rnd, 1)
			flowtest.CheckNonFinite(t, tr, flowtest.RandDense(rnd, 5, 3, 1))
		})
	}
}

func TestLinearNoAlloc(t *testing.T) {
	for ci, tc := range linCases() {
		t.Run(tc.name, func(t *testing.T) {
			rnd := rand.New(testrand.NewSource(t, uint64(ci)))
			tr := tc.build(new(nn.Params), 8, rnd, 1)
			flowtest.CheckNoAlloc(t, tr, flowtest.RandDense(rnd, 256, 8, 1))
		})
	}
}

// TestLinearBackwardPanics checks that Backward without a recording, or
// after a plain call, panics, and that gldj without a recorded ldj panics.
func TestLinearBackwardPanics(t *testing.T) {
	for ci, tc := range linCases() {
		t.Run(tc.name, func(t *testing.T) {
			rnd := rand.New(testrand.NewSource(t, uint64(ci)))
			tr := tc.build(new(nn.Params), 3, rnd, 1)
			x := flowtest.RandDense(rnd, 4, 3, 1)
			g := flowtest.RandDense(rnd, 4, 3, 1)
			if !panics(func() { _ = tr.Backward(nil, nil, g, nil) }) {
				t.Error("Backward before any record call did not panic")
			}
			var y mat.Dense
			if err := tr.ForwardRecord(&y, nil, x); err != nil {
				t.Fatal(err)
			}
			if !panics(func() { _ = tr.Backward(nil, nil, g, make([]float64, 4)) }) {
				t.Error("gldj without a recorded ldj did not panic")
			}
			if !panics(func() { _ = tr.ForwardRecord(x, nil, x) }) {
				t.Error("in-place record call did not panic")
			}
		})
	}
}
