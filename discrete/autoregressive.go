package discrete

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// AutoregressiveSettings configures an Autoregressive layer. A nil
// *AutoregressiveSettings means every default; so does the zero value of
// each field.
type AutoregressiveSettings struct {
	// Order is the variable order: Order[k] is the variable in place k, and
	// the parameters of variable Order[k] depend on the variables
	// Order[0], …, Order[k−1] only. nil means 0, 1, …, d−1.
	Order []int
	// Transformer is the elementwise map τ; nil means Affine{Bound: 3}
	// (MAF with a soft-clamped log-scale). NewSpline(...) gives the
	// autoregressive neural spline flow.
	Transformer Transformer
	// Hidden lists the MADE's hidden widths ("64-64" when empty; "none"
	// means a masked affine conditioner). Widths of at least d−1 let every
	// degree appear.
	Hidden string
	// Act is the MADE's activation; the zero value (nn.Identity) means
	// nn.ReLU.
	Act nn.Activation
	// ContextDim is the dimension m of the context c (0: unconditional).
	ContextDim int
	// RandomDegrees draws the hidden units' degrees from the layer's source
	// (Germain et al.); false assigns them cyclically 1, 2, …, d−1, 1, ….
	RandomDegrees bool
}

// Autoregressive is a masked autoregressive layer (Papamakarios et al. 2017,
// MAF; Kingma et al. 2016, IAF; zuko's AutoregressiveTransform): a MADE
// conditioner (nn.MADEMasks: a masked MLP, Germain et al. 2015) gives each
// variable v the raw parameters φ_v(x_{<v}[, c]) of an elementwise
// Transformer τ, where x_{<v} are the variables before v in the chosen
// order:
//
//	Forward:  z_v = τ(x_v; φ_v(x_{<v}))          one network pass (density)
//	Inverse:  x_v = τ⁻¹(z_v; φ_v(x_{<v}))         d passes (sampling)
//
//	log|det ∂z/∂x| = Σ_v log τ'(x_v; φ_v)
//
// The Jacobian ∂z/∂x is triangular in the order (lower triangular after
// permuting rows and columns by it), so its log-determinant is the sum of
// the diagonal terms. Inverse runs d passes: pass k evaluates the network at
// the current x (variables not yet computed are 0) and inverts variable
// Order[k], whose parameters depend only on variables already final. The
// network's outputs are variable-major: P = τ.NumParams() consecutive
// values for variable 0, then variable 1, and so on.
//
// The context of a conditional layer enters the MADE as extra inputs of
// degree 0, connected to every hidden unit (and to every output when there
// is no hidden layer), so every parameter may depend on it.
//
// For IAF (fast sampling, density in d passes) use odeflow.Inverse(layer),
// or odeflow.InverseConditional for a conditional layer.
//
// # Gradients
//
// Backward of a ForwardRecord propagates through the transformer's
// ForwardVJP and one network VJP. Backward of an InverseRecord (what IAF
// density training and reverse-KL training of a MAF need) differentiates
// the d-pass recursion x_v = τ⁻¹(z_v; φ_v(x)), ℓ_v = log (τ⁻¹)'(z_v; φ_v)
// in reverse mode: the adjoint of x_v collects its own cotangent and the
// contributions of every later variable through the network,
//
//	x̄ = gout + (∂φ/∂x)ᵀ φ̄,   (z̄_v, φ̄_v) = InverseVJP of τ at (z_v, φ_v) with (x̄_v, gldj),
//
// a triangular system solved by d sweeps (sweep k makes the last k
// variables of the order exact; d − 1 network VJPs), followed by one VJP for
// the parameters. It costs about as much as the inverse itself.
//
// The last layer starts at zero weights with the transformer's identity
// parameters as bias, so a new layer is the identity. A conditional layer
// maps rows with the context bound by Given, which returns the layer itself;
// Forward or Inverse of a conditional layer before Given panics. Transformer
// element errors are returned as a *odeflow.RowError naming the row.
//
// An Autoregressive holds workspace and a recording: it is not safe for
// concurrent use. After the first call with a given batch size it allocates
// nothing.
type Autoregressive struct {
	d, np int
	order []int
	tf    Transformer
	p     *nn.Params
	net   condNet
	ctx   condCtx

	in, h, xs, ys, lb, ls []float64 // net input n×(d+m), φ n×dP, τ input and output n×d, element ldj, row ldj
	zc, xc, lc, φc        []float64 // Inverse: one variable of every row
	gy, gl, gh, gc, gx    []float64 // Backward
	rec                   condRec
}

