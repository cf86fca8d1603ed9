package discrete

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/train"
	"github.com/odeflow/odeflow/train/toy"
)

// bnafCase is one BNAF configuration of the tests.
type bnafCase struct {
	layers, a int
	act       BNAFActivation
	res       BNAFResidual
	ctx       int
}

func (c bnafCase) String() string {
	return fmt.Sprintf("L=%d a=%d %v %v ctx=%d", c.layers, c.a, c.act, c.res, c.ctx)
}

// bnafCases covers both activations, both residuals, one and two hidden
// layers, and a context. Plain tanh comes with the gated residual only:
// without it the range of the network is bounded and the inverse is not
// defined on all of R^d (TestBNAFTanhRange covers that case).
var bnafCases = []bnafCase{
	{1, 3, BNAFLeakyTanh, BNAFNoResidual, 0},
	{2, 2, BNAFLeakyTanh, BNAFGated, 0},
	{1, 2, BNAFTanh, BNAFGated, 0},
	{1, 3, BNAFLeakyTanh, BNAFNoResidual, 2},
	{2, 2, BNAFTanh, BNAFGated, 3},
}

// newBNAFCase builds a BNAF of dimension d for c with parameters drawn
// from N(0, scale²) (scale 0 keeps the initialization), bound to a random
// context of n rows when c.ctx > 0.
func newBNAFCase(rnd *rand.Rand, c bnafCase, d, n int, scale float64) (*BNAF, odeflow.Differentiable) {
	p := new(nn.Params)
	b := NewBNAF(p, "bnaf", BNAFSettings{Dim: d, Layers: c.layers, HiddenFactor: c.a, Act: c.act, Residual: c.res, ContextDim: c.ctx, Src: rand.NewPCG(rnd.Uint64(), 1)})
	if scale > 0 {
		for i := range p.Data {
			p.Data[i] = scale * rnd.NormFloat64()
		}
	}
	var tr odeflow.Transform = b
	if c.ctx > 0 {
		tr = b.Given(flowtest.RandDense(rnd, n, c.ctx, 1))
	}
	return b, tr.(odeflow.Differentiable)
}

// TestBNAFProperties runs the property suite in both directions for d ∈
// {1, 2, 5}, every configuration, and parameters at the initialization, at
// unit scale and large (scale 1.5: row scales up to e^{±3} and diagonal
// weights spanning e^{±6}; TestBNAFExtremeParameters goes much further).
//
// The inverse is only as well conditioned as the triangular Jacobian J of
// f: where the network is nearly flat (f' down to ε^L), and in 5-D where
// the inverse of J multiplies its off-diagonal entries by powers of
// 1/∂f_k/∂x_k, the inverse is steep and its higher derivatives grow like
// powers of its slope. Then the round trip loses digits in proportion
// (TestBNAFInverseAccuracy checks it relative to the conditioning), and the
// suite's central differences (step 6e-6) miss the inverse's gradient by
// more than the tolerance (where the slope reaches 1e4 no step resolves
// it: truncation needs a small step, the rounding of the solve a large
// one). So the suite runs where J is conditioned:
//
//   - with the gated residual, the gate is set to α = −2: y' ≥ σ(2) ≈ 0.88
//     and the off-diagonal entries shrink by σ(−2), whatever the other
//     parameters; the batch is x of scale 1.5 (forward) and f(x) (inverse);
//   - without it, the rows of x are drawn where every ∂f_k/∂x_k ≥ 0.05
//     (bnafConditioned; the parameters are redrawn if there are none;
//     0.01 at scale 1.5, where only the forward direction runs); the
//     inverse direction runs at scales 0 and 1, in 5-D with the inverse's
//     gradients checked against the fourth-order check.Central4
//     (bnafInverseGrad) instead of the suite's formula. (With large
//     weights, a step of 6e-6 on z moves the pre-activations by up to
//     e^3·6e-6/0.01 ≈ 0.01, where tanh is curved: the gated cases above
//     cover large parameters in the inverse direction.)
func TestBNAFProperties(t *testing.T) {
	rnd := testrand.New(t)
	for _, d := range []int{1, 2, 5} {
		for ci, c := range bnafCases {
			for _, scale := range []float64{0, 1, 1.5} {
				t.Run(fmt.Sprintf("d=%d %v scale=%g", d, c, scale), func(t *testing.T) {
					src := testrand.NewSource(t, uint64(10*d+ci))
					if c.res == BNAFGated {
						b, tr := newBNAFCase(rnd, c, d, 4, scale)
						b.gate.Of(b.p.Data)[0] = -2
						x := flowtest.RandDense(rnd, 4, d, 1.5)
						z := mat.NewDense(4, d, nil)
						if err := tr.Forward(z, nil, x); err != nil {
							t.Fatal(err)
						}
						flowtest.Check(t, tr, x, false, src, nil)
						flowtest.Check(t, tr, z, true, src, nil)
						flowtest.CheckNonFinite(t, tr, x)
						return
					}
					minDiag := 0.05
					if scale > 1 {
						minDiag = 0.01 // forward only: conditioned for the round trip
					}
					for draw := 0; draw < 20; draw++ {
						_, tr := newBNAFCase(rnd, c, d, 4, scale)
						x, z, ok := bnafConditioned(rnd, tr, 4, 1.5, minDiag)
						if !ok {
							continue
						}
						flowtest.Check(t, tr, x, false, src, nil)
						switch {
						case scale > 1:
						case d < 5:
							flowtest.Check(t, tr, z, true, src, nil)
						default:
							bnafInverseGrad(t, rnd, tr, z)
						}
						flowtest.CheckNonFinite(t, tr, x)
						return
					}
					t.Fatalf("no parameters with points where ∂f_k/∂x_k ≥ 0.05 in 20 draws")
				})
			}
		}
	}
}

