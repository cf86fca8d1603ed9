package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
)

var allActs = []Activation{Identity, Tanh, Softplus, ELU, SiLU, Sigmoid, ReLU, LeakyReLU}

func randSlice(rnd *rand.Rand, n int, scale float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = scale * rnd.NormFloat64()
	}
	return s
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// layerCase is one layer under test with a naive reference forward.
type layerCase struct {
	name string
	l    Layer
	p    *Params // nil for a parameter-free layer
	ref  func(y, x []float64, n int)
}

// naiveLinear evaluates a Linear layer row by row with plain loops.
func naiveLinear(l *Linear, y, x []float64, n int) {
	W, b := l.w.Of(l.p.Data), l.b.Of(l.p.Data)
	for i := 0; i < n; i++ {
		for o := 0; o < l.out; o++ {
			h := b[o]
			for c := 0; c < l.in; c++ {
				w := W[o*l.in+c]
				if l.mask != nil {
					w *= l.mask[o*l.in+c]
				}
				h += w * x[i*l.in+c]
			}
			y[i*l.out+o] = l.act.F(h)
		}
	}
}

// naiveMLP composes naiveLinear with the residual connections.
func naiveMLP(m *MLP, y, x []float64, n int) {
	cur := x
	for l, layer := range m.layers {
		out := make([]float64, n*layer.out)
		naiveLinear(layer, out, cur, n)
		if m.res[l] {
			for i := range out {
				out[i] += cur[i]
			}
		}
		cur = out
	}
	copy(y, cur)
}

