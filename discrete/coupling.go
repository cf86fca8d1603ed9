package discrete

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// AlternatingMask returns the coupling mask of d coordinates that transforms
// the odd coordinates 1, 3, 5, … (or the even ones 0, 2, 4, … if even is
// true) and conditions on the others. It panics if d < 1 or if d = 1 and
// even is false (nothing would be transformed).
func AlternatingMask(d int, even bool) []bool {
	m := make([]bool, d)
	for j := range m {
		m[j] = (j%2 == 0) == even
	}
	cplCheckMask("discrete: AlternatingMask", m)
	return m
}

// HalfMask returns the coupling mask of d coordinates that transforms the
// second half, coordinates ⌊d/2⌋, …, d−1 (or the first half, 0, …, ⌈d/2⌉−1,
// if first is true) and conditions on the rest. With d = 1 the single
// coordinate is transformed either way. It panics if d < 1.
func HalfMask(d int, first bool) []bool {
	if d < 1 {
		panic(fmt.Sprintf("discrete: HalfMask: dimension %d", d))
	}
	m := make([]bool, d)
	for j := range m {
		if first {
			m[j] = j < (d+1)/2
		} else {
			m[j] = j >= d/2
		}
	}
	return m
}

// RandomMask returns a coupling mask of d coordinates that transforms ⌈d/2⌉
// coordinates chosen uniformly at random from src. It panics if d < 1 or src
// is nil.
func RandomMask(d int, src rand.Source) []bool {
	if d < 1 {
		panic(fmt.Sprintf("discrete: RandomMask: dimension %d", d))
	}
	if src == nil {
		panic("discrete: RandomMask: nil rand.Source")
	}
	m := make([]bool, d)
	for _, j := range rand.New(src).Perm(d)[:(d+1)/2] {
		m[j] = true
	}
	return m
}

func cplCheckMask(op string, m []bool) {
	if len(m) == 0 {
		panic(op + ": empty mask")
	}
	for _, v := range m {
		if v {
			return
		}
	}
	panic(op + ": the mask transforms no coordinate")
}

// CouplingSettings configures a Coupling layer. A nil *CouplingSettings
// means every default; so does the zero value of each field.
type CouplingSettings struct {
	// Mask marks the transformed coordinates (true) of x ∈ R^d; the others
	// are the conditioning part x_a, passed through unchanged. It must
	// transform at least one coordinate. nil means AlternatingMask(d, false)
	// for d ≥ 2 and the single coordinate for d = 1.
	Mask []bool
	// Transformer is the elementwise map τ applied to the transformed
	// coordinates; nil means Affine{Bound: 3} (RealNVP with a soft-clamped
	// log-scale in (−3, 3)). Shift{} gives NICE's additive coupling,
	// NewSpline(...) the rational-quadratic coupling of neural spline flows.
	Transformer Transformer
	// Hidden lists the conditioner's hidden widths as in nn.MLPConfig
	// ("64-64"). Empty means "64-64"; "none" means an affine conditioner.
	Hidden string
	// Act is the conditioner's activation; the zero value (nn.Identity)
	// means nn.ReLU.
	Act nn.Activation
	// ContextDim is the dimension m of the context c (0: unconditional).
	ContextDim int
}

// Coupling is a coupling layer (Dinh et al. 2015, NICE; Dinh et al. 2017,
// RealNVP; Durkan et al. 2019, neural spline flows): with a fixed mask
// splitting x ∈ R^d into a conditioning part x_a and a transformed part x_b,
//
//	Forward:  z_a = x_a,  z_b = τ(x_b; φ(x_a[, c]))
//	Inverse:  x_a = z_a,  x_b = τ⁻¹(z_b; φ(z_a[, c]))
//
//	log|det ∂z/∂x| = Σ_{j∈b} log τ'(x_j; φ_j)
//
// where τ is a Transformer applied elementwise and the conditioner φ is an
// MLP (zuko's CouplingTransform(meta, mask); flowjax's Coupling). The
// conditioner reads [x_a, c] (c the context of a conditional layer) and
// outputs |b|·P raw parameters, P = τ.NumParams(), P consecutive values per
// transformed coordinate in the order of the mask. Both directions cost one
// network evaluation.
//
// Its last layer starts at zero weights, with the bias set to the
// transformer's identity parameters (IdentityParams, for a Spline) or zero
// (Affine, Shift), so that a new layer is exactly the identity.
//
// Gradients: Backward runs the transformer's VJP (ForwardVJP or InverseVJP)
// for the transformed part and the network's VJP, which carries the
// parameter gradient and the cotangent of x_a through the conditioner.
//
// A conditional layer (ContextDim > 0) maps rows with the context bound by
// Given, which returns the layer itself; calling Forward or Inverse of a
// conditional layer before Given panics, as does a context whose row count
// differs from the batch's. An element error of the transformer (an overflow,
// an input outside its domain) is returned as a *odeflow.RowError naming the
// row, with the *ElementError as its cause.
//
// A Coupling holds workspace and a recording, so it is not safe for
// concurrent use. After the first call with a given batch size it allocates
// nothing.
type Coupling struct {
	d, na, nb, np int
	a, b          []int // conditioning and transformed coordinates
	tf            Transformer
	p             *nn.Params
	net           condNet
	ctx           condCtx

	in, xb, h, yb, lb []float64 // net input n×(na+m), x_b, φ, τ(x_b), element ldj
	gb, gl, gh, gc    []float64 // Backward: gout_b, broadcast gldj, ∂/∂φ, ∂/∂in
	gxb               []float64 // Backward: ∂/∂x_b
	rec               condRec
}

