package vectorfield

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"

	"github.com/odeflow/odeflow/nn"
)

// Settings configures NewMLP. A nil *Settings, and every zero field, means
// the documented default.
type Settings struct {
	// Kind is the time conditioning of every layer. Default ConcatSquash.
	Kind Kind
	// ContextDim is the width of the context c, concatenated to z at the
	// input of the first layer only: layer 0 sees [z_i, c_i]. Default 0
	// (unconditional).
	ContextDim int
	// Params receives the field's parameters (so that several models can
	// share one flat vector). Default: a new, empty nn.Params.
	Params *nn.Params
	// Name prefixes the parameter names, as Name+"/l0/W" and so on.
	// Default "field".
	Name string
	// Src draws the initial parameters. Default rand.NewPCG(1, 2), so that
	// two fields built with the same settings are identical.
	Src rand.Source
	// Workers is the most goroutines one call splits its batch rows across
	// (each gets at least MinRows samples). Default runtime.GOMAXPROCS(0)
	// at construction; 1 keeps every call on the caller's goroutine.
	Workers int
	// MinRows is the fewest samples worth a goroutine of their own.
	// Default 32.
	MinRows int
}

// ParseHidden parses a hidden-layer specification such as "64-64-64" into
// widths. The empty string means no hidden layer.
func ParseHidden(spec string) ([]int, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, nil
	}
	parts := strings.Split(spec, "-")
	out := make([]int, len(parts))
	for i, p := range parts {
		w, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || w <= 0 {
			return nil, fmt.Errorf("vectorfield: bad hidden width %q in %q", p, spec)
		}
		out[i] = w
	}
	return out, nil
}

// MLP is FFJORD's time-conditioned network: layers of one Kind with widths
// d(+ContextDim) → hidden... → d, an activation after every layer but the
// last. It implements Field.
type MLP struct {
	s   *mlpShared
	eng *engine
}

// mlpShared is the immutable part of an MLP, shared by its clones.
type mlpShared struct {
	d, dc   int
	kind    Kind
	act     nn.Activation
	hidden  []int
	params  *nn.Params
	layers  []layer
	workers int
	minRows int
}

// layer is one time-conditioned affine layer; unused slots have Len 0.
type layer struct {
	in, out int
	w, b    nn.Slot // W and b (W₀ and b₀ for Blend)
	w1, b1  nn.Slot // Blend: W₁ and b₁
	wt      nn.Slot // Concat: w_t
	wg, bg  nn.Slot // Squash, ConcatSquash: gate
	wb      nn.Slot // ConcatSquash: hyper bias w_b
}

// NewMLP builds a field on R^d with hidden widths given by spec (see
// ParseHidden) and activation act between layers (none after the last).
// Parameters are initialized as PyTorch's nn.Linear does, which is what
// FFJORD uses: every weight and bias of a layer with fan-in m is drawn from
// U(−1/√m, 1/√m); the gate and hyper-bias layers (fan-in 1, from t) from
// U(−1, 1); a Concat layer has fan-in in+1.
//
// It returns an error for d ≤ 0, a bad spec, an invalid kind or activation,
// or a negative ContextDim, Workers or MinRows.
func NewMLP(d int, spec string, act nn.Activation, s *Settings) (*MLP, error) {
	var set Settings
	if s != nil {
		set = *s
	}
	if d <= 0 {
		return nil, fmt.Errorf("vectorfield: dimension %d ≤ 0", d)
	}
	hidden, err := ParseHidden(spec)
	if err != nil {
		return nil, err
	}
	if !set.Kind.Valid() {
		return nil, fmt.Errorf("vectorfield: invalid kind %v", set.Kind)
	}
	if !act.Valid() {
		return nil, fmt.Errorf("vectorfield: invalid activation %v", act)
	}
	if set.ContextDim < 0 || set.Workers < 0 || set.MinRows < 0 {
		return nil, fmt.Errorf("vectorfield: negative ContextDim, Workers or MinRows")
	}
	if set.Params == nil {
		set.Params = new(nn.Params)
	}
	if set.Name == "" {
		set.Name = "field"
	}
	if set.Src == nil {
		set.Src = rand.NewPCG(1, 2)
	}
	if set.Workers == 0 {
		set.Workers = runtime.GOMAXPROCS(0)
	}
	if set.MinRows == 0 {
		set.MinRows = 32
	}
	sh := &mlpShared{
		d: d, dc: set.ContextDim, kind: set.Kind, act: act,
		hidden: hidden, params: set.Params,
		workers: set.Workers, minRows: set.MinRows,
	}
	rng := rand.New(set.Src)
	widths := append(append([]int{d + set.ContextDim}, hidden...), d)
	p := set.Params
	for l := 0; l+1 < len(widths); l++ {
		in, out := widths[l], widths[l+1]
		name := fmt.Sprintf("%s/l%d/", set.Name, l)
		ly := layer{in: in, out: out}
		ly.w = p.Reserve(name+"W", out*in)
		if set.Kind == Blend {
			ly.w1 = p.Reserve(name+"W1", out*in)
		}
		if set.Kind == Concat {
			ly.wt = p.Reserve(name+"wt", out)
		}
		ly.b = p.Reserve(name+"b", out)
		if set.Kind == Blend {
			ly.b1 = p.Reserve(name+"b1", out)
		}
		if set.Kind == Squash || set.Kind == ConcatSquash {
			ly.wg = p.Reserve(name+"wg", out)
			ly.bg = p.Reserve(name+"bg", out)
		}
		if set.Kind == ConcatSquash {
			ly.wb = p.Reserve(name+"wb", out)
		}
		fanIn := in
		if set.Kind == Concat {
			fanIn = in + 1
		}
		bound := 1 / math.Sqrt(float64(fanIn))
		for _, sl := range []nn.Slot{ly.w, ly.w1, ly.wt, ly.b, ly.b1} {
			uniform(rng, sl.Of(p.Data), bound)
		}
		for _, sl := range []nn.Slot{ly.wg, ly.bg, ly.wb} {
			uniform(rng, sl.Of(p.Data), 1)
		}
		sh.layers = append(sh.layers, ly)
	}
	m := &MLP{s: sh}
	m.eng = newEngine(m)
	return m, nil
}