// NewAutoregressive returns an autoregressive layer on R^d whose MADE
// parameters are reserved in p under name+"/made/0", name+"/made/1", …,
// initialized from src. It returns an error if the hidden spec is invalid.
// It panics if d < 1, p or src is nil, Order is not a permutation of
// 0, …, d−1, ContextDim < 0, or the transformer has no parameters.
//
// With d = 1 and no context the single variable has no predecessor: its
// parameters are the network's output bias (hidden units of degree 0 see
// no input), a trainable elementwise map.
func NewAutoregressive(p *nn.Params, name string, d int, s *AutoregressiveSettings, src rand.Source) (*Autoregressive, error) {
	const op = "discrete: NewAutoregressive"
	linCheckDim(op, d)
	if p == nil {
		panic(op + ": nil *nn.Params")
	}
	if src == nil {
		panic(op + ": nil rand.Source")
	}
	var as AutoregressiveSettings
	if s != nil {
		as = *s
	}
	order := as.Order
	if order == nil {
		order = make([]int, d)
		for j := range order {
			order[j] = j
		}
	}
	if len(order) != d {
		panic(fmt.Sprintf("%s: order has length %d, want %d", op, len(order), d))
	}
	inDeg := nn.MADEInputDegrees(order) // panics if not a permutation
	if as.ContextDim < 0 {
		panic(fmt.Sprintf("%s: negative context dimension %d", op, as.ContextDim))
	}
	if as.Transformer == nil {
		as.Transformer = Affine{Bound: 3}
	}
	if as.Hidden == "" {
		as.Hidden = "64-64"
	}
	t := &Autoregressive{d: d, order: append([]int(nil), order...), tf: as.Transformer, np: as.Transformer.NumParams(), p: p, ctx: condCtx{m: as.ContextDim}}
	if t.np == 0 {
		panic(fmt.Sprintf("%s: transformer %v has no parameters to condition", op, as.Transformer))
	}
	widths, err := condHidden(op, as.Hidden)
	if err != nil {
		return nil, err
	}
	var degSrc rand.Source
	if as.RandomDegrees {
		degSrc = src
	}
	masks := arMasks(inDeg, as.ContextDim, widths, t.np, degSrc)
	net, err := nn.NewMLP(p, name+"/made", nn.MLPConfig{
		In: d + as.ContextDim, Out: d * t.np, Hidden: as.Hidden, Act: condAct(as.Act), ZeroLast: true, Masks: masks,
	}, src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	condIdentityBias(net, t.tf)
	t.net.net = net
	return t, nil
}

// arMasks returns the MADE masks for variables of degrees inDeg followed by
// m context inputs of degree 0, hidden widths and mult outputs per variable.
// Hidden degrees are cyclic from 1 (src nil) or drawn from src with the
// smallest degree of the layer below as the lower end (at least 1).
func arMasks(inDeg []int, m int, widths []int, mult int, src rand.Source) [][]float64 {
	d := len(inDeg)
	prev := append(append([]int(nil), inDeg...), make([]int, m)...)
	masks := make([][]float64, 0, len(widths)+1)
	lo := 1
	for _, w := range widths {
		h := nn.MADEHiddenDegrees(w, d, lo, src)
		masks = append(masks, nn.MADEMask(h, prev, false))
		prev = h
		if src != nil {
			lo = max(1, arMinInt(h))
		}
	}
	return append(masks, nn.MADEMask(nn.MADEOutputDegrees(inDeg, mult), prev, true))
}

func arMinInt(s []int) int {
	m := s[0]
	for _, v := range s[1:] {
		m = min(m, v)
	}
	return m
}

// Dim returns d.
func (t *Autoregressive) Dim() int { return t.d }

// ContextDim returns the context dimension (0 for an unconditional layer).
func (t *Autoregressive) ContextDim() int { return t.ctx.m }

// Params returns the shared parameter vector.
func (t *Autoregressive) Params() *nn.Params { return t.p }

// Order returns a copy of the variable order.
func (t *Autoregressive) Order() []int { return append([]int(nil), t.order...) }

// Transformer returns the elementwise transformer.
func (t *Autoregressive) Transformer() Transformer { return t.tf }

// Conditioner returns the MADE network.
func (t *Autoregressive) Conditioner() *nn.MLP { return t.net.net }

// Given binds the context ctx (n×ContextDim; read at call time) and returns
// the layer itself. An unconditional layer ignores ctx. It panics if a
// conditional layer gets a nil context or one with the wrong number of
// columns.
func (t *Autoregressive) Given(ctx *mat.Dense) odeflow.Transform {
	t.rec.dir = condNone
	t.ctx.bind("discrete: Autoregressive.Given", ctx)
	return t
}

// Forward sets z_v = τ(x_v; φ_v(x_{<v})) in one network pass and adds
// Σ_v log τ' to ldj. dst may be x.
func (t *Autoregressive) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return t.forward("discrete: Autoregressive.Forward", dst, ldj, x, true)
}