// runLayerChecks runs every derivative pass of c.l on a batch of n rows
// with k tangents against finite differences, with NaN-prefilled outputs
// and unchanged inputs.
func runLayerChecks(t *testing.T, c layerCase, n, k int, rnd *rand.Rand) {
	t.Helper()
	l := c.l
	in, out := l.In(), l.Out()
	var theta []float64
	if c.p != nil {
		theta = c.p.Data
	}
	x := randSlice(rnd, n*in, 1)
	xd := randSlice(rnd, n*k*in, 1)
	gy := randSlice(rnd, n*out, 1)
	gyd := randSlice(rnd, n*k*out, 1)
	x0, xd0, gy0, gyd0, th0 := check.Clone(x), check.Clone(xd), check.Clone(gy), check.Clone(gyd), check.Clone(theta)

	// A workspace larger than needed: the passes must use the first n rows.
	ws := l.NewWorkspace(n+3, k+1)
	refWS := l.NewWorkspace(n, k)
	fwd := func(y, x []float64) { l.Forward(refWS, y, x) }
	withTheta := func(th []float64, f func()) {
		saved := check.Clone(theta)
		copy(theta, th)
		f()
		copy(theta, saved)
	}

	// Forward against the naive reference.
	y := make([]float64, n*out)
	check.NaNFill(y)
	l.Forward(ws, y, x)
	want := make([]float64, n*out)
	c.ref(want, x, n)
	check.Close(t, "forward", want, y, 1e-12)

	// VJP with respect to x and θ.
	gx := make([]float64, n*in)
	check.NaNFill(gx)
	g0 := randSlice(rnd, len(theta), 1)
	gθ := check.Clone(g0)
	l.VJP(ws, gx, gθ, gy)
	check.Close(t, "VJP x", check.VJPRef(fwd, n*out, x, gy), gx, check.Tol)
	if c.p != nil {
		fθ := func(y, th []float64) { withTheta(th, func() { l.Forward(refWS, y, x) }) }
		got := make([]float64, len(theta))
		for i := range got {
			got[i] = gθ[i] - g0[i]
		}
		check.Close(t, "VJP θ", check.VJPRef(fθ, n*out, theta, gy), got, check.Tol)
		// Skipping gx must not change gθ, and skipping gθ must not change gx.
		gθ2 := check.Clone(g0)
		l.VJP(ws, nil, gθ2, gy)
		check.Unchanged(t, "VJP θ without gx", gθ, gθ2)
	}
	gx2 := make([]float64, n*in)
	check.NaNFill(gx2)
	l.VJP(ws, gx2, nil, gy)
	check.Unchanged(t, "VJP x without gθ", gx, gx2)

	// JVP: each tangent j against J·ẋ_j.
	yd := make([]float64, n*k*out)
	check.NaNFill(yd)
	l.JVP(ws, yd, xd)
	for j := 0; j < k; j++ {
		v := make([]float64, n*in)
		got := make([]float64, n*out)
		for i := 0; i < n; i++ {
			copy(v[i*in:(i+1)*in], xd[(i*k+j)*in:])
			copy(got[i*out:(i+1)*out], yd[(i*k+j)*out:])
		}
		check.Close(t, fmt.Sprintf("JVP tangent %d", j), check.JVPRef(fwd, n*out, x, v), got, check.Tol)
	}

	// Reverse pass through forward+tangent: the gradient of
	// L = gy·y + gẏ·ẏ with respect to x, ẋ and θ.
	tanWS := l.NewWorkspace(n, k)
	for _, withGy := range []bool{true, false} {
		gyUse := gy
		if !withGy {
			gyUse = nil
		}
		loss := func(x, xd []float64) float64 {
			y := make([]float64, n*out)
			yd := make([]float64, n*k*out)
			l.Forward(tanWS, y, x)
			l.JVP(tanWS, yd, xd)
			s := dot(gyd, yd)
			if gyUse != nil {
				s += dot(gyUse, y)
			}
			return s
		}
		gx := make([]float64, n*in)
		gxd := make([]float64, n*k*in)
		check.NaNFill(gx)
		check.NaNFill(gxd)
		gθ := check.Clone(g0)
		l.TangentVJP(ws, gx, gxd, gθ, gyUse, gyd)
		tag := fmt.Sprintf("TangentVJP (gy given: %v)", withGy)
		check.Close(t, tag+" x", check.GradRef(func(v []float64) float64 { return loss(v, xd) }, x), gx, check.Tol)
		check.Close(t, tag+" ẋ", check.GradRef(func(v []float64) float64 { return loss(x, v) }, xd), gxd, check.Tol)
		if c.p != nil {
			ref := check.GradRef(func(th []float64) float64 {
				var s float64
				withTheta(th, func() { s = loss(x, xd) })
				return s
			}, theta)
			got := make([]float64, len(theta))
			for i := range got {
				got[i] = gθ[i] - g0[i]
			}
			check.Close(t, tag+" θ", ref, got, check.Tol)
			gθ2 := check.Clone(g0)
			l.TangentVJP(ws, nil, nil, gθ2, gyUse, gyd)
			check.Unchanged(t, tag+" θ alone", gθ, gθ2)
		}
		gx2, gxd2 := make([]float64, n*in), make([]float64, n*k*in)
		l.TangentVJP(ws, gx2, nil, nil, gyUse, gyd)
		l.TangentVJP(ws, nil, gxd2, nil, gyUse, gyd)
		check.Unchanged(t, tag+" x alone", gx, gx2)
		check.Unchanged(t, tag+" ẋ alone", gxd, gxd2)
	}

	check.Unchanged(t, "x", x0, x)
	check.Unchanged(t, "ẋ", xd0, xd)
	check.Unchanged(t, "gy", gy0, gy)
	check.Unchanged(t, "gẏ", gyd0, gyd)
	check.Unchanged(t, "θ", th0, theta)
}

// randomize sets every parameter to a normal draw (including masked weights
// and biases, which must then be ignored or used correctly).
func randomize(p *Params, rnd *rand.Rand, scale float64) {
	for i := range p.Data {
		p.Data[i] = scale * rnd.NormFloat64()
	}
}

