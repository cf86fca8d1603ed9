package odeflow

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

// randDense returns an r×c matrix of N(0, scale²) draws.
func randDense(rnd *rand.Rand, r, c int, scale float64) *mat.Dense {
	m := mat.NewDense(r, c, nil)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			m.Set(i, j, scale*rnd.NormFloat64())
		}
	}
	return m
}

func randSlice(rnd *rand.Rand, n int, scale float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = scale * rnd.NormFloat64()
	}
	return s
}

func flat(m *mat.Dense) []float64 {
	r, c := m.Dims()
	out := make([]float64, 0, r*c)
	for i := 0; i < r; i++ {
		out = append(out, m.RawRowView(i)...)
	}
	return out
}

// transformCase builds a Differentiable transform (bound to a context for
// conditional cases) on its parameters, with n rows of input.
type transformCase struct {
	name  string
	n     int
	build func(rnd *rand.Rand) (Differentiable, *nn.Params)
}

func affine(p *nn.Params, name string, rnd *rand.Rand, d int) *affineT {
	return newAffineT(p, name, randSlice(rnd, d, 0.5), randSlice(rnd, d, 0.3))
}

func linear(p *nn.Params, name string, rnd *rand.Rand) *linear2T {
	return newLinear2T(p, name, [4]float64{1.2 + 0.1*rnd.NormFloat64(), 0.4, -0.3, 0.9 + 0.1*rnd.NormFloat64()})
}

func transformCases() []transformCase {
	const n = 5
	return []transformCase{
		{name: "affine", n: n, build: func(rnd *rand.Rand) (Differentiable, *nn.Params) {
			p := new(nn.Params)
			return affine(p, "a", rnd, 3), p
		}},
		{name: "linear2", n: n, build: func(rnd *rand.Rand) (Differentiable, *nn.Params) {
			p := new(nn.Params)
			return linear(p, "l", rnd), p
		}},
		{name: "chain", n: n, build: func(rnd *rand.Rand) (Differentiable, *nn.Params) {
			p := new(nn.Params)
			return NewChain(affine(p, "a0", rnd, 2), linear(p, "l1", rnd), affine(p, "a2", rnd, 2), linear(p, "l3", rnd)), p
		}},
		{name: "chain1", n: n, build: func(rnd *rand.Rand) (Differentiable, *nn.Params) {
			p := new(nn.Params)
			return NewChain(linear(p, "l", rnd)), p
		}},
		{name: "inverse(chain)", n: n, build: func(rnd *rand.Rand) (Differentiable, *nn.Params) {
			p := new(nn.Params)
			return Inverse(NewChain(affine(p, "a0", rnd, 2), linear(p, "l1", rnd), affine(p, "a2", rnd, 2))).(Differentiable), p
		}},
		{name: "chain(inverse, chain)", n: n, build: func(rnd *rand.Rand) (Differentiable, *nn.Params) {
			p := new(nn.Params)
			inner := NewChain(linear(p, "l0", rnd), affine(p, "a1", rnd, 2))
			return NewChain(Inverse(linear(p, "l2", rnd)), inner, affine(p, "a3", rnd, 2)), p
		}},
		{name: "conditional chain", n: n, build: func(rnd *rand.Rand) (Differentiable, *nn.Params) {
			p := new(nn.Params)
			cc := NewConditionalChain(
				newCondAffineT(p, "c0", 2, 3, randSlice(rnd, 6, 0.5), randSlice(rnd, 2, 0.3)),
				Unconditional(linear(p, "l1", rnd)),
				InverseConditional(newCondAffineT(p, "c2", 2, 3, randSlice(rnd, 6, 0.5), randSlice(rnd, 2, 0.3))),
			)
			return cc.Given(randDense(rnd, n, 3, 1)).(Differentiable), p
		}},
	}
}

// lossOf evaluates L = Σ_i a_i·v_i + b_i Δ_i of the (plain) Forward or Inverse.
func lossOf(t Transform, u *mat.Dense, inverse bool, a *mat.Dense, b []float64) float64 {
	var v mat.Dense
	n, _ := u.Dims()
	ldj := make([]float64, n)
	var err error
	if inverse {
		err = t.Inverse(&v, ldj, u)
	} else {
		err = t.Forward(&v, ldj, u)
	}
	if err != nil {
		panic(err)
	}
	l := 0.0
	for i := 0; i < n; i++ {
		l += b[i] * ldj[i]
		for j, x := range v.RawRowView(i) {
			l += a.At(i, j) * x
		}
	}
	return l
}