// Inverse sets x_v = τ⁻¹(z_v; φ_v(x_{<v})) in d network passes and adds
// −Σ_v log τ' to ldj. dst may be z.
func (t *Autoregressive) Inverse(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	return t.inverse("discrete: Autoregressive.Inverse", dst, ldj, z, true)
}

// ForwardRecord is Forward, recording for Backward.
func (t *Autoregressive) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	if err := t.forward("discrete: Autoregressive.ForwardRecord", dst, ldj, x, false); err != nil {
		return err
	}
	n, _ := x.Dims()
	t.rec = condRec{dir: condForward, n: n, ldj: ldj != nil}
	return nil
}

// InverseRecord is Inverse, recording for Backward.
func (t *Autoregressive) InverseRecord(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	if err := t.inverse("discrete: Autoregressive.InverseRecord", dst, ldj, z, false); err != nil {
		return err
	}
	n, _ := z.Dims()
	t.rec = condRec{dir: condInverse, n: n, ldj: ldj != nil}
	return nil
}

// load copies the rows of u into xs (n×d) and builds the network input
// [u, c] (or [0, c] if zero).
func (t *Autoregressive) load(u *mat.Dense, n int, zero bool) {
	d, w := t.d, t.d+t.ctx.m
	t.in = condGrow(t.in, n*w)
	t.xs = condGrow(t.xs, n*d)
	t.h = condGrow(t.h, n*d*t.np)
	for i := 0; i < n; i++ {
		ui := condRow(u, i)
		copy(t.xs[i*d:i*d+d], ui)
		in := t.in[i*w : i*w+w]
		if zero {
			clear(in[:d])
		} else {
			copy(in, ui)
		}
		if t.ctx.m > 0 {
			copy(in[d:], t.ctx.row(i))
		}
	}
}

func (t *Autoregressive) forward(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inPlace bool) error {
	t.rec.dir = condNone
	n, err := odeflow.PrepareCall(op, t.d, dst, ldj, x, inPlace)
	if err != nil {
		return err
	}
	t.ctx.check(op, n)
	if n == 0 {
		return nil
	}
	d := t.d
	t.load(x, n, false)
	t.ys = condGrow(t.ys, n*d)
	var lb []float64
	if ldj != nil {
		t.lb = condGrow(t.lb, n*d)
		lb = t.lb
	}
	t.net.forward(t.h, t.in, n)
	if err := t.tf.Forward(t.ys, lb, t.xs, t.h); err != nil {
		return condRowErr(op, err, d)
	}
	for i := 0; i < n; i++ {
		copy(condRow(dst, i), t.ys[i*d:i*d+d])
	}
	if ldj != nil {
		condSum(ldj, lb, d)
	}
	return nil
}

