package odeflow

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/nn"
)

// Transform is an invertible map f of R^d onto itself, applied to a batch one
// row at a time. Forward maps data to the base (x ↦ z = f(x)); Inverse maps
// base points to data (z ↦ x = f⁻¹(z)), which is how a flow samples.
//
// The contract shared by Forward and Inverse (and by the Record variants of
// Differentiable):
//
//   - The input is n×d, one point per row, and is never modified.
//   - dst must be non-nil. An empty dst (the zero mat.Dense, or one emptied
//     by Reset) is resized to n×d; a non-empty dst must be n×d, otherwise the
//     method panics. Every element of dst is written.
//   - Forward and Inverse may be called with dst == input (the same matrix):
//     the map is then computed in place. Any other overlap of dst and the
//     input is a programmer error and panics.
//   - ldj, if not nil, has length n and row i's log-determinant is ADDED to
//     ldj[i], so that a chain accumulates into one slice; a nil ldj skips the
//     log-determinant work.
//   - Data conditions are returned as errors, never panics: an input row
//     holding NaN or ±Inf gives a *RowError wrapping ErrNonFinite; a
//     numerical inverse that fails gives one wrapping ErrNotConverged; an ODE
//     solve that fails gives the solver's error. On error the contents of dst
//     and ldj are unspecified.
//   - Shapes that disagree with Dim are programmer errors and panic.
//   - A transform may hold workspace: it is not safe for concurrent use
//     unless its documentation says so.
//
// PrepareCall performs the argument checks of this contract.
type Transform interface {
	// Dim returns d, the number of columns of the batches it maps.
	Dim() int

	// Forward sets row i of dst to f(x_i) and, if ldj is not nil, adds
	//	log|det ∂f/∂x (x_i)|
	// to ldj[i].
	Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error

	// Inverse sets row i of dst to f⁻¹(y_i) and, if ldj is not nil, adds
	//	log|det ∂f⁻¹/∂y (y_i)| = −log|det ∂f/∂x (f⁻¹(y_i))|
	// to ldj[i].
	Inverse(dst *mat.Dense, ldj []float64, y *mat.Dense) error
}

// Differentiable is a Transform that can be trained: it exposes its
// parameters and differentiates a loss through either direction by a
// two-phase record/backward protocol.
//
// A record call (ForwardRecord or InverseRecord) computes exactly what
// Forward or Inverse computes and keeps what Backward needs: its own copies,
// references to its input and dst, an ODE solve's checkpoints. Backward then
// propagates the derivatives of a scalar loss L through the recorded call.
// Writing u for the input of the recorded call, v for its output and Δ_i for
// the log-determinant it added to ldj[i] (Δ is log|det ∂f/∂x| for
// ForwardRecord and log|det ∂f⁻¹/∂y| for InverseRecord), Backward is given
//
//	gout_i = ∂L/∂v_i   (n×d, required)
//	gldj_i = ∂L/∂Δ_i   (nil means 0)
//
// and writes
//
//	gin_i = ∂L/∂u_i = gout_iᵀ ∂v_i/∂u_i + gldj_i ∂Δ_i/∂u_i
//
// into gin (nil skips this work; an empty gin is resized; gin must not
// overlap gout) and ADDS
//
//	Σ_i gout_iᵀ ∂v_i/∂θ + gldj_i ∂Δ_i/∂θ
//
// into gparams, a full-length vector aligned with Params().Data (often
// Params().Grad, but any vector of that length: a worker's buffer, part of an
// adjoint state). A nil gparams skips the parameter gradient. A transform
// whose Params is nil ignores gparams whatever its length, so that a chain
// can pass one model-wide vector to every member. gout and gldj are not
// modified. PrepareBackward performs these argument checks.
//
// Ownership of the recording:
//
//   - The recording belongs to the transform: it is stateful and not safe for
//     concurrent use.
//   - It may keep references to the recorded call's input and dst (and to the
//     context of a conditional transform): the caller must not modify them
//     until it is done with Backward.
//   - It is invalidated by any later call of Forward, Inverse, ForwardRecord
//     or InverseRecord on the same transform, and by a change of
//     Params().Data. Backward without a valid recording panics.
//   - Backward does not consume the recording: it may be called again, for
//     example with other cotangents.
//   - Record calls do not allow dst to overlap the input (no in-place).
//   - If the recording was made with a nil ldj, gldj must be nil.
//   - Backward returns an error only for data conditions of the backward pass
//     itself (an adjoint ODE solve that fails); the gradients are then
//     unspecified.
//
// A CNF block implements ForwardRecord as a checkpointed ODE solve, and
// Backward as the reverse sweep over the checkpoints (or as a backsolve
// adjoint). A parameter-free layer (a permutation) returns nil from Params
// and still implements Backward for gin. Every transform of Odeflow is
// Differentiable.
type Differentiable interface {
	Transform
	Parameterized

	// ForwardRecord is Forward, recording for Backward.
	ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error
	// InverseRecord is Inverse, recording for Backward.
	InverseRecord(dst *mat.Dense, ldj []float64, y *mat.Dense) error
	// Backward propagates derivatives through the last record call.
	Backward(gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) error
}

