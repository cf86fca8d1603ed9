// Package odeflow holds the flow API of Odeflow: the Transform interface that
// continuous (cnf) and discrete (discrete) flows implement, their
// composition (Chain, Inverse, conditional transforms), base distributions,
// and Flow, which puts a base and a transform together.
//
// # Change of variables
//
// A flow models data x ∈ R^d through an invertible map f onto a base
// distribution: z = f(x) with z ~ p_base. Then
//
//	log p(x) = log p_base(f(x)) + log|det ∂f/∂x (x)|
//
// and sampling draws z ~ p_base and returns x = f⁻¹(z). Since
// log|det ∂f⁻¹/∂z (z)| = −log|det ∂f/∂x (f⁻¹(z))|, one inverse pass gives a
// sample and its density:
//
//	log p(x) = log p_base(z) − log|det ∂f⁻¹/∂z (z)|
//
// For a chain f = f_k ∘ … ∘ f_1 the log-determinants add:
//
//	log|det ∂f/∂x| = Σ_i log|det ∂f_i/∂u_i (u_i)|,  u_1 = x, u_{i+1} = f_i(u_i)
//
// # Conventions
//
// Forward maps data to the base (as in zuko, nflows and FFJORD) and Inverse
// maps base to data. A batch is an n×d *mat.Dense, one point per row; a
// context for conditional transforms is n×m, row i conditioning row i.
// Forward and Inverse ADD each row's log|det J| to an ldj slice (nil skips
// the work), so a chain accumulates into one slice; Inverse adds
// log|det ∂f⁻¹/∂z|, the negative of the forward log-determinant.
//
// Destinations come first. A zero-size *mat.Dense destination is resized; a
// non-empty one of the wrong size panics; a nil []float64 destination is
// allocated. Inputs are never modified. Forward and Inverse may work in
// place (dst == x). Data conditions (NaN or ±Inf in a batch, a numerical
// inverse or an ODE solve that fails, a NaN log-density) are errors, most of
// them a *RowError naming the rows; wrong shapes of arguments the caller
// controls panic. Randomness comes from an explicit math/rand/v2 Source:
// same source, same samples.
//
// # Training
//
// There is no autodiff: a Differentiable transform records a Forward or
// Inverse call and back-propagates through it by hand (Backward). All
// layers of a model share one *nn.Params (each reserves its named blocks at
// construction), so an optimizer sees one flat vector and every gradient is
// a full-length vector aligned with it. Flow.LogProbGrad gives the
// maximum-likelihood gradient; Flow.SampleRecord and Flow.SampleBackward
// give reverse-KL (variational) gradients through the sampling path.
//
// # Bits per dimension
//
// For integer data k ∈ {0, …, 255}^d dequantized as y = scale·(k + u),
// u ~ U[0,1)^d, Flow.BitsPerDim reports −(log p(y) + d log scale)/(d ln 2),
// an upper bound on the discrete model's −log₂ P(k)/d in expectation over u.
package odeflow
