package cnf

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/adjoint"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/ode"
	"github.com/odeflow/odeflow/trace"
	"github.com/odeflow/odeflow/vectorfield"
)

// Block is a continuous normalizing flow layer (FFJORD): the map of R^d
// given by the flow of dz/dt = f(t, z; θ[, c]) from t = 0 to t = T. Forward
// (data → base) integrates from 0 to T, Inverse (base → data) the same ODE
// from T back to 0, each with the log-determinant as an extra state (see the
// package documentation).
//
// Block implements odeflow.Transform and odeflow.Differentiable, with
// parameters θ (the field's) and τ (T = softplus(τ)) in the field's
// *nn.Params, so blocks and discrete layers built on one Params stack in an
// odeflow.Chain. Forward and Inverse use the evaluation solver settings;
// ForwardRecord, InverseRecord and Backward the training ones, and only they
// integrate the regularizers. A Block holds workspace, its solvers, its
// noise source and a recording: it is not safe for concurrent use. After a
// first call with a given batch size (and, for record calls, a solve with
// no fewer steps), calls allocate nothing.
type Block struct {
	f     vectorfield.Field
	est   trace.Estimator
	noisy bool
	src   rand.Source
	p     *nn.Params
	tau   nn.Slot
	name  string
	d, dc int

	train, eval solveConfig
	lambda      [numReg]float64
	regs        []int // enabled regularizer kinds, in state order

	// Context of a conditional block: the bound matrix, and the flat
	// row-major view used by the current call.
	cond bool
	ctxM *mat.Dense
	ctx  []float64
	cbuf []float64

	sys   *system
	evalF ode.Func

	osol map[int]*ode.Solver
	ores ode.Result
	oset ode.Settings

	asol map[[2]int]*adjoint.Solver
	aset adjoint.Settings
	afwd ode.Settings
	abwd ode.Settings
	norm map[int]ode.Norm

	y0, a, gy0 []float64

	rec struct {
		valid   bool
		inverse bool
		ldj     bool
		n       int
		solver  *adjoint.Solver
	}
	regVal  [numReg]float64
	penalty float64

	stats      Stats
	nfeF, nfeB int
}

// Stats describes the last solves of a block.
type Stats struct {
	// Forward counts the last forward solve, plain or record: evaluations
	// of the augmented dynamics (NFE) and steps.
	Forward ode.Stats
	// Adjoint is the adjoint solver's account of the last record call and
	// of the Backward that followed it (its backward evaluations, VJPs,
	// steps and tape size); zero before the first record call.
	Adjoint adjoint.Stats
}

// RegValues are the regularizer integrals of the last record call,
// averaged over the batch and not weighted (zero for disabled ones).
type RegValues struct {
	Kinetic, Frobenius, L1, L2 float64
}

// Regularized is implemented by transforms whose training objective carries
// a penalty beside the log-likelihood: a CNF block with regularizers.
// Penalty returns the penalty of the last record call; its gradient is
// already included by Backward, so a training loop only adds the value to
// the loss it reports. See the package function Penalty for a whole model.
type Regularized interface {
	Penalty() float64
}

// New returns a block on the field f, which must be unconditional
// (ContextDim 0; see NewConditional) and have non-nil Params, in which the
// block reserves τ. It panics if the field is nil, conditional or without
// Params, or if a setting is invalid.
func New(f vectorfield.Field, s *Settings) *Block {
	if f != nil && f.ContextDim() != 0 {
		panic("cnf: New: the field takes a context; use NewConditional")
	}
	return newBlock("cnf: New", f, s)
}