// Conditional is a family of transforms indexed by a context vector, one
// context per row (zuko's lazy transform): row i of a batch is mapped by the
// transform for context c_i.
//
// Given binds an n×m context (m = ContextDim) and returns the transform for
// it: a batch passed to the result must have exactly n rows, and row i uses
// row i of c. The result reads c at call time (it is not copied), so c must
// not be modified while the result is in use. Given may return the same
// object on every call, rebinding it: a returned Transform is valid only
// until the next call of Given on the same receiver. Given panics if c does
// not have m columns.
//
// A trainable Conditional implements Parameterized, and Given returns a
// Differentiable that shares those parameters; its recording also keeps a
// reference to c.
//
// ContextDim 0 means that the transform ignores its context (see
// Unconditional); Given then accepts any context, including nil.
type Conditional interface {
	Dim() int
	ContextDim() int
	Given(c *mat.Dense) Transform
}

// Layered is implemented by transforms made of steps, such as Chain and the
// Inverse of a Chain, to expose the intermediate states (for plots).
//
// ForwardStates returns the k+1 states of a batch x through the k steps in
// the forward direction: states[0] is a copy of x and states[k] equals the
// result of Forward. InverseStates does the same for Inverse: states[0] is a
// copy of y and states[k] is the result of Inverse. The states are newly
// allocated.
type Layered interface {
	Transform
	ForwardStates(x *mat.Dense) ([]*mat.Dense, error)
	InverseStates(y *mat.Dense) ([]*mat.Dense, error)
}

// ForwardStates returns the intermediate states of x through t in the
// forward direction: t's own states if t is Layered, otherwise {x, f(x)}.
func ForwardStates(t Transform, x *mat.Dense) ([]*mat.Dense, error) {
	if l, ok := t.(Layered); ok {
		return l.ForwardStates(x)
	}
	return twoStates(t.Forward, x)
}

// InverseStates returns the intermediate states of y through t in the
// inverse direction: t's own states if t is Layered, otherwise {y, f⁻¹(y)}.
func InverseStates(t Transform, y *mat.Dense) ([]*mat.Dense, error) {
	if l, ok := t.(Layered); ok {
		return l.InverseStates(y)
	}
	return twoStates(t.Inverse, y)
}

func twoStates(f func(dst *mat.Dense, ldj []float64, x *mat.Dense) error, x *mat.Dense) ([]*mat.Dense, error) {
	x0 := mat.DenseCopyOf(x)
	var x1 mat.Dense
	if err := f(&x1, nil, x); err != nil {
		return nil, err
	}
	return []*mat.Dense{x0, &x1}, nil
}