// bnafConditioned returns n rows x and f(x), each row drawn from N(0,
// scale²) until every diagonal entry of its finite-difference Jacobian is
// at least minDiag (halving the scale after every 100 failed draws);
// false if 500 draws of some row fail.
func bnafConditioned(rnd *rand.Rand, tr odeflow.Transform, n int, scale, minDiag float64) (x, z *mat.Dense, ok bool) {
	d := tr.Dim()
	x = mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		sc := scale
		for try := 0; ; try++ {
			if try == 500 {
				return nil, nil, false
			}
			if try > 0 && try%100 == 0 {
				sc /= 2
			}
			x.SetRow(i, flowtest.RandSlice(rnd, d, sc))
			jac := bnafRowJacobian(tr, x, i)
			good := true
			for k := 0; k < d; k++ {
				good = good && jac.At(k, k) >= minDiag
			}
			if good {
				break
			}
		}
	}
	z = mat.NewDense(n, d, nil)
	if err := tr.Forward(z, nil, x); err != nil {
		panic(err)
	}
	return x, z, true
}

// bnafInverseGrad checks Backward of InverseRecord at the base points z
// (with cotangents for the output and the log-determinant) against the
// fourth-order central difference check.Central4, for the input and every
// parameter.
func bnafInverseGrad(t *testing.T, rnd *rand.Rand, tr odeflow.Differentiable, z *mat.Dense) {
	t.Helper()
	n, d := z.Dims()
	a, b := flowtest.RandDense(rnd, n, d, 1), flowtest.RandSlice(rnd, n, 1)
	if err := tr.InverseRecord(mat.NewDense(n, d, nil), make([]float64, n), z); err != nil {
		t.Fatal(err)
	}
	p := tr.Params()
	gin, gp := mat.NewDense(n, d, nil), make([]float64, p.Len())
	if err := tr.Backward(gin, gp, a, b); err != nil {
		t.Fatal(err)
	}
	set := &fd.Settings{Formula: check.Central4}
	zc, theta := flowtest.Flat(z), check.Clone(p.Data)
	wantIn := make([]float64, len(zc))
	fd.Gradient(wantIn, func(u []float64) float64 {
		return flowtest.Loss(tr.Inverse, mat.NewDense(n, d, u), a, b)
	}, zc, set)
	check.Close(t, "inverse gin vs Central4", wantIn, flowtest.Flat(gin), check.Tol)
	wantP := make([]float64, len(theta))
	fd.Gradient(wantP, func(th []float64) float64 {
		copy(p.Data, th)
		defer copy(p.Data, theta)
		return flowtest.Loss(tr.Inverse, z, a, b)
	}, theta, set)
	check.Close(t, "inverse gparams vs Central4", wantP, gp, check.Tol)
}

