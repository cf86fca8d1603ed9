package discrete

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

// condPerturb adds N(0, scale²) noise to every parameter (so that the
// zero-initialized last layers of the conditioners give a non-trivial map)
// and marks every ActNorm initialized (so that a record call does not
// re-initialize it in the middle of a property check).
func condPerturb(p *nn.Params, rnd *rand.Rand, scale float64) {
	for i := range p.Data {
		p.Data[i] += scale * rnd.NormFloat64()
	}
	for _, v := range p.Views() {
		if strings.HasSuffix(v.Name, "/initialized") {
			v.Slot.Of(p.Data)[0] = 1
		}
	}
}

// condLayerCase is a conditioned layer of the property suite.
type condLayerCase struct {
	name  string
	d, m  int
	build func(p *nn.Params, src rand.Source) (odeflow.Conditional, error)
}

func couplingCase(name string, d, m int, s CouplingSettings) condLayerCase {
	s.ContextDim = m
	if s.Hidden == "" {
		s.Hidden = "8"
	}
	if s.Act == nn.Identity {
		s.Act = nn.Tanh
	}
	return condLayerCase{name: fmt.Sprintf("Coupling/%s/d=%d/m=%d", name, d, m), d: d, m: m,
		build: func(p *nn.Params, src rand.Source) (odeflow.Conditional, error) {
			return NewCoupling(p, "c", d, &s, src)
		}}
}

func arCase(name string, d, m int, s AutoregressiveSettings) condLayerCase {
	s.ContextDim = m
	if s.Hidden == "" {
		s.Hidden = "10"
	}
	if s.Act == nn.Identity {
		s.Act = nn.Tanh
	}
	return condLayerCase{name: fmt.Sprintf("Autoregressive/%s/d=%d/m=%d", name, d, m), d: d, m: m,
		build: func(p *nn.Params, src rand.Source) (odeflow.Conditional, error) {
			return NewAutoregressive(p, "a", d, &s, src)
		}}
}

func condLayerCases() []condLayerCase {
	spline := NewSpline(&SplineSettings{Bins: 4, Bound: 3})
	var cs []condLayerCase
	for _, m := range []int{0, 3} {
		cs = append(cs,
			couplingCase("affine/alternating", 2, m, CouplingSettings{}),
			couplingCase("affine/half", 5, m, CouplingSettings{Mask: HalfMask(5, false), Transformer: Affine{Bound: 2}}),
			couplingCase("shift/random", 5, m, CouplingSettings{Mask: RandomMask(5, rand.NewPCG(3, 4)), Transformer: Shift{}}),
			couplingCase("spline/alternating-even", 5, m, CouplingSettings{Mask: AlternatingMask(5, true), Transformer: spline}),
			couplingCase("spline/2-hidden", 2, m, CouplingSettings{Transformer: spline, Hidden: "6-6", Act: nn.ELU}),
			arCase("affine", 2, m, AutoregressiveSettings{}),
			arCase("affine/order", 5, m, AutoregressiveSettings{Order: []int{3, 0, 4, 2, 1}, Hidden: "8-8", RandomDegrees: true}),
			arCase("spline", 5, m, AutoregressiveSettings{Order: []int{4, 3, 2, 1, 0}, Transformer: spline}),
			arCase("spline", 1, m, AutoregressiveSettings{Transformer: spline}),
			arCase("affine/no-hidden", 5, m, AutoregressiveSettings{Hidden: "none"}),
		)
	}
	// d = 1 couplings need a context.
	cs = append(cs,
		couplingCase("affine", 1, 2, CouplingSettings{}),
		couplingCase("spline", 1, 2, CouplingSettings{Transformer: spline}),
		arCase("affine", 1, 0, AutoregressiveSettings{}),
	)
	return cs
}