// Inverted is a transform with its directions swapped: its Forward is the
// wrapped transform's Inverse and the other way round. Inverse(MAF) is IAF:
// cheap sampling, expensive density. See Inverse.
//
// Inverted implements Differentiable by delegation; its Record methods and
// Backward panic if the wrapped transform is not Differentiable.
type Inverted struct {
	t Transform
}

// Inverse returns t with its directions swapped. Inverse(Inverse(t)) returns t.
// It panics if t is nil.
func Inverse(t Transform) Transform {
	if t == nil {
		panic("odeflow: Inverse of nil transform")
	}
	if v, ok := t.(*Inverted); ok {
		return v.t
	}
	return &Inverted{t: t}
}

// Inner returns the wrapped transform.
func (v *Inverted) Inner() Transform { return v.t }

// Dim returns the dimension of the wrapped transform.
func (v *Inverted) Dim() int { return v.t.Dim() }

// Params returns the wrapped transform's parameters, or nil.
func (v *Inverted) Params() *nn.Params { return paramsOf(v.t) }

// Forward runs the wrapped transform's Inverse.
func (v *Inverted) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return v.t.Inverse(dst, ldj, x)
}

// Inverse runs the wrapped transform's Forward.
func (v *Inverted) Inverse(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	return v.t.Forward(dst, ldj, y)
}

func (v *Inverted) diff() Differentiable {
	d, ok := v.t.(Differentiable)
	if !ok {
		panic(fmt.Sprintf("odeflow: Inverted: %T is not Differentiable", v.t))
	}
	return d
}

// ForwardRecord runs the wrapped transform's InverseRecord.
func (v *Inverted) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return v.diff().InverseRecord(dst, ldj, x)
}

// InverseRecord runs the wrapped transform's ForwardRecord.
func (v *Inverted) InverseRecord(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	return v.diff().ForwardRecord(dst, ldj, y)
}

// Backward runs the wrapped transform's Backward: the recording already
// knows its direction.
func (v *Inverted) Backward(gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) error {
	return v.diff().Backward(gin, gparams, gout, gldj)
}

// ForwardStates returns the wrapped transform's inverse states.
func (v *Inverted) ForwardStates(x *mat.Dense) ([]*mat.Dense, error) { return InverseStates(v.t, x) }

// InverseStates returns the wrapped transform's forward states.
func (v *Inverted) InverseStates(y *mat.Dense) ([]*mat.Dense, error) { return ForwardStates(v.t, y) }

// Unconditional lifts a transform into a Conditional that ignores its
// context (ContextDim 0), so that it can sit in a ConditionalChain. Given
// returns t itself. The result implements Parameterized by delegation.
func Unconditional(t Transform) Conditional {
	if t == nil {
		panic("odeflow: Unconditional of nil transform")
	}
	return unconditional{t}
}

type unconditional struct{ t Transform }

func (u unconditional) Dim() int                   { return u.t.Dim() }
func (u unconditional) ContextDim() int            { return 0 }
func (u unconditional) Given(*mat.Dense) Transform { return u.t }
func (u unconditional) Params() *nn.Params         { return paramsOf(u.t) }

// InverseConditional returns the conditional transform whose Given(c) is
// Inverse(t.Given(c)): conditional IAF from conditional MAF. Given rebinds
// one reused wrapper. InverseConditional(InverseConditional(t)) returns t.
func InverseConditional(t Conditional) Conditional {
	if t == nil {
		panic("odeflow: InverseConditional of nil transform")
	}
	if v, ok := t.(*invertedConditional); ok {
		return v.t
	}
	return &invertedConditional{t: t}
}

type invertedConditional struct {
	t     Conditional
	bound Inverted
}

func (v *invertedConditional) Dim() int           { return v.t.Dim() }
func (v *invertedConditional) ContextDim() int    { return v.t.ContextDim() }
func (v *invertedConditional) Params() *nn.Params { return paramsOf(v.t) }
func (v *invertedConditional) Given(c *mat.Dense) Transform {
	v.bound.t = v.t.Given(c)
	return &v.bound
}
