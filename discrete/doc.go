// Package discrete holds Odeflow's discrete normalizing flows: one-step
// bijections behind the same odeflow.Transform interface as a CNF block, so
// that a chain can mix them freely, and prebuilt flows assembled from them.
//
// # Conventions
//
// Forward maps data to the base (x ↦ z), Inverse maps base points to data;
// each adds log|det J| of its own direction to ldj, row by row:
//
//	log p(x) = log p_base(f(x)) + log|det ∂f/∂x (x)|
//
// Every layer is odeflow.Differentiable: a record call (ForwardRecord or
// InverseRecord) followed by Backward gives the cotangent of the input and
// adds the gradient of the loss with respect to the layer's parameters into
// a model-wide vector, in both directions (maximum likelihood needs
// Forward's gradients; IAF density training, sampling-based and reverse-KL
// training need Inverse's). The parameters of all layers of a model live in
// one *nn.Params, each layer reserving named blocks in it. Layers hold
// workspace and a recording, are not safe for concurrent use, and allocate
// nothing after the first call with a given batch size. With GOMAXPROCS ≥
// 2 the conditioner networks of coupling, autoregressive and conditional
// layers split batches of 128 rows or more across two threads
// (nn.MLP.NewParallelWorkspace): results then differ from GOMAXPROCS = 1's
// in the last bits, never with the load. Data conditions
// (non-finite rows, inputs outside a map's domain, overflow, a failed
// numerical inverse) are returned as *odeflow.RowError; wrong shapes are
// programmer errors and panic.
//
// # Transformers and conditioners
//
// A Transformer is a family of monotone scalar bijections y = τ(x; φ)
// applied elementwise (flowjax's "transformer"): Affine (t + e^{ℓ(r)}x,
// with an optional soft clamp of the log-scale), Shift (NICE's additive
// map), the rational-quadratic Spline of neural spline flows (K bins on
// [−B, B], identity tails outside, stable inverse), FixedSpline, and
// parameter-free maps (Exp, Sigmoid/Logit, Tanh, Softplus, LeakyReLU,
// SignedPower, SoftClip, and their inverses through Invert).
//
// Three layers feed a transformer its raw parameters φ:
//
//   - Elementwise: trainable per-dimension parameters, shared by all rows.
//   - Coupling: a fixed mask splits x into a conditioning part x_a and a
//     transformed part x_b; an MLP (the conditioner) maps [x_a, c] to the
//     parameters of τ for x_b. z_a = x_a, z_b = τ(x_b; φ(x_a, c)). Masks
//     alternate (AlternatingMask), split halves (HalfMask) or are random
//     (RandomMask). One network pass in each direction.
//   - Autoregressive: a MADE (a masked MLP, nn.MADEMasks) in any variable
//     order gives φ_v(x_{<v}, c); z_v = τ(x_v; φ_v). The Jacobian is
//     triangular in the order. Forward (density, MAF) takes one pass,
//     Inverse (sampling) d passes; odeflow.Inverse turns it into IAF.
//
// Conditioners start with a zero last layer whose bias holds the
// transformer's identity parameters (Spline.IdentityParams; zero for Affine
// and Shift), so every new coupling or autoregressive layer, and every flow
// built only from them, is exactly the identity. A conditional layer
// (ContextDim > 0) reads an n×m context c bound by Given (zuko's lazy
// transforms): the coupling conditioner takes [x_a, c]; the MADE takes c as
// inputs of degree 0, connected to every hidden unit.
//
// # Linear and other layers
//
// Permutation (fixed, random, reverse), Rotation (exp of a skew-symmetric
// matrix), LU (Glow's invertible 1×1 convolution in LU form), ActNorm (with
// data-dependent initialization on the first training batch), and the
// planar and radial flows of Rezende and Mohamed with their invertibility
// constraints. Block neural autoregressive flows (BNAF) and conditional
// (amortized) planar layers are documented with their own types.
//
// # Prebuilt flows
//
// NewNICE, NewRealNVP, NewNSF (coupling), NewNSFAutoregressive, NewMAF,
// NewIAF, NewGlow (ActNorm + LU + affine coupling) and NewPlanarFlow return
// an *odeflow.Flow with a standard normal base, configured keyword-style by
// a FlowSettings (nil for every default). A positive ContextDim makes every
// one of them but the planar flow conditional; NewConditionalPlanarFlow(d,
// contextDim, settings) is the planar flow's conditional variant (its
// layers' parameters come from hypernetworks of the context). NewBNAFFlow(d,
// settings) builds flowjax's block neural autoregressive flow from its own
// BNAFFlowSettings (stacked networks, depth, hidden units per dimension,
// activation, residual; ContextDim for the conditional variant). The same
// Src state builds the same model. FlowSettings.BaseComponents (and
// BNAFFlowSettings') replaces the standard normal base by a trainable
// mixture of Gaussians, for data in separate clusters. Train them with
// package train (Fit for maximum likelihood, FitKL for reverse KL; FitKL
// needs a base without a mixture).
package discrete
