package train

import (
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// affine is a test transform, optionally conditional on an m-vector c:
//
//	forward  z = (x − μ − A c) ⊙ exp(−s),   log|det| = −Σ s
//	inverse  x = μ + A c + z ⊙ exp(s),      log|det| = +Σ s
//
// with trainable μ, s (d each) and A (d×m). With m = 0 it is a plain
// Differentiable transform (use it through bound()); with m > 0 it is an
// odeflow.Conditional.
type affine struct {
	d, m     int
	p        *nn.Params
	mu, s, a nn.Slot
	b        affineBound
}

type affineBound struct {
	t       *affine
	c       *mat.Dense
	dir     int // 0 none, 1 forward, 2 inverse
	in, out *mat.Dense
	n       int
	sh      []float64
}

func newAffine(p *nn.Params, name string, d, m int) *affine {
	t := &affine{d: d, m: m, p: p}
	t.mu = p.Reserve(name+"/mu", d)
	t.s = p.Reserve(name+"/s", d)
	t.a = p.Reserve(name+"/A", d*m)
	t.b = affineBound{t: t, sh: make([]float64, d)}
	return t
}

func (t *affine) Dim() int           { return t.d }
func (t *affine) ContextDim() int    { return t.m }
func (t *affine) Params() *nn.Params { return t.p }
func (t *affine) Given(c *mat.Dense) odeflow.Transform {
	t.b.c = c
	t.b.dir = 0
	return &t.b
}
func (t *affine) bound() *affineBound { return &t.b }

func (b *affineBound) Dim() int           { return b.t.d }
func (b *affineBound) Params() *nn.Params { return b.t.p }

// shift writes μ + A c_i into b.sh.
func (b *affineBound) shift(i int) []float64 {
	t := b.t
	mu, a := t.mu.Of(t.p.Data), t.a.Of(t.p.Data)
	for j := 0; j < t.d; j++ {
		v := mu[j]
		for k := 0; k < t.m; k++ {
			v += a[j*t.m+k] * b.c.At(i, k)
		}
		b.sh[j] = v
	}
	return b.sh
}

func (b *affineBound) apply(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse, inPlace bool) error {
	b.dir = 0
	n, err := odeflow.PrepareCall(op, b.t.d, dst, ldj, x, inPlace)
	if err != nil {
		return err
	}
	s := b.t.s.Of(b.t.p.Data)
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	if inverse {
		sum = -sum
	}
	for i := 0; i < n; i++ {
		sh := b.shift(i)
		xi, yi := x.RawRowView(i), dst.RawRowView(i)
		for j := range xi {
			if inverse {
				yi[j] = sh[j] + xi[j]*math.Exp(s[j])
			} else {
				yi[j] = (xi[j] - sh[j]) * math.Exp(-s[j])
			}
		}
		if ldj != nil {
			ldj[i] -= sum
		}
	}
	return nil
}

func (b *affineBound) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return b.apply("affine.Forward", dst, ldj, x, false, true)
}

func (b *affineBound) Inverse(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	return b.apply("affine.Inverse", dst, ldj, y, true, true)
}

func (b *affineBound) record(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse bool) error {
	if err := b.apply(op, dst, ldj, x, inverse, false); err != nil {
		return err
	}
	b.dir, b.in, b.out = 1, x, dst
	if inverse {
		b.dir = 2
	}
	b.n, _ = x.Dims()
	return nil
}

func (b *affineBound) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return b.record("affine.ForwardRecord", dst, ldj, x, false)
}

func (b *affineBound) InverseRecord(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	return b.record("affine.InverseRecord", dst, ldj, y, true)
}

func (b *affineBound) Backward(gin *mat.Dense, gp []float64, gout *mat.Dense, gldj []float64) error {
	if b.dir == 0 {
		panic("affine: no recording")
	}
	t := b.t
	odeflow.PrepareBackward("affine.Backward", t.d, b.n, t.p.Len(), gin, gp, gout, gldj)
	s := t.s.Of(t.p.Data)
	var gmu, gs, ga []float64
	if gp != nil {
		gmu, gs, ga = t.mu.Of(gp), t.s.Of(gp), t.a.Of(gp)
	}
	inv := b.dir == 2
	for i := 0; i < b.n; i++ {
		g, in, out := gout.RawRowView(i), b.in.RawRowView(i), b.out.RawRowView(i)
		gl := 0.0
		if gldj != nil {
			gl = gldj[i]
		}
		for j := range g {
			var gshift, gsj, scale float64
			if inv { // x = shift + z e^s
				scale = math.Exp(s[j])
				gshift = g[j]
				gsj = g[j]*in[j]*scale + gl
			} else { // z = (x − shift) e^−s
				scale = math.Exp(-s[j])
				gshift = -g[j] * scale
				gsj = -g[j]*out[j] - gl
			}
			if gin != nil {
				gin.RawRowView(i)[j] = g[j] * scale
			}
			if gp != nil {
				gmu[j] += gshift
				gs[j] += gsj
				for k := 0; k < t.m; k++ {
					ga[j*t.m+k] += gshift * b.c.At(i, k)
				}
			}
		}
	}
	return nil
}

// counting wraps a Differentiable and counts calls like a CNF counts
// function evaluations: ForwardRecord/InverseRecord add 3 forward
// evaluations, Backward adds 2 backward ones, and (from the call numbered
// poisonAt on, when poisonAt > 0) ForwardRecord writes NaN into row 1.
type counting struct {
	odeflow.Differentiable
	fwd, bwd, calls, poisonAt int
}

func (c *counting) NFE() (int, int) { return c.fwd, c.bwd }

func (c *counting) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	c.fwd += 3
	c.calls++
	if err := c.Differentiable.ForwardRecord(dst, ldj, x); err != nil {
		return err
	}
	if c.poisonAt > 0 && c.calls >= c.poisonAt {
		dst.Set(1, 0, math.NaN())
	}
	return nil
}

func (c *counting) InverseRecord(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	c.fwd += 3
	return c.Differentiable.InverseRecord(dst, ldj, y)
}

func (c *counting) Backward(gin *mat.Dense, gp []float64, gout *mat.Dense, gldj []float64) error {
	c.bwd += 2
	return c.Differentiable.Backward(gin, gp, gout, gldj)
}

// recOpt wraps an optimizer and records the learning rates and gradient
// norms it is given.
type recOpt struct {
	nn.Optimizer
	lrs, norms []float64
}

func (o *recOpt) Step(x, g []float64, lr float64) {
	o.lrs = append(o.lrs, lr)
	ss := 0.0
	for _, v := range g {
		ss += v * v
	}
	o.norms = append(o.norms, math.Sqrt(ss))
	o.Optimizer.Step(x, g, lr)
}