func uniform(rng *rand.Rand, dst []float64, bound float64) {
	for i := range dst {
		dst[i] = bound * (2*rng.Float64() - 1)
	}
}

// Dim returns d.
func (m *MLP) Dim() int { return m.s.d }

// ContextDim returns the width of the context.
func (m *MLP) ContextDim() int { return m.s.dc }

// Params returns the parameters (possibly shared with other models).
func (m *MLP) Params() *nn.Params { return m.s.params }

// Kind returns the layers' time conditioning.
func (m *MLP) Kind() Kind { return m.s.kind }

// Activation returns the activation between layers.
func (m *MLP) Activation() nn.Activation { return m.s.act }

// Hidden returns a copy of the hidden widths.
func (m *MLP) Hidden() []int { return append([]int(nil), m.s.hidden...) }

// Clone returns an MLP sharing m's parameters with its own scratch memory
// and worker goroutines.
func (m *MLP) Clone() Field {
	c := &MLP{s: m.s}
	c.eng = newEngine(c)
	return c
}

// Eval sets dst (n×d) to f(t, z; θ, c). See Field.
func (m *MLP) Eval(dst []float64, t float64, z, c []float64) {
	n := batchSize("vectorfield", m.s.d, m.s.dc, z, c)
	checkLen("vectorfield", "dst", dst, n*m.s.d, false)
	m.eng.call(task{t: t, n: n, z: z, c: c, f: dst})
}

// JVP sets jv to the Jacobian–vector products of the k tangents per sample
// in v and, when f is not nil, f to the field. See Field.
func (m *MLP) JVP(f, jv []float64, t float64, z, c, v []float64) {
	d := m.s.d
	n := batchSize("vectorfield", d, m.s.dc, z, c)
	k := tangents("vectorfield", n, d, v)
	checkLen("vectorfield", "f", f, n*d, true)
	checkLen("vectorfield", "jv", jv, len(v), false)
	m.eng.call(task{t: t, n: n, k: k, z: z, c: c, v: v, f: f, jv: jv, needD1: true})
}

// VJP is the reverse pass with cotangent a on f. See Field.
func (m *MLP) VJP(g Grads, t float64, z, c, a []float64) float64 {
	d := m.s.d
	n := batchSize("vectorfield", d, m.s.dc, z, c)
	checkLen("vectorfield", "a", a, n*d, false)
	checkGrads("vectorfield", g, n, d, m.s.dc, 0, m.s.params.Len())
	return m.eng.call(task{t: t, n: n, z: z, c: c, a: a, g: g, reverse: true, needD1: true})
}

// VJP2 is the reverse pass through (f, J·V) with cotangents a and b. See
// Field.
func (m *MLP) VJP2(g Grads, t float64, z, c, v, a, b []float64) float64 {
	d := m.s.d
	n := batchSize("vectorfield", d, m.s.dc, z, c)
	k := tangents("vectorfield", n, d, v)
	checkLen("vectorfield", "a", a, n*d, true)
	checkLen("vectorfield", "b", b, len(v), true)
	checkGrads("vectorfield", g, n, d, m.s.dc, k, m.s.params.Len())
	return m.eng.call(task{t: t, n: n, k: k, z: z, c: c, v: v, a: a, b: b, g: g,
		reverse: true, needD1: true, needD2: true})
}