// TestBNAFTanhRange checks a plain-tanh BNAF without residual at its
// initialization: both directions pass the suite on conditioned points of
// its range (as in TestBNAFProperties; the inverse direction starts from
// z = f(x)), and a base point far outside the bounded range gives
// ErrNotConverged for that row only.
func TestBNAFTanhRange(t *testing.T) {
	rnd := testrand.New(t)
	for _, d := range []int{1, 2, 5} {
		c := bnafCase{1, 3, BNAFTanh, BNAFNoResidual, 0}
		var tr odeflow.Differentiable
		var x, z *mat.Dense
		ok := false
		for draw := 0; draw < 20 && !ok; draw++ {
			_, tr = newBNAFCase(rnd, c, d, 4, 0)
			x, z, ok = bnafConditioned(rnd, tr, 4, 1, 0.05)
		}
		if !ok {
			t.Fatalf("d=%d: no points with ∂f_k/∂x_k ≥ 0.05", d)
		}
		flowtest.Check(t, tr, x, false, testrand.NewSource(t, 1), nil)
		if d < 5 {
			flowtest.Check(t, tr, z, true, testrand.NewSource(t, 2), nil)
		} else {
			bnafInverseGrad(t, rnd, tr, z)
		}
		// |f_k| ≤ Σ_r |W_kr| + |b_k| ≤ √(d·a)·e^{s_k} + |b_k|.
		z.Set(2, d-1, 1e6)
		err := tr.Inverse(mat.NewDense(4, d, nil), nil, z)
		var re *odeflow.RowError
		if !errors.As(err, &re) || !errors.Is(err, odeflow.ErrNotConverged) || fmt.Sprint(re.Rows) != "[2]" {
			t.Errorf("d=%d: point outside the range: got %v, want ErrNotConverged in row 2", d, err)
		}
	}
}

// TestBNAFTriangular checks on the finite-difference Jacobian of Forward
// that f is autoregressive (∂f_k/∂x_j = 0 for j > k, exactly: f_k does not
// read x_j) and increasing (∂f_k/∂x_k > 0), that log|det| is the sum of the
// logs of the diagonal, and that the solved inverse gives back x.
func TestBNAFTriangular(t *testing.T) {
	rnd := testrand.New(t)
	for _, d := range []int{2, 5} {
		for _, c := range bnafCases {
			for _, scale := range []float64{0, 1, 2.5} {
				_, tr := newBNAFCase(rnd, c, d, 1, scale)
				for trial := 0; trial < 4; trial++ {
					x := flowtest.RandSlice(rnd, d, 2)
					f := func(y, u []float64) {
						out := mat.NewDense(1, d, nil)
						if err := tr.Forward(out, nil, mat.NewDense(1, d, u)); err != nil {
							panic(err)
						}
						copy(y, out.RawRowView(0))
					}
					jac := check.Jacobian(f, d, x)
					want := 0.0
					for k := 0; k < d; k++ {
						for j := k + 1; j < d; j++ {
							if v := jac.At(k, j); v != 0 {
								t.Errorf("d=%d %v: ∂f_%d/∂x_%d = %g, want 0", d, c, k, j, v)
							}
						}
						if v := jac.At(k, k); !(v > 0) {
							t.Errorf("d=%d %v: ∂f_%d/∂x_%d = %g, want > 0", d, c, k, k, v)
						}
						want += math.Log(jac.At(k, k))
					}
					ldj := make([]float64, 1)
					if err := tr.Forward(mat.NewDense(1, d, nil), ldj, mat.NewDense(1, d, x)); err != nil {
						t.Fatal(err)
					}
					check.Close(t, fmt.Sprintf("d=%d %v: ldj vs Σ log diag", d, c), []float64{want}, ldj, 1e-6)
				}
			}
		}
	}
}

