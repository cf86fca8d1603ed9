// Package flowtest is the property suite that every odeflow.Transform and
// odeflow.Differentiable of Odeflow is run through, in both directions.
//
// Check verifies, for one transform, one batch and one direction (Forward,
// or Inverse when inverse is true):
//
//   - outputs pre-filled with NaN are fully written, ldj is added to (not
//     overwritten), and the input is left unchanged;
//   - the log-determinant of every row equals log|det| of the
//     finite-difference Jacobian of the whole batch map (gonum diff/fd,
//     central differences, LU log-determinant), and that Jacobian is block
//     diagonal: rows do not interact;
//   - the opposite direction undoes the map (round trip) and adds the
//     opposite log-determinant;
//   - the map computed in place (dst == input) equals the map out of place;
//   - the record call computes exactly (bit for bit) what the plain call
//     computes;
//   - Backward agrees with finite differences of the loss
//     L = Σ_i a_i·v_i + b_i Δ_i for the input and for every parameter, adds
//     into gparams, gives the same gin without gparams, leaves its
//     cotangents unchanged and can be called twice on one recording;
//   - a plain call invalidates the recording (Backward then panics).
//
// CheckNonFinite verifies that non-finite input rows give a *odeflow.RowError
// wrapping odeflow.ErrNonFinite that names exactly those rows, for all four
// calls; CheckNoAlloc verifies that the steady state allocates nothing.
//
// Tolerances are relative, in the sense of check.MaxRelErr:
//
//	|got_i − want_i| ≤ tol · max(1, ‖want‖_∞)
//
// The round trip defaults to 1e-10 and the derivative checks to check.Tol.
package flowtest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/check"
)

// DefaultRoundTrip is the default tolerance of the round trip and of the
// inverse log-determinant.
const DefaultRoundTrip = 1e-10

// Settings adjusts Check. A nil *Settings means every default; so does the
// zero value of each field.
type Settings struct {
	// RoundTrip is the relative tolerance of the round trip and of the
	// inverse log-determinant (= −forward). Zero means DefaultRoundTrip.
	RoundTrip float64
	// Deriv is the relative tolerance of the derivative checks: log-det
	// against the fd Jacobian and Backward against fd. Zero means check.Tol.
	Deriv float64
	// Interaction is the largest ∞-norm allowed for an off-diagonal block of
	// the fd Jacobian of the batch (rows must not interact). Zero means 1e-9.
	Interaction float64
}

func (s *Settings) roundTrip() float64 {
	if s == nil || s.RoundTrip == 0 {
		return DefaultRoundTrip
	}
	return s.RoundTrip
}

func (s *Settings) deriv() float64 {
	if s == nil || s.Deriv == 0 {
		return check.Tol
	}
	return s.Deriv
}

func (s *Settings) interaction() float64 {
	if s == nil || s.Interaction == 0 {
		return 1e-9
	}
	return s.Interaction
}

// Flat returns the elements of m in row-major order (a new slice).
func Flat(m *mat.Dense) []float64 {
	r, c := m.Dims()
	out := make([]float64, 0, r*c)
	for i := 0; i < r; i++ {
		out = append(out, m.RawRowView(i)...)
	}
	return out
}

// RandDense returns an r×c matrix of N(0, scale²) draws from rnd.
func RandDense(rnd *rand.Rand, r, c int, scale float64) *mat.Dense {
	m := mat.NewDense(r, c, nil)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			m.Set(i, j, scale*rnd.NormFloat64())
		}
	}
	return m
}

// RandSlice returns n draws of N(0, scale²) from rnd.
func RandSlice(rnd *rand.Rand, n int, scale float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = scale * rnd.NormFloat64()
	}
	return s
}

// MeanNLL returns −mean log p(x | c) of flow (c nil for an unconditional
// flow), failing the test on an error.
func MeanNLL(t testing.TB, flow *odeflow.Flow, x, c *mat.Dense) float64 {
	t.Helper()
	lp, err := flow.LogProb(nil, x, c)
	if err != nil {
		t.Fatal(err)
	}
	s := 0.0
	for _, v := range lp {
		s -= v
	}
	return s / float64(len(lp))
}

// call is one of a transform's four mapping methods.
type call func(dst *mat.Dense, ldj []float64, x *mat.Dense) error

// direction returns the plain call, its opposite and the record call of the
// chosen direction.
func direction(tr odeflow.Differentiable, inverse bool) (apply, back, record call) {
	if inverse {
		return tr.Inverse, tr.Forward, tr.InverseRecord
	}
	return tr.Forward, tr.Inverse, tr.ForwardRecord
}