func (t *Autoregressive) inverse(op string, dst *mat.Dense, ldj []float64, z *mat.Dense, inPlace bool) error {
	t.rec.dir = condNone
	n, err := odeflow.PrepareCall(op, t.d, dst, ldj, z, inPlace)
	if err != nil {
		return err
	}
	t.ctx.check(op, n)
	if n == 0 {
		return nil
	}
	d, np, w := t.d, t.np, t.d+t.ctx.m
	t.load(z, n, true) // xs holds z; the network input starts at x = 0
	t.zc = condGrow(t.zc, n)
	t.xc = condGrow(t.xc, n)
	t.φc = condGrow(t.φc, n*np)
	var lc []float64
	if ldj != nil {
		t.lc = condGrow(t.lc, n)
		t.ls = condGrow(t.ls, n)
		lc = t.lc
		clear(t.ls)
	}
	for _, v := range t.order {
		t.net.forward(t.h, t.in, n)
		for i := 0; i < n; i++ {
			t.zc[i] = t.xs[i*d+v]
			o := (i*d + v) * np
			copy(t.φc[i*np:i*np+np], t.h[o:o+np])
		}
		if err := t.tf.Inverse(t.xc, lc, t.zc, t.φc); err != nil {
			return condRowErr(op, err, 1)
		}
		for i := 0; i < n; i++ {
			t.in[i*w+v] = t.xc[i]
		}
		for i, l := range lc {
			t.ls[i] += l
		}
	}
	// The last pass evaluated the network with every variable final except
	// the last of the order, on which no output depends: t.h holds the
	// parameters of every variable at the final x, and the network's
	// recording is valid for it (the masked weights of the last variable's
	// input column receive no gradient).
	for i := 0; i < n; i++ {
		copy(condRow(dst, i), t.in[i*w:i*w+d])
	}
	if ldj != nil {
		for i, l := range t.ls {
			ldj[i] += l
		}
	}
	return nil
}

// Backward propagates derivatives through the last record call (see
// odeflow.Differentiable and the type's documentation). It panics without
// a recording.
func (t *Autoregressive) Backward(gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) error {
	const op = "discrete: Autoregressive.Backward"
	t.rec.check(op, t.d, t.p.Len(), gin, gparams, gout, gldj)
	n := t.rec.n
	if n == 0 || (gin == nil && gparams == nil) {
		return nil
	}
	d, w := t.d, t.d+t.ctx.m
	t.gy = condGrow(t.gy, n*d) // gout, contiguous
	t.gx = condGrow(t.gx, n*d) // the transformer's input cotangent
	t.gh = condGrow(t.gh, len(t.h))
	t.gc = condGrow(t.gc, n*w)
	var gl []float64
	if gldj != nil {
		t.gl = condGrow(t.gl, n*d)
		gl = t.gl
	}
	for i := 0; i < n; i++ {
		copy(t.gy[i*d:i*d+d], condRow(gout, i))
		if gl != nil {
			for k := i * d; k < i*d+d; k++ {
				gl[k] = gldj[i]
			}
		}
	}
	if t.rec.dir == condForward {
		var gx, gc []float64
		if gin != nil {
			gx, gc = t.gx, t.gc
		}
		clear(t.gh)
		t.tf.ForwardVJP(gx, t.gh, t.xs, t.h, t.gy, gl)
		t.net.vjp(gc, gparams, t.gh)
		if gin != nil {
			for i := 0; i < n; i++ {
				gi := condRow(gin, i)
				for v := range gi {
					gi[v] = gx[i*d+v] + gc[i*w+v]
				}
			}
		}
		return nil
	}
	// Inverse: x̄ = gout + (∂φ/∂x)ᵀ φ̄ and (z̄, φ̄) = InverseVJP(x̄, gldj),
	// swept d times. ys holds x̄, gx holds z̄.
	t.ys = condGrow(t.ys, n*d)
	for k := 0; k < d; k++ {
		if k == 0 {
			copy(t.ys, t.gy)
		} else {
			t.net.vjp(t.gc, nil, t.gh)
			for i := 0; i < n; i++ {
				for v := 0; v < d; v++ {
					t.ys[i*d+v] = t.gy[i*d+v] + t.gc[i*w+v]
				}
			}
		}
		clear(t.gh)
		t.tf.InverseVJP(t.gx, t.gh, t.xs, t.h, t.ys, gl)
	}
	if gparams != nil {
		t.net.vjp(nil, gparams, t.gh)
	}
	if gin != nil {
		for i := 0; i < n; i++ {
			copy(condRow(gin, i), t.gx[i*d:i*d+d])
		}
	}
	return nil
}
