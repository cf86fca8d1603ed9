package discrete

import (
	"errors"
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

// planarWith returns a planar flow of dimension d with the given raw u, w, b.
func planarWith(u, w []float64, b float64) (*Planar, *nn.Params) {
	p := new(nn.Params)
	t := NewPlanar(p, "pl", len(u), rand.NewPCG(1, 1))
	copy(t.u.Of(p.Data), u)
	copy(t.w.Of(p.Data), w)
	t.b.Of(p.Data)[0] = b
	return t, p
}

func linDot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// planarRawCases returns raw parameters: random at several scales, and
// extreme ones (wᵀu far negative or positive, tiny or huge w).
func planarRawCases(rnd *rand.Rand) [][3][]float64 {
	var out [][3][]float64
	for _, d := range []int{1, 2, 5} {
		for _, su := range []float64{1e-3, 1, 30} {
			for _, sw := range []float64{1e-3, 1, 30} {
				out = append(out, [3][]float64{flowtest.RandSlice(rnd, d, su), flowtest.RandSlice(rnd, d, sw), {rnd.NormFloat64()}})
			}
		}
		for _, lambda := range []float64{-1e6, -800, -40, -3, 0, 3, 1e6} {
			w := flowtest.RandSlice(rnd, d, 1)
			u := make([]float64, d)
			q := linDot(w, w)
			for j := range u {
				u[j] = lambda / q * w[j] // wᵀu = λ
			}
			out = append(out, [3][]float64{u, w, {2 * rnd.NormFloat64()}})
		}
	}
	return out
}

// TestPlanarConstraint checks wᵀû ≥ −1, a positive Jacobian determinant,
// and invertibility, for random and extreme raw parameters.
func TestPlanarConstraint(t *testing.T) {
	rnd := testrand.New(t)
	for k, raw := range planarRawCases(rnd) {
		u, w, b := raw[0], raw[1], raw[2][0]
		d := len(u)
		pl, _ := planarWith(u, w, b)
		uh := pl.Uhat(nil)
		c := linDot(w, uh)
		tol := 1e-12 * math.Max(1, math.Sqrt(linDot(w, w)*linDot(uh, uh)))
		if c < -1-tol {
			t.Errorf("case %d: wᵀû = %v < −1", k, c)
		}
		// Points on both sides of and on the hyperplane wᵀz + b = 0.
		z := flowtest.RandDense(rnd, 6, d, 2)
		for j := 0; j < d; j++ {
			z.Set(0, j, -b*w[j]/linDot(w, w))
		}
		x := mat.NewDense(6, d, nil)
		ldj := make([]float64, 6)
		if err := pl.Inverse(x, ldj, z); err != nil {
			t.Fatalf("case %d: Inverse: %v", k, err)
		}
		check.Finite(t, fmt.Sprintf("case %d ldj", k), ldj)
		// det J = 1 + wᵀû sech²(a) = exp(ldj) must be positive: compare
		// with the determinant of J = I + û sech²(a) wᵀ formed directly.
		for i := 0; i < 6; i++ {
			a := linDot(w, z.RawRowView(i)) + b
			s2 := 1 / math.Pow(math.Cosh(a), 2)
			j := mat.NewDense(d, d, nil)
			for r := 0; r < d; r++ {
				for cc := 0; cc < d; cc++ {
					v := uh[r] * s2 * w[cc]
					if r == cc {
						v++
					}
					j.Set(r, cc, v)
				}
			}
			if det := mat.Det(j); det < -1e-9*math.Max(1, math.Abs(c)) {
				t.Errorf("case %d row %d: det J = %v < 0", k, i, det)
			}
		}
		back := mat.NewDense(6, d, nil)
		ldjb := make([]float64, 6)
		if err := pl.Forward(back, ldjb, x); err != nil {
			t.Fatalf("case %d: Forward: %v", k, err)
		}
		// Data round trip: f(f⁻¹(x)) = x.
		xr := mat.NewDense(6, d, nil)
		if err := pl.Inverse(xr, nil, back); err != nil {
			t.Fatal(err)
		}
		// f stretches by up to 1 + |c| along û, and z = x − û tanh(a) is
		// formed with an absolute error ε‖x‖: the round trip is accurate to
		// about ε(1 + |c|) relative.
		check.Close(t, fmt.Sprintf("case %d data round trip", k), flowtest.Flat(x), flowtest.Flat(xr), 1e-13*math.Max(1, math.Abs(c)))
	}
}

// TestPlanarNearBoundary takes wᵀû → −1, where φ'(0) = 1 + c → 0, and
// checks that the root find still makes the residual of φ(a) = r a few
// ulp, so that the data round trip is exact to 1e-13, and that base points
// away from the hyperplane come back accurately.
func TestPlanarNearBoundary(t *testing.T) {
	rnd := testrand.New(t)
	for _, v := range []float64{-10, -20, -36, -50, -745, -1e4} {
		w := []float64{0.6, -0.8, 0.3}
		q := linDot(w, w)
		u := []float64{v / q * w[0], v / q * w[1], v / q * w[2]}
		pl, _ := planarWith(u, w, 0.1)
		pl.refresh()
		c := pl.c
		if c < -1 || pl.opc <= 0 {
			t.Fatalf("wᵀu = %g: c = %v, 1 + c = %v", v, c, pl.opc)
		}
		// Data points with r = wᵀx + b at several scales, including tiny.
		n := 12
		x := flowtest.RandDense(rnd, n, 3, 1)
		for i := 0; i < n; i++ {
			r := math.Pow(10, -float64(i)) * (1 - 2*float64(i%2))
			shift := (r - linDot(w, x.RawRowView(i)) - 0.1) / q
			for j := 0; j < 3; j++ {
				x.Set(i, j, x.At(i, j)+shift*w[j])
			}
		}
		z := mat.NewDense(n, 3, nil)
		if err := pl.Forward(z, make([]float64, n), x); err != nil {
			t.Fatalf("wᵀu = %g: %v", v, err)
		}
		for i := 0; i < n; i++ {
			r := linDot(w, x.RawRowView(i)) + 0.1
			a := pl.a[i]
			res := a + c*math.Tanh(a) - r
			// r is a sum of terms of size |w_j x_j| and 0.1: its own
			// rounding is the floor of the residual.
			scale := 0.1 + math.Abs(a) + math.Abs(c*math.Tanh(a))
			for j, wj := range w {
				scale += math.Abs(wj * x.At(i, j))
			}
			if math.Abs(res) > 4*0x1p-52*scale {
				t.Errorf("wᵀu = %g, r = %g: residual %g", v, r, res)
			}
		}
		xr := mat.NewDense(n, 3, nil)
		if err := pl.Inverse(xr, nil, z); err != nil {
			t.Fatal(err)
		}
		check.Close(t, fmt.Sprintf("wᵀu = %g data round trip", v), flowtest.Flat(x), flowtest.Flat(xr), 1e-13)

		// Base points with |wᵀz + b| ≥ 0.5 (D ≥ tanh²(0.5) ≈ 0.21).
		zb := flowtest.RandDense(rnd, n, 3, 1)
		for i := 0; i < n; i++ {
			a := linDot(w, zb.RawRowView(i)) + 0.1
			if math.Abs(a) < 0.5 {
				shift := (math.Copysign(0.5, a) - a) / q
				for j := 0; j < 3; j++ {
					zb.Set(i, j, zb.At(i, j)+shift*w[j])
				}
			}
		}
		xb := mat.NewDense(n, 3, nil)
		if err := pl.Inverse(xb, nil, zb); err != nil {
			t.Fatal(err)
		}
		zr := mat.NewDense(n, 3, nil)
		if err := pl.Forward(zr, nil, xb); err != nil {
			t.Fatal(err)
		}
		check.Close(t, fmt.Sprintf("wᵀu = %g base round trip", v), flowtest.Flat(zb), flowtest.Flat(zr), 1e-12)
	}
}

// TestPlanarZeroW checks the w = 0 case: a translation by u tanh(b).
func TestPlanarZeroW(t *testing.T) {
	pl, _ := planarWith([]float64{1, -2}, []float64{0, 0}, 0.7)
	x := mat.NewDense(2, 2, []float64{0.5, 0.25, -1, 3})
	z := mat.NewDense(2, 2, nil)
	ldj := make([]float64, 2)
	if err := pl.Forward(z, ldj, x); err != nil {
		t.Fatal(err)
	}
	th := math.Tanh(0.7)
	want := []float64{0.5 - th, 0.25 + 2*th, -1 - th, 3 + 2*th}
	check.Close(t, "translation", want, flowtest.Flat(z), 1e-15)
	check.Close(t, "ldj", []float64{0, 0}, ldj, 1e-15)
}

// TestPlanarNotConverged checks the error path of the root find: NaN
// parameters make every row fail.
func TestPlanarNotConverged(t *testing.T) {
	pl, _ := planarWith([]float64{math.NaN(), 1}, []float64{1, 1}, 0)
	err := pl.Forward(new(mat.Dense), nil, mat.NewDense(3, 2, []float64{1, 2, 3, 4, 5, 6}))
	var re *odeflow.RowError
	if !errors.As(err, &re) || !errors.Is(err, odeflow.ErrNotConverged) || fmt.Sprint(re.Rows) != "[0 1 2]" {
		t.Errorf("got %v, want ErrNotConverged in rows [0 1 2]", err)
	}
}