// Loss returns L = Σ_i a_i·v_i + b_i Δ_i for the plain call f on u, where v
// is the output and Δ the log-determinant. It panics if f returns an error
// (a finite-difference probe must stay inside the transform's domain).
func Loss(f func(dst *mat.Dense, ldj []float64, x *mat.Dense) error, u, a *mat.Dense, b []float64) float64 {
	var v mat.Dense
	n, _ := u.Dims()
	ldj := make([]float64, n)
	if err := f(&v, ldj, u); err != nil {
		panic(fmt.Sprintf("flowtest: call failed during finite differences: %v", err))
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

// Check runs the property suite on tr with input batch x in one direction:
// Forward (inverse false) or Inverse (inverse true). x should hold at least
// two rows so that row interaction can be seen. src draws the cotangents.
// The transform's parameters (tr.Params().Data) are perturbed during the
// finite differences and restored exactly. Check reports failures through t
// and stops (t.Fatalf) only when a call returns an unexpected error.
func Check(t testing.TB, tr odeflow.Differentiable, x *mat.Dense, inverse bool, src rand.Source, s *Settings) {
	t.Helper()
	rnd := rand.New(src)
	n, d := x.Dims()
	if d != tr.Dim() {
		t.Fatalf("flowtest: batch has %d columns, transform dimension %d", d, tr.Dim())
	}
	xc := Flat(x)
	apply, back, record := direction(tr, inverse)
	dtol, rtol := s.deriv(), s.roundTrip()

	// NaN-prefilled output, ldj accumulates, input unchanged.
	y := mat.NewDense(n, d, nil)
	check.NaNFillDense(y)
	ldj := make([]float64, n)
	for i := range ldj {
		ldj[i] = 0.25 * float64(i+1)
	}
	if err := apply(y, ldj, x); err != nil {
		t.Fatalf("plain call: %v", err)
	}
	check.Unchanged(t, "input after plain call", xc, Flat(x))
	check.Finite(t, "output", Flat(y))
	check.Finite(t, "ldj", ldj)
	ldjRaw := check.Clone(ldj)
	for i := range ldj {
		ldj[i] -= 0.25 * float64(i+1)
	}

	// nil ldj gives the same output.
	ynil := mat.NewDense(n, d, nil)
	check.NaNFillDense(ynil)
	if err := apply(ynil, nil, x); err != nil {
		t.Fatalf("plain call with nil ldj: %v", err)
	}
	check.Unchanged(t, "output with nil ldj", Flat(y), Flat(ynil))

	// log|det| against the fd Jacobian of the whole batch, block diagonal.
	f := func(out, in []float64) {
		var v mat.Dense
		if err := apply(&v, nil, mat.NewDense(n, d, in)); err != nil {
			panic(fmt.Sprintf("flowtest: call failed during finite differences: %v", err))
		}
		copy(out, Flat(&v))
	}
	jac := check.Jacobian(f, n*d, xc)
	for i := 0; i < n; i++ {
		for k := 0; k < n; k++ {
			blk := mat.DenseCopyOf(jac.Slice(i*d, i*d+d, k*d, k*d+d))
			if i == k {
				check.Close(t, fmt.Sprintf("ldj of row %d vs fd Jacobian", i), []float64{check.LogAbsDet(blk)}, []float64{ldj[i]}, dtol)
			} else if nrm := mat.Norm(blk, math.Inf(1)); nrm > s.interaction() {
				t.Errorf("rows %d and %d interact: ‖∂v_%d/∂u_%d‖ = %.3g", i, k, i, k, nrm)
			}
		}
	}

	// Round trip and opposite log-determinants.
	xr := mat.NewDense(n, d, nil)
	check.NaNFillDense(xr)
	ldjr := make([]float64, n)
	yc := Flat(y)
	if err := back(xr, ldjr, y); err != nil {
		t.Fatalf("opposite call: %v", err)
	}
	check.Unchanged(t, "input of the opposite call", yc, Flat(y))
	check.Close(t, "round trip", xc, Flat(xr), rtol)
	for i := range ldjr {
		ldjr[i] = -ldjr[i]
	}
	check.Close(t, "opposite ldj", ldj, ldjr, rtol)

	// In place equals out of place.
	xin := mat.DenseCopyOf(x)
	ldjin := make([]float64, n)
	if err := apply(xin, ldjin, xin); err != nil {
		t.Fatalf("in-place call: %v", err)
	}
	check.Close(t, "in place", yc, Flat(xin), 1e-15)
	check.Close(t, "in place ldj", ldj, ldjin, 1e-15)

	// The record call computes exactly what the plain call computes.
	yr := mat.NewDense(n, d, nil)
	check.NaNFillDense(yr)
	ldjrec := make([]float64, n)
	for i := range ldjrec {
		ldjrec[i] = 0.25 * float64(i+1)
	}
	if err := record(yr, ldjrec, x); err != nil {
		t.Fatalf("record call: %v", err)
	}
	check.Unchanged(t, "input after record call", xc, Flat(x))
	check.Unchanged(t, "record output vs plain", yc, Flat(yr))
	check.Unchanged(t, "record ldj vs plain", ldjRaw, ldjrec)

	// Backward against finite differences of L = Σ a·v + b Δ.
	a := RandDense(rnd, n, d, 1)
	b := RandSlice(rnd, n, 1)
	ac, bc := Flat(a), check.Clone(b)
	p := tr.Params()
	np := 0
	if p != nil {
		np = p.Len()
	}
	gin := mat.NewDense(n, d, nil)
	check.NaNFillDense(gin)
	gp := make([]float64, np)
	if p == nil {
		// A parameter-free transform ignores gparams whatever its length.
		gp = []float64{1.5, -2.5, 3.5}
	}
	gp0 := check.Clone(gp)
	if err := tr.Backward(gin, gp, a, b); err != nil {
		t.Fatalf("Backward: %v", err)
	}
	check.Unchanged(t, "gout", ac, Flat(a))
	check.Unchanged(t, "gldj", bc, b)
	check.Finite(t, "gin", Flat(gin))
	if p == nil {
		check.Unchanged(t, "gparams of a parameter-free transform", gp0, gp)
	}
	ginc := Flat(gin)
	wantIn := check.GradRef(func(u []float64) float64 {
		return Loss(apply, mat.NewDense(n, d, u), a, b)
	}, xc)
	check.Close(t, "gin vs fd", wantIn, ginc, dtol)
	var theta, wantP []float64
	if p != nil {
		theta = check.Clone(p.Data)
		wantP = check.GradRef(func(th []float64) float64 {
			copy(p.Data, th)
			defer copy(p.Data, theta)
			return Loss(apply, x, a, b)
		}, theta)
		check.Unchanged(t, "parameters restored", theta, p.Data)
		check.Close(t, "gparams vs fd", wantP, gp, dtol)
	}

	// The finite differences invalidated the recording: Backward panics.
	if !panics(func() { _ = tr.Backward(nil, nil, a, nil) }) {
		t.Errorf("Backward after plain calls did not panic")
	}

	// Record again (nil ldj): Backward adds into gparams, and with a nil
	// gldj the log-det part is absent.
	if err := record(yr, nil, x); err != nil {
		t.Fatalf("record call with nil ldj: %v", err)
	}
	check.Unchanged(t, "record output with nil ldj", yc, Flat(yr))
	zeroB := make([]float64, n)
	if p != nil {
		gp2 := check.Clone(gp)
		if err := tr.Backward(nil, gp2, a, nil); err != nil {
			t.Fatalf("Backward: %v", err)
		}
		wantA := check.GradRef(func(th []float64) float64 {
			copy(p.Data, th)
			defer copy(p.Data, theta)
			return Loss(apply, x, a, zeroB)
		}, theta)
		for k := range wantA {
			wantA[k] += gp[k]
		}
		check.Close(t, "gparams accumulate, nil gldj", wantA, gp2, dtol)
		if err := record(yr, nil, x); err != nil {
			t.Fatalf("record call with nil ldj: %v", err)
		}
	}
	gin2 := mat.NewDense(n, d, nil)
	check.NaNFillDense(gin2)
	if err := tr.Backward(gin2, nil, a, nil); err != nil {
		t.Fatalf("Backward: %v", err)
	}
	wantIn0 := check.GradRef(func(u []float64) float64 {
		return Loss(apply, mat.NewDense(n, d, u), a, zeroB)
	}, xc)
	check.Close(t, "gin with nil gldj and nil gparams", wantIn0, Flat(gin2), dtol)

	// Backward does not consume the recording; an empty gin is resized.
	if err := record(yr, ldjrec, x); err != nil {
		t.Fatalf("record call: %v", err)
	}
	var gin3, gin4 mat.Dense
	if err := tr.Backward(&gin3, nil, a, b); err != nil {
		t.Fatalf("Backward: %v", err)
	}
	if err := tr.Backward(&gin4, nil, a, b); err != nil {
		t.Fatalf("second Backward: %v", err)
	}
	check.Unchanged(t, "gin without gparams vs with", ginc, Flat(&gin3))
	check.Unchanged(t, "second Backward", Flat(&gin3), Flat(&gin4))
}

// CheckBoth runs Check in both directions as subtests "forward" and
// "inverse", with the same batch.
func CheckBoth(t *testing.T, tr odeflow.Differentiable, x *mat.Dense, src rand.Source, s *Settings) {
	t.Helper()
	for _, inverse := range []bool{false, true} {
		name := "forward"
		if inverse {
			name = "inverse"
		}
		t.Run(name, func(t *testing.T) { Check(t, tr, x, inverse, src, s) })
	}
}

// CheckNonFinite sets one element of row 1 of a copy of x to NaN and one of
// its last row to −Inf (x needs at least three rows), and checks that
// Forward, Inverse, ForwardRecord and InverseRecord all return a
// *odeflow.RowError wrapping odeflow.ErrNonFinite that names exactly those
// two rows.
func CheckNonFinite(t testing.TB, tr odeflow.Differentiable, x *mat.Dense) {
	t.Helper()
	n, d := x.Dims()
	if n < 3 {
		t.Fatalf("flowtest: CheckNonFinite needs at least 3 rows, got %d", n)
	}
	bad := mat.DenseCopyOf(x)
	bad.Set(1, 0, math.NaN())
	bad.Set(n-1, d-1, math.Inf(-1))
	want := fmt.Sprint([]int{1, n - 1})
	names := []string{"Forward", "Inverse", "ForwardRecord", "InverseRecord"}
	for k, f := range []call{tr.Forward, tr.Inverse, tr.ForwardRecord, tr.InverseRecord} {
		var y mat.Dense
		err := f(&y, make([]float64, n), bad)
		var re *odeflow.RowError
		if !errors.As(err, &re) || !errors.Is(err, odeflow.ErrNonFinite) {
			t.Errorf("%s: got error %v, want a *RowError wrapping ErrNonFinite", names[k], err)
			continue
		}
		if got := fmt.Sprint(re.Rows); got != want {
			t.Errorf("%s: rows %s, want %s", names[k], got, want)
		}
	}
}

// CheckNoAlloc checks that, after one warm-up round, Forward, Inverse, the
// in-place Forward, and ForwardRecord+Backward and InverseRecord+Backward
// (with gin, gparams and gldj) allocate nothing.
func CheckNoAlloc(t testing.TB, tr odeflow.Differentiable, x *mat.Dense) {
	t.Helper()
	n, d := x.Dims()
	y := mat.NewDense(n, d, nil)
	z := mat.NewDense(n, d, nil)
	w := mat.DenseCopyOf(x)
	ldj := make([]float64, n)
	gout := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			gout.Set(i, j, 0.5+0.01*float64(i-j))
		}
	}
	gldj := make([]float64, n)
	for i := range gldj {
		gldj[i] = 1
	}
	gin := mat.NewDense(n, d, nil)
	var gp []float64
	if p := tr.Params(); p != nil {
		gp = make([]float64, p.Len())
	}
	rounds := []struct {
		name string
		f    func() error
	}{
		{"Forward", func() error { return tr.Forward(y, ldj, x) }},
		{"Inverse", func() error { return tr.Inverse(z, ldj, y) }},
		{"Forward in place", func() error { return tr.Forward(w, ldj, w) }},
		{"ForwardRecord+Backward", func() error {
			if err := tr.ForwardRecord(y, ldj, x); err != nil {
				return err
			}
			return tr.Backward(gin, gp, gout, gldj)
		}},
		{"InverseRecord+Backward", func() error {
			if err := tr.InverseRecord(z, ldj, y); err != nil {
				return err
			}
			return tr.Backward(gin, gp, gout, gldj)
		}},
	}
	for _, r := range rounds {
		var err error
		if err = r.f(); err != nil {
			t.Errorf("%s: %v", r.name, err)
			continue
		}
		w.Copy(x)
		allocs := testing.AllocsPerRun(5, func() {
			if e := r.f(); e != nil {
				err = e
			}
			w.Copy(x)
		})
		if err != nil {
			t.Errorf("%s: %v", r.name, err)
		}
		if allocs != 0 {
			t.Errorf("%s: %v allocations per call, want 0", r.name, allocs)
		}
	}
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}