// NewCoupling returns a coupling layer on R^d whose conditioner parameters
// are reserved in p under name+"/net/0", name+"/net/1", … (see nn.NewMLP),
// with the hidden layers initialized from src. It returns an error if the
// hidden spec is invalid. It panics if d < 1, p or src is nil, the mask has
// the wrong length or transforms nothing, ContextDim < 0, or an
// unconditional layer would have no conditioning coordinate (d = 1 needs a
// context).
func NewCoupling(p *nn.Params, name string, d int, s *CouplingSettings, src rand.Source) (*Coupling, error) {
	const op = "discrete: NewCoupling"
	linCheckDim(op, d)
	if p == nil {
		panic(op + ": nil *nn.Params")
	}
	if src == nil {
		panic(op + ": nil rand.Source")
	}
	var cs CouplingSettings
	if s != nil {
		cs = *s
	}
	mask := cs.Mask
	if mask == nil {
		if d == 1 {
			mask = []bool{true}
		} else {
			mask = AlternatingMask(d, false)
		}
	}
	if len(mask) != d {
		panic(fmt.Sprintf("%s: mask has length %d, want %d", op, len(mask), d))
	}
	cplCheckMask(op, mask)
	if cs.ContextDim < 0 {
		panic(fmt.Sprintf("%s: negative context dimension %d", op, cs.ContextDim))
	}
	if cs.Transformer == nil {
		cs.Transformer = Affine{Bound: 3}
	}
	if cs.Hidden == "" {
		cs.Hidden = "64-64"
	}
	c := &Coupling{d: d, tf: cs.Transformer, np: cs.Transformer.NumParams(), p: p, ctx: condCtx{m: cs.ContextDim}}
	if c.np == 0 {
		panic(fmt.Sprintf("%s: transformer %v has no parameters to condition", op, cs.Transformer))
	}
	for j, t := range mask {
		if t {
			c.b = append(c.b, j)
		} else {
			c.a = append(c.a, j)
		}
	}
	c.na, c.nb = len(c.a), len(c.b)
	if c.na+c.ctx.m == 0 {
		panic(op + ": no conditioning coordinate and no context: the conditioner would have no input")
	}
	net, err := nn.NewMLP(p, name+"/net", nn.MLPConfig{
		In: c.na + c.ctx.m, Out: c.nb * c.np, Hidden: cs.Hidden, Act: condAct(cs.Act), ZeroLast: true,
	}, src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	condIdentityBias(net, c.tf)
	c.net.net = net
	return c, nil
}

// Dim returns d.
func (c *Coupling) Dim() int { return c.d }

// ContextDim returns the context dimension (0 for an unconditional layer).
func (c *Coupling) ContextDim() int { return c.ctx.m }

// Params returns the shared parameter vector.
func (c *Coupling) Params() *nn.Params { return c.p }

// Mask returns a copy of the mask (true: transformed coordinate).
func (c *Coupling) Mask() []bool {
	m := make([]bool, c.d)
	for _, j := range c.b {
		m[j] = true
	}
	return m
}

// Transformer returns the elementwise transformer.
func (c *Coupling) Transformer() Transformer { return c.tf }

// Conditioner returns the conditioner network.
func (c *Coupling) Conditioner() *nn.MLP { return c.net.net }

// Given binds the context ctx (n×ContextDim; read at call time, not copied)
// and returns the layer itself, which then maps n-row batches with it. An
// unconditional layer ignores ctx. It panics if a conditional layer gets a
// nil context or one with the wrong number of columns.
func (c *Coupling) Given(ctx *mat.Dense) odeflow.Transform {
	c.rec.dir = condNone
	c.ctx.bind("discrete: Coupling.Given", ctx)
	return c
}

// Forward sets z_a = x_a, z_b = τ(x_b; φ(x_a)) and adds Σ_b log τ' to
// ldj. dst may be x. See odeflow.Transform.
func (c *Coupling) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return c.apply("discrete: Coupling.Forward", dst, ldj, x, false, true)
}

// Inverse sets x_a = z_a, x_b = τ⁻¹(z_b; φ(z_a)) and adds −Σ_b log τ' to
// ldj. dst may be z.
func (c *Coupling) Inverse(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	return c.apply("discrete: Coupling.Inverse", dst, ldj, z, true, true)
}

