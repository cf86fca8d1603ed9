// Package adjoint differentiates a loss of the solution of an ODE with
// respect to the initial state, the parameters of the vector field and the
// two ends of the time interval. It is the gradient engine under the CNF
// blocks and neural ODEs of Odeflow, and a strategy over the same solver
// loop as package ode (diffrax's design): the forward solve is an ordinary
// ode solve, and only what is kept for the backward pass, and how that pass
// runs, differs between the methods.
//
// # Problem and protocol
//
// A System is a vector field y' = F(t, y; θ) on a flat state y of length n
// with parameters θ (length p), and its vector–Jacobian product: for a
// cotangent a on F(t, y) it gives aᵀ∂F/∂y, aᵀ∂F/∂θ and aᵀ∂F/∂t. For a loss
// L(y(T1)) with y(T0) = y0, a Solver computes
//
//	∂L/∂y0,  ∂L/∂θ,  ∂L/∂T0,  ∂L/∂T1
//
// in two calls, because the cotangent of the loss usually depends on the
// solution: Forward(sys, y0, T0, T1, settings) returns y(T1); the caller
// evaluates L and a = ∂L/∂y(T1); Backward(gy0, gθ, a) sets gy0, adds into
// gθ (so several blocks can accumulate into one parameter gradient) and
// returns ∂L/∂T0 and ∂L/∂T1. T1 < T0 (integration backward in time, as in
// a CNF's inverse) is supported by every method.
//
// # Checkpointed: the discrete adjoint of the Runge–Kutta steps
//
// The forward solve records its accepted steps (t_k, y_k, h_k)
// (ode.Settings.SaveSteps). Backward re-runs each step, last first, with an
// ode.Stepper, which reproduces the forward's stages (bit for bit, except
// that the first stage is evaluated at t_k rather than at t_{k−1} + h_{k−1},
// which may differ by an ulp), and back-propagates through it exactly. A step of an explicit s-stage method
//
//	Y_i = y + h Σ_{j<i} a_ij K_j,   K_i = F(t + c_i h, Y_i),   y1 = y + h Σ_i b_i K_i
//
// has, for a cotangent ȳ1 on y1 and w_i = b_i ȳ1 + Σ_{j>i} a_ji Ȳ_j
// (computed for i = s−1 down to 0),
//
//	K̄_i = h w_i,   Ȳ_i = K̄_iᵀ ∂F/∂y(t + c_i h, Y_i),
//	ȳ = ȳ1 + Σ_i Ȳ_i,   θ̄ += Σ_i K̄_iᵀ ∂F/∂θ,
//	t̄ = Σ_i K̄_iᵀ ∂F/∂t,   h̄ = Σ_i (w_iᵀ K_i + c_i K̄_iᵀ ∂F/∂t).
//
// Stages whose derivative never reaches y1 (the FSAL stage of Dopri5 and
// Tsit5) get a zero cotangent and are skipped. The result is the exact
// gradient of the computed solution map with the interior step times
// t_1 … t_{N−1} held fixed: T0 moves the start of the first step (so
// ∂L/∂T0 = t̄_0 − h̄_0) and T1 the end of the last (∂L/∂T1 = h̄_{N−1}). The
// step-size controller's dependence on the data is not differentiated, as
// in every discrete adjoint; the gradient agrees with that of the exact flow
// to the accuracy of the solve. This is the default, as in diffrax
// (RecursiveCheckpointAdjoint).
//
// The re-run computes only what the reverse pass reads (ode's
// Stepper.StepStages): with L the last live stage (the last with b_L ≠ 0),
// the VJPs need the stage inputs Y_0 … Y_L, hence the derivatives
// K_0 … K_{L−1}; K_L enters only h̄, which only the first and last steps
// need. So a step costs L evaluations of F (L + 1 in the first and last
// steps) and the live stages' VJPs: for Dopri5 and Tsit5 (s = 7, L = 5),
// 5 evaluations and 6 VJPs; memory (N+1)(n+1)+N floats.
//
// # Passive components
//
// Many augmented states end in components that F never reads: a CNF's
// log-determinant and regularizer integrals are quadratures of the state
// they ride along with. A System that says so (the optional ActiveEvaler:
// F depends on y[:m] only) lets Checkpointed's re-run use EvalActive, the
// rates of y[:m] alone, which for a CNF is one pass of the field instead of
// the field and its divergence. This is exact, not an approximation: the
// passive parts of the stage inputs reach nothing (F and its VJP ignore
// them, and aᵀ∂F/∂y vanishes beyond m, so the cotangent of the passive
// components stays a[m:] through the whole pass). The one place a passive
// rate enters the gradient is h̄ = Σ_i (w_iᵀ K_i + …), whose passive part
// is Σ_i b_i a[m:]ᵀ K_i[m:]: the first and last steps evaluate the full F
// at their stages with b_i ≠ 0 (5 of Dopri5's 6) unless a[m:] is zero.
// Everything that feeds y1 in the forward solve, Direct's tape, ∂L/∂T1 for
// T0 = T1, and Backsolve's dynamics use the full F.
//
// # Direct
//
// Direct keeps, during the forward solve itself, every stage input Y_i and
// derivative K_i of every accepted step (2·s·n floats per step) and runs
// the same back-propagation without evaluating F again. It captures the
// stages by recording every evaluation of F and committing the last
// attempt's stages when the solver reports an accepted step (through an
// event function that never fires); the stage times are checked against
// t_k + c_i h_k, so a change in ode's evaluation order is reported as an
// error rather than giving a wrong tape. It is the reference for the tests:
// Checkpointed must reproduce it to rounding.
//
// # Backsolve: the continuous adjoint
//
// For the exact flow, a(t) = ∂L/∂y(t) obeys a' = −aᵀ∂F/∂y, and the
// gradients with respect to θ and to the start time accumulate along it.
// Backsolve integrates the augmented state [y, a, a_θ, a_t] of length
// 2n+p+1 from T1 back to T0 (Chen et al. 2018, torchdiffeq's odeint_adjoint),
//
//	y'   =  F(t, y),          y(T1)   = y(T1) from the forward solve,
//	a'   = −aᵀ∂F/∂y,          a(T1)   = ∂L/∂y(T1),
//	a_θ' = −aᵀ∂F/∂θ,          a_θ(T1) = 0,
//	a_t' = −aᵀ∂F/∂t,          a_t(T1) = −a(T1)ᵀF(T1, y(T1)),
//
// and returns ∂L/∂y0 = a(T0), ∂L/∂θ = a_θ(T0), ∂L/∂T0 = a_t(T0) (which
// equals −a(T0)ᵀF(T0, y0)) and ∂L/∂T1 = a(T1)ᵀF(T1, y(T1)). The state y is
// reconstructed backwards instead of stored, so memory does not depend on
// the number of steps; the gradients are those of the exact flow up to the
// errors of both solves, and the reconstruction can drift for dynamics
// that contract strongly forward in time (they expand backward). The
// backward solve has its own Settings (by default the forward's).
//
// The error of a backward step is measured group by group: by default
// the mixed norm max(‖r_y‖, ‖r_a‖, ‖r_θ‖, ‖r_t‖) of the RMS norms of the
// scaled errors of the four groups (torchdiffeq's default adjoint norm). The
// seminorm max(‖r_y‖, ‖r_a‖) (Settings.SemiNorm; Kidger, Chen & Lyons
// 2021, "Hey, that's not an ODE") leaves a_θ and a_t out of error control:
// they are integrals of quantities that are already controlled, never feed
// back into the dynamics, and with many parameters dominate the error norm
// and force needlessly small steps. The seminorm is at most the mixed norm
// for every error vector. The backward solve's controller defaults to
// ode.PI rather than ode's I controller: the I controller's growth of up to
// 10× per step makes the seminorm's larger steps end in rejections that can
// cost more than they save (on the benchmark batch at 1e-6, 87 backward
// evaluations against 69), while with PI the seminorm took no more
// evaluations than the mixed norm on every problem and tolerance tested.
//
// # Which to use
//
//	method        backward work per step        memory           gradient
//	Checkpointed  ≤ s evals + ≤ s VJPs          O(steps · n)     exact for the computed solution
//	Direct        ≤ s VJPs                      O(steps · s · n) exact for the computed solution
//	Backsolve     backward solve (eval+VJP)     O(n + p)         exact flow, to the backward tolerance
//
// Use Checkpointed unless memory forbids it: its gradients are exact for
// what the forward pass computed, so an optimizer sees a consistent loss
// and gradient, and it costs about as much as Backsolve. Backsolve suits
// very long solves of large states, where storing one state per step does
// not fit; prefer SemiNorm with it when θ is large. Direct trades memory
// for the re-run's evaluations; it is mainly a reference.
//
// # Stats, errors and reuse
//
// Stats reports the forward solve's counts, the backward pass's
// evaluations (of F and, apart, of its active part) and VJPs counted
// separately, its steps, and the tape: the
// floats kept from Forward for Backward. Failed solves return errors that
// wrap ode's *Error (errors.Is(err, ode.MaxStepsReached.Err()) works), a
// non-finite cotangent or gradient returns an error wrapping ErrNonFinite,
// and unsupported settings one wrapping ErrSettings; nothing panics on
// data. A Solver holds all workspace for one (n, p): after the first
// gradient with a given method and tableau, a gradient that takes no more
// steps than before allocates nothing.
package adjoint
