package discrete

import (
	"errors"
	"fmt"
	"math"

	"github.com/odeflow/odeflow"
)

// Transformer is a family of monotone increasing scalar bijections
//
//	y = τ(x; φ)
//
// applied elementwise over a batch (flowjax's "transformer"; the network that
// produces φ is the "conditioner"). Coupling and autoregressive layers feed it
// the raw, unconstrained outputs of a conditioner network as φ; a standalone
// elementwise layer feeds it its own trainable vector; a parameter-free map
// (Exp, Tanh, …) has NumParams() == 0.
//
// # Batches and parameters
//
// A call maps m elements held in flat slices: x and y have length m. φ holds
// c blocks of P = NumParams() raw parameters, block j at φ[j·P:(j+1)·P], and
// element i uses block i mod c. Two layouts matter:
//
//   - c = m: one block per element, element-major. A conditioner's n×(d·P)
//     output for n rows of d transformed values is exactly this layout for the
//     n×d batch flattened row-major.
//   - c = d dividing m: one block per column of an n×d batch, shared by all
//     rows (a standalone elementwise layer with trainable parameters).
//
// len(φ) must be c·P with c ≥ 1 dividing m (or len(φ) == 0 when P == 0);
// otherwise the call panics.
//
// # Log-derivatives
//
// ldj, if not nil, has length m and receives, element by element (it is SET,
// not added to: a caller sums the elements of a row itself),
//
//	Forward:  ldj_i = log τ'(x_i; φ)
//	Inverse:  ldj_i = log (τ⁻¹)'(y_i; φ) = −log τ'(τ⁻¹(y_i; φ); φ)
//
// A nil ldj skips the log-derivative work.
//
// # Gradients
//
// ForwardVJP differentiates the pair (y_i, ldj_i) of Forward: given
// cotangents gy_i on y_i and gldj_i on ldj_i it sets
//
//	gx_i = gy_i ∂τ/∂x + gldj_i ∂log τ'/∂x
//
// and ADDS gy_i ∂τ/∂φ + gldj_i ∂log τ'/∂φ into the block of gφ that element i
// reads (so broadcast blocks accumulate over their elements, and a caller
// zeroes gφ first when it wants the gradient alone). InverseVJP does the same
// for the pair (x_i, ldj_i) of Inverse, whose input is y: it sets gy and adds
// into gφ. Gradients through the inverse are what IAF and reverse-KL training
// need. gldj may be nil (zero); gx (gy for InverseVJP) and gφ may be nil to
// skip them. The VJPs recompute what they need from the primal inputs; they
// assume the same arguments passed the corresponding Forward or Inverse
// without error (otherwise their results are unspecified).
//
// # Aliasing, errors, allocation
//
//   - Inputs are never modified. The output may be the input slice itself
//     (y == x in Forward, x == y in Inverse, gx == gy in the VJPs): elements
//     are then transformed in place. Any other overlap is not allowed.
//   - Every element of the outputs is written (for every m, including the
//     tails and boundary cases), unless an error is returned.
//   - Data conditions give an *ElementError naming the first offending
//     element: a NaN or ±Inf input or parameter (wrapping
//     odeflow.ErrNonFinite), an input outside the map's domain, for example
//     logit(1.5) (wrapping ErrDomain), or a result that overflowed (wrapping
//     odeflow.ErrNumerical). On error the contents of the outputs are
//     unspecified.
//   - Slices of the wrong length are programmer errors and panic.
//   - After construction no method allocates, except to build a returned
//     error. The elementwise loop runs inside each concrete type.
//   - The transformers of this package hold no mutable state: they are safe
//     for concurrent use, so a caller may split a batch across goroutines.
type Transformer interface {
	// NumParams returns P, the number of raw parameters per block of φ.
	NumParams() int
	// Forward sets y_i = τ(x_i; φ) and, if ldj is not nil,
	// ldj_i = log τ'(x_i; φ).
	Forward(y, ldj, x, φ []float64) error
	// Inverse sets x_i = τ⁻¹(y_i; φ) and, if ldj is not nil,
	// ldj_i = −log τ'(x_i; φ).
	Inverse(x, ldj, y, φ []float64) error
	// ForwardVJP sets gx and adds into gφ the derivatives of
	// Σ_i gy_i y_i + gldj_i ldj_i through Forward at (x, φ).
	ForwardVJP(gx, gφ, x, φ, gy, gldj []float64)
	// InverseVJP sets gy and adds into gφ the derivatives of
	// Σ_i gx_i x_i + gldj_i ldj_i through Inverse at (y, φ).
	InverseVJP(gy, gφ, y, φ, gx, gldj []float64)
}

// ErrDomain reports an input outside the domain of a map, such as the
// inverse of Exp at a negative number.
var ErrDomain = errors.New("input outside the domain")

// ElementError is a data error at one element of a Transformer's batch. A
// layer that knows the batch shape maps Index to a row (Index / d).
type ElementError struct {
	Op     string  // the method, with its package: "discrete: Exp.Inverse"
	Index  int     // the first offending element (or the first element reading the parameter)
	What   string  // the offending quantity: "input", "parameter 3", "input 800 gives output"
	Value  float64 // its value
	Err    error   // odeflow.ErrNonFinite, ErrDomain or odeflow.ErrNumerical
	Domain string  // for ErrDomain, the open domain of the map: "(0, ∞)"
}

