package train

import (
	"encoding"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/nn"
)

// Method chooses the optimizer built by Fit and FitKL.
type Method int

const (
	// Adam is nn.NewAdam with Settings.Adam (the default).
	Adam Method = iota
	// AdamW is nn.NewAdamW (decoupled weight decay) with Settings.Adam.
	AdamW
	// SGD is nn.NewSGD with Settings.SGD.
	SGD
)

// String returns the method's name.
func (m Method) String() string {
	switch m {
	case Adam:
		return "adam"
	case AdamW:
		return "adamw"
	case SGD:
		return "sgd"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// Stateful is state outside the model's parameters that a checkpoint must
// carry for a resumed run to continue bit for bit: typically a rand.Source
// owned by the model (a CNF's Hutchinson noise source). *rand.PCG and
// *rand.ChaCha8 implement it.
type Stateful interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// NFECounter is implemented by transforms that solve ODEs (CNF blocks): NFE
// returns the cumulative numbers of evaluations of the vector field in
// forward solves and in backward (adjoint) passes since the transform was
// made. The training loops read it before and after each iteration to
// report the iteration's counts.
type NFECounter interface {
	NFE() (forward, backward int)
}

// Settings configures Fit and FitKL. A nil *Settings means all defaults, and
// every zero field means the default documented beside it. Fields marked
// "ML" are used by Fit only, "KL" by FitKL only.
type Settings struct {
	// Method is the optimizer (default Adam). Optimizer, if not nil,
	// replaces it: an optimizer of length flow.Params().Len() built by the
	// caller (its state is checkpointed through its MarshalBinary).
	Method    Method
	Optimizer nn.Optimizer
	// Adam configures Adam and AdamW, SGD configures SGD; nil means nn's
	// defaults.
	Adam *nn.AdamSettings
	SGD  *nn.SGDSettings

	// LR is the learning rate (default 1e-3) used when Schedule is nil;
	// Schedule, if set, gives the rate of every step (LR is then ignored).
	// Warmup > 0 prepends a linear warm-up of that many steps (nn.Warmup).
	LR       float64
	Schedule nn.Schedule
	Warmup   int
	// ClipNorm > 0 rescales the gradient of every step so that its global
	// Euclidean norm (over the trainable parameters) is at most ClipNorm;
	// 0 means no clipping.
	ClipNorm float64

	// BatchSize is the minibatch size (default 256). ML: capped at the
	// number of training rows; each epoch visits a fresh permutation in
	// ⌊n/BatchSize⌋ full batches (the remainder is left out of that epoch).
	// KL: the number of samples drawn from the flow per iteration.
	BatchSize int
	// Iterations bounds the total number of iterations (counting those done
	// before a resume); Epochs (ML) bounds the number of epochs. Either 0
	// means no bound from it; if both are 0 the default is 100 epochs (ML)
	// or 1000 iterations (KL).
	Iterations int
	Epochs     int

	// InputNoise (ML), if not nil, gives a standard deviation per iteration
	// (its LR method; a value ≤ 0 or NaN adds nothing): fresh Gaussian
	// noise of that size, drawn from Src, is added to every coordinate of
	// every training minibatch row (never to validation rows). This is
	// noise regularization (Rothfuss et al. 2019, "Noise Regularization
	// for Conditional Density Estimation", arXiv:1907.08982): it smooths
	// the fitted density, which curbs overfitting on small data sets, at
	// the price of fitting the data convolved with the noise (variance
	// +s² per coordinate) unless the schedule takes it to zero.
	InputNoise nn.Schedule

	// Src supplies all the randomness of the loop: the validation split and
	// the epoch permutations (ML), the flow's samples (KL). nil means
	// rand.NewPCG(1, 2). With checkpoints it must implement Stateful (PCG
	// and ChaCha8 do): its state is saved and restored.
	Src rand.Source
	// State lists other state saved in checkpoints and restored on resume,
	// in order (a model's own noise source).
	State []Stateful

	// ValX and ValC (ML) are a validation set and its contexts. Otherwise
	// ValFraction in (0, 1) splits that share of the training rows off at
	// random (with Src) as the validation set; 0 means no validation.
	ValX, ValC  *mat.Dense
	ValFraction float64

	// TargetContext (KL, conditional flows) holds the contexts the flow is
	// fitted for, one per row: every sample of an iteration takes a row
	// drawn uniformly at random.
	TargetContext *mat.Dense
	// EvalSamples (KL) is the number of samples of each evaluation and of
	// the final estimates in Result (default 4096).
	EvalSamples int

	// EvalEvery is the number of iterations between evaluations of the
	// validation NLL (ML; default once per epoch) or of −ELBO on
	// EvalSamples fresh samples (KL; default 0, no evaluation during
	// training). Evaluations also happen before the first iteration and
	// after the last. The best evaluated parameters are restored at the end.
	EvalEvery int
	// Patience > 0 stops training after that many evaluations in a row
	// without an improvement of more than MinDelta; 0 never stops early.
	Patience int
	MinDelta float64

	// Progress, if not nil, is called after every ProgressEvery-th
	// iteration (default 1), after every evaluation and after the last
	// iteration.
	Progress      func(Progress)
	ProgressEvery int
	// NFE counts the flow's function evaluations for Progress and Result.
	// nil means: the flow's transform if it is an NFECounter, or the
	// NFECounter members of a Chain (and of Inverted wrappers), if any.
	NFE NFECounter

	// Checkpoint, if not empty, is the file a checkpoint is written to
	// (atomically: a temporary file in the same directory, then a rename)
	// every CheckpointEvery iterations (0: never during the run) and when
	// the run ends, unless it failed.
	Checkpoint      string
	CheckpointEvery int
	// ResumeFrom, if not empty, is a checkpoint file to continue from. The
	// flow, data, BatchSize, optimizer method and State must be those of
	// the run that wrote it; a resumed run then produces bit for bit the
	// parameters and losses of an uninterrupted one.
	ResumeFrom string
}

// Progress is what the Progress callback receives.
type Progress struct {
	Iteration int // iterations done, counting those before a resume
	Epoch     int // ML: completed epochs; KL: 0
	TrainLoss float64
	// EvalLoss is the latest evaluation loss (NaN if none yet), BestLoss
	// the best so far; Evaluated reports an evaluation at this iteration.
	EvalLoss, BestLoss float64
	Evaluated          bool
	LR                 float64 // the learning rate of this iteration's step
	GradNorm           float64 // the gradient norm before clipping
	// NFEForward and NFEBackward are this iteration's function evaluations
	// (0 when the flow does not count them).
	NFEForward, NFEBackward int
	Elapsed                 time.Duration // including time before a resume
	ETA                     time.Duration // to the iteration or epoch bound
}

// Status tells why a run stopped.
type Status int

const (
	// Running is the status of a checkpoint written during a run.
	Running Status = iota
	// Finished: the iteration or epoch bound was reached.
	Finished
	// EarlyStopped: the evaluation loss did not improve for Patience evaluations.
	EarlyStopped
	// Canceled: the context was canceled.
	Canceled
	// Failed: a non-finite loss or gradient, or an evaluation, solver or
	// checkpoint error.
	Failed
)

// String returns the status name.
func (s Status) String() string {
	switch s {
	case Running:
		return "running"
	case Finished:
		return "finished"
	case EarlyStopped:
		return "early stopped"
	case Canceled:
		return "canceled"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is the outcome of a run. Histories count from the start of the
// whole run, including iterations before a resume.
type Result struct {
	Status     Status
	Iterations int // iterations done
	Epochs     int // ML: completed epochs

	// TrainLoss holds each iteration's minibatch loss: the mean NLL (ML) or
	// the −ELBO estimate (KL) of the batch.
	TrainLoss []float64
	// EvalLoss[k] is the evaluation loss after EvalIters[k] iterations
	// (validation mean NLL for ML, −ELBO for KL).
	EvalIters []int
	EvalLoss  []float64
	// BestLoss is the lowest evaluation loss (NaN without evaluations),
	// reached after BestIter iterations; Restored reports that the flow's
	// parameters were set back to that point.
	BestLoss float64
	BestIter int
	Restored bool

	// KL is the final estimate of the ELBO and log Z at the returned
	// parameters (FitKL only).
	KL *KLEstimate

	NFEForward, NFEBackward int // totals over the run
	Elapsed                 time.Duration
}

// LogDensity is an unnormalized log-density log p̃(x | c), the target of
// FitKL. It writes log p̃(x_i | c_i) into dst[i] (len n) and, if grad is
// not nil, the gradient ∇ₓ log p̃(x_i | c_i) into row i of grad (n×d). c is
// nil for an unconditional target. It must not modify x or c.
type LogDensity func(dst []float64, grad *mat.Dense, x, c *mat.Dense)

// ErrNonFinite is wrapped by the error of a run stopped by a non-finite
// loss or gradient (together with odeflow.ErrNumerical when the flow
// reported the rows, or in a *odeflow.RowError for a reverse-KL target).
var ErrNonFinite = errors.New("non-finite loss or gradient")

// ErrCheckpoint is wrapped by every error about a checkpoint file's
// contents (not a checkpoint, corrupt, truncated, newer version, or written
// for another model or data set).
var ErrCheckpoint = errors.New("bad checkpoint")