// TestBNAFMonotone checks along a line in each coordinate, from −50 to 50,
// that f_k is strictly increasing in x_k (leaky activation: it never
// saturates), for random large parameters.
func TestBNAFMonotone(t *testing.T) {
	rnd := testrand.New(t)
	for _, c := range bnafCases {
		if c.act != BNAFLeakyTanh {
			continue
		}
		d := 3
		_, tr := newBNAFCase(rnd, c, d, 2001, 2.5)
		if c.ctx > 0 {
			// One context for every row.
			cr := flowtest.RandSlice(rnd, c.ctx, 1)
			ctx := mat.NewDense(2001, c.ctx, nil)
			for i := 0; i < 2001; i++ {
				ctx.SetRow(i, cr)
			}
			tr = tr.(*BNAF).Given(ctx).(odeflow.Differentiable)
		}
		base := flowtest.RandSlice(rnd, d, 1)
		for k := 0; k < d; k++ {
			x := mat.NewDense(2001, d, nil)
			for i := 0; i < 2001; i++ {
				x.SetRow(i, base)
				x.Set(i, k, -50+0.05*float64(i))
			}
			z := mat.NewDense(2001, d, nil)
			if err := tr.Forward(z, nil, x); err != nil {
				t.Fatal(err)
			}
			for i := 1; i < 2001; i++ {
				if !(z.At(i, k) > z.At(i-1, k)) {
					t.Errorf("%v: f_%d not increasing at x_%d = %g: %g ≤ %g", c, k, k, x.At(i, k), z.At(i, k), z.At(i-1, k))
					break
				}
			}
		}
	}
}

// TestBNAFInverseAccuracy checks the round trips x → z → x and z → x → z
// to 1e-10 (relative to max(1, ‖·‖∞) per row) for ordinary, far-out
// (±1e3, ±1e6) and tiny inputs, unconditional and conditional. With large
// parameters (scale 2.5) the network has stretches with f' ≈ ε^L, where x
// is determined by z only to ε|z|/f': there the base round trip (the
// backward error of the solve) and the data round trip are checked to
// 1e-10 times the condition of the step that loses digits: max(1, ‖J‖∞)
// (x is rounded, then mapped by J) and max(1, ‖J⁻¹‖∞) (z is rounded, then
// mapped by J⁻¹), with J the fd Jacobian of f at the data point.
func TestBNAFInverseAccuracy(t *testing.T) {
	rnd := testrand.New(t)
	for _, c := range bnafCases {
		if c.act == BNAFTanh && c.res == BNAFNoResidual {
			continue
		}
		for _, scale := range []float64{0, 1, 2.5} {
			d, n := 3, 12
			_, tr := newBNAFCase(rnd, c, d, n, scale)
			x := flowtest.RandDense(rnd, n, d, 1)
			for i, s := range []float64{1e3, -1e3, 1e6, -1e6, 1e-12, 0} {
				for j := 0; j < d; j++ {
					x.Set(6+i, j, s*(1+0.1*float64(j)))
				}
			}
			for dir, start := range []string{"data", "base"} {
				first, second := tr.Forward, tr.Inverse
				if dir == 1 {
					first, second = tr.Inverse, tr.Forward
				}
				y := mat.NewDense(n, d, nil)
				if err := first(y, nil, x); err != nil {
					t.Fatalf("%v scale %g from %s: %v", c, scale, start, err)
				}
				back := mat.NewDense(n, d, nil)
				if err := second(back, nil, y); err != nil {
					t.Fatalf("%v scale %g from %s: %v", c, scale, start, err)
				}
				xs := x // the data points of the round trip
				if dir == 1 {
					xs = y
				}
				for i := 0; i < n; i++ {
					tol := 1e-10
					if scale > 1 {
						tol *= bnafCondition(tr, xs, i, dir == 1)
					}
					check.Close(t, fmt.Sprintf("%v scale %g from %s row %d", c, scale, start, i), x.RawRowView(i), back.RawRowView(i), tol)
				}
			}
		}
	}
}

