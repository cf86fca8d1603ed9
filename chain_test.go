package odeflow

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

func TestNewChainPanics(t *testing.T) {
	rnd := testrand.New(t)
	p, q := new(nn.Params), new(nn.Params)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"empty", func() { NewChain() }},
		{"nil member", func() { NewChain(linear(p, "a", rnd), nil) }},
		{"dimensions", func() { NewChain(linear(p, "b", rnd), affine(p, "c", rnd, 3)) }},
		{"params", func() { NewChain(linear(p, "d", rnd), linear(q, "e", rnd)) }},
		{"conditional context dims", func() {
			NewConditionalChain(newCondAffineT(p, "f", 2, 1, []float64{1, 1}, []float64{0, 0}),
				newCondAffineT(p, "g", 2, 2, make([]float64, 4), []float64{0, 0}))
		}},
		{"conditional params", func() {
			NewConditionalChain(newCondAffineT(p, "h", 2, 1, []float64{1, 1}, []float64{0, 0}), Unconditional(linear(q, "i", rnd)))
		}},
		{"flow params", func() { NewFlow(NewDiagNormal(q, "base", []float64{0, 0}, []float64{1, 1}), linear(p, "j", rnd)) }},
	} {
		if !panics(tc.f) {
			t.Errorf("%s: no panic", tc.name)
		}
	}
}

func TestChainSharedParams(t *testing.T) {
	rnd := testrand.New(t)
	p := new(nn.Params)
	a, l := affine(p, "a", rnd, 2), linear(p, "l", rnd)
	c := NewChain(a, nanT{2}, l) // a parameter-free member is allowed
	if c.Params() != p || c.Len() != 3 || c.Member(2) != Transform(l) || c.Dim() != 2 {
		t.Error("Chain accessors")
	}
	if NewChain(nanT{2}).Params() != nil {
		t.Error("parameter-free chain has parameters")
	}
	// The chain's params are the union of the members' blocks.
	var names []string
	for _, v := range p.Views() {
		names = append(names, v.Name)
	}
	if got := strings.Join(names, ","); got != "a/mu,a/s,l/W" {
		t.Errorf("blocks %s", got)
	}
}

func TestChainLogDetSumsAndStates(t *testing.T) {
	rnd := testrand.New(t)
	p := new(nn.Params)
	ms := []Transform{affine(p, "a", rnd, 2), linear(p, "l", rnd), Inverse(affine(p, "b", rnd, 2))}
	c := NewChain(ms...)
	x := randDense(rnd, 4, 2, 1)

	// Apply the members one by one.
	want := mat.DenseCopyOf(x)
	wantLDJ := make([]float64, 4)
	var steps []*mat.Dense
	steps = append(steps, mat.DenseCopyOf(x))
	for _, m := range ms {
		var next mat.Dense
		if err := m.Forward(&next, wantLDJ, want); err != nil {
			t.Fatal(err)
		}
		want = &next
		steps = append(steps, mat.DenseCopyOf(&next))
	}
	var y mat.Dense
	ldj := make([]float64, 4)
	if err := c.Forward(&y, ldj, x); err != nil {
		t.Fatal(err)
	}
	check.Close(t, "chain output", flat(want), flat(&y), 1e-15)
	check.Close(t, "chain ldj", wantLDJ, ldj, 1e-15)

	states, err := c.ForwardStates(x)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != len(ms)+1 {
		t.Fatalf("%d states, want %d", len(states), len(ms)+1)
	}
	for i := range states {
		check.Close(t, fmt.Sprintf("state %d", i), flat(steps[i]), flat(states[i]), 1e-15)
	}
	// Inverse states run from the base back to the data.
	inv, err := c.InverseStates(&y)
	if err != nil {
		t.Fatal(err)
	}
	for i := range inv {
		check.Close(t, fmt.Sprintf("inverse state %d", i), flat(steps[len(ms)-i]), flat(inv[i]), 1e-12)
	}
	// The inverse of a chain exposes the same states.
	inv2, err := ForwardStates(Inverse(c), &y)
	if err != nil {
		t.Fatal(err)
	}
	for i := range inv2 {
		check.Close(t, fmt.Sprintf("Inverted state %d", i), flat(inv[i]), flat(inv2[i]), 0)
	}
	// A plain transform has two states.
	two, err := ForwardStates(ms[1], x)
	if err != nil || len(two) != 2 {
		t.Fatalf("ForwardStates of a member: %d states, %v", len(two), err)
	}
}

func TestChainMemberError(t *testing.T) {
	rnd := testrand.New(t)
	p := new(nn.Params)
	c := NewChain(nanT{2}, linear(p, "l", rnd))
	x := randDense(rnd, 4, 2, 1)
	x.Set(2, 0, 11) // nanT turns row 2 into NaN: member 1 sees a non-finite row
	var y mat.Dense
	err := c.Forward(&y, nil, x)
	var re *RowError
	if !errors.As(err, &re) || !errors.Is(err, ErrNonFinite) || fmt.Sprint(re.Rows) != "[2]" {
		t.Fatalf("error %v, want a RowError for row 2", err)
	}
	if !strings.Contains(err.Error(), "member 1") {
		t.Errorf("error %q does not name the member", err)
	}
}