func TestTransformSuite(t *testing.T) {
	for _, tc := range transformCases() {
		for _, inverse := range []bool{false, true} {
			name := tc.name + "/forward"
			if inverse {
				name = tc.name + "/inverse"
			}
			t.Run(name, func(t *testing.T) {
				rnd := testrand.New(t)
				tr, p := tc.build(rnd)
				d := tr.Dim()
				x := randDense(rnd, tc.n, d, 1)
				xc := flat(x)
				apply, back := tr.Forward, tr.Inverse
				record := tr.ForwardRecord
				if inverse {
					apply, back, record = tr.Inverse, tr.Forward, tr.InverseRecord
				}

				// NaN-prefilled output, ldj accumulates, input unchanged.
				y := mat.NewDense(tc.n, d, nil)
				check.NaNFillDense(y)
				ldj := make([]float64, tc.n)
				for i := range ldj {
					ldj[i] = 0.25 * float64(i)
				}
				if err := apply(y, ldj, x); err != nil {
					t.Fatal(err)
				}
				check.Unchanged(t, "x", xc, flat(x))
				check.Finite(t, "y", flat(y))
				ldjRaw := check.Clone(ldj)
				for i := range ldj {
					ldj[i] -= 0.25 * float64(i)
				}

				// log|det| against the finite-difference Jacobian of the
				// whole batch, which must be block diagonal (rows independent).
				f := func(out, in []float64) {
					var v mat.Dense
					if err := apply(&v, nil, mat.NewDense(tc.n, d, in)); err != nil {
						panic(err)
					}
					copy(out, flat(&v))
				}
				jac := check.Jacobian(f, tc.n*d, xc)
				for i := 0; i < tc.n; i++ {
					for k := 0; k < tc.n; k++ {
						blk := mat.DenseCopyOf(jac.Slice(i*d, i*d+d, k*d, k*d+d))
						if i == k {
							check.Close(t, fmt.Sprintf("ldj row %d", i), []float64{check.LogAbsDet(blk)}, []float64{ldj[i]}, check.Tol)
						} else if mat.Norm(blk, math.Inf(1)) > 1e-9 {
							t.Errorf("rows %d and %d interact", i, k)
						}
					}
				}

				// Round trip and opposite log-dets.
				var xr mat.Dense
				ldjr := make([]float64, tc.n)
				if err := back(&xr, ldjr, y); err != nil {
					t.Fatal(err)
				}
				check.Close(t, "round trip", xc, flat(&xr), 1e-12)
				for i := range ldj {
					ldjr[i] = -ldjr[i]
				}
				check.Close(t, "inverse ldj", ldj, ldjr, 1e-12)

				// In place equals out of place.
				xin := mat.DenseCopyOf(x)
				ldjin := make([]float64, tc.n)
				if err := apply(xin, ldjin, xin); err != nil {
					t.Fatal(err)
				}
				check.Close(t, "in place", flat(y), flat(xin), 1e-15)
				check.Close(t, "in place ldj", ldj, ldjin, 1e-15)

				// A record call computes exactly what the plain call computes.
				yr := mat.NewDense(tc.n, d, nil)
				check.NaNFillDense(yr)
				ldjrec := make([]float64, tc.n)
				for i := range ldjrec {
					ldjrec[i] = 0.25 * float64(i)
				}
				if err := record(yr, ldjrec, x); err != nil {
					t.Fatal(err)
				}
				check.Unchanged(t, "record output", flat(y), flat(yr))
				check.Unchanged(t, "record ldj", ldjRaw, ldjrec)

				// Backward against finite differences of L = Σ a·v + b Δ.
				a := randDense(rnd, tc.n, d, 1)
				b := randSlice(rnd, tc.n, 1)
				ac, bc := flat(a), check.Clone(b)
				gin := mat.NewDense(tc.n, d, nil)
				check.NaNFillDense(gin)
				gp := make([]float64, p.Len())
				if err := tr.Backward(gin, gp, a, b); err != nil {
					t.Fatal(err)
				}
				check.Unchanged(t, "gout", ac, flat(a))
				check.Unchanged(t, "gldj", bc, b)
				wantIn := check.GradRef(func(u []float64) float64 {
					return lossOf(tr, mat.NewDense(tc.n, d, u), inverse, a, b)
				}, xc)
				check.Close(t, "gin", wantIn, flat(gin), check.Tol)
				theta := check.Clone(p.Data)
				wantP := check.GradRef(func(th []float64) float64 {
					copy(p.Data, th)
					defer copy(p.Data, theta)
					return lossOf(tr, x, inverse, a, b)
				}, theta)
				check.Close(t, "gparams", wantP, gp, check.Tol)

				// The recording survives the FD evaluations? No: they invalidate
				// it. Record again, then check that Backward adds into gparams
				// and that a nil gin gives the same gparams.
				if err := record(yr, nil, x); err != nil {
					t.Fatal(err)
				}
				gp2 := check.Clone(gp)
				if err := tr.Backward(nil, gp2, a, nil); err != nil {
					t.Fatal(err)
				}
				// With gldj = nil the ldj part is missing: compare with the
				// finite differences of Σ a·v alone, plus gp.
				wantA := check.GradRef(func(th []float64) float64 {
					copy(p.Data, th)
					defer copy(p.Data, theta)
					return lossOf(tr, x, inverse, a, make([]float64, tc.n))
				}, theta)
				for k := range wantA {
					wantA[k] += gp[k]
				}
				check.Close(t, "gparams accumulate, nil gldj", wantA, gp2, check.Tol)
			})
		}
	}
}

