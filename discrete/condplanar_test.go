package discrete

import (
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
)

// TestConditionalPlanarProperties runs the property suite in both
// directions for d ∈ {1, 2, 5}, with an affine and a one-hidden-layer
// hypernetwork, at the initialization and with random parameters of scale
// 1 and 1.5 (hypernetwork outputs of several units: wᵀu far from 0 on both
// sides, so that the constraint is active in some rows). The contexts are
// drawn where 1 + wᵀû ≥ 0.1 and ‖w‖² ≥ 0.1: closer to the constraint
// boundary the root find's map is so steep (dz/dx up to 1/(1 + wᵀû)), and
// for small w the reparameterization û = u + k w with k ∝ 1/‖w‖² so
// curved, that central differences miss the gradient;
// TestConditionalPlanarMatchesPlanar ties those rows to Planar, whose own
// tests cover the boundary.
func TestConditionalPlanarProperties(t *testing.T) {
	rnd := testrand.New(t)
	for _, d := range []int{1, 2, 5} {
		for _, hidden := range [][]int{{}, {6}} {
			for _, scale := range []float64{0, 1, 1.5} {
				t.Run(fmt.Sprintf("d=%d hidden=%v scale=%g", d, hidden, scale), func(t *testing.T) {
					n := 5
					for draw := 0; draw < 20; draw++ {
						p := new(nn.Params)
						cp := NewConditionalPlanar(p, "cp", d, 3, hidden, rand.NewPCG(rnd.Uint64(), 1))
						if scale > 0 {
							for i := range p.Data {
								p.Data[i] = scale * rnd.NormFloat64()
							}
						}
						c, ok := condplanarContexts(rnd, cp, n, 0.1)
						if !ok {
							continue
						}
						tr := cp.Given(c).(odeflow.Differentiable)
						x := flowtest.RandDense(rnd, n, d, 1.5)
						flowtest.CheckBoth(t, tr, x, testrand.NewSource(t, uint64(d)), nil)
						flowtest.CheckNonFinite(t, tr, x)
						return
					}
					t.Fatal("no parameters with suitable contexts in 20 draws")
				})
			}
		}
	}
}

// condplanarContexts returns n context rows of N(0, 1) draws, each redrawn
// until the row's 1 + wᵀû is at least minOpc and its ‖w‖² at least 0.1;
// false if 200 draws of some row fail (the parameters are then redrawn).
func condplanarContexts(rnd *rand.Rand, cp *ConditionalPlanar, n int, minOpc float64) (*mat.Dense, bool) {
	c := mat.NewDense(n, cp.ContextDim(), nil)
	for i := 0; i < n; i++ {
		for try := 0; ; try++ {
			if try == 200 {
				return nil, false
			}
			c.SetRow(i, flowtest.RandSlice(rnd, cp.ContextDim(), 1))
			tr := cp.Given(c)
			if err := tr.Inverse(mat.NewDense(n, cp.Dim(), nil), nil, mat.NewDense(n, cp.Dim(), nil)); err != nil {
				panic(err)
			}
			cp.loadRow(i)
			if cp.row.opc >= minOpc && cp.row.q >= 0.1 {
				break
			}
		}
	}
	return c, true
}

// TestConditionalPlanarMatchesPlanar checks that with an affine
// hypernetwork whose weights are zero and whose bias holds (u, w, b), every
// row is mapped as Planar with those parameters maps it (Inverse: the same
// closed form, to the last bit; Forward: the same root to a few ulp, the
// root finds differing in one safeguard), and that the gradient of the bias
// equals Planar's parameter gradient.
func TestConditionalPlanarMatchesPlanar(t *testing.T) {
	rnd := testrand.New(t)
	for _, d := range []int{1, 3} {
		for _, lambda := range []float64{-50, -2, 0.5, 20} {
			u, w := flowtest.RandSlice(rnd, d, 1), flowtest.RandSlice(rnd, d, 1)
			q := linDot(w, w)
			for j := range u {
				u[j] += (lambda - linDot(w, u)) / q * w[j] // wᵀu = λ
			}
			b := rnd.NormFloat64()
			pl, pp := planarWith(u, w, b)
			p := new(nn.Params)
			cp := NewConditionalPlanar(p, "cp", d, 2, nil, rand.NewPCG(1, 1))
			ls := cp.Net().Layers()
			last := ls[len(ls)-1]
			for i := range last.Weight().Of(p.Data) {
				last.Weight().Of(p.Data)[i] = 0
			}
			bias := last.Bias().Of(p.Data)
			copy(bias, u)
			copy(bias[d:], w)
			bias[2*d] = b
			n := 4
			tr := cp.Given(flowtest.RandDense(rnd, n, 2, 1)).(odeflow.Differentiable)
			x := flowtest.RandDense(rnd, n, d, 2)
			a, gl := flowtest.RandDense(rnd, n, d, 1), flowtest.RandSlice(rnd, n, 1)
			for _, inverse := range []bool{false, true} {
				name := fmt.Sprintf("d=%d wᵀu=%g inverse=%v", d, lambda, inverse)
				want, got := mat.NewDense(n, d, nil), mat.NewDense(n, d, nil)
				lw, lg := make([]float64, n), make([]float64, n)
				rec1, rec2 := pl.ForwardRecord, tr.ForwardRecord
				if inverse {
					rec1, rec2 = pl.InverseRecord, tr.InverseRecord
				}
				if err := rec1(want, lw, x); err != nil {
					t.Fatal(err)
				}
				if err := rec2(got, lg, x); err != nil {
					t.Fatal(err)
				}
				if inverse {
					check.Unchanged(t, name+": output", flowtest.Flat(want), flowtest.Flat(got))
					check.Unchanged(t, name+": ldj", lw, lg)
				} else {
					check.Close(t, name+": output", flowtest.Flat(want), flowtest.Flat(got), 1e-14)
					check.Close(t, name+": ldj", lw, lg, 1e-14)
				}
				gw, gg := mat.NewDense(n, d, nil), mat.NewDense(n, d, nil)
				gpw, gpg := make([]float64, pp.Len()), make([]float64, p.Len())
				if err := pl.Backward(gw, gpw, a, gl); err != nil {
					t.Fatal(err)
				}
				if err := tr.Backward(gg, gpg, a, gl); err != nil {
					t.Fatal(err)
				}
				check.Close(t, name+": gin", flowtest.Flat(gw), flowtest.Flat(gg), 1e-13)
				check.Close(t, name+": bias gradient vs Planar's", gpw, last.Bias().Of(gpg), 1e-13)
			}
		}
	}
}

