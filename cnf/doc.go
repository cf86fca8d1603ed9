// Package cnf provides continuous normalizing flow blocks (FFJORD: Grathwohl
// et al. 2019, "FFJORD: Free-form continuous dynamics for scalable
// reversible generative models", arXiv:1810.01367): transforms given by the
// flow of a neural ODE, trained by maximum likelihood through adaptive
// Runge–Kutta solves.
//
// # Instantaneous change of variables
//
// A block maps x ∈ R^d by solving
//
//	dz/dt = f(t, z; θ[, c]),   z(0) = x,   t ∈ [0, T],
//
// and returning z(T). For a path z(t), the log-density changes at the rate
// d log p(z(t))/dt = −tr ∂f/∂z (Chen et al. 2018), so the log-determinant
// of the map x ↦ z(T) is
//
//	log|det ∂z(T)/∂x| = ∫₀ᵀ tr ∂f/∂z (t, z(t)) dt,
//
// and with the odeflow convention log p(x) = log p_base(f(x)) + ldj
// (Forward maps data to the base), a flow with a single block has
//
//	log p(x) = log p_base(z(T)) + ∫₀ᵀ tr ∂f/∂z dt.
//
// Forward integrates from 0 to T and adds ℓ(T) = ∫₀ᵀ tr ∂f/∂z dt to ldj;
// Inverse (sampling) integrates the same ODE from T back to 0, starting
// from a base point, and adds ℓ(0) = −∫₀ᵀ tr ∂f/∂z dt along that path.
//
// # Augmented state
//
// One solve integrates, for a batch of n rows,
//
//	y = [z (n×d, row-major), ℓ (n), R_1 … R_k (n each)],
//	z' = f(t, z),   ℓ' = tr ∂f/∂z,   R_j' = r_j(t, z),
//
// with ℓ and R starting at 0. The divergence comes from a trace.Estimator
// applied to the whole batch at every stage: Exact (d Jacobian–vector
// products, the default for d ≤ 10), Hutchinson (εᵀ(∂f/∂z)ε with probes
// drawn once per solve from the block's own seeded source and held fixed
// through the backward pass of that recording; the default for d > 10) or
// Hutch++. ℓ is integrated by every call, also when the caller passes a
// nil ldj, so that results do not depend on it. The regularizer states are
// left out of error control: they are quadratures that never feed back into
// z or ℓ, so enabling them does not change the steps a solve takes.
//
// # Training and the three gradient methods
//
// Record calls (ForwardRecord, InverseRecord) use the training solver
// settings (default Dopri5 at rtol = atol = 1e-5, as in FFJORD's toy
// experiments) and keep what Backward needs; plain calls use the evaluation
// settings (default rtol = atol = 1e-7). Backward is package adjoint's
// reverse pass over the augmented state, with cotangents
//
//	a_z(T) = gout,   a_ℓ = gldj,   a_R_j = λ_j / n,
//
// and returns gin = a_z(0), adds ∂L/∂θ into gparams, and ∂L/∂T (from the
// adjoint's end-time derivative) through τ, where T = softplus(τ) =
// log(1 + e^τ) keeps T positive; τ is stored in the shared nn.Params as
// Name+"/tau" and can be frozen (Settings.FixedT). The method is
// SolverSettings.Gradient:
//
//   - adjoint.Checkpointed (default): the accepted steps are stored, and
//     each is re-run and back-propagated through its stages: the exact
//     gradient of the computed solution; memory O(steps · n(d+1+k)). ℓ and
//     R are passive states (adjoint.ActiveEvaler): the re-run evaluates f
//     alone, one pass of the field instead of the estimator's d + 1 rows
//     per sample, except at the stages of the first and last steps whose
//     rates enter ∂L/∂T.
//   - adjoint.Direct: every stage of every step is kept, no re-run: the
//     same gradient (to rounding), more memory, less computation.
//   - adjoint.Backsolve: the continuous adjoint [y, a, a_θ, a_t] integrated
//     from T back to 0 (optionally with the seminorm, and its own
//     tolerances): memory independent of the steps, gradient accurate to the
//     solver tolerance.
//
// The second-order term (the gradient of tr ∂f/∂z) comes from the
// estimator's VJP, a second-order reverse pass of the field.
//
// # Regularizers
//
// Settings.Kinetic, Frobenius, L1 and L2 enable, with weights λ,
//
//	R_kin  = ∫ ‖f‖² dt,   R_frob = ∫ ‖∂f/∂z‖²_F dt       (RNODE; Finlay et al. 2020)
//	R_l1   = ∫ (1/d) Σ_j |f_j| dt,   R_l2 = ∫ ‖f‖/√d dt   (FFJORD's l1int, l2int)
//
// (the Frobenius norm is estimated from the divergence's Jacobian–vector
// products, exactly with Exact). They are integrated by the record calls
// only. The training objective of a block is
//
//	L_total = L + Penalty,   Penalty = Σ_j λ_j · (1/n) Σ_i R_j,i,
//
// where L is the loss whose cotangents reach Backward: Backward adds the
// penalty's gradient itself (to gin and gparams), and Penalty() returns its
// value for the training loop to add to the loss it reports (the package
// function Penalty sums over a Chain; the Regularized interface marks
// transforms that have one). After InverseRecord the states hold −R (the
// solve runs backward in time), and the signs are taken care of. With L1
// the rate is not smooth where a component of f changes sign: its
// quadrature is then first order there, and Backsolve's adjoint equations
// have a discontinuous right-hand side; use Checkpointed with L1.
//
// # Building an FFJORD model
//
// A field from package vectorfield, a block on it, and a flow:
//
//	p := new(nn.Params)
//	f, _ := vectorfield.NewMLP(2, "64-64-64", nn.Tanh, &vectorfield.Settings{Params: p})
//	blk := cnf.New(f, nil) // T = 0.5, exact divergence, dopri5 at 1e-5
//	flow := odeflow.NewFlow(odeflow.NewStandardNormal(2), blk)
//	opt := nn.NewAdam(p.Len(), p.Trainable(nil), nil)
//	// each iteration: p.ZeroGrad(); flow.LogProbGrad(nil, p.Grad, nil, w, x, nil)
//	// with w_i = −1/n; opt.Step(p.Data, p.Grad, 1e-3)
//
// Blocks built on one *nn.Params stack with each other and with discrete
// layers in an odeflow.Chain (each block reserves its own τ, named cnf0,
// cnf1, … by default). A conditional block (NewConditional) takes a field
// with a context (vectorfield.Settings.ContextDim) and implements
// odeflow.Conditional.
//
// # Statistics and plots
//
// NFE returns the cumulative counts of evaluations of the dynamics in
// forward solves and of reverse passes in Backward (the train package's
// NFECounter); Stats gives the last forward solve's steps and the adjoint's
// account of the last recording (its backward evaluations, VJPs, steps and
// tape size). Trajectory returns a batch's states and log-determinants at
// chosen times, from the solver's dense output.
//
// # Performance
//
// Every stage evaluates the estimator on the whole batch in one batched
// pass of the field; the MLP fields of package vectorfield split the rows
// across their own worker goroutines (vectorfield.Settings.Workers). A
// block allocates nothing per solve once its workspaces, solvers and tapes
// have grown for a batch size.
package cnf