func TestTransformNonFiniteInput(t *testing.T) {
	for _, tc := range transformCases() {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testrand.New(t)
			tr, _ := tc.build(rnd)
			x := randDense(rnd, tc.n, tr.Dim(), 1)
			x.Set(1, 0, math.NaN())
			x.Set(3, tr.Dim()-1, math.Inf(-1))
			for _, f := range []func(*mat.Dense, []float64, *mat.Dense) error{tr.Forward, tr.Inverse, tr.ForwardRecord, tr.InverseRecord} {
				var y mat.Dense
				err := f(&y, nil, x)
				var re *RowError
				if !errors.As(err, &re) || !errors.Is(err, ErrNonFinite) {
					t.Fatalf("got error %v, want a *RowError wrapping ErrNonFinite", err)
				}
				if fmt.Sprint(re.Rows) != "[1 3]" {
					t.Errorf("rows %v, want [1 3]", re.Rows)
				}
			}
		})
	}
}

func TestBackwardWithoutRecordingPanics(t *testing.T) {
	rnd := testrand.New(t)
	p := new(nn.Params)
	c := NewChain(affine(p, "a", rnd, 2), linear(p, "l", rnd))
	x := randDense(rnd, 3, 2, 1)
	var y mat.Dense
	if err := c.ForwardRecord(&y, nil, x); err != nil {
		t.Fatal(err)
	}
	var z mat.Dense
	if err := c.Forward(&z, nil, x); err != nil { // invalidates the recording
		t.Fatal(err)
	}
	if !panics(func() { _ = c.Backward(nil, nil, randDense(rnd, 3, 2, 1), nil) }) {
		t.Error("Backward after Forward did not panic")
	}
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

func TestPrepareCallPanics(t *testing.T) {
	x := mat.NewDense(3, 2, nil)
	big := mat.NewDense(4, 2, nil)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"columns", func() { _, _ = PrepareCall("op", 3, new(mat.Dense), nil, x, true) }},
		{"dst size", func() { _, _ = PrepareCall("op", 2, mat.NewDense(2, 2, nil), nil, x, true) }},
		{"ldj length", func() { _, _ = PrepareCall("op", 2, new(mat.Dense), make([]float64, 2), x, true) }},
		{"nil dst", func() { _, _ = PrepareCall("op", 2, nil, nil, x, true) }},
		{"in place when not allowed", func() { _, _ = PrepareCall("op", 2, x, nil, x, false) }},
		{"partial overlap", func() {
			_, _ = PrepareCall("op", 2, big.Slice(1, 4, 0, 2).(*mat.Dense), nil, big.Slice(0, 3, 0, 2).(*mat.Dense), true)
		}},
		{"gin overlaps gout", func() { PrepareBackward("op", 2, 3, 0, x, nil, x, nil) }},
		{"gparams length", func() { PrepareBackward("op", 2, 3, 5, nil, make([]float64, 4), x, nil) }},
	} {
		if !panics(tc.f) {
			t.Errorf("%s: no panic", tc.name)
		}
	}
	// The allowed cases do not panic.
	if panics(func() { _, _ = PrepareCall("op", 2, x, nil, x, true) }) {
		t.Error("in place panicked")
	}
	dst := new(mat.Dense)
	if n, err := PrepareCall("op", 2, dst, make([]float64, 3), x, false); n != 3 || err != nil {
		t.Errorf("PrepareCall = %d, %v", n, err)
	}
	if r, c := dst.Dims(); r != 3 || c != 2 {
		t.Errorf("empty dst resized to %d×%d", r, c)
	}
}

func TestRowErrorMessage(t *testing.T) {
	e := &RowError{Op: "odeflow: X", Rows: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, Err: ErrNumerical}
	want := "odeflow: X: non-finite result in 10 rows [0 1 2 3 4 5 6 7 ...]"
	if e.Error() != want {
		t.Errorf("got %q, want %q", e.Error(), want)
	}
	if !errors.Is(e, ErrNumerical) {
		t.Error("RowError does not unwrap")
	}
}

func TestInverseInvolution(t *testing.T) {
	rnd := testrand.New(t)
	p := new(nn.Params)
	l := linear(p, "l", rnd)
	if Inverse(Inverse(l)) != Transform(l) {
		t.Error("Inverse(Inverse(t)) != t")
	}
	c := newCondAffineT(p, "c", 2, 1, []float64{1, 2}, []float64{0, 0})
	if InverseConditional(InverseConditional(c)) != Conditional(c) {
		t.Error("InverseConditional is not an involution")
	}
	if Inverse(l).(*Inverted).Inner() != Transform(l) {
		t.Error("Inner")
	}
	if panics(func() { Inverse(nanT{2}).(Differentiable).ForwardRecord(new(mat.Dense), nil, mat.NewDense(1, 2, nil)) }) == false {
		t.Error("Inverted of a non-Differentiable transform did not panic in ForwardRecord")
	}
}
