package adjoint

import (
	"errors"
	"fmt"

	"github.com/odeflow/odeflow/ode"
)

// System is a parametric vector field y' = F(t, y; θ) on a flat state of
// fixed length, with its vector–Jacobian product. The parameters θ live in
// the System (for a neural field, nn.Params.Data); the gradient with respect
// to them is a flat vector aligned with them.
//
// Protocol. Eval and VJP may be called in any order, at any (t, y), any
// number of times: VJP must compute everything it needs from its own
// arguments and may assume nothing about earlier calls (an implementation
// that caches the forward pass of the last Eval must check that (t, y)
// match). Neither may modify y or a, and neither should allocate. θ must not
// change between Solver.Forward and the Solver.Backward calls that follow.
type System interface {
	// Len returns the length of the state y.
	Len() int
	// NumParams returns the number of parameters θ (may be 0).
	NumParams() int
	// Eval sets dst = F(t, y). It must write every element of dst.
	Eval(dst []float64, t float64, y []float64)
	// VJP is the reverse pass through F at (t, y) with cotangent a on
	// F(t, y): it sets ay = aᵀ∂F/∂y (overwriting it), adds aᵀ∂F/∂θ into
	// atheta (len NumParams()), and returns aᵀ∂F/∂t.
	VJP(ay, atheta []float64, t float64, y, a []float64) (at float64)
}

// EvalVJPer is an optional interface for a System that can evaluate F and
// its VJP at the same (t, y) more cheaply together than apart (one forward
// pass of a network instead of two). Backsolve uses it for the augmented
// dynamics, which need both at every evaluation; it counts as one Eval and
// one VJP in Stats.
type EvalVJPer interface {
	System
	// EvalVJP sets f = F(t, y) and ay = aᵀ∂F/∂y, adds aᵀ∂F/∂θ into atheta,
	// and returns aᵀ∂F/∂t.
	EvalVJP(f, ay, atheta []float64, t float64, y, a []float64) (at float64)
}

// ActiveEvaler is an optional interface for a System whose state ends in
// passive components: quantities such as a log-determinant or regularizer
// integrals, y_j' = F_j(t, y) for j ≥ m, that F never reads. With
// m = Active(), F(t, y) depends on y[:m] only, so aᵀ∂F/∂y is zero beyond m,
// and Eval and VJP give the same results whatever y[m:] holds.
//
// Checkpointed's re-run of a step needs the stage inputs only as arguments
// of VJP, which ignores their passive part, so it computes the stage
// derivatives with EvalActive: the active rates alone, typically much
// cheaper (for a CNF, f instead of f and its divergence). It evaluates the
// full F only where a passive rate enters the gradient: the stages with a
// nonzero weight B_i of the first and last steps, whose stage derivatives
// enter ∂L/∂T0 and ∂L/∂T1 (see the package documentation), when the
// cotangent of the passive components is not zero. Stats counts the two
// kinds of evaluation separately.
type ActiveEvaler interface {
	System
	// Active returns m, with 0 ≤ m ≤ Len(): F depends on y[:m] only.
	Active() int
	// EvalActive sets dst[:m] = F(t, y)[:m]: the same values as Eval, to
	// rounding. dst[m:] may be left with any values; the caller does not
	// read them.
	EvalActive(dst []float64, t float64, y []float64)
}

// Method selects how gradients are computed.
type Method int

const (
	// Checkpointed stores the accepted steps (t_k, y_k, h_k) of the forward
	// solve, re-runs each step in reverse order with an ode.Stepper and
	// back-propagates through its stages: the exact gradient of the computed
	// solution. Memory O(steps · Len()). The default.
	Checkpointed Method = iota
	// Backsolve integrates the continuous adjoint equations backward from
	// T1 to T0 together with the state: memory independent of the number of
	// steps, gradients accurate to the backward solve's tolerance.
	Backsolve
	// Direct records every stage input and stage derivative of every
	// accepted step during the forward solve and back-propagates through
	// them without re-evaluating F: the most memory (about 2·stages times
	// Checkpointed's); the reference that Checkpointed must reproduce.
	Direct
)

// String returns "checkpointed", "backsolve" or "direct".
func (m Method) String() string {
	switch m {
	case Checkpointed:
		return "checkpointed"
	case Backsolve:
		return "backsolve"
	case Direct:
		return "direct"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// Settings configure a gradient computation. A nil *Settings means
// Checkpointed with ode's default solver settings.
type Settings struct {
	// Method is the gradient strategy; the zero value is Checkpointed.
	Method Method

	// Forward configures the forward solve; nil means ode's defaults
	// (Dopri5, rtol 1e-6, atol 1e-9). Adaptive and fixed-step (Step, Grid)
	// modes are both supported. SaveAt, Dense and Events must be empty
	// (the loss depends on y(T1) only); SaveSteps is set internally when
	// the method needs it. The slices it holds must not change before the
	// Backward calls that follow.
	Forward *ode.Settings

	// Backward configures the backward solve of Backsolve over the
	// augmented state [y, a_y, a_θ, a_t] (length 2·Len()+NumParams()+1);
	// unused by Checkpointed and Direct. Nil means the Forward settings with
	// per-component tolerances (RTolVec, ATolVec) dropped and a Grid
	// reversed: the scalar RTol and ATol of the forward solve also control
	// the backward one, as in torchdiffeq. SaveAt, Dense and Events must be
	// empty. If its Norm is nil, the norm is the mixed RMS norm described
	// in the package documentation (or its seminorm, see SemiNorm); a
	// non-nil Norm is used as given and SemiNorm is ignored. If its
	// Controller is nil (given or inherited), it is ode.PI{}: see the
	// package documentation for why the backward solve does not use ode's
	// default I controller.
	Backward *ode.Settings

	// SemiNorm excludes a_θ and a_t from the error control of Backsolve's
	// backward solve (Kidger, Chen & Lyons 2021).
	SemiNorm bool
}

// Stats counts the work and memory of a gradient computation.
type Stats struct {
	// Forward is the forward solve's count of evaluations of F (NFE) and
	// of accepted and rejected steps.
	Forward ode.Stats

	// BackwardEvals and BackwardVJPs count the calls of System.Eval and
	// System.VJP made by the last Backward (an EvalVJP call counts once in
	// each).
	BackwardEvals, BackwardVJPs int
	// BackwardActiveEvals counts the calls of ActiveEvaler.EvalActive made
	// by the last Backward (Checkpointed's re-run of each step).
	BackwardActiveEvals int
	// BackwardSteps is the number of steps of the last Backward: the
	// forward's accepted steps re-traversed by Checkpointed and Direct, the
	// accepted steps of the backward solve for Backsolve; BackwardRejected
	// counts Backsolve's rejected backward steps.
	BackwardSteps, BackwardRejected int

	// Tape is the number of float64 values that Forward stored for
	// Backward: O(steps · Len()) for Checkpointed and Direct, Len() for
	// Backsolve. Workspaces of fixed size (a few states, the augmented
	// state, NumParams()) are not counted.
	Tape int
}

// ErrNonFinite is wrapped by the error returned when a cotangent, or a
// gradient computed from it, holds NaN or ±Inf.
var ErrNonFinite = errors.New("adjoint: non-finite cotangent or gradient")

// ErrSettings is wrapped by the error returned for settings the adjoint
// cannot use (SaveAt, Dense or Events in a solve).
var ErrSettings = errors.New("adjoint: invalid settings")
