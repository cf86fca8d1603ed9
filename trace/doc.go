// Package trace estimates the divergence of a vector field,
//
//	div f(t, z) = tr(∂f/∂z),
//
// which drives the log-density of a continuous normalizing flow
// (d log p(z(t))/dt = −div f), together with the quantities regularizers
// need, and differentiates all of them for training.
//
// Every estimator here is a weighted sum of quadratic forms in fixed
// tangent vectors u_ij (K per sample i) pushed through the field in one
// batched Jacobian–vector product (vectorfield.Field.JVP):
//
//	div_i  = Σ_j w_j u_ijᵀ J_i u_ij
//	frob_i = Σ_j w_j ‖J_i u_ij‖²          (J_i = ∂f_i/∂z_i)
//	kin_i  = ‖f_i‖²
//
//	Exact       u = e_1 … e_d, w = 1:             div = tr J, frob = ‖J‖²_F
//	Hutchinson  u = ε_1 … ε_K, w = 1/K:           E[div] = tr J, E[frob] = ‖J‖²_F
//	HutchPP     u = [Q, (I−QQᵀ)G], w = [1, 1/K]:  Hutch++ (see HutchPP)
//
// Hutchinson's identity E[εᵀAε] = tr A needs only E[εεᵀ] = I, which both
// Gaussian and Rademacher probes satisfy; likewise E‖Aε‖² = tr(AᵀA) = ‖A‖²_F,
// so the Frobenius estimate of RNODE-style regularization (Finlay et al.
// 2020) comes from the same J ε as the divergence, at no extra cost.
//
// # Noise held fixed
//
// An adaptive ODE solver needs one deterministic right-hand side for a whole
// solve, so the noise is drawn once, by Resample, and held fixed until the
// next Resample.
//
// # Gradients
//
// VJP differentiates L = Σ_i a_F,iᵀ f_i + a_div,i div_i + a_kin,i kin_i +
// a_frob,i frob_i with respect to z, θ, t and c, holding the tangents fixed.
// Because each quantity is Σ_j w_j u_jᵀ J u_j or Σ_j w_j ‖J u_j‖², this is
// one second-order reverse pass of the field (vectorfield.Field.VJP2) with
//
//	a = a_F + 2 a_kin f,     b_ij = w_j (a_div,i u_ij + 2 a_frob,i J u_ij).
//
// When a_kin or a_frob is given, f and J u are computed first by an extra
// JVP. For Hutch++ the basis Q is recomputed at (t, z, c) and then held
// fixed, which keeps the gradient an unbiased estimate of the gradient of
// the divergence (see HutchPP).
//
// All estimators are bound to one field, own their scratch memory and
// allocate nothing in steady state; they are not safe for concurrent use
// (build one per goroutine on a vectorfield Clone).
package trace
