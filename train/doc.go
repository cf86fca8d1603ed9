// Package train fits Odeflow flows: by maximum likelihood on samples (Fit)
// and by reverse Kullback–Leibler divergence to an unnormalized density
// (FitKL, variational inference). Training is kept apart from the models,
// as in flowjax's fit_to_data: any *odeflow.Flow whose transform is
// odeflow.Differentiable and whose base is an odeflow.DifferentiableDistribution
// can be trained, CNF blocks and discrete layers alike. The toy data sets
// used to judge density models are in the subpackage toy.
//
// # Maximum likelihood
//
// For data x_1, …, x_n (with contexts c_i for a conditional flow) the
// loss of a minibatch B is the mean negative log-likelihood
//
//	L(θ) = −(1/|B|) Σ_{i∈B} log p_θ(x_i | c_i),
//	log p_θ(x | c) = log p_base(f_θ(x; c)) + log|det ∂f_θ/∂x|,
//
// an unbiased estimate of the cross-entropy −E_data log p_θ = H(data) +
// KL(data ‖ p_θ) ≥ H(data): the held-out NLL of a perfect model is the
// data's entropy (about 2.838 nats for FFJORD's 8gaussians, 2.145 for the
// ring of Gaussians). Its gradient is exact (Flow.LogProbGrad with weights
// −1/|B|: the transform's ForwardRecord and Backward, and the base's
// LogProbGrad). Each epoch visits the training rows in a fresh random order
// in ⌊n/|B|⌋ full batches. The validation loss is the mean NLL of a held-out
// set.
//
// # Reverse KL and the ELBO
//
// For an unnormalized density p̃ = Z·p, FitKL minimizes
//
//	KL(q_θ ‖ p) − log Z = E_{x∼q_θ}[log q_θ(x) − log p̃(x)] = −ELBO(θ),
//
// which needs samples from the flow and log p̃ with its gradient, but not
// Z. Samples are reparameterized, x = f_θ⁻¹(z), z = g_φ(ε) (the base's own
// reparameterization when it is trainable), so the minibatch estimate
//
//	L(θ) = (1/B) Σ_i [log q_θ(x_i) − log p̃(x_i)]
//
// is differentiated along the sampling path (the reparameterization or
// pathwise gradient estimator, Kingma & Welling 2014; Rezende & Mohamed
// 2015): Flow.SampleRecord draws and records, and Flow.SampleBackward takes
// ∂L/∂x_i = −∇log p̃(x_i)/B and ∂L/∂log q(x_i) = 1/B back to θ, through
// both x_i and log q(x_i) = log p_base(z_i) − log|det ∂f⁻¹/∂z|. The estimate
// is unbiased; its variance vanishes where q = p up to the score term.
//
// After fitting, EstimateKL gives the ELBO and the importance-sampling
// estimate of the normalizer,
//
//	log Z ≈ log (1/N) Σ_i exp(log p̃(x_i) − log q(x_i)),  x_i ∼ q,
//
// which is consistent (biased low for finite N; exact when q = p), with
// the effective sample size (Σ w_i)²/Σ w_i² as a diagnostic.
//
// # The loop
//
// Both objectives share one loop: an optimizer from nn (Adam, AdamW, SGD or
// any nn.Optimizer), a learning-rate schedule with optional linear
// warm-up, gradient clipping by global norm, evaluation every EvalEvery
// iterations (and before the first and after the last), early stopping with
// patience, the best evaluated parameters restored at the end, a progress
// callback (losses, learning rate, gradient norm, NFE for CNFs through
// NFECounter, elapsed time and ETA) and cancellation through a
// context.Context. Every random number comes from Settings.Src (validation
// split, epoch orders, samples), so that the same seed gives bit-identical
// parameters and losses. After set-up an iteration allocates nothing in the
// loop itself.
//
// # Checkpoints
//
// With Settings.Checkpoint the loop writes a versioned binary checkpoint
// (its layout is documented with Checkpoint) every CheckpointEvery iterations and
// at the end: parameters, optimizer state, the state of Src and of any
// other Settings.State, the counters, the best parameters and loss, the
// loss histories and the current epoch's order. Files are written
// atomically (a temporary file renamed over the old one) and carry a
// CRC-32. A run started with Settings.ResumeFrom continues from a
// checkpoint and produces bit for bit what the uninterrupted run would
// have produced. A corrupt, truncated or newer-version file, or one written
// for another model, data set, split, batch size or optimizer, is an error
// wrapping ErrCheckpoint.
package train
