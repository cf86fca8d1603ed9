package nn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// MLPConfig describes a multilayer perceptron In → hidden widths → Out.
// Every field's zero value is usable: it gives a single affine layer
// In → Out with Glorot-uniform weights.
type MLPConfig struct {
	// In and Out are the input and output widths; both must be positive.
	In, Out int
	// Hidden lists the hidden widths separated by '-', as in "64-64-64".
	// Empty (or "none") means no hidden layer.
	Hidden string
	// Act is the activation after every layer but the last, which has
	// none. The zero value, Identity, makes the network affine.
	Act Activation
	// Residual adds a skip connection y = x + layer(x) around every layer
	// but the last whose input and output widths are equal.
	Residual bool
	// ZeroLast sets the last layer's weights and bias to zero, so that the
	// network outputs 0 for every input at the start (a flow whose
	// conditioner outputs 0 starts as the identity).
	ZeroLast bool
	// Init is the weight initialization (biases start at zero); the zero
	// value is GlorotUniform.
	Init Init
	// Masks, if not nil, holds one Out×In row-major 0/1 mask per layer
	// (len = number of hidden widths + 1); a nil entry leaves that layer
	// dense. MADEMasks builds masks for an autoregressive network.
	Masks [][]float64
}

// ParseHidden parses a hidden-layer spec such as "64-64-64" into widths.
// The empty string and "none" give no hidden layers.
func ParseHidden(spec string) ([]int, error) {
	s := strings.TrimSpace(spec)
	if s == "" || strings.EqualFold(s, "none") {
		return nil, nil
	}
	parts := strings.Split(s, "-")
	ws := make([]int, len(parts))
	for i, p := range parts {
		w, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || w <= 0 {
			return nil, fmt.Errorf("nn: bad hidden-layer spec %q: %q is not a positive width", spec, p)
		}
		ws[i] = w
	}
	return ws, nil
}

// MLP is a stack of Linear layers with a shared activation between them
// and none after the last, optionally with residual connections; see
// MLPConfig. It is a Layer.
type MLP struct {
	p      *Params
	layers []*Linear
	res    []bool
	maxW   int // largest hidden width (0 without hidden layers)
}

// NewMLP builds the network described by c with its parameters reserved in
// p under name+"/0", name+"/1", … (one Linear each, see NewLinear), and
// initializes them from src. It returns an error if c is invalid (bad
// widths or spec, invalid activation or Init, masks of the wrong number or
// shape). It panics if src is nil and some layer needs random weights.
func NewMLP(p *Params, name string, c MLPConfig, src rand.Source) (*MLP, error) {
	hidden, err := ParseHidden(c.Hidden)
	if err != nil {
		return nil, err
	}
	if c.In <= 0 || c.Out <= 0 {
		return nil, fmt.Errorf("nn: MLP widths must be positive, got %d→%d", c.In, c.Out)
	}
	if !c.Act.Valid() {
		return nil, errors.New("nn: MLP: invalid activation " + c.Act.String())
	}
	if c.Init < 0 || c.Init >= numInits {
		return nil, errors.New("nn: MLP: invalid Init " + c.Init.String())
	}
	widths := append(append([]int{c.In}, hidden...), c.Out)
	nl := len(widths) - 1
	if c.Masks != nil && len(c.Masks) != nl {
		return nil, fmt.Errorf("nn: MLP has %d layers but %d masks", nl, len(c.Masks))
	}
	for l := 0; l < nl; l++ {
		if c.Masks != nil && c.Masks[l] != nil {
			mk := c.Masks[l]
			if len(mk) != widths[l]*widths[l+1] {
				return nil, fmt.Errorf("nn: MLP mask %d has length %d, want %d×%d", l, len(mk), widths[l+1], widths[l])
			}
			for _, v := range mk {
				if v != 0 && v != 1 {
					return nil, fmt.Errorf("nn: MLP mask %d has entry %v, want 0 or 1", l, v)
				}
			}
		}
	}
	for l := 0; l < nl; l++ {
		if _, taken := p.Lookup(fmt.Sprintf("%s/%d/W", name, l)); taken {
			return nil, fmt.Errorf("nn: MLP: parameter name %q already used", fmt.Sprintf("%s/%d/W", name, l))
		}
		if _, taken := p.Lookup(fmt.Sprintf("%s/%d/b", name, l)); taken {
			return nil, fmt.Errorf("nn: MLP: parameter name %q already used", fmt.Sprintf("%s/%d/b", name, l))
		}
	}
	m := &MLP{p: p}
	for l := 0; l < nl; l++ {
		act := c.Act
		if l == nl-1 {
			act = Identity
		}
		lname := fmt.Sprintf("%s/%d", name, l)
		var layer *Linear
		if c.Masks != nil && c.Masks[l] != nil {
			layer = NewMaskedLinear(p, lname, widths[l], widths[l+1], act, c.Masks[l])
		} else {
			layer = NewLinear(p, lname, widths[l], widths[l+1], act)
		}
		m.layers = append(m.layers, layer)
		m.res = append(m.res, c.Residual && l < nl-1 && widths[l] == widths[l+1])
	}
	for _, w := range hidden {
		m.maxW = max(m.maxW, w)
	}
	m.Init(c.Init, src)
	if c.ZeroLast {
		m.layers[nl-1].ZeroInit()
	}
	return m, nil
}