func newBlock(op string, f vectorfield.Field, s *Settings) *Block {
	if f == nil {
		panic(op + ": nil field")
	}
	p := f.Params()
	if p == nil {
		panic(op + ": the field has no *nn.Params (the block stores T there)")
	}
	var set Settings
	if s != nil {
		set = *s
	}
	if set.T < 0 || math.IsNaN(set.T) || math.IsInf(set.T, 0) {
		panic(fmt.Sprintf("%s: invalid T %v", op, set.T))
	}
	if set.T == 0 {
		set.T = DefaultT
	}
	if set.Probes < 0 {
		panic(op + ": negative Probes")
	}
	b := &Block{f: f, p: p, d: f.Dim(), dc: f.ContextDim(), cond: f.ContextDim() > 0}
	weights := [numReg]float64{set.Kinetic, set.Frobenius, set.L1, set.L2}
	for k, w := range weights {
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			panic(fmt.Sprintf("%s: invalid regularizer weight %v", op, w))
		}
		if w > 0 {
			b.lambda[k] = w
			b.regs = append(b.regs, k)
		}
	}
	div := set.Divergence
	if div == Auto {
		div = Exact
		if b.d > exactMaxDim {
			div = Hutchinson
		}
	}
	switch div {
	case Exact:
		b.est = trace.NewExact(f)
	case Hutchinson:
		b.est = trace.NewHutchinson(f, &trace.HutchSettings{Probe: set.Probe, K: set.Probes})
		b.noisy = true
	case HutchPP:
		b.est = trace.NewHutchPP(f, &trace.HutchPPSettings{Probe: set.Probe, Sketch: set.Probes, K: set.Probes})
		b.noisy = true
	default:
		panic(fmt.Sprintf("%s: invalid %v", op, set.Divergence))
	}
	b.train = resolveSolve(set.Train, DefaultTrainTol, op+": Train")
	b.eval = resolveSolve(set.Eval, DefaultEvalTol, op+": Eval")
	b.name = set.Name
	if b.name == "" {
		for i := 0; ; i++ {
			b.name = fmt.Sprintf("cnf%d", i)
			if _, taken := p.Lookup(b.name + "/tau"); !taken {
				break
			}
		}
	}
	b.src = set.Src
	if b.src == nil {
		// Seeded by the name, so that the blocks of a model draw
		// independent noise.
		h := fnv.New64a()
		h.Write([]byte(b.name))
		b.src = rand.NewPCG(defaultNoiseSeed, h.Sum64())
	}
	b.tau = p.Reserve(b.name+"/tau", 1)
	b.tau.Of(p.Data)[0] = softplusInv(set.T)
	if set.FixedT {
		p.SetFrozen(b.name+"/tau", true)
	}
	b.sys = &system{b: b}
	b.evalF = b.sys.Eval
	b.osol = make(map[int]*ode.Solver)
	b.asol = make(map[[2]int]*adjoint.Solver)
	b.norm = make(map[int]ode.Norm)
	b.oset = b.eval.odeSettings()
	b.afwd = b.train.odeSettings()
	b.abwd = ode.Settings{Method: b.train.method, RTol: b.train.brtol, ATol: b.train.batol, MaxSteps: b.train.maxSteps, Step: b.train.step}
	b.aset = adjoint.Settings{Method: b.train.grad, Forward: &b.afwd, SemiNorm: b.train.semi}
	if b.train.grad == adjoint.Backsolve {
		b.aset.Backward = &b.abwd
	}
	return b
}