// ForwardRecord is Forward, recording for Backward.
func (c *Coupling) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	if err := c.apply("discrete: Coupling.ForwardRecord", dst, ldj, x, false, false); err != nil {
		return err
	}
	c.setRec(condForward, x, ldj)
	return nil
}

// InverseRecord is Inverse, recording for Backward.
func (c *Coupling) InverseRecord(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	if err := c.apply("discrete: Coupling.InverseRecord", dst, ldj, z, true, false); err != nil {
		return err
	}
	c.setRec(condInverse, z, ldj)
	return nil
}

func (c *Coupling) setRec(dir int, in *mat.Dense, ldj []float64) {
	n, _ := in.Dims()
	c.rec = condRec{dir: dir, n: n, ldj: ldj != nil}
}

func (c *Coupling) grow(n int) {
	w := c.na + c.ctx.m
	c.in = condGrow(c.in, n*w)
	c.xb = condGrow(c.xb, n*c.nb)
	c.yb = condGrow(c.yb, n*c.nb)
	c.lb = condGrow(c.lb, n*c.nb)
	c.h = condGrow(c.h, n*c.nb*c.np)
}

func (c *Coupling) apply(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse, inPlace bool) error {
	c.rec.dir = condNone
	n, err := odeflow.PrepareCall(op, c.d, dst, ldj, x, inPlace)
	if err != nil {
		return err
	}
	c.ctx.check(op, n)
	if n == 0 {
		return nil
	}
	c.grow(n)
	na, nb, w := c.na, c.nb, c.na+c.ctx.m
	for i := 0; i < n; i++ {
		xi := condRow(x, i)
		in := c.in[i*w : i*w+w]
		for k, j := range c.a {
			in[k] = xi[j]
		}
		if c.ctx.m > 0 {
			copy(in[na:], c.ctx.row(i))
		}
		xb := c.xb[i*nb : i*nb+nb]
		for k, j := range c.b {
			xb[k] = xi[j]
		}
	}
	c.net.forward(c.h, c.in, n)
	var lb []float64
	if ldj != nil {
		lb = c.lb
	}
	if inverse {
		err = c.tf.Inverse(c.yb, lb, c.xb, c.h)
	} else {
		err = c.tf.Forward(c.yb, lb, c.xb, c.h)
	}
	if err != nil {
		return condRowErr(op, err, nb)
	}
	for i := 0; i < n; i++ {
		xi, di := condRow(x, i), condRow(dst, i)
		for _, j := range c.a {
			di[j] = xi[j]
		}
		yb := c.yb[i*nb : i*nb+nb]
		for k, j := range c.b {
			di[j] = yb[k]
		}
	}
	if ldj != nil {
		condSum(ldj, lb, nb)
	}
	return nil
}

// Backward propagates derivatives through the last record call (see
// odeflow.Differentiable): through the transformer into x_b (z_b) and into
// the conditioner's outputs, and through the conditioner into x_a (z_a) and
// its parameters. It panics without a recording.
func (c *Coupling) Backward(gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) error {
	const op = "discrete: Coupling.Backward"
	c.rec.check(op, c.d, c.p.Len(), gin, gparams, gout, gldj)
	n := c.rec.n
	if n == 0 || (gin == nil && gparams == nil) {
		return nil
	}
	na, nb, w := c.na, c.nb, c.na+c.ctx.m
	c.gb = condGrow(c.gb, n*nb)
	c.gh = condGrow(c.gh, n*nb*c.np)
	var gl []float64
	if gldj != nil {
		c.gl = condGrow(c.gl, n*nb)
		gl = c.gl
	}
	for i := 0; i < n; i++ {
		g := condRow(gout, i)
		gb := c.gb[i*nb : i*nb+nb]
		for k, j := range c.b {
			gb[k] = g[j]
		}
		if gl != nil {
			for k := i * nb; k < i*nb+nb; k++ {
				gl[k] = gldj[i]
			}
		}
	}
	clear(c.gh)
	var gxb, gc []float64
	if gin != nil {
		c.gxb = condGrow(c.gxb, n*nb)
		gxb = c.gxb
		if na > 0 {
			c.gc = condGrow(c.gc, n*w)
			gc = c.gc
		}
	}
	if c.rec.dir == condInverse {
		c.tf.InverseVJP(gxb, c.gh, c.xb, c.h, c.gb, gl)
	} else {
		c.tf.ForwardVJP(gxb, c.gh, c.xb, c.h, c.gb, gl)
	}
	if gc != nil || gparams != nil {
		c.net.vjp(gc, gparams, c.gh)
	}
	if gin == nil {
		return nil
	}
	for i := 0; i < n; i++ {
		g, gi := condRow(gout, i), condRow(gin, i)
		for k, j := range c.a {
			gi[j] = g[j] + gc[i*w+k]
		}
		gb := gxb[i*nb : i*nb+nb]
		for k, j := range c.b {
			gi[j] = gb[k]
		}
	}
	return nil
}