func TestLinearDerivatives(t *testing.T) {
	rnd := testrand.New(t)
	shapes := []struct{ in, out int }{{2, 5}, {6, 3}, {4, 4}}
	for _, act := range allActs {
		for _, sh := range shapes {
			for _, masked := range []string{"dense", "masked", "ones"} {
				name := fmt.Sprintf("%v/%d→%d/%s", act, sh.in, sh.out, masked)
				t.Run(name, func(t *testing.T) {
					p := &Params{}
					p.Reserve("other", 3) // the layer's blocks do not start at 0
					var l *Linear
					if masked != "dense" {
						// "ones": a mask of ones, whose products the layer skips.
						mask := make([]float64, sh.in*sh.out)
						for i := range mask {
							if masked == "ones" || rnd.IntN(3) > 0 {
								mask[i] = 1
							}
						}
						l = NewMaskedLinear(p, "lin", sh.in, sh.out, act, mask)
						if got := l.Mask(); len(got) != len(mask) {
							t.Fatalf("Mask() has length %d", len(got))
						}
					} else {
						l = NewLinear(p, "lin", sh.in, sh.out, act)
					}
					randomize(p, rnd, 0.8)
					c := layerCase{name: name, l: l, p: p, ref: func(y, x []float64, n int) { naiveLinear(l, y, x, n) }}
					runLayerChecks(t, c, 3, 2, rnd)
				})
			}
		}
	}
}

func TestActLayerDerivatives(t *testing.T) {
	rnd := testrand.New(t)
	for _, act := range allActs {
		t.Run(act.String(), func(t *testing.T) {
			a := NewActLayer(4, act)
			ref := func(y, x []float64, n int) {
				for i, v := range x {
					y[i] = act.F(v)
				}
			}
			runLayerChecks(t, layerCase{name: act.String(), l: a, ref: ref}, 3, 3, rnd)
		})
	}
}

func TestMLPDerivatives(t *testing.T) {
	rnd := testrand.New(t)
	type mcase struct {
		name string
		cfg  MLPConfig
	}
	var cases []mcase
	for _, act := range allActs {
		cases = append(cases, mcase{act.String(), MLPConfig{In: 3, Out: 2, Hidden: "5-5-4", Act: act}})
	}
	cases = append(cases,
		mcase{"tanh-residual", MLPConfig{In: 3, Out: 2, Hidden: "5-5-5", Act: Tanh, Residual: true}},
		mcase{"silu-residual-in=hidden", MLPConfig{In: 4, Out: 4, Hidden: "4-6-6", Act: SiLU, Residual: true}},
		mcase{"elu-no-hidden", MLPConfig{In: 3, Out: 2, Act: ELU}},
		mcase{"softplus-one-hidden", MLPConfig{In: 2, Out: 3, Hidden: "7", Act: Softplus}},
		mcase{"made-tanh", MLPConfig{In: 4, Out: 8, Hidden: "6-6", Act: Tanh,
			Masks: MADEMasks([]int{2, 0, 3, 1}, []int{6, 6}, 2, nil)}},
		mcase{"made-relu-residual", MLPConfig{In: 4, Out: 8, Hidden: "6-6", Act: ReLU, Residual: true,
			Masks: MADEMasks([]int{1, 3, 0, 2}, []int{6, 6}, 2, nil)}},
	)
	for _, mc := range cases {
		t.Run(mc.name, func(t *testing.T) {
			p := &Params{}
			m, err := NewMLP(p, "mlp", mc.cfg, testrand.NewSource(t, 7))
			if err != nil {
				t.Fatal(err)
			}
			randomize(p, rnd, 0.7)
			c := layerCase{name: mc.name, l: m, p: p, ref: func(y, x []float64, n int) { naiveMLP(m, y, x, n) }}
			runLayerChecks(t, c, 3, 2, rnd)
		})
	}
}