// bnafRowJacobian returns the finite-difference Jacobian of Forward at row
// i of x (the other rows held fixed).
func bnafRowJacobian(tr odeflow.Transform, x *mat.Dense, i int) *mat.Dense {
	n, d := x.Dims()
	xi := mat.DenseCopyOf(x)
	out := mat.NewDense(n, d, nil)
	return check.Jacobian(func(y, u []float64) {
		xi.SetRow(i, u)
		if err := tr.Forward(out, nil, xi); err != nil {
			panic(err)
		}
		copy(y, out.RawRowView(i))
	}, d, x.RawRowView(i))
}

// bnafCondition returns max(1, ‖J‖∞) (steep true) or max(1, ‖J⁻¹‖∞) at
// row i of x, with J the finite-difference Jacobian of Forward.
func bnafCondition(tr odeflow.Transform, x *mat.Dense, i int, steep bool) float64 {
	jac := bnafRowJacobian(tr, x, i)
	if !steep {
		var inv mat.Dense
		if err := inv.Inverse(jac); err != nil {
			return math.Inf(1)
		}
		jac = &inv
	}
	return math.Max(1, mat.Norm(jac, math.Inf(1)))
}

// TestBNAFNoAlloc checks that the steady state allocates nothing,
// unconditional and conditional.
func TestBNAFNoAlloc(t *testing.T) {
	rnd := testrand.New(t)
	for _, c := range []bnafCase{{2, 4, BNAFLeakyTanh, BNAFGated, 0}, {1, 8, BNAFLeakyTanh, BNAFNoResidual, 2}} {
		_, tr := newBNAFCase(rnd, c, 3, 64, 0)
		flowtest.CheckNoAlloc(t, tr, flowtest.RandDense(rnd, 64, 3, 1))
	}
}

// TestBNAFExtremeParameters sets every raw weight of every layer near e^v
// (diagonal blocks: V = v + N(0, 1); lower blocks: ±e^{v+N(0,1)}, or 0
// and ±1e300 where that does not fit in a float64), far beyond what exp
// can hold unscaled, and checks that the weights are finite and that the
// BNAF passes the property suite.
func TestBNAFExtremeParameters(t *testing.T) {
	rnd := testrand.New(t)
	for _, v := range []float64{-800, -40, 40, 800} {
		p := new(nn.Params)
		b := NewBNAF(p, "x", BNAFSettings{Dim: 2, HiddenFactor: 3, Residual: BNAFGated, Src: rand.NewPCG(1, 1)})
		for _, L := range b.layers {
			vv := L.v.Of(p.Data)
			for r := 0; r < L.out; r++ {
				c0, c1 := (r/L.aout)*L.ain, (r/L.aout+1)*L.ain
				for c := 0; c < L.rowLen(r); c++ {
					e := v + rnd.NormFloat64()
					switch {
					case c >= c0 && c < c1:
						vv[L.off[r]+c] = e
					case e < -740:
						vv[L.off[r]+c] = 0
					case e > 700:
						vv[L.off[r]+c] = math.Copysign(1e300, rnd.NormFloat64())
					default:
						vv[L.off[r]+c] = math.Copysign(math.Exp(e), rnd.NormFloat64())
					}
				}
			}
		}
		b.refresh()
		for l, L := range b.layers {
			check.Finite(t, fmt.Sprintf("v = %g: weights of layer %d", v, l), L.w)
			check.Finite(t, fmt.Sprintf("v = %g: log-weights of layer %d", v, l), L.logW)
		}
		x := flowtest.RandDense(rnd, 3, 2, 0.5)
		if v > 0 {
			t.Run(fmt.Sprint(v), func(t *testing.T) {
				flowtest.CheckBoth(t, b, x, testrand.NewSource(t, 5), nil)
			})
			continue
		}
		// With v < 0 every row is tiny before normalization: the weights
		// are fine, but their derivatives with respect to the lower-block
		// entries are of order e^{−v}, beyond finite differences. Check the
		// map: round trip and log-determinant.
		z := mat.NewDense(3, 2, nil)
		ldj := make([]float64, 3)
		if err := b.Forward(z, ldj, x); err != nil {
			t.Fatalf("v = %g: %v", v, err)
		}
		back := mat.NewDense(3, 2, nil)
		if err := b.Inverse(back, nil, z); err != nil {
			t.Fatalf("v = %g: %v", v, err)
		}
		check.Close(t, fmt.Sprintf("v = %g: round trip", v), flowtest.Flat(x), flowtest.Flat(back), 1e-10)
		for i := 0; i < 3; i++ {
			jac := bnafRowJacobian(b, x, i)
			check.Close(t, fmt.Sprintf("v = %g: ldj of row %d", v, i), []float64{check.LogAbsDet(jac)}, ldj[i:i+1], check.Tol)
		}
	}
}