// In returns the input width.
func (m *MLP) In() int { return m.layers[0].in }

// Out returns the output width.
func (m *MLP) Out() int { return m.layers[len(m.layers)-1].out }

// Params returns the parameter store the layers live in.
func (m *MLP) Params() *Params { return m.p }

// Layers returns the network's layers, first to last (the slice is a copy;
// the layers are shared).
func (m *MLP) Layers() []*Linear { return append([]*Linear(nil), m.layers...) }

// Residual reports whether layer l has a skip connection.
func (m *MLP) Residual(l int) bool { return m.res[l] }

// Init re-initializes every layer's weights by init from src (biases to
// zero). It panics if src is nil and init is not Zeros.
func (m *MLP) Init(init Init, src rand.Source) {
	for _, l := range m.layers {
		l.Init(init, src)
	}
}

// ZeroLast sets the last layer's weights and bias to zero.
func (m *MLP) ZeroLast() { m.layers[len(m.layers)-1].ZeroInit() }

type mlpWS struct {
	owner      *MLP
	maxN, maxK int
	n, k       int
	state      int
	ls         []Workspace
	acts, tans [][]float64 // outputs of layers 0..L-2: n×w and nk×w
	g, gd      [2][]float64
}

func (w *mlpWS) Cap() (int, int) { return w.maxN, w.maxK }

// NewWorkspace returns a workspace for up to maxN rows and maxK tangents
// per row. It panics if either is negative.
func (m *MLP) NewWorkspace(maxN, maxK int) Workspace {
	if maxN < 0 || maxK < 0 {
		panic("nn: negative workspace capacity")
	}
	w := &mlpWS{owner: m, maxN: maxN, maxK: maxK}
	for l, layer := range m.layers {
		w.ls = append(w.ls, layer.NewWorkspace(maxN, maxK))
		if l < len(m.layers)-1 {
			w.acts = append(w.acts, make([]float64, maxN*layer.out))
			w.tans = append(w.tans, make([]float64, maxN*maxK*layer.out))
		}
	}
	for i := range w.g {
		w.g[i] = make([]float64, maxN*m.maxW)
		w.gd[i] = make([]float64, maxN*maxK*m.maxW)
	}
	return w
}

func (m *MLP) ws(w Workspace, minState int) *mlpWS {
	ws, ok := w.(*mlpWS)
	if !ok || ws.owner != m {
		panic("nn: workspace does not belong to this MLP")
	}
	if ws.state < minState {
		panic("nn: MLP pass called out of order (Forward, then JVP, then TangentVJP)")
	}
	return ws
}

// Forward sets y = f(x) and records the intermediate activations (x itself
// by reference). See Layer.
func (m *MLP) Forward(w Workspace, y, x []float64) {
	if pw, ok := w.(*parWS); ok {
		m.forwardPar(pw, y, x)
		return
	}
	ws := m.ws(w, 0)
	n := rowsOf(x, m.In(), ws.maxN, "MLP x")
	checkLen(y, n*m.Out(), "MLP y")
	m.forward(ws, y, x, n)
}

