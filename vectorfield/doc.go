// Package vectorfield provides time-dependent vector fields
//
//	dz/dt = f(t, z; θ[, c]),   z ∈ R^d,
//
// with the derivatives a continuous normalizing flow needs, all written by
// hand and checked against finite differences: the field itself, its
// Jacobian–vector products (JVP), its vector–Jacobian products (VJP) with
// respect to z, θ, t and the context c, and the second-order reverse pass
// through a JVP (VJP2).
//
// # Conventions
//
// A batch is n samples stored row-major in flat slices: z is n×d, c is
// n×ContextDim, t is one scalar for the whole batch. k tangents per sample
// are stored as an (n·k)×d block whose row i·k+j is tangent j of sample i.
// Per-sample outputs (gradients with respect to z, c and the tangents) are
// overwritten; parameter gradients are added into a caller-supplied
// full-length vector aligned with nn.Params.Data (p.Grad, part of an adjoint
// ODE state, or a per-goroutine buffer), and the time gradient is returned.
//
// # Derivatives
//
// Write J_i = ∂f_i/∂z_i for sample i. For cotangents a (on f) and b (on the
// tangent outputs), with tangents v,
//
//	JVP:   jv_ij = J_i v_ij
//	VJP:   L = Σ_i a_iᵀ f_i                       → ∂L/∂z, ∂L/∂θ, ∂L/∂t, ∂L/∂c
//	VJP2:  L = Σ_i a_iᵀ f_i + Σ_ij b_ijᵀ J_i v_ij  → ∂L/∂z, ∂L/∂θ, ∂L/∂t, ∂L/∂c, ∂L/∂v
//
// VJP2 is what differentiating a divergence estimate needs: the exact trace
// is Σ_j e_jᵀ J e_j and a Hutchinson estimate is εᵀ J ε, both quadratic
// forms in fixed tangents, so their gradients are VJP2 with b_ij = e_j or ε_ij
// (see package trace).
//
// # Neural fields
//
// MLP is FFJORD's time-conditioned network (Grathwohl et al. 2019,
// "FFJORD: Free-form continuous dynamics for scalable reversible generative
// models"): layers of one Kind (ConcatSquash by default, also Squash, Concat,
// Ignore, Blend), widths d(+ContextDim) → hidden → d, an activation after
// every layer except the last. The context c, when present, is concatenated
// to z at the input of the first layer only.
//
// At a fixed t every layer kind is an affine map x ↦ W_eff(t) x + b_eff(t)
// (for ConcatSquash, W_eff = diag(g) W and b_eff = g ⊙ b + w_b t with
// g = σ(w_g t + b_g)), so one evaluation forms the effective weights once and
// then runs plain affine layers. Tangents carry no bias and no time term:
//
//	h = W_eff x + b_eff,   y = σ(h)           (sample rows)
//	ḣ = W_eff ẋ,           ẏ = σ'(h) ⊙ ḣ      (tangent rows)
//
// The sample rows and all k tangent rows are stacked into one (n(1+k))×width
// matrix, so each layer is a single matrix product over all rows followed by
// one fused elementwise pass. The reverse pass through a
// tangent-carrying activation uses σ”:
//
//	ḡh_i  = ḡy_i ⊙ σ'(h_i) + Σ_j ḡẏ_ij ⊙ σ''(h_i) ⊙ ḣ_ij
//	ḡḣ_ij = ḡẏ_ij ⊙ σ'(h_i)
//
// and ∂L/∂W_eff = Σ over stacked rows of ḡh xᵀ, ∂L/∂b_eff = Σ over sample rows
// of ḡh; both are finally mapped onto the raw parameters and onto t through
// the layer's formula (for ConcatSquash, ∂L/∂g_o = Σ_i ∂L/∂W_eff,oi W_oi +
// ∂L/∂b_eff,o b_o, then the sigmoid's derivative g(1−g)).
//
// # Performance and concurrency
//
// The parameters are read, never written, during evaluation; all scratch
// memory lives in the field value, grown on first use and reused after, so
// steady-state calls allocate nothing. An MLP splits the rows of a large
// batch across Settings.Workers persistent goroutines, each with its own
// workspace, and reduces their parameter gradients in a fixed order (results
// are deterministic for a given Workers). A two-way split (the default on
// two cores) hands its second half to internal/par's polling helper, so
// that even a 100-row batch gains from it. For concurrency of your own, give
// each goroutine its own Clone, which shares the *nn.Params.
//
// Matrix products and the tanh activation pass run on the assembly
// micro-kernels of internal/kernel (AVX-512 or AVX2+FMA, chosen at start-up)
// when the CPU has them. Otherwise — a build with -tags purego, another
// architecture, an older CPU, or ODEFLOW_KERNEL=go — they go through gonum's
// blas64 interface: with a registered implementation other than gonum's own
// (blas64.Use, for example OpenBLAS through gonum.org/v1/netlib) every
// product is one Gemm call; with gonum's pure-Go implementation X·W_effᵀ and
// G·W_eff are one Dgemv per row (1.6–2× faster than gonum's Dgemm for these
// narrow weights) and Gᵀ·X a Dgemm tiled so that gonum runs it serially
// without allocating. BENCHMARKS.md has the measurements.
//
// # Analytic fields
//
// Linear is f = A z + b with A and b as parameters (divergence tr A). Func
// lets a user supply per-sample functions with hand-written derivatives;
// it satisfies Field like the others and is run through the same tests.
package vectorfield