// TestConditionedLayersSuite runs every coupling and autoregressive layer
// through the property suite in both directions, with random non-zero
// parameters, conditional and not.
func TestConditionedLayersSuite(t *testing.T) {
	for _, tc := range condLayerCases() {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testrand.New(t)
			p := new(nn.Params)
			l, err := tc.build(p, testrand.NewSource(t, 1))
			if err != nil {
				t.Fatal(err)
			}
			condPerturb(p, rnd, 0.3)
			const n = 4
			x := flowtest.RandDense(rnd, n, tc.d, 1.5)
			var ctx *mat.Dense
			if tc.m > 0 {
				ctx = flowtest.RandDense(rnd, n, tc.m, 1)
			}
			tr := l.Given(ctx).(odeflow.Differentiable)
			flowtest.CheckBoth(t, tr, x, testrand.NewSource(t, 2), nil)
			flowtest.CheckNonFinite(t, tr, x)
			flowtest.CheckNoAlloc(t, tr, x)
		})
	}
}

// TestConditionedLayersStartAsIdentity checks that a new layer is exactly
// the identity (zero last layer, identity parameters as bias), with zero
// log-determinant, in both directions.
func TestConditionedLayersStartAsIdentity(t *testing.T) {
	for _, tc := range condLayerCases() {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testrand.New(t)
			l, err := tc.build(new(nn.Params), testrand.NewSource(t, 1))
			if err != nil {
				t.Fatal(err)
			}
			const n = 6
			x := flowtest.RandDense(rnd, n, tc.d, 2)
			var ctx *mat.Dense
			if tc.m > 0 {
				ctx = flowtest.RandDense(rnd, n, tc.m, 1)
			}
			tr := l.Given(ctx)
			for _, f := range []func(*mat.Dense, []float64, *mat.Dense) error{tr.Forward, tr.Inverse} {
				var z mat.Dense
				ldj := make([]float64, n)
				if err := f(&z, ldj, x); err != nil {
					t.Fatal(err)
				}
				if !mat.EqualApprox(&z, x, 1e-14) {
					t.Errorf("new layer is not the identity:\n%v\n%v", mat.Formatted(&z), mat.Formatted(x))
				}
				for i, v := range ldj {
					if v < -1e-14 || v > 1e-14 {
						t.Errorf("row %d: ldj %v, want 0", i, v)
					}
				}
			}
		})
	}
}

// TestConditionedLayersUseContext checks that the context changes the map
// of a conditional layer (row by row) and that an unconditional layer
// ignores Given's argument.
func TestConditionedLayersUseContext(t *testing.T) {
	for _, tc := range condLayerCases() {
		if tc.m == 0 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			rnd := testrand.New(t)
			p := new(nn.Params)
			l, err := tc.build(p, testrand.NewSource(t, 1))
			if err != nil {
				t.Fatal(err)
			}
			condPerturb(p, rnd, 0.3)
			x := flowtest.RandDense(rnd, 3, tc.d, 1)
			c1 := flowtest.RandDense(rnd, 3, tc.m, 1)
			c2 := mat.DenseCopyOf(c1)
			c2.Set(1, 0, c2.At(1, 0)+1)
			var z1, z2 mat.Dense
			if err := l.Given(c1).Forward(&z1, nil, x); err != nil {
				t.Fatal(err)
			}
			if err := l.Given(c2).Forward(&z2, nil, x); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				same := mat.Equal(z1.RowView(i), z2.RowView(i))
				if same != (i != 1) {
					t.Errorf("row %d: changed context of row 1 gives same=%v", i, same)
				}
			}
			if !panics(func() { _ = l.Given(c1).Forward(new(mat.Dense), nil, mat.NewDense(2, tc.d, nil)) }) {
				t.Error("a batch with another row count than the context did not panic")
			}
			if !panics(func() { l.Given(mat.NewDense(3, tc.m+1, nil)) }) {
				t.Error("a context with the wrong columns did not panic")
			}
		})
	}
}