// TestPlanarSolve checks Planar's root find (which ConditionalPlanar uses per row) on the case where
// Newton's method cycles, and on a grid of c and r against the residual of
// φ(a) = a + c tanh(a) = r.
func TestPlanarSolve(t *testing.T) {
	pl, _ := planarWith([]float64{1}, []float64{1}, 0)
	for _, c := range []float64{-0.999999, -0.5, 0.3, 2, 5, 9.407321479772314, 30, 1e3, 1e6} {
		pl.c, pl.opc = c, 1+c
		for _, r := range []float64{-1e6, -50, -7.999943532422998, -1, -1e-9, 0, 1e-9, 0.5, 3, 7.999943532422998, 12, 1e6} {
			a, ok := pl.solve(r)
			res := a + c*math.Tanh(a) - r
			scale := math.Abs(a) + math.Abs(c) + math.Abs(r)
			if !ok || math.Abs(res) > 4*0x1p-52*scale {
				t.Errorf("c = %g, r = %g: a = %v, converged %v, residual %g", c, r, a, ok, res)
			}
		}
	}
}

// TestConditionalPlanarNoAlloc checks that the steady state allocates
// nothing.
func TestConditionalPlanarNoAlloc(t *testing.T) {
	rnd := testrand.New(t)
	cp := NewConditionalPlanar(new(nn.Params), "cp", 3, 2, []int{16}, rand.NewPCG(1, 2))
	tr := cp.Given(flowtest.RandDense(rnd, 64, 2, 1)).(odeflow.Differentiable)
	flowtest.CheckNoAlloc(t, tr, flowtest.RandDense(rnd, 64, 3, 1))
}

// TestConditionalPlanarFlow checks the prebuilt conditional planar flow:
// sampling and log-density agree (SampleAndLogProb against LogProb of the
// samples), and in 1-D the density integrates to 1 for a fixed context.
func TestConditionalPlanarFlow(t *testing.T) {
	rnd := testrand.New(t)
	flow := NewConditionalPlanarFlow(2, 3, &ConditionalPlanarFlowSettings{Layers: 4, Src: rand.NewPCG(rnd.Uint64(), 1)})
	p := flow.Params()
	for i := range p.Data {
		p.Data[i] = 0.3 * rnd.NormFloat64()
	}
	n := 50
	c := flowtest.RandDense(rnd, n, 3, 1)
	x := mat.NewDense(n, 2, nil)
	lq, err := flow.SampleAndLogProb(x, nil, c, rand.NewPCG(rnd.Uint64(), 2))
	if err != nil {
		t.Fatal(err)
	}
	lp, err := flow.LogProb(nil, x, c)
	if err != nil {
		t.Fatal(err)
	}
	check.Close(t, "SampleAndLogProb vs LogProb", lq, lp, 1e-9)

	f1 := NewConditionalPlanarFlow(1, 2, &ConditionalPlanarFlowSettings{Layers: 3, Src: rand.NewPCG(rnd.Uint64(), 3)})
	p1 := f1.Params()
	// Small parameters keep wᵀû away from −1, where the density has a
	// spike narrower than the grid; even so, it has features of width
	// about 0.01, hence the fine step.
	for i := range p1.Data {
		p1.Data[i] = 0.3 * rnd.NormFloat64()
	}
	mass := bnafGridMass(t, f1, 1, flowtest.RandDense(rnd, 1, 2, 1), 5e-4, 4, 3)
	if mass < 1-1e-6 || mass > 1+1e-6 {
		t.Errorf("1-D conditional planar flow: ∫ p = %.12f, want 1", mass)
	}
}

// TestConditionalPlanarPanics checks the programmer errors.
func TestConditionalPlanarPanics(t *testing.T) {
	p := new(nn.Params)
	cp := NewConditionalPlanar(p, "cp", 2, 2, nil, rand.NewPCG(1, 1))
	x := mat.NewDense(3, 2, nil)
	for name, f := range map[string]func(){
		"no context":    func() { _ = cp.Forward(mat.NewDense(3, 2, nil), nil, x) },
		"nil context":   func() { cp.Given(nil) },
		"wrong columns": func() { cp.Given(mat.NewDense(3, 3, nil)) },
		"rows differ":   func() { _ = cp.Given(mat.NewDense(2, 2, nil)).Forward(mat.NewDense(3, 2, nil), nil, x) },
		"no context dim": func() {
			NewConditionalPlanar(p, "a", 2, 0, nil, rand.NewPCG(1, 1))
		},
		"bad hidden": func() { NewConditionalPlanar(p, "b", 2, 1, []int{0}, rand.NewPCG(1, 1)) },
		"nil src":    func() { NewConditionalPlanar(p, "c", 2, 1, nil, nil) },
	} {
		if !panics(f) {
			t.Errorf("%s: no panic", name)
		}
	}
}