func TestMLPResidualFlags(t *testing.T) {
	p := &Params{}
	m, err := NewMLP(p, "m", MLPConfig{In: 4, Out: 4, Hidden: "4-8-8-4", Act: Tanh, Residual: true}, rand.NewPCG(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	// Layers: 4→4 (skip), 4→8, 8→8 (skip), 8→4, 4→4 (last: never).
	want := []bool{true, false, true, false, false}
	for l, w := range want {
		if m.Residual(l) != w {
			t.Errorf("layer %d: residual %v, want %v", l, m.Residual(l), w)
		}
	}
}

func TestMLPZeroLastOutputsZero(t *testing.T) {
	rnd := testrand.New(t)
	p := &Params{}
	m, err := NewMLP(p, "m", MLPConfig{In: 3, Out: 3, Hidden: "8-8", Act: Tanh, ZeroLast: true}, testrand.NewSource(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	ws := m.NewWorkspace(5, 0)
	x := randSlice(rnd, 15, 2)
	y := make([]float64, 15)
	check.NaNFill(y)
	m.Forward(ws, y, x)
	for i, v := range y {
		if v != 0 {
			t.Fatalf("y[%d] = %v, want 0 with a zero last layer", i, v)
		}
	}
	// The hidden layers are not zero, so the parameter gradient of the last
	// layer is not either: training can move away from the identity.
	gθ := make([]float64, p.Len())
	m.VJP(ws, nil, gθ, randSlice(rnd, 15, 1))
	last := m.Layers()[2]
	if nz := countNonzero(last.Weight().Of(gθ)); nz == 0 {
		t.Error("zero-initialized last layer gets no weight gradient")
	}
}

func countNonzero(s []float64) int {
	n := 0
	for _, v := range s {
		if v != 0 {
			n++
		}
	}
	return n
}

func TestNewMLPErrors(t *testing.T) {
	src := rand.NewPCG(1, 1)
	bad := []MLPConfig{
		{In: 0, Out: 2},
		{In: 2, Out: -1},
		{In: 2, Out: 2, Hidden: "64-x"},
		{In: 2, Out: 2, Hidden: "64--64"},
		{In: 2, Out: 2, Hidden: "0"},
		{In: 2, Out: 2, Act: Activation(99)},
		{In: 2, Out: 2, Init: Init(42)},
		{In: 2, Out: 2, Hidden: "3", Masks: [][]float64{nil}},
		{In: 2, Out: 2, Hidden: "3", Masks: [][]float64{make([]float64, 5), nil}},
		{In: 2, Out: 2, Masks: [][]float64{{0, 1, 2, 1}}},
	}
	for i, c := range bad {
		p := &Params{}
		if _, err := NewMLP(p, "m", c, src); err == nil {
			t.Errorf("case %d (%+v): no error", i, c)
		}
		if p.Len() != 0 {
			t.Errorf("case %d: failed NewMLP reserved %d parameters", i, p.Len())
		}
	}
	p := &Params{}
	if _, err := NewMLP(p, "m", MLPConfig{In: 2, Out: 2}, src); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMLP(p, "m", MLPConfig{In: 2, Out: 2}, src); err == nil {
		t.Error("duplicate name: no error")
	}
}

func TestParseHidden(t *testing.T) {
	for _, c := range []struct {
		s    string
		want []int
	}{{"", nil}, {"none", nil}, {"64", []int{64}}, {"64-64-64", []int{64, 64, 64}}, {" 8 - 16 ", []int{8, 16}}} {
		got, err := ParseHidden(c.s)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("ParseHidden(%q) = %v, %v; want %v", c.s, got, err, c.want)
		}
	}
	for _, s := range []string{"a", "64-", "-64", "3.5", "-1"} {
		if _, err := ParseHidden(s); err == nil {
			t.Errorf("ParseHidden(%q): no error", s)
		}
	}
}

// TestMLPDeterministicInit checks that the same seed gives the same weights
// and a different seed different ones.
func TestMLPDeterministicInit(t *testing.T) {
	build := func(seed uint64) []float64 {
		p := &Params{}
		if _, err := NewMLP(p, "m", MLPConfig{In: 2, Out: 2, Hidden: "16-16", Act: Tanh}, rand.NewPCG(seed, 3)); err != nil {
			t.Fatal(err)
		}
		return p.Data
	}
	a, b, c := build(5), build(5), build(6)
	check.Unchanged(t, "same seed", a, b)
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Error("different seeds gave the same weights")
	}
}

// TestLayerPanics checks the documented programmer-error panics.
func TestLayerPanics(t *testing.T) {
	p := &Params{}
	l := NewLinear(p, "l", 2, 3, Tanh)
	m, _ := NewMLP(p, "m", MLPConfig{In: 2, Out: 3, Hidden: "4", Act: Tanh}, rand.NewPCG(1, 1))
	var ws Workspace
	cases := map[string]func(){
		"VJP before Forward": func() { l.VJP(ws, nil, nil, make([]float64, 6)) },
		"TangentVJP before JVP": func() {
			l.Forward(ws, make([]float64, 6), make([]float64, 4))
			l.TangentVJP(ws, nil, nil, nil, nil, make([]float64, 6))
		},
		"batch too large": func() { l.Forward(ws, make([]float64, 9), make([]float64, 6)) },
		"ragged x":        func() { l.Forward(ws, make([]float64, 6), make([]float64, 5)) },
		"wrong y":         func() { l.Forward(ws, make([]float64, 5), make([]float64, 4)) },
		"too many tangents": func() {
			l.Forward(ws, make([]float64, 6), make([]float64, 4))
			l.JVP(ws, make([]float64, 12), make([]float64, 8))
		},
		"foreign workspace":       func() { l.Forward(m.NewWorkspace(2, 1), make([]float64, 6), make([]float64, 4)) },
		"other layer's workspace": func() { NewLinear(p, "l2", 2, 3, Tanh).Forward(ws, make([]float64, 6), make([]float64, 4)) },
		"short gθ": func() {
			l.Forward(ws, make([]float64, 6), make([]float64, 4))
			l.VJP(ws, nil, make([]float64, 3), make([]float64, 6))
		},
		"bad mask":          func() { NewMaskedLinear(p, "mm", 2, 2, Tanh, []float64{1, 0, 0.5, 1}) },
		"nonpositive width": func() { NewLinear(p, "z", 0, 2, Tanh) },
		"MLP TangentVJP before JVP": func() {
			w := m.NewWorkspace(1, 1)
			m.Forward(w, make([]float64, 3), make([]float64, 2))
			m.TangentVJP(w, nil, nil, nil, nil, make([]float64, 3))
		},
		"ActLayer VJP before Forward": func() { a := NewActLayer(2, Tanh); a.VJP(a.NewWorkspace(1, 0), nil, nil, make([]float64, 2)) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			ws = l.NewWorkspace(2, 1)
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		})
	}
}

// TestEmptyBatch checks that a zero-row batch is accepted and writes nothing.
func TestEmptyBatch(t *testing.T) {
	p := &Params{}
	m, err := NewMLP(p, "m", MLPConfig{In: 2, Out: 3, Hidden: "4-4", Act: Tanh, Residual: true}, rand.NewPCG(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	ws := m.NewWorkspace(4, 2)
	gθ := make([]float64, p.Len())
	m.Forward(ws, nil, nil)
	m.VJP(ws, nil, gθ, nil)
	m.JVP(ws, nil, nil)
	m.TangentVJP(ws, nil, nil, gθ, nil, nil)
	if countNonzero(gθ) != 0 {
		t.Error("empty batch changed gθ")
	}
}

// TestLargeBatchTiled runs a batch large enough for the tiled products
// (rows > 192 and widths > 64) against the naive reference, and checks the
// VJP against the transpose identity gy·(J ẋ) = (Jᵀ gy)·ẋ per sample.
func TestLargeBatchTiled(t *testing.T) {
	rnd := testrand.New(t)
	p := &Params{}
	m, err := NewMLP(p, "m", MLPConfig{In: 3, Out: 70, Hidden: "80-70", Act: Softplus, Residual: true}, testrand.NewSource(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	randomize(p, rnd, 0.3)
	n := 401
	x := randSlice(rnd, n*3, 1)
	y, want := make([]float64, n*70), make([]float64, n*70)
	ws := m.NewWorkspace(n, 1)
	m.Forward(ws, y, x)
	naiveMLP(m, want, x, n)
	check.Close(t, "forward", want, y, 1e-12)
	xd := randSlice(rnd, n*3, 1)
	yd := make([]float64, n*70)
	m.JVP(ws, yd, xd)
	gy := randSlice(rnd, n*70, 1)
	gx := make([]float64, n*3)
	m.VJP(ws, gx, nil, gy)
	for i := 0; i < n; i++ {
		a := dot(gy[i*70:(i+1)*70], yd[i*70:(i+1)*70])
		b := dot(gx[i*3:(i+1)*3], xd[i*3:(i+1)*3])
		if math.Abs(a-b) > 1e-10*math.Max(1, math.Abs(a)) {
			t.Fatalf("row %d: gy·(Jẋ) = %v but (Jᵀgy)·ẋ = %v", i, a, b)
		}
	}
}

func TestLinearInitAndAccessors(t *testing.T) {
	p := &Params{}
	mask := []float64{1, 0, 1, 0, 1, 1}
	l := NewMaskedLinear(p, "ml", 3, 2, Sigmoid, mask)
	for i := range p.Data {
		p.Data[i] = 9
	}
	l.Init(HeUniform, rand.NewPCG(1, 1))
	w, b := l.Weight().Of(p.Data), l.Bias().Of(p.Data)
	r := math.Sqrt(6.0 / 3)
	for i, m := range mask {
		if m == 0 && w[i] != 0 {
			t.Errorf("masked W[%d] = %v after Init, want 0", i, w[i])
		}
		if m == 1 && (w[i] == 0 || math.Abs(w[i]) > r) {
			t.Errorf("W[%d] = %v, want nonzero within ±%v", i, w[i], r)
		}
	}
	if countNonzero(b) != 0 {
		t.Errorf("bias after Init: %v", b)
	}
	l.ZeroInit()
	if countNonzero(p.Data) != 0 {
		t.Errorf("ZeroInit left %v", p.Data)
	}
	got := l.Mask()
	got[1] = 1
	check.Unchanged(t, "Mask copy", mask, l.Mask())
	if l.In() != 3 || l.Out() != 2 || l.Activation() != Sigmoid || l.Params() != p {
		t.Error("accessors")
	}
	if s, ok := p.Lookup("ml/W"); !ok || s != l.Weight() {
		t.Error("W not reserved under ml/W")
	}
	if NewLinear(p, "dense", 2, 2, Identity).Mask() != nil {
		t.Error("dense layer has a mask")
	}
}

func TestWorkspaceCapAndZeroLast(t *testing.T) {
	p := &Params{}
	m, err := NewMLP(p, "m", MLPConfig{In: 2, Out: 2, Hidden: "3", Act: Tanh}, rand.NewPCG(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []Layer{m, m.Layers()[0], NewActLayer(2, Tanh)} {
		if n, k := l.NewWorkspace(7, 3).Cap(); n != 7 || k != 3 {
			t.Errorf("%T: Cap = %d, %d; want 7, 3", l, n, k)
		}
	}
	m.ZeroLast()
	y := []float64{math.NaN(), math.NaN()}
	m.Forward(m.NewWorkspace(1, 0), y, []float64{0.3, -0.4})
	if y[0] != 0 || y[1] != 0 {
		t.Errorf("after ZeroLast, y = %v", y)
	}
}