// softplus returns log(1 + e^x) without overflow.
func softplus(x float64) float64 {
	if x > 30 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// softplusInv returns the x with softplus(x) = y, for y > 0.
func softplusInv(y float64) float64 {
	if y > 30 {
		return y + math.Log(-math.Expm1(-y))
	}
	return math.Log(math.Expm1(y))
}

// sigmoid is softplus'.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// Dim returns d.
func (b *Block) Dim() int { return b.d }

// Field returns the vector field.
func (b *Block) Field() vectorfield.Field { return b.f }

// Estimator returns the divergence estimator (bound to the field).
func (b *Block) Estimator() trace.Estimator { return b.est }

// Source returns the source of the probe noise (Settings.Src, or the
// default *rand.PCG), for example to save and restore its state with a
// training checkpoint so that a resumed run draws the same noise.
func (b *Block) Source() rand.Source { return b.src }

// Params returns the shared parameters: the field's, which hold τ too.
func (b *Block) Params() *nn.Params { return b.p }

// Name returns the prefix of the block's parameter block (τ is Name()+"/tau").
func (b *Block) Name() string { return b.name }

// T returns the integration time softplus(τ), read from Params().Data.
func (b *Block) T() float64 { return softplus(b.tau.Of(b.p.Data)[0]) }

// SetT sets τ so that T() returns T (up to rounding). It panics unless T is
// positive and finite.
func (b *Block) SetT(T float64) {
	if !(T > 0) || math.IsInf(T, 0) {
		panic(fmt.Sprintf("cnf: Block.SetT: invalid T %v", T))
	}
	b.tau.Of(b.p.Data)[0] = softplusInv(T)
}

// Penalty returns Σ_k λ_k · mean_i R_k,i, the weighted regularizer
// integrals of the last record call (0 without regularizers or before a
// record call). Backward adds its gradient; see the package documentation.
func (b *Block) Penalty() float64 { return b.penalty }

// Regularizers returns the unweighted batch means of the regularizer
// integrals of the last record call.
func (b *Block) Regularizers() RegValues {
	v := b.regVal
	return RegValues{Kinetic: v[regKinetic], Frobenius: v[regFrob], L1: v[regL1], L2: v[regL2]}
}

// NFE returns the cumulative numbers of evaluations of the augmented
// dynamics since the block was made: forward counts every forward solve
// (plain, record and trajectory), backward counts the reverse passes (VJPs)
// of every Backward. Checkpointed and Backsolve also evaluate the dynamics
// in the backward pass (the re-run of each step, the reconstruction of the
// state): Stats().Adjoint.BackwardEvals reports those for the last Backward,
// and Stats().Adjoint.BackwardActiveEvals the re-run's evaluations of f
// alone (without the divergence and regularizer rates).
func (b *Block) NFE() (forward, backward int) { return b.nfeF, b.nfeB }

// Stats returns the counts of the last solves.
func (b *Block) Stats() Stats { return b.stats }

// bindContext sets the flat context for a call with n rows. It panics if a
// conditional block has no context bound or its row count differs from n.
func (b *Block) bindContext(op string, n int) {
	if !b.cond {
		b.ctx = nil
		return
	}
	if b.ctxM == nil {
		panic(op + ": conditional block used without a context (call Given)")
	}
	r, c := b.ctxM.Dims()
	if r != n {
		panic(fmt.Sprintf("%s: batch has %d rows, context %d", op, n, r))
	}
	raw := b.ctxM.RawMatrix()
	if raw.Stride == c {
		b.ctx = raw.Data[:r*c]
		return
	}
	b.cbuf = grow(b.cbuf, r*c)
	for i := 0; i < r; i++ {
		copy(b.cbuf[i*c:(i+1)*c], raw.Data[i*raw.Stride:i*raw.Stride+c])
	}
	b.ctx = b.cbuf[:r*c]
}

// grow returns s with length n, reallocated only if its capacity is short.
func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// load sets the initial state [x, 0, …] of length N for n rows.
func (b *Block) load(x *mat.Dense, n, N int) []float64 {
	b.y0 = grow(b.y0, N)
	y := b.y0
	d := b.d
	raw := x.RawMatrix()
	for i := 0; i < n; i++ {
		copy(y[i*d:(i+1)*d], raw.Data[i*raw.Stride:i*raw.Stride+d])
	}
	clear(y[n*d:])
	return y
}

// store writes the z part of y into dst and adds ℓ to ldj.
func (b *Block) store(dst *mat.Dense, ldj, y []float64, n int) {
	d := b.d
	raw := dst.RawMatrix()
	for i := 0; i < n; i++ {
		copy(raw.Data[i*raw.Stride:i*raw.Stride+d], y[i*d:(i+1)*d])
	}
	if ldj != nil {
		for i, v := range y[n*d : n*d+n] {
			ldj[i] += v
		}
	}
}

// span returns the integration interval of a direction.
func (b *Block) span(inverse bool) (t0, t1 float64) {
	T := b.T()
	if inverse {
		return T, 0
	}
	return 0, T
}

// setup prepares the system for n rows with nreg regularizer states and
// draws the noise of the solve.
func (b *Block) setup(n, nreg int) {
	b.sys.n, b.sys.nreg, b.sys.np = n, nreg, b.p.Len()
	b.sys.grow()
	b.est.Resample(n, b.src)
}

// Forward maps data to the base: row i of dst is z(T) for z(0) = x_i, and
// ldj[i] gets ∫₀ᵀ tr ∂f/∂z dt added, using the evaluation solver settings.
// dst may be x. It follows the odeflow.Transform contract; a failed solve
// returns an error wrapping the solver's *ode.Error.
func (b *Block) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return b.solve("cnf: Block.Forward", dst, ldj, x, false)
}