// Error describes the element, the value and the cause.
func (e *ElementError) Error() string {
	msg := fmt.Sprintf("%s: element %d: %s %v: %v", e.Op, e.Index, e.What, e.Value, e.Err)
	if e.Domain != "" {
		msg += " " + e.Domain
	}
	return msg
}

// Unwrap returns the cause.
func (e *ElementError) Unwrap() error { return e.Err }

// Invert returns the transformer whose Forward is t's Inverse and whose
// Inverse is t's Forward, with the VJPs swapped accordingly (Logit from
// Sigmoid, Log from Exp). Inverting twice returns t itself. The parameters φ
// keep their meaning.
func Invert(t Transformer) Transformer {
	if v, ok := t.(inverted); ok {
		return v.t
	}
	return inverted{t}
}

type inverted struct{ t Transformer }

func (v inverted) NumParams() int                       { return v.t.NumParams() }
func (v inverted) Forward(y, ldj, x, φ []float64) error { return v.t.Inverse(y, ldj, x, φ) }
func (v inverted) Inverse(x, ldj, y, φ []float64) error { return v.t.Forward(x, ldj, y, φ) }
func (v inverted) ForwardVJP(gx, gφ, x, φ, gy, gldj []float64) {
	v.t.InverseVJP(gx, gφ, x, φ, gy, gldj)
}
func (v inverted) InverseVJP(gy, gφ, y, φ, gx, gldj []float64) {
	v.t.ForwardVJP(gy, gφ, y, φ, gx, gldj)
}

// String names the inverted transformer.
func (v inverted) String() string { return fmt.Sprintf("Invert(%v)", v.t) }

// tfBlocks checks the lengths of a batch call and returns the number c of
// parameter blocks (0 when p is 0). A nil out or ldj is not checked. It
// panics with a message naming op on any mismatch.
func tfBlocks(op string, p int, in, out, ldj, φ []float64) int {
	m := len(in)
	if out != nil && len(out) != m {
		panic(fmt.Sprintf("discrete: %s: output length %d, want %d", op, len(out), m))
	}
	if ldj != nil && len(ldj) != m {
		panic(fmt.Sprintf("discrete: %s: ldj length %d, want %d", op, len(ldj), m))
	}
	if p == 0 {
		if len(φ) != 0 {
			panic(fmt.Sprintf("discrete: %s: %d parameters given to a parameter-free transformer", op, len(φ)))
		}
		return 0
	}
	c := len(φ) / p
	if c == 0 || c*p != len(φ) || m%c != 0 {
		panic(fmt.Sprintf("discrete: %s: parameter length %d is not c·%d with c ≥ 1 dividing the batch length %d", op, len(φ), p, m))
	}
	return c
}

// tfVJPBlocks checks the lengths of a VJP call: primal input in, parameters φ,
// cotangent gout (required, length m), gldj (nil or m), gin (nil or m) and gφ
// (nil or len(φ)).
func tfVJPBlocks(op string, p int, gin, gφ, in, φ, gout, gldj []float64) int {
	if gout == nil {
		panic(fmt.Sprintf("discrete: %s: nil output cotangent", op))
	}
	c := tfBlocks(op, p, in, gout, gldj, φ)
	if gin != nil && len(gin) != len(in) {
		panic(fmt.Sprintf("discrete: %s: input cotangent length %d, want %d", op, len(gin), len(in)))
	}
	if gφ != nil && len(gφ) != len(φ) {
		panic(fmt.Sprintf("discrete: %s: parameter cotangent length %d, want %d", op, len(gφ), len(φ)))
	}
	return c
}

// The root package's sentinels that element errors wrap.
var (
	tfErrNonFinite = odeflow.ErrNonFinite
	tfErrNumerical = odeflow.ErrNumerical
)

// tfFinite reports whether v is neither NaN nor ±Inf.
func tfFinite(v float64) bool { return v-v == 0 }

// tfNonFinite returns the error for a NaN or infinite input element.
func tfNonFinite(op string, i int, v float64) error {
	return &ElementError{Op: op, Index: i, What: "input", Value: v, Err: tfErrNonFinite}
}

// tfNonFiniteParam returns the error for a NaN or infinite raw parameter.
func tfNonFiniteParam(op string, i, k int, v float64) error {
	return &ElementError{Op: op, Index: i, What: fmt.Sprintf("parameter %d", k), Value: v, Err: tfErrNonFinite}
}

// tfOutOfDomain returns the error for an input outside the domain dom.
func tfOutOfDomain(op string, i int, v float64, dom string) error {
	return &ElementError{Op: op, Index: i, What: "input", Value: v, Err: ErrDomain, Domain: dom}
}

// tfOverflow returns the error for a result that is not finite.
func tfOverflow(op string, i int, x, y float64) error {
	return &ElementError{Op: op, Index: i, What: fmt.Sprintf("input %v gives output", x), Value: y, Err: tfErrNumerical}
}

// tfSoftplus returns log(1 + eˣ) without overflow or loss of precision.
func tfSoftplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// tfSigmoid returns 1/(1 + e⁻ˣ) without overflow.
func tfSigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
