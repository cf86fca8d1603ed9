package vectorfield

import (
	"fmt"

	"github.com/odeflow/odeflow/nn"
)

// Field is a time-dependent vector field f(t, z; θ[, c]) evaluated on a
// batch of n samples at once. z is n×d row-major (row i is sample i), c is
// n×ContextDim (nil when ContextDim is 0) and t is one time shared by the
// whole batch. n is len(z)/Dim(); n = 0 is allowed and does nothing.
//
// A Field owns scratch memory, so one value must not be used by several
// goroutines at once; Clone returns a value that shares the parameters
// (read-only during evaluation) but has its own scratch. The first call with a
// given batch size and tangent count may allocate that scratch; later calls
// with no larger sizes allocate nothing. No method modifies its inputs, and
// all length mismatches are programmer errors that panic.
type Field interface {
	// Dim returns d, the dimension of z and of f.
	Dim() int
	// ContextDim returns the dimension of the context c (0 for an
	// unconditional field, in which case c must be nil or empty).
	ContextDim() int
	// Params returns the field's trainable parameters θ, or nil if it has
	// none. Gradients with respect to θ are always full-length vectors
	// aligned with Params().Data.
	Params() *nn.Params

	// Eval sets dst (n×d) to f(t, z; θ, c).
	Eval(dst []float64, t float64, z, c []float64)

	// JVP pushes k tangents per sample through the field in one batched
	// pass. v is (n·k)×d, row i·k+j being tangent j of sample i; jv (same
	// shape) is set to
	//	jv_{ik+j} = (∂f_i/∂z_i) v_{ik+j}.
	// If f is not nil (n×d) it is set to f(t, z) as a by-product. k is
	// len(v)/len(z) and must be a positive integer.
	JVP(f, jv []float64, t float64, z, c, v []float64)

	// VJP is the reverse pass through f with cotangent a (n×d) on f, that is
	// the gradient of the scalar L = Σ_i a_iᵀ f_i. It sets g.Z to ∂L/∂z
	// (row i: a_iᵀ ∂f_i/∂z_i), sets g.C to ∂L/∂c, adds ∂L/∂θ into g.Theta,
	// and returns ∂L/∂t = Σ_i a_iᵀ ∂f_i/∂t. g.V must be nil.
	VJP(g Grads, t float64, z, c, a []float64) (gt float64)

	// VJP2 is the reverse pass through the pair (f, J·V) computed by JVP:
	// with cotangents a (n×d) on f and b ((n·k)×d) on jv it differentiates
	//	L = Σ_i a_iᵀ f_i + Σ_{i,j} b_{ik+j}ᵀ (∂f_i/∂z_i) v_{ik+j}.
	// It sets g.Z = ∂L/∂z, g.C = ∂L/∂c and g.V = ∂L/∂v (row ik+j:
	// b_{ik+j}ᵀ ∂f_i/∂z_i), adds ∂L/∂θ into g.Theta and returns ∂L/∂t.
	// A nil a or b stands for zeros. This is the second-order piece that the
	// gradient of a divergence estimate needs.
	VJP2(g Grads, t float64, z, c, v, a, b []float64) (gt float64)

	// Clone returns a Field computing the same function with the same
	// *nn.Params and its own scratch memory, for use on another goroutine.
	Clone() Field
}

// Grads receives the results of a reverse pass (Field.VJP or Field.VJP2). A
// nil slice is not computed.
//
// Z, C and V are overwritten (they are per-sample quantities); Theta is
// accumulated into (+=), because a parameter gradient is a sum over samples
// and solver stages and an adjoint keeps it as part of its ODE state. Theta,
// when not nil, must have the length of the field's Params().Data.
type Grads struct {
	Z     []float64 // n×d
	Theta []float64 // len(Params().Data), accumulated
	C     []float64 // n×ContextDim
	V     []float64 // (n·k)×d, VJP2 only
}

// batchSize checks the shapes of a call and returns n, the number of samples.
func batchSize(pkg string, d, dc int, z, c []float64) int {
	if len(z)%d != 0 {
		panic(fmt.Sprintf("%s: len(z)=%d is not a multiple of d=%d", pkg, len(z), d))
	}
	n := len(z) / d
	if dc == 0 {
		if len(c) != 0 {
			panic(pkg + ": context given to an unconditional field")
		}
	} else if len(c) != n*dc {
		panic(fmt.Sprintf("%s: len(c)=%d, want n·ContextDim=%d", pkg, len(c), n*dc))
	}
	return n
}

// tangents returns k, the number of tangents per sample in v.
func tangents(pkg string, n, d int, v []float64) int {
	if n == 0 {
		return 0
	}
	if len(v) == 0 || len(v)%(n*d) != 0 {
		panic(fmt.Sprintf("%s: len(v)=%d is not a positive multiple of n·d=%d", pkg, len(v), n*d))
	}
	return len(v) / (n * d)
}

func checkLen(pkg, name string, s []float64, want int, optional bool) {
	if optional && s == nil {
		return
	}
	if len(s) != want {
		panic(fmt.Sprintf("%s: len(%s)=%d, want %d", pkg, name, len(s), want))
	}
}

// checkGrads validates the shapes of g for a batch of n samples with k
// tangents each (k = 0 for VJP).
func checkGrads(pkg string, g Grads, n, d, dc, k, np int) {
	checkLen(pkg, "g.Z", g.Z, n*d, true)
	checkLen(pkg, "g.C", g.C, n*dc, true)
	checkLen(pkg, "g.Theta", g.Theta, np, true)
	if k == 0 {
		if g.V != nil {
			panic(pkg + ": g.V given to VJP")
		}
	} else {
		checkLen(pkg, "g.V", g.V, n*k*d, true)
	}
}

func paramLen(p *nn.Params) int {
	if p == nil {
		return 0
	}
	return p.Len()
}

func zero(s []float64) {
	for i := range s {
		s[i] = 0
	}
}