// forward is Forward on n checked rows.
func (m *MLP) forward(ws *mlpWS, y, x []float64, n int) {
	ws.n, ws.k, ws.state = n, 0, 1
	cur := x
	for l, layer := range m.layers {
		out := y
		if l < len(m.layers)-1 {
			out = ws.acts[l][:n*layer.out]
		}
		layer.Forward(ws.ls[l], out, cur)
		if m.res[l] {
			add(out, cur)
		}
		cur = out
	}
}

// VJP sets gx = gyᵀ ∂f/∂x (if gx is not nil) and adds gyᵀ ∂f/∂θ to gθ (if
// not nil). See Layer.
func (m *MLP) VJP(w Workspace, gx, gθ, gy []float64) {
	if pw, ok := w.(*parWS); ok {
		m.vjpPar(pw, gx, gθ, gy)
		return
	}
	ws := m.ws(w, 1)
	n := ws.n
	checkLen(gy, n*m.Out(), "MLP gy")
	checkLenOrNil(gx, n*m.In(), "MLP gx")
	checkLenOrNil(gθ, len(m.p.Data), "MLP gθ")
	m.vjp(ws, gx, gθ, 0, gy)
}

// vjp is VJP on checked arguments, gθ holding the parameters from index
// off on.
func (m *MLP) vjp(ws *mlpWS, gx, gθ []float64, off int, gy []float64) {
	n := ws.n
	g, buf := gy, 0
	for l := len(m.layers) - 1; l >= 0; l-- {
		layer := m.layers[l]
		gin := gx
		if l > 0 {
			gin = ws.g[buf][:n*layer.in]
			buf ^= 1
		}
		layer.vjpAt(layer.ws(ws.ls[l], 1), gin, gθ, off, g)
		if m.res[l] && gin != nil {
			add(gin, g)
		}
		g = gin
	}
}

// JVP sets ẏ = (∂f/∂x) ẋ for every tangent row and records the
// intermediate tangents (ẋ itself by reference). See Layer.
func (m *MLP) JVP(w Workspace, yd, xd []float64) {
	noTangents(w, "JVP")
	ws := m.ws(w, 1)
	n := ws.n
	k := tangentsOf(len(xd), n, m.In(), ws.maxK, "MLP ẋ")
	checkLen(yd, n*k*m.Out(), "MLP ẏ")
	ws.k, ws.state = k, 2
	cur := xd
	for l, layer := range m.layers {
		out := yd
		if l < len(m.layers)-1 {
			out = ws.tans[l][:n*k*layer.out]
		}
		layer.JVP(ws.ls[l], out, cur)
		if m.res[l] {
			add(out, cur)
		}
		cur = out
	}
}

// TangentVJP is the reverse pass through Forward and JVP; see Layer.
func (m *MLP) TangentVJP(w Workspace, gx, gxd, gθ, gy, gyd []float64) {
	noTangents(w, "TangentVJP")
	ws := m.ws(w, 2)
	n, k := ws.n, ws.k
	checkLenOrNil(gy, n*m.Out(), "MLP gy")
	checkLen(gyd, n*k*m.Out(), "MLP gẏ")
	checkLenOrNil(gx, n*m.In(), "MLP gx")
	checkLenOrNil(gxd, n*k*m.In(), "MLP gẋ")
	checkLenOrNil(gθ, len(m.p.Data), "MLP gθ")
	g, gd, buf := gy, gyd, 0
	for l := len(m.layers) - 1; l >= 0; l-- {
		layer := m.layers[l]
		gin, gdin := gx, gxd
		if l > 0 {
			gin = ws.g[buf][:n*layer.in]
			gdin = ws.gd[buf][:n*k*layer.in]
			buf ^= 1
		}
		layer.TangentVJP(ws.ls[l], gin, gdin, gθ, g, gd)
		if m.res[l] {
			if gin != nil && g != nil {
				add(gin, g)
			}
			if gdin != nil {
				add(gdin, gd)
			}
		}
		g, gd = gin, gdin
	}
}
