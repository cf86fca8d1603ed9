package discrete

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// Elementwise applies a Transformer to every coordinate of x ∈ R^d as a
// layer of a flow:
//
//	Forward:  z_j = τ(x_j; θ_j),   log|det ∂z/∂x| = Σ_j log τ'(x_j; θ_j)
//	Inverse:  x_j = τ⁻¹(z_j; θ_j)
//
// with trainable raw parameters θ_j ∈ R^P per dimension (P =
// τ.NumParams()), shared by all rows, reserved in one block name+"/params"
// (d·P values, P consecutive values per dimension). They start at the
// transformer's identity parameters (IdentityParams, for a Spline) or at
// zero, which is the identity for Affine and Shift. A parameter-free
// transformer (Exp, Tanh, Logit, …) reserves nothing and Params returns nil.
//
// An input outside the transformer's domain (Inverse of Exp at a negative
// number, Logit outside (0, 1)) or an overflow gives a *odeflow.RowError
// naming the row of the first offending element, with the transformer's
// *ElementError as its cause.
//
// An Elementwise holds workspace and a recording: it is not safe for
// concurrent use. After the first call with a given batch size it allocates
// nothing.
type Elementwise struct {
	d, np int
	tf    Transformer
	p     *nn.Params
	slot  nn.Slot

	xs, ys, lb, gy, gl, gx []float64
	rec                    condRec
}

// NewElementwise returns the layer applying t to each of d coordinates,
// with its parameters (if t has any) reserved in p under name+"/params". p
// may be nil for a parameter-free transformer. It panics if d < 1, t is nil,
// or t has parameters and p is nil.
func NewElementwise(p *nn.Params, name string, d int, t Transformer) *Elementwise {
	const op = "discrete: NewElementwise"
	linCheckDim(op, d)
	if t == nil {
		panic(op + ": nil Transformer")
	}
	e := &Elementwise{d: d, np: t.NumParams(), tf: t}
	if e.np == 0 {
		return e
	}
	if p == nil {
		panic(fmt.Sprintf("%s: nil *nn.Params for %v, which has parameters", op, t))
	}
	e.p = p
	e.slot = p.Reserve(name+"/params", d*e.np)
	if ip, ok := t.(identityParamser); ok {
		th := e.slot.Of(p.Data)
		for j := 0; j < d; j++ {
			ip.IdentityParams(th[j*e.np : (j+1)*e.np])
		}
	}
	return e
}

// Dim returns d.
func (e *Elementwise) Dim() int { return e.d }

// Params returns the shared parameter vector, or nil for a parameter-free
// transformer.
func (e *Elementwise) Params() *nn.Params { return e.p }

// Transformer returns the transformer.
func (e *Elementwise) Transformer() Transformer { return e.tf }

// Slot returns the slot of the parameter block (empty for a parameter-free
// transformer).
func (e *Elementwise) Slot() nn.Slot { return e.slot }

func (e *Elementwise) theta() []float64 {
	if e.np == 0 {
		return nil
	}
	return e.slot.Of(e.p.Data)
}

// Forward sets z_j = τ(x_j; θ_j) and adds Σ_j log τ' to ldj. dst may be x.
func (e *Elementwise) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return e.apply("discrete: Elementwise.Forward", dst, ldj, x, false, true)
}

// Inverse sets x_j = τ⁻¹(z_j; θ_j) and adds −Σ_j log τ' to ldj. dst may be
// z.
func (e *Elementwise) Inverse(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	return e.apply("discrete: Elementwise.Inverse", dst, ldj, z, true, true)
}

// ForwardRecord is Forward, recording for Backward.
func (e *Elementwise) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	if err := e.apply("discrete: Elementwise.ForwardRecord", dst, ldj, x, false, false); err != nil {
		return err
	}
	n, _ := x.Dims()
	e.rec = condRec{dir: condForward, n: n, ldj: ldj != nil}
	return nil
}

// InverseRecord is Inverse, recording for Backward.
func (e *Elementwise) InverseRecord(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	if err := e.apply("discrete: Elementwise.InverseRecord", dst, ldj, z, true, false); err != nil {
		return err
	}
	n, _ := z.Dims()
	e.rec = condRec{dir: condInverse, n: n, ldj: ldj != nil}
	return nil
}

func (e *Elementwise) apply(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse, inPlace bool) error {
	e.rec.dir = condNone
	n, err := odeflow.PrepareCall(op, e.d, dst, ldj, x, inPlace)
	if err != nil || n == 0 {
		return err
	}
	d := e.d
	m := n * d
	e.xs = condGrow(e.xs, m)
	e.ys = condGrow(e.ys, m)
	for i := 0; i < n; i++ {
		copy(e.xs[i*d:i*d+d], condRow(x, i))
	}
	var lb []float64
	if ldj != nil {
		e.lb = condGrow(e.lb, m)
		lb = e.lb
	}
	if inverse {
		err = e.tf.Inverse(e.ys, lb, e.xs, e.theta())
	} else {
		err = e.tf.Forward(e.ys, lb, e.xs, e.theta())
	}
	if err != nil {
		return condRowErr(op, err, d)
	}
	for i := 0; i < n; i++ {
		copy(condRow(dst, i), e.ys[i*d:i*d+d])
	}
	if ldj != nil {
		condSum(ldj, lb, d)
	}
	return nil
}

// Backward propagates derivatives through the last record call into the
// input and the per-dimension parameters. It panics without a recording.
func (e *Elementwise) Backward(gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) error {
	const op = "discrete: Elementwise.Backward"
	np := 0
	if e.p != nil {
		np = e.p.Len()
	}
	e.rec.check(op, e.d, np, gin, gparams, gout, gldj)
	n, d := e.rec.n, e.d
	var gθ []float64
	if e.np > 0 && gparams != nil {
		gθ = e.slot.Of(gparams)
	}
	if n == 0 || (gin == nil && gθ == nil) {
		return nil
	}
	m := n * d
	e.gy = condGrow(e.gy, m)
	var gl, gx []float64
	if gldj != nil {
		e.gl = condGrow(e.gl, m)
		gl = e.gl
	}
	if gin != nil {
		e.gx = condGrow(e.gx, m)
		gx = e.gx
	}
	for i := 0; i < n; i++ {
		copy(e.gy[i*d:i*d+d], condRow(gout, i))
		if gl != nil {
			for k := i * d; k < i*d+d; k++ {
				gl[k] = gldj[i]
			}
		}
	}
	if e.rec.dir == condInverse {
		e.tf.InverseVJP(gx, gθ, e.xs, e.theta(), e.gy, gl)
	} else {
		e.tf.ForwardVJP(gx, gθ, e.xs, e.theta(), e.gy, gl)
	}
	if gin != nil {
		for i := 0; i < n; i++ {
			copy(condRow(gin, i), gx[i*d:i*d+d])
		}
	}
	return nil
}
