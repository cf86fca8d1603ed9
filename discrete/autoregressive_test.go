package discrete

import (
	"fmt"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

// TestAutoregressiveTriangular checks numerically that the Jacobian of an
// autoregressive layer is triangular in its order: ∂z_v/∂x_u is exactly 0
// when u comes after v in the order, and the map really depends on earlier
// variables (the below-diagonal part is not zero). It covers random orders,
// random hidden degrees, contexts, and the spline transformer.
func TestAutoregressiveTriangular(t *testing.T) {
	spline := NewSpline(&SplineSettings{Bins: 5, Bound: 4})
	cases := []struct {
		order  []int
		hidden string
		m      int
		random bool
		tf     Transformer
	}{
		{[]int{0, 1, 2, 3, 4, 5}, "12-12", 0, false, nil},
		{[]int{5, 2, 0, 4, 1, 3}, "12-12", 0, false, nil},
		{[]int{3, 1, 4, 0, 5, 2}, "9-7", 2, true, nil},
		{[]int{2, 0, 1}, "none", 1, false, nil},
		{[]int{1, 4, 0, 3, 2}, "16", 0, false, spline},
		{[]int{4, 0, 2, 1, 3}, "16", 3, true, spline},
	}
	for ci, tc := range cases {
		t.Run(fmt.Sprintf("%d/order=%v/m=%d", ci, tc.order, tc.m), func(t *testing.T) {
			rnd := testrand.New(t)
			d := len(tc.order)
			p := new(nn.Params)
			a, err := NewAutoregressive(p, "a", d, &AutoregressiveSettings{
				Order: tc.order, Hidden: tc.hidden, Act: nn.Tanh, ContextDim: tc.m, RandomDegrees: tc.random, Transformer: tc.tf,
			}, testrand.NewSource(t, 1))
			if err != nil {
				t.Fatal(err)
			}
			condPerturb(p, rnd, 0.5)
			pos := make([]int, d)
			for k, v := range tc.order {
				pos[v] = k
			}
			var ctx *mat.Dense
			if tc.m > 0 {
				ctx = flowtest.RandDense(rnd, 1, tc.m, 1)
			}
			tr := a.Given(ctx)
			for rep := 0; rep < 3; rep++ {
				x := flowtest.RandSlice(rnd, d, 1.5)
				jac := check.Jacobian(func(y, u []float64) {
					var z mat.Dense
					if err := tr.Forward(&z, nil, mat.NewDense(1, d, u)); err != nil {
						panic(err)
					}
					copy(y, z.RawRowView(0))
				}, d, x)
				below := 0.0
				for v := 0; v < d; v++ {
					for u := 0; u < d; u++ {
						j := jac.At(v, u)
						switch {
						case u == v:
							if j <= 0 {
								t.Errorf("∂z_%d/∂x_%d = %v, want > 0", v, v, j)
							}
						case pos[u] > pos[v]:
							if j != 0 {
								t.Errorf("∂z_%d/∂x_%d = %v: variable %d comes later in the order", v, u, j, u)
							}
						default:
							below = max(below, arAbs(j))
						}
					}
				}
				if below < 1e-3 {
					t.Errorf("the map hardly depends on earlier variables (max |∂z_v/∂x_u| = %v)", below)
				}
			}
		})
	}
}

func arAbs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// TestAutoregressiveInverseRecursion checks the d-pass inverse against the
// defining recursion: each x_v solves z_v = τ(x_v; φ_v(x)) with the
// parameters evaluated at the final x (one Forward pass reproduces z).
func TestAutoregressiveInverseRecursion(t *testing.T) {
	rnd := testrand.New(t)
	p := new(nn.Params)
	a, err := NewAutoregressive(p, "a", 4, &AutoregressiveSettings{Order: []int{2, 3, 0, 1}, Hidden: "12", Act: nn.Tanh}, testrand.NewSource(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	condPerturb(p, rnd, 0.6)
	z := flowtest.RandDense(rnd, 30, 4, 1)
	var x, zr mat.Dense
	if err := a.Inverse(&x, nil, z); err != nil {
		t.Fatal(err)
	}
	if err := a.Forward(&zr, nil, &x); err != nil {
		t.Fatal(err)
	}
	check.Close(t, "Forward(Inverse(z))", flowtest.Flat(z), flowtest.Flat(&zr), 1e-12)
	if mat.EqualApprox(&x, z, 1e-3) {
		t.Error("the perturbed layer is (nearly) the identity: the test proves nothing")
	}
}