// bnafGridMass returns ∫ exp(LogProb) over R^d (d = 1 or 2) by the
// trapezoid rule after the substitution x_j = sinh(u_j)·sc, u_j on [−U, U]
// in steps h, so that the grid is fine near 0 and reaches heavy tails.
func bnafGridMass(t *testing.T, flow *odeflow.Flow, d int, c *mat.Dense, h, U, sc float64) float64 {
	t.Helper()
	m := int(math.Round(2 * U / h))
	us := make([]float64, m+1)
	for i := range us {
		us[i] = -U + h*float64(i)
	}
	n := len(us)
	if d == 2 {
		n *= len(us)
	}
	x := mat.NewDense(n, d, nil)
	jw := make([]float64, n)
	for i := 0; i < n; i++ {
		u0 := us[i%len(us)]
		w := h * sc * math.Cosh(u0)
		x.Set(i, 0, sc*math.Sinh(u0))
		if d == 2 {
			u1 := us[i/len(us)]
			x.Set(i, 1, sc*math.Sinh(u1))
			w *= h * sc * math.Cosh(u1)
		}
		jw[i] = w
	}
	var ctx *mat.Dense
	if c != nil {
		_, cm := c.Dims()
		ctx = mat.NewDense(n, cm, nil)
		for i := 0; i < n; i++ {
			ctx.SetRow(i, c.RawRowView(0))
		}
	}
	lp, err := flow.LogProb(nil, x, ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := 0.0
	for i, v := range lp {
		s += jw[i] * math.Exp(v)
	}
	return s
}

// TestBNAFLogProbIntegrates checks that exp(LogProb) of BNAF flows with a
// standard normal base and random parameters integrates to 1 in 1-D and
// 2-D, for stacked, gated and conditional flows. The trapezoid rule on the
// sinh-stretched grid reaches the tails (|x| ≤ 3 sinh 6 ≈ 600, where the
// leaky slope ε has brought z far out) and, the integrand being smooth,
// converges exponentially in the step: the tolerances are a few times the
// errors seen at twice the step.
func TestBNAFLogProbIntegrates(t *testing.T) {
	rnd := testrand.New(t)
	cases := []struct {
		s    BNAFFlowSettings
		d    int
		h    float64
		tol  float64
		desc string
	}{
		{BNAFFlowSettings{}, 1, 0.01, 1e-8, "default 1-D"},
		{BNAFFlowSettings{Layers: 2, HiddenFactor: 4, Residual: BNAFGated}, 1, 0.01, 1e-8, "gated 1-D"},
		{BNAFFlowSettings{Act: BNAFTanh, Residual: BNAFGated, ContextDim: 2}, 1, 0.01, 1e-8, "tanh conditional 1-D"},
		{BNAFFlowSettings{}, 2, 0.02, 1e-5, "default 2-D"},
		{BNAFFlowSettings{Flows: 2, HiddenFactor: 4, Residual: BNAFGated, ContextDim: 1}, 2, 0.025, 1e-5, "two gated conditional 2-D"},
	}
	for _, tc := range cases {
		tc.s.Src = rand.NewPCG(rnd.Uint64(), 3)
		flow := NewBNAFFlow(tc.d, &tc.s)
		p := flow.Params()
		// Parameters of scale 0.3 keep ∂f/∂x below about 10, so that the
		// density has no ridge narrower than the grid resolves.
		for i := range p.Data {
			p.Data[i] = 0.3 * rnd.NormFloat64()
		}
		var c *mat.Dense
		if tc.s.ContextDim > 0 {
			c = flowtest.RandDense(rnd, 1, tc.s.ContextDim, 1)
		}
		mass := bnafGridMass(t, flow, tc.d, c, tc.h, 6, 3)
		if math.Abs(mass-1) > tc.tol {
			t.Errorf("%s: ∫ p = %.10f, want 1 ± %g", tc.desc, mass, tc.tol)
		}
	}
}

// TestBNAFGivenPanics checks the programmer errors of the conditional API.
func TestBNAFGivenPanics(t *testing.T) {
	p := new(nn.Params)
	b := NewBNAF(p, "b", BNAFSettings{Dim: 2, ContextDim: 3})
	x := mat.NewDense(4, 2, nil)
	for name, f := range map[string]func(){
		"no context":     func() { _ = b.Forward(mat.NewDense(4, 2, nil), nil, x) },
		"nil context":    func() { b.Given(nil) },
		"wrong columns":  func() { b.Given(mat.NewDense(4, 2, nil)) },
		"rows differ":    func() { _ = b.Given(mat.NewDense(3, 3, nil)).Forward(mat.NewDense(4, 2, nil), nil, x) },
		"bad dim":        func() { NewBNAF(p, "c", BNAFSettings{}) },
		"bad activation": func() { NewBNAF(p, "d", BNAFSettings{Dim: 1, Act: 7}) },
		"no recording":   func() { _ = NewBNAF(p, "e", BNAFSettings{Dim: 1}).Backward(nil, nil, mat.NewDense(1, 1, nil), nil) },
	} {
		if !panics(f) {
			t.Errorf("%s: no panic", name)
		}
	}
	u := NewBNAF(new(nn.Params), "u", BNAFSettings{Dim: 2})
	if u.Given(nil) != odeflow.Transform(u) || u.ContextDim() != 0 {
		t.Errorf("unconditional Given does not return the BNAF itself")
	}
}

// TestBNAFFit trains the default BNAF flow on 8gaussians for a few epochs
// of maximum likelihood and checks that the held-out NLL goes down by more
// than half a nat and stays above the data's entropy (2.838 nats), which a
// normalized density cannot beat by more than the sampling error.
func TestBNAFFit(t *testing.T) {
	seed := testrand.Seed(t)
	x, err := toy.Generate("8gaussians", 2000, rand.NewPCG(seed, 1))
	if err != nil {
		t.Fatal(err)
	}
	test, err := toy.Generate("8gaussians", 4000, rand.NewPCG(seed, 2))
	if err != nil {
		t.Fatal(err)
	}
	flow := NewBNAFFlow(2, &BNAFFlowSettings{Src: rand.NewPCG(seed, 3)})
	before := flowtest.MeanNLL(t, flow, test, nil)
	res, err := train.Fit(context.Background(), flow, x, nil, &train.Settings{
		LR: 0.01, Epochs: 150, BatchSize: 128, Src: rand.NewPCG(seed, 4),
	})
	if err != nil {
		t.Fatal(err)
	}
	after := flowtest.MeanNLL(t, flow, test, nil)
	t.Logf("held-out NLL %.4f → %.4f after %d iterations", before, after, res.Iterations)
	if !(after < before-0.5) {
		t.Errorf("held-out NLL %.4f, not well below the initial %.4f", after, before)
	}
	if after > 3.5 {
		t.Errorf("held-out NLL %.4f > 3.5 after training", after)
	}
	if after < 2.838-0.1 {
		t.Errorf("held-out NLL %.4f below the entropy 2.838", after)
	}
}