// TestConditionedLayersBatchSizes checks that a batch (a strided view, of
// more rows than the earlier calls, so that the workspace grows) maps
// exactly as its rows one at a time, and that the inverse undoes it.
func TestConditionedLayersBatchSizes(t *testing.T) {
	for _, tc := range condLayerCases() {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testrand.New(t)
			p := new(nn.Params)
			l, err := tc.build(p, testrand.NewSource(t, 1))
			if err != nil {
				t.Fatal(err)
			}
			condPerturb(p, rnd, 0.3)
			const n = 40
			big := flowtest.RandDense(rnd, n, tc.d+2, 1)
			x := big.Slice(0, n, 1, 1+tc.d).(*mat.Dense)
			var ctx *mat.Dense
			if tc.m > 0 {
				ctx = flowtest.RandDense(rnd, n, tc.m, 1)
			}
			ldj1 := make([]float64, 1)
			z1 := mat.NewDense(1, tc.d, nil)
			want := mat.NewDense(n, tc.d, nil)
			wantLDJ := make([]float64, n)
			for i := 0; i < n; i++ {
				var ci *mat.Dense
				if ctx != nil {
					ci = ctx.Slice(i, i+1, 0, tc.m).(*mat.Dense)
				}
				ldj1[0] = 0
				if err := l.Given(ci).Forward(z1, ldj1, x.Slice(i, i+1, 0, tc.d).(*mat.Dense)); err != nil {
					t.Fatal(err)
				}
				want.SetRow(i, z1.RawRowView(0))
				wantLDJ[i] = ldj1[0]
			}
			tr := l.Given(ctx)
			var z, xr mat.Dense
			ldj := make([]float64, n)
			if err := tr.Forward(&z, ldj, x); err != nil {
				t.Fatal(err)
			}
			if !mat.EqualApprox(&z, want, 1e-13) {
				t.Error("batch and row-by-row outputs differ")
			}
			check.Close(t, "batch vs row-by-row ldj", wantLDJ, ldj, 1e-13)
			if err := tr.Inverse(&xr, nil, &z); err != nil {
				t.Fatal(err)
			}
			check.Close(t, "round trip", flowtest.Flat(x), flowtest.Flat(&xr), 1e-10)
		})
	}
}

// panics reports whether f panics.
func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

// TestConditionedLayersErrors checks the data errors and programmer errors
// of the conditioned layers: an overflowing transformer gives a
// *odeflow.RowError wrapping odeflow.ErrNumerical; a conditional layer used
// before Given, a mask that transforms nothing and a coupling without any
// conditioner input panic.
func TestConditionedLayersErrors(t *testing.T) {
	src := testrand.NewSource(t, 1)
	p := new(nn.Params)
	c, err := NewCoupling(p, "c", 2, &CouplingSettings{Transformer: Affine{}, Hidden: "4"}, src)
	if err != nil {
		t.Fatal(err)
	}
	// Raw log-scale 800 for the transformed coordinate: e^800 overflows.
	b := c.Conditioner().Layers()[1].Bias().Of(p.Data)
	b[1] = 800
	x := mat.NewDense(3, 2, []float64{1, 0.5, 2, 0, 3, -1})
	var z mat.Dense
	err = c.Forward(&z, nil, x)
	var re *odeflow.RowError
	if !errors.As(err, &re) || !errors.Is(err, odeflow.ErrNumerical) || fmt.Sprint(re.Rows) != "[0]" {
		t.Errorf("overflow: got %v, want a RowError for row 0 wrapping ErrNumerical", err)
	}

	a, err := NewAutoregressive(new(nn.Params), "a", 2, &AutoregressiveSettings{ContextDim: 1}, src)
	if err != nil {
		t.Fatal(err)
	}
	if !panics(func() { _ = a.Forward(new(mat.Dense), nil, x) }) {
		t.Error("a conditional layer without a context did not panic")
	}
	if !panics(func() { _, _ = NewCoupling(new(nn.Params), "c", 2, &CouplingSettings{Mask: []bool{false, false}}, src) }) {
		t.Error("a mask that transforms nothing did not panic")
	}
	if !panics(func() { _, _ = NewCoupling(new(nn.Params), "c", 1, nil, src) }) {
		t.Error("an unconditional 1-D coupling did not panic")
	}
	if !panics(func() {
		_, _ = NewAutoregressive(new(nn.Params), "a", 3, &AutoregressiveSettings{Order: []int{0, 0, 1}}, src)
	}) {
		t.Error("an order that is not a permutation did not panic")
	}
	if _, err := NewCoupling(new(nn.Params), "c", 2, &CouplingSettings{Hidden: "8-x"}, src); err == nil {
		t.Error("a bad hidden spec gave no error")
	}
	if _, err := NewRealNVP(2, &FlowSettings{Hidden: "0"}); err == nil {
		t.Error("NewRealNVP with a bad hidden spec gave no error")
	}
}