// TestConditionalChainContextRows checks that every conditional member maps
// row i with context row i: the batch result equals one-row evaluations.
func TestConditionalChainContextRows(t *testing.T) {
	rnd := testrand.New(t)
	p := new(nn.Params)
	const n, m = 6, 3
	cc := NewConditionalChain(
		newCondAffineT(p, "c0", 2, m, randSlice(rnd, 2*m, 1), randSlice(rnd, 2, 0.3)),
		Unconditional(linear(p, "l", rnd)),
		newCondAffineT(p, "c1", 2, m, randSlice(rnd, 2*m, 1), randSlice(rnd, 2, 0.3)),
	)
	if cc.Dim() != 2 || cc.ContextDim() != m || cc.Params() != p || cc.Len() != 3 {
		t.Error("ConditionalChain accessors")
	}
	x := randDense(rnd, n, 2, 1)
	ctx := randDense(rnd, n, m, 1)
	ctxc := flat(ctx)
	var y mat.Dense
	ldj := make([]float64, n)
	if err := cc.Given(ctx).Forward(&y, ldj, x); err != nil {
		t.Fatal(err)
	}
	check.Unchanged(t, "context", ctxc, flat(ctx))
	for i := 0; i < n; i++ {
		var yi mat.Dense
		li := make([]float64, 1)
		xi := mat.NewDense(1, 2, check.Clone(x.RawRowView(i)))
		ci := mat.NewDense(1, m, check.Clone(ctx.RawRowView(i)))
		if err := cc.Given(ci).Forward(&yi, li, xi); err != nil {
			t.Fatal(err)
		}
		check.Close(t, fmt.Sprintf("row %d", i), yi.RawRowView(0), y.RawRowView(i), 1e-15)
	}
	// A different context changes the result (the context is used).
	var y2 mat.Dense
	ctx.Set(0, 0, ctx.At(0, 0)+1)
	if err := cc.Given(ctx).Forward(&y2, nil, x); err != nil {
		t.Fatal(err)
	}
	if y2.At(0, 0) == y.At(0, 0) || y2.At(1, 0) != y.At(1, 0) {
		t.Error("context row 0 did not affect exactly row 0")
	}
	if !panics(func() { cc.Given(mat.NewDense(n, m+1, nil)) }) {
		t.Error("Given with wrong context columns did not panic")
	}
}

func TestChainNoAllocs(t *testing.T) {
	rnd := testrand.New(t)
	p := new(nn.Params)
	c := NewChain(affine(p, "a", rnd, 2), linear(p, "l", rnd), affine(p, "b", rnd, 2))
	x := randDense(rnd, 64, 2, 1)
	y := mat.NewDense(64, 2, nil)
	gx := mat.NewDense(64, 2, nil)
	gy := randDense(rnd, 64, 2, 1)
	ldj := make([]float64, 64)
	gldj := randSlice(rnd, 64, 1)
	gp := make([]float64, p.Len())
	run := func() {
		if err := c.Forward(y, ldj, x); err != nil {
			t.Fatal(err)
		}
		if err := c.InverseRecord(y, ldj, x); err != nil {
			t.Fatal(err)
		}
		if err := c.Backward(gx, gp, gy, gldj); err != nil {
			t.Fatal(err)
		}
	}
	run()
	if a := testing.AllocsPerRun(20, run); a != 0 {
		t.Errorf("%v allocations per run, want 0", a)
	}
}

func BenchmarkChainForwardBackward(b *testing.B) {
	rnd := testrand.New(b)
	p := new(nn.Params)
	c := NewChain(affine(p, "a", rnd, 2), linear(p, "l", rnd), affine(p, "b", rnd, 2), linear(p, "m", rnd))
	x := randDense(rnd, 256, 2, 1)
	y := mat.NewDense(256, 2, nil)
	gx := mat.NewDense(256, 2, nil)
	gy := randDense(rnd, 256, 2, 1)
	ldj := make([]float64, 256)
	gp := make([]float64, p.Len())
	b.ReportAllocs()
	for b.Loop() {
		if err := c.ForwardRecord(y, ldj, x); err != nil {
			b.Fatal(err)
		}
		if err := c.Backward(gx, gp, gy, ldj); err != nil {
			b.Fatal(err)
		}
	}
}

func TestChainRepeatedMember(t *testing.T) {
	rnd := testrand.New(t)
	p := new(nn.Params)
	a := affine(p, "a", rnd, 2)
	c := NewChain(a, linear(p, "l", rnd), Inverse(a))
	x := randDense(rnd, 3, 2, 1)
	var y mat.Dense
	if err := c.Forward(&y, nil, x); err != nil { // plain use is fine
		t.Fatal(err)
	}
	if !panics(func() { _ = c.ForwardRecord(new(mat.Dense), nil, x) }) {
		t.Error("recording a chain with a repeated member did not panic")
	}
	cc := NewConditionalChain(Unconditional(a), Unconditional(a))
	if !panics(func() { _ = cc.Given(nil).(Differentiable).InverseRecord(new(mat.Dense), nil, x) }) {
		t.Error("recording a conditional chain with a repeated member did not panic")
	}
}
