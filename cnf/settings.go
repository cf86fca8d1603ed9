package cnf

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/odeflow/odeflow/adjoint"
	"github.com/odeflow/odeflow/ode"
	"github.com/odeflow/odeflow/trace"
)

// Divergence selects how a block computes tr(∂f/∂z).
type Divergence int

const (
	// Auto is Exact for d ≤ 10 and Hutchinson otherwise. The zero value.
	Auto Divergence = iota
	// Exact pushes the d unit vectors through one batched JVP (trace.Exact):
	// cost grows with d.
	Exact
	// Hutchinson uses Settings.Probes probe vectors of distribution
	// Settings.Probe per row (trace.Hutchinson), drawn once per solve.
	Hutchinson
	// HutchPP is Hutch++ with Settings.Probes sketch vectors and as many
	// probes (trace.HutchPP), drawn once per solve.
	HutchPP
)

// String returns "auto", "exact", "hutchinson" or "hutch++".
func (v Divergence) String() string {
	switch v {
	case Auto:
		return "auto"
	case Exact:
		return "exact"
	case Hutchinson:
		return "hutchinson"
	case HutchPP:
		return "hutch++"
	}
	return fmt.Sprintf("Divergence(%d)", int(v))
}

// Default values of the settings.
const (
	DefaultT         = 0.5  // initial integration time, FFJORD's toy set-up
	DefaultTrainTol  = 1e-5 // rtol and atol of training solves
	DefaultEvalTol   = 1e-7 // rtol and atol of evaluation solves
	DefaultMaxSteps  = 10000
	exactMaxDim      = 10       // Auto picks Exact up to this dimension
	defaultNoiseSeed = 0x63666e // "cnf"
)

// SolverSettings configure one kind of solve of a block: the training solves
// (ForwardRecord, InverseRecord and their Backward) or the evaluation solves
// (Forward, Inverse, Trajectory). A nil *SolverSettings means every default,
// and so does every zero field.
type SolverSettings struct {
	// Method is the Runge–Kutta method; nil means ode.Dopri5.
	Method *ode.Tableau
	// RTol and ATol are the tolerances of the forward solve; zero means
	// DefaultTrainTol (1e-5, as in FFJORD's toy experiments) for training
	// and DefaultEvalTol (1e-7) for evaluation.
	RTol, ATol float64
	// MaxSteps bounds the step attempts of a solve (forward and, for
	// Backsolve, backward); zero means DefaultMaxSteps. A solve that needs
	// more fails with an error wrapping ode.MaxStepsReached.Err().
	MaxSteps int
	// Step, if positive, selects fixed steps of this size (the last one
	// shortened to land on the end time) instead of adaptive ones; the
	// tolerances are then unused. Backsolve's backward solve uses the same
	// step size.
	Step float64

	// Gradient is the adjoint method of training solves (ignored for
	// evaluation); the zero value is adjoint.Checkpointed.
	Gradient adjoint.Method
	// SemiNorm leaves the parameter and time adjoints out of the error
	// control of Backsolve's backward solve (Kidger et al. 2021).
	SemiNorm bool
	// BackwardRTol and BackwardATol are the tolerances of Backsolve's
	// backward solve; zero means the forward's.
	BackwardRTol, BackwardATol float64
}

// Settings configure a block. A nil *Settings means every default, and so
// does every zero field.
type Settings struct {
	// T is the initial integration time; zero means DefaultT (0.5). It is
	// stored as τ with T = softplus(τ) = log(1 + e^τ), which keeps T
	// positive under any update of τ. It panics if negative or not finite.
	T float64
	// FixedT freezes τ (nn.Params.SetFrozen): optimizers leave T alone.
	// Backward still reports its gradient.
	FixedT bool
	// Name prefixes the block's parameter block: τ is Name+"/tau". Empty
	// means "cnf0", "cnf1", … (the first name not yet taken in the field's
	// Params), so that stacked blocks need no names.
	Name string

	// Divergence is the estimator; Auto (the zero value) means Exact for
	// d ≤ 10 and Hutchinson otherwise.
	Divergence Divergence
	// Probe is the probe distribution of Hutchinson and Hutch++; the zero
	// value is trace.Rademacher.
	Probe trace.Probe
	// Probes is the number of Hutchinson probes (Hutch++: sketch vectors
	// and probes each) per row; zero means 1.
	Probes int
	// Src draws the probe noise, once per solve; nil means a PCG seeded
	// from the block's name (so that the blocks of a model draw different
	// noise, and a rebuilt model the same). The block owns it: same source
	// state, same noise.
	Src rand.Source

	// Train configures ForwardRecord, InverseRecord and Backward; Eval
	// configures Forward, Inverse and Trajectory. See SolverSettings for
	// the defaults.
	Train, Eval *SolverSettings

	// Regularizer weights λ (zero disables one; negative panics). Each
	// enabled regularizer R is an extra state integrated by the training
	// solves, and Backward adds the gradient of λ · mean_i R_i (see
	// Block.Penalty and the package documentation):
	//
	//	Kinetic    ∫ ‖f‖² dt                  (RNODE, Finlay et al. 2020)
	//	Frobenius  ∫ ‖∂f/∂z‖²_F dt            (RNODE; estimated with the
	//	                                       divergence's probes)
	//	L1         ∫ (1/d) Σ_j |f_j| dt       (FFJORD's l1int)
	//	L2         ∫ ‖f‖ / √d dt              (FFJORD's l2int)
	Kinetic, Frobenius, L1, L2 float64
}

// solveConfig is a SolverSettings with the defaults filled in.
type solveConfig struct {
	method       *ode.Tableau
	rtol, atol   float64
	maxSteps     int
	step         float64
	grad         adjoint.Method
	semi         bool
	brtol, batol float64
}

func resolveSolve(s *SolverSettings, tol float64, what string) solveConfig {
	var c solveConfig
	if s != nil {
		c = solveConfig{
			method: s.Method, rtol: s.RTol, atol: s.ATol, maxSteps: s.MaxSteps, step: s.Step,
			grad: s.Gradient, semi: s.SemiNorm, brtol: s.BackwardRTol, batol: s.BackwardATol,
		}
	}
	for _, v := range []float64{c.rtol, c.atol, c.brtol, c.batol, c.step} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			panic(fmt.Sprintf("cnf: %s: invalid tolerance %v", what, v))
		}
	}
	if c.maxSteps < 0 {
		panic(fmt.Sprintf("cnf: %s: negative MaxSteps", what))
	}
	if c.grad < adjoint.Checkpointed || c.grad > adjoint.Direct {
		panic(fmt.Sprintf("cnf: %s: unknown %v", what, c.grad))
	}
	if c.method == nil {
		c.method = ode.Dopri5
	}
	if c.rtol == 0 {
		c.rtol = tol
	}
	if c.atol == 0 {
		c.atol = tol
	}
	if c.maxSteps == 0 {
		c.maxSteps = DefaultMaxSteps
	}
	if c.brtol == 0 {
		c.brtol = c.rtol
	}
	if c.batol == 0 {
		c.batol = c.atol
	}
	return c
}

// odeSettings returns the forward ode settings of c.
func (c *solveConfig) odeSettings() ode.Settings {
	return ode.Settings{Method: c.method, RTol: c.rtol, ATol: c.atol, MaxSteps: c.maxSteps, Step: c.step}
}