// Inverse maps base points to data: row i of dst is z(0) for z(T) = y_i,
// integrating backward in time, and ldj[i] gets −∫₀ᵀ tr ∂f/∂z dt (along
// that trajectory) added. dst may be y.
func (b *Block) Inverse(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	return b.solve("cnf: Block.Inverse", dst, ldj, y, true)
}

func (b *Block) solve(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse bool) error {
	b.rec.valid = false
	n, err := odeflow.PrepareCall(op, b.d, dst, ldj, x, true)
	if err != nil {
		return err
	}
	b.bindContext(op, n)
	b.setup(n, 0)
	N := b.sys.Len()
	y0 := b.load(x, n, N)
	sol := b.osol[N]
	if sol == nil {
		sol = ode.NewSolver(N)
		b.osol[N] = sol
	}
	t0, t1 := b.span(inverse)
	_, err = sol.Solve(&b.ores, ode.Problem{F: b.evalF, T0: t0, T1: t1, Y0: y0}, &b.oset)
	b.stats.Forward = b.ores.Stats
	b.nfeF += b.ores.Stats.NFE
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	b.store(dst, ldj, b.ores.Y, n)
	return nil
}

// ForwardRecord is Forward with the training solver settings, recording
// for Backward; it also integrates the regularizers (see Penalty).
func (b *Block) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return b.record("cnf: Block.ForwardRecord", dst, ldj, x, false)
}

// InverseRecord is Inverse with the training solver settings, recording
// for Backward; it also integrates the regularizers.
func (b *Block) InverseRecord(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	return b.record("cnf: Block.InverseRecord", dst, ldj, y, true)
}

func (b *Block) record(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse bool) error {
	b.rec.valid = false
	b.penalty = 0
	b.regVal = [numReg]float64{}
	n, err := odeflow.PrepareCall(op, b.d, dst, ldj, x, false)
	if err != nil {
		return err
	}
	b.bindContext(op, n)
	nreg := len(b.regs)
	b.setup(n, nreg)
	N, P := b.sys.Len(), b.sys.np
	y0 := b.load(x, n, N)
	key := [2]int{N, P}
	sol := b.asol[key]
	if sol == nil {
		sol = adjoint.NewSolver(N, P)
		b.asol[key] = sol
	}
	b.afwd.Norm = nil
	if nreg > 0 {
		// The regularizer states are quadratures that never feed back
		// into the dynamics: they are left out of error control, so that
		// enabling them does not change the steps taken.
		nrm := b.norm[N]
		if nrm == nil {
			nrm = ode.SemiNorm(n*(b.d+1), N)
			b.norm[N] = nrm
		}
		b.afwd.Norm = nrm
	}
	t0, t1 := b.span(inverse)
	y1, err := sol.Forward(b.sys, y0, t0, t1, &b.aset)
	b.stats.Adjoint = sol.Stats()
	b.stats.Forward = b.stats.Adjoint.Forward
	b.nfeF += b.stats.Forward.NFE
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	b.store(dst, ldj, y1, n)
	// Integrating from T to 0 accumulates −∫₀ᵀ of each (positive) rate.
	sign := 1.0
	if inverse {
		sign = -1
	}
	for k, kind := range b.regs {
		m := 0.0
		for _, v := range b.sys.regSlot(y1, k) {
			m += v
		}
		m *= sign / float64(n)
		b.regVal[kind] = m
		b.penalty += b.lambda[kind] * m
	}
	b.rec.valid, b.rec.inverse, b.rec.ldj, b.rec.n, b.rec.solver = true, inverse, ldj != nil, n, sol
	return nil
}

