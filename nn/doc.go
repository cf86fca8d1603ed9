// Package nn provides the neural building blocks of Odeflow: parameters in
// one flat vector, layers and MLPs on row-major batches with hand-written
// first and second-order derivatives, initializers, optimizers, gradient
// clipping and learning-rate schedules.
//
// # Batches and parameters
//
// A batch of n samples of width d is a flat []float64 of length n·d, one
// sample per row. A model's parameters θ live in a Params: one Data vector
// (and a Grad vector of the same length), carved into named blocks
// ("mlp/0/W", "mlp/0/b", …) that layers reserve when built. An optimizer,
// a clipper or an adjoint ODE state therefore sees θ as a single vector.
// Blocks can be frozen (SetFrozen); optimizers and ClipGradNorm leave
// frozen entries alone.
//
// # Layers and their derivatives
//
// A Layer maps each row x ∈ R^a to y = f(x; θ) ∈ R^b. Besides Forward it
// has three derivative passes, each on the whole batch:
//
//	VJP         gx = gyᵀ ∂f/∂x,   gθ += gyᵀ ∂f/∂θ
//	JVP         ẏ = (∂f/∂x) ẋ     for k tangents per row at once
//	TangentVJP  the reverse pass through (y, ẏ) = (f(x), (∂f/∂x) ẋ)
//
// Tangents are batched: ẋ is (n·k)×a with row i·k+j holding tangent j of
// sample i, so all k tangents go through each weight matrix in one matrix
// product. With k = d and the unit tangents e_1, …, e_d, ẏ holds the full
// Jacobian of every sample, and the divergence of a CNF's field is
// Σ_j ẏ_{i·d+j, j}. TangentVJP is what the gradient of that divergence
// needs: given cotangents gy on y and gẏ on ẏ it returns
//
//	gx = gyᵀ ∂y/∂x + Σ_j gẏ_jᵀ ∂ẏ_j/∂x,   gẋ_j = (∂f/∂x)ᵀ gẏ_j,
//	gθ += gyᵀ ∂y/∂θ + Σ_j gẏ_jᵀ ∂ẏ_j/∂θ.
//
// For a Linear layer y = σ(h), h = x Wᵀ + b, the chain rule through
// ẏ = σ'(h) ⊙ ḣ, ḣ = ẋ Wᵀ gives, per sample,
//
//	∂L/∂ḣ_j = gẏ_j ⊙ σ'(h)
//	∂L/∂h   = gy ⊙ σ'(h) + σ”(h) ⊙ Σ_j gẏ_j ⊙ ḣ_j
//	gx = (∂L/∂h) W,   gẋ_j = (∂L/∂ḣ_j) W,
//	gW += (∂L/∂h)ᵀ x + Σ_j (∂L/∂ḣ_j)ᵀ ẋ_j,   gb += ∂L/∂h,
//
// which is why every Activation provides σ” (Activation.D2). An MLP chains
// these passes layer by layer, adding the identity's contribution around
// residual connections.
//
// # Workspaces and the calling protocol
//
// A layer holds only its shape and where its parameters are; everything a
// backward pass needs (σ'(h), σ”(h), ḣ, intermediate activations, and
// references to x and ẋ) is recorded in a Workspace made by NewWorkspace
// for a largest batch size and number of tangents. On one workspace,
// Forward comes first, then any VJPs; JVP comes after Forward, and
// TangentVJP after JVP. x and ẋ are kept by reference, so they must not
// change until the backward passes are done. Several goroutines may run
// the same layer on different row blocks, each with its own workspace and
// its own gθ buffer. After NewWorkspace, no pass allocates.
//
// MLP.NewParallelWorkspace makes a workspace for Forward and VJP only that
// does this itself: with GOMAXPROCS ≥ 2 a batch of 128 rows or more runs as
// two halves at once, on the caller and on a polling helper thread, the
// second half's parameter gradient collected in the workspace and added to
// gθ at the end (the discrete flows' conditioners use it).
//
// The gθ passed to the backward passes is any full-length vector aligned
// with Params.Data: p.Grad, a worker's buffer, or part of an adjoint state.
// Gradients are added to it, never overwritten; gx and gẋ are overwritten.
// Any of gx, gẋ, gθ may be nil to skip it.
//
// Matrix products run on internal/kernel's assembly Gemm where the CPU has
// AVX2+FMA (unless built with -tags purego); otherwise they go through
// gonum's blas64 (so a faster implementation installed with blas64.Use is
// picked up), and with gonum's native Dgemm they are tiled so that each call
// runs serially and allocation-free.
//
// # MADE
//
// MADEMasks (and the degree helpers it is built from) give the masks for an
// autoregressive MLP in any variable order (Germain et al. 2015): output i
// then depends only on inputs before it in the order, and the Jacobian is
// strictly triangular in that order. Pass them as MLPConfig.Masks.
//
// # Optimizers and schedules
//
// SGD (with momentum and Nesterov), Adam and AdamW update a flat vector in
// place; their state (step count, moments) is saved and restored exactly
// with MarshalBinary/UnmarshalBinary. ClipGradNorm clips by global norm.
// Schedules (Constant, StepDecay, Cosine, Warmup around any of them) give
// the learning rate per step.
package nn