// Backward propagates derivatives through the last record call (see
// odeflow.Differentiable) into the input, the field's parameters and τ,
// by the training settings' gradient method. It differentiates the loss
// plus the block's Penalty: besides gout and gldj, each regularizer state
// R_k,i receives the cotangent λ_k/n (−λ_k/n after InverseRecord, whose
// states hold −R). A second call on the same recording adds the penalty's
// gradient again. It panics without a valid recording, and returns the
// adjoint's error (a failed backward solve, a non-finite gradient).
func (b *Block) Backward(gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) error {
	const op = "cnf: Block.Backward"
	if !b.rec.valid {
		panic(op + ": no valid recording (call ForwardRecord or InverseRecord first)")
	}
	n, d := b.rec.n, b.d
	odeflow.PrepareBackward(op, d, n, b.p.Len(), gin, gparams, gout, gldj)
	if gldj != nil && !b.rec.ldj {
		panic(op + ": gldj given for a recording made with a nil ldj")
	}
	sol := b.rec.solver
	N := sol.Len()
	if sol.NumParams() != b.p.Len() {
		panic(op + ": the parameter vector changed size since the recording")
	}
	// The context of a conditional block is re-read: the recording keeps a
	// reference to it, which the caller must leave unchanged.
	b.bindContext(op, n)
	b.sys.n, b.sys.nreg, b.sys.np = n, len(b.regs), sol.NumParams()
	b.a = grow(b.a, N)
	a := b.a
	raw := gout.RawMatrix()
	for i := 0; i < n; i++ {
		copy(a[i*d:(i+1)*d], raw.Data[i*raw.Stride:i*raw.Stride+d])
	}
	if gldj != nil {
		copy(a[n*d:n*d+n], gldj)
	} else {
		clear(a[n*d : n*d+n])
	}
	sign := 1.0
	if b.rec.inverse {
		sign = -1
	}
	for k, kind := range b.regs {
		w := sign * b.lambda[kind] / float64(n)
		r := b.sys.regSlot(a, k)
		for i := range r {
			r[i] = w
		}
	}
	var gy0 []float64
	if gin != nil {
		b.gy0 = grow(b.gy0, N)
		gy0 = b.gy0
	}
	gt0, gt1, err := sol.Backward(gy0, gparams, a)
	b.stats.Adjoint = sol.Stats()
	b.nfeB += b.stats.Adjoint.BackwardVJPs
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if gin != nil {
		graw := gin.RawMatrix()
		for i := 0; i < n; i++ {
			copy(graw.Data[i*graw.Stride:i*graw.Stride+d], gy0[i*d:(i+1)*d])
		}
	}
	if gparams != nil {
		gT := gt1
		if b.rec.inverse {
			gT = gt0
		}
		gparams[b.tau.Off] += gT * sigmoid(b.tau.Of(b.p.Data)[0])
	}
	return nil
}

// Penalty returns the sum of the penalties of the last record calls of the
// Regularized transforms in t: t itself, or the members of an odeflow.Chain
// (recursively, through odeflow.Inverted wrappers). A training loop adds it
// to the reported loss; the gradients are already in Backward.
func Penalty(t odeflow.Transform) float64 {
	switch v := t.(type) {
	case Regularized:
		return v.Penalty()
	case *odeflow.Chain:
		s := 0.0
		for i := 0; i < v.Len(); i++ {
			s += Penalty(v.Member(i))
		}
		return s
	case *odeflow.Inverted:
		return Penalty(v.Inner())
	}
	return 0
}
