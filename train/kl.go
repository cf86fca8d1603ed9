package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
)

// KLEstimate holds Monte Carlo estimates from N samples x_i ~ q of the flow,
// with log-weights ℓ_i = log p̃(x_i) − log q(x_i):
//
//	ELBO = (1/N) Σ ℓ_i                     ≤ log Z
//	LogZ = log (1/N) Σ exp ℓ_i             (importance sampling; biased low for finite N)
//	ESS  = (Σ exp ℓ_i)² / Σ exp 2ℓ_i       (effective sample size, in [1, N])
//
// ELBOStdErr is the standard error of the ELBO estimate. For a conditional
// flow the samples take contexts drawn from a pool, and LogZ estimates the
// logarithm of the mean normalizer over the pool.
type KLEstimate struct {
	ELBO, ELBOStdErr float64
	LogZ             float64
	ESS              float64
	N                int
}

// FitKL fits flow q_θ to the unnormalized density p̃ = target by reverse
// Kullback–Leibler divergence (variational inference): each iteration draws
// B samples x_i = f⁻¹(z_i), z_i ~ base, and minimizes
//
//	L(θ) = (1/B) Σ_i [log q_θ(x_i) − log p̃(x_i)]  ≈  KL(q_θ ‖ p) − log Z  =  −ELBO
//
// with the reparameterization gradient (Flow.SampleRecord and
// Flow.SampleBackward): ∂L/∂x_i = −∇log p̃(x_i)/B and ∂L/∂log q(x_i) = 1/B,
// propagated through the sampling path.
//
// The optimizer, schedule, clipping, progress, Src, checkpoints and early
// stopping are those of Fit (see Settings); evaluations, if EvalEvery > 0,
// estimate −ELBO on EvalSamples fresh samples. A conditional flow needs
// Settings.TargetContext. The Result carries final estimates (KLEstimate)
// at the returned parameters, from EvalSamples samples (not computed when
// the run was canceled or failed).
//
// Errors are returned as by Fit; a target that returns a non-finite
// log-density or gradient stops the run with an error naming the iteration
// and the rows. FitKL panics as Fit does, and also if target is nil.
func FitKL(ctx context.Context, flow *odeflow.Flow, target LogDensity, s *Settings) (*Result, error) {
	l, k, err := newKLLoop(flow, target, s)
	if err != nil {
		return nil, err
	}
	res, runErr := l.run(ctx)
	if res.Status == Canceled || res.Status == Failed {
		return res, runErr
	}
	est, err := k.estimate(k.evalN)
	if err != nil {
		res.Status = Failed
		return res, fmt.Errorf("train: final estimate: %w", err)
	}
	res.KL = &est
	return res, runErr
}

// newKLLoop prepares FitKL's loop, resumed if asked.
func newKLLoop(flow *odeflow.Flow, target LogDensity, s *Settings) (*loop, *klObjective, error) {
	const op = "train: FitKL"
	if s == nil {
		s = new(Settings)
	}
	if target == nil {
		panic(op + ": nil target")
	}
	l := newLoop(op, flow, s, 1000)
	if s.Epochs != 0 && s.Iterations == 0 {
		l.total = 1000
	}
	k, err := newKLObjective(op, flow, target, s, l.src)
	if err != nil {
		return nil, nil, err
	}
	l.obj = k
	if s.ResumeFrom != "" {
		if err := l.resume(s.ResumeFrom); err != nil {
			return nil, nil, err
		}
	}
	l.trainLoss = growCap(l.trainLoss, l.total)
	return l, k, nil
}

// klObjective is the reverse-KL objective.
type klObjective struct {
	flow   *odeflow.Flow
	target LogDensity
	src    rand.Source
	pool   *mat.Dense // contexts to draw from, or nil
	batch  int
	evalN  int
	every  int

	xs, gx, cb   *mat.Dense
	logq, lp, gq []float64
	lw           []float64 // log-weights of an estimate
}

func newKLObjective(op string, flow *odeflow.Flow, target LogDensity, s *Settings, src rand.Source) (*klObjective, error) {
	if b, ok := flow.Base().(odeflow.Parameterized); ok && b.Params() != nil {
		if _, ok := b.(odeflow.Reparameterized); !ok {
			return nil, fmt.Errorf("%s: the base distribution %T has parameters but its samples cannot be differentiated with respect to them (it is not odeflow.Reparameterized); use a standard or diagonal normal base for reverse-KL training", op, b)
		}
	}
	k := &klObjective{flow: flow, target: target, src: src, batch: s.BatchSize, evalN: s.EvalSamples, every: s.EvalEvery}
	if k.batch == 0 {
		k.batch = 256
	}
	if k.evalN == 0 {
		k.evalN = 4096
	}
	if flow.Conditional() {
		pool := s.TargetContext
		if pool == nil || pool.IsEmpty() {
			return nil, fmt.Errorf("%s: the flow is conditional but Settings.TargetContext is empty", op)
		}
		if _, cc := pool.Dims(); flow.ContextDim() > 0 && cc != flow.ContextDim() {
			return nil, fmt.Errorf("%s: TargetContext has %d columns, the flow takes %d", op, cc, flow.ContextDim())
		}
		if err := odeflow.CheckFinite(op+": TargetContext", pool); err != nil {
			return nil, err
		}
		k.pool = pool
	} else if s.TargetContext != nil {
		return nil, fmt.Errorf("%s: TargetContext given for an unconditional flow", op)
	}
	k.alloc(k.batch)
	return k, nil
}

// alloc sizes the buffers for batches of n samples.
func (k *klObjective) alloc(n int) {
	d := k.flow.Dim()
	k.xs = mat.NewDense(n, d, nil)
	k.gx = mat.NewDense(n, d, nil)
	if k.pool != nil {
		_, cc := k.pool.Dims()
		k.cb = mat.NewDense(n, cc, nil)
	}
	k.logq = make([]float64, n)
	k.lp = make([]float64, n)
	k.gq = make([]float64, n)
	for i := range k.gq {
		k.gq[i] = 1 / float64(n)
	}
}

// contexts fills cb with rows drawn uniformly from the pool and returns it
// (nil for an unconditional flow).
func drawContexts(cb, pool *mat.Dense, src rand.Source) *mat.Dense {
	if pool == nil {
		return nil
	}
	r, _ := pool.Dims()
	n, _ := cb.Dims()
	for i := 0; i < n; i++ {
		copy(cb.RawRowView(i), pool.RawRowView(int(uintn(src, uint64(r)))))
	}
	return cb
}

// nonFiniteRows returns the rows i where v[i] or a row of g is not finite.
func nonFiniteRows(v []float64, g *mat.Dense) []int {
	var bad []int
	for i, x := range v {
		ok := !math.IsNaN(x) && !math.IsInf(x, 0)
		if ok && g != nil {
			for _, y := range g.RawRowView(i) {
				if math.IsNaN(y) || math.IsInf(y, 0) {
					ok = false
					break
				}
			}
		}
		if !ok {
			bad = append(bad, i)
		}
	}
	return bad
}

func (k *klObjective) step(g []float64, _ int) (float64, error) {
	c := drawContexts(k.cb, k.pool, k.src)
	logq, err := k.flow.SampleRecord(k.xs, k.logq, c, k.src)
	if err != nil {
		return math.NaN(), err
	}
	k.target(k.lp, k.gx, k.xs, c)
	if bad := nonFiniteRows(k.lp, k.gx); bad != nil {
		return math.NaN(), &odeflow.RowError{Op: "train: target log-density", Rows: bad, Err: ErrNonFinite}
	}
	inv := 1 / float64(k.batch)
	sum := 0.0
	for i := range logq {
		sum += logq[i] - k.lp[i]
		row := k.gx.RawRowView(i)
		for j := range row {
			row[j] *= -inv
		}
	}
	if err := k.flow.SampleBackward(g, k.gx, k.gq); err != nil {
		return math.NaN(), err
	}
	return sum * inv, nil
}

func (k *klObjective) canEval() bool { return k.every > 0 }

func (k *klObjective) eval() (float64, error) {
	e, err := k.estimate(k.evalN)
	return -e.ELBO, err
}

// estimate computes a KLEstimate from n samples, in chunks of the batch size.
func (k *klObjective) estimate(n int) (KLEstimate, error) {
	if cap(k.lw) < n {
		k.lw = make([]float64, n)
	}
	lw := k.lw[:n]
	for lo := 0; lo < n; lo += k.batch {
		m := min(k.batch, n-lo)
		xs := k.xs
		var cb *mat.Dense
		if m < k.batch { // a last, short chunk
			xs = mat.NewDense(m, k.flow.Dim(), nil)
			if k.pool != nil {
				_, cc := k.pool.Dims()
				cb = mat.NewDense(m, cc, nil)
			}
		} else {
			cb = k.cb
		}
		c := drawContexts(cb, k.pool, k.src)
		logq, err := k.flow.SampleAndLogProb(xs, k.logq[:m], c, k.src)
		if err != nil {
			return KLEstimate{}, err
		}
		k.target(k.lp[:m], nil, xs, c)
		if bad := nonFiniteRows(k.lp[:m], nil); bad != nil {
			return KLEstimate{}, &odeflow.RowError{Op: "train: target log-density", Rows: bad, Err: ErrNonFinite}
		}
		for i := 0; i < m; i++ {
			lw[lo+i] = k.lp[i] - logq[i]
		}
	}
	return summarize(lw), nil
}

// summarize computes the estimates from log-weights.
func summarize(lw []float64) KLEstimate {
	n := float64(len(lw))
	mean := floats.Sum(lw) / n
	ss := 0.0
	for _, v := range lw {
		ss += (v - mean) * (v - mean)
	}
	se := 0.0
	if len(lw) > 1 {
		se = math.Sqrt(ss / (n - 1) / n)
	}
	lse := floats.LogSumExp(lw)
	lse2 := math.Inf(-1)
	for _, v := range lw { // log Σ exp 2ℓ with the max shift
		lse2 = logAddExp(lse2, 2*v)
	}
	return KLEstimate{
		ELBO:       mean,
		ELBOStdErr: se,
		LogZ:       lse - math.Log(n),
		ESS:        math.Exp(2*lse - lse2),
		N:          len(lw),
	}
}

// logAddExp returns log(exp a + exp b).
func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(a, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

func (k *klObjective) epochs(int) int { return 0 }
func (k *klObjective) kind() byte     { return kindKL }
func (k *klObjective) save(e *encoder) {
	e.int(k.batch)
}

func (k *klObjective) load(d *decoder) error {
	b := d.int()
	if d.err != nil || len(d.b) != 0 {
		return fmt.Errorf("corrupt sampler state: %w", ErrCheckpoint)
	}
	if b != k.batch {
		return fmt.Errorf("the checkpoint's batch size is %d, this run's %d: %w", b, k.batch, ErrCheckpoint)
	}
	return nil
}

// EstimateKL draws n samples from flow and estimates the ELBO, log Z and the
// effective sample size for the unnormalized density target (see
// KLEstimate). For a conditional flow each sample takes a context row drawn
// uniformly from contexts (one row fixes the context); for an
// unconditional flow contexts must be nil. It returns an error for a
// non-finite log-density of the flow or the target, or for contexts that do
// not fit the flow, and panics if n < 1 or src or target is nil.
func EstimateKL(flow *odeflow.Flow, target LogDensity, n int, contexts *mat.Dense, src rand.Source) (KLEstimate, error) {
	const op = "train: EstimateKL"
	if n < 1 || src == nil || target == nil || flow == nil {
		panic(op + ": n < 1 or nil flow, target or src")
	}
	k, err := newKLObjective(op, flow, target, &Settings{BatchSize: min(n, 1024), TargetContext: contexts}, src)
	if err != nil {
		return KLEstimate{}, err
	}
	return k.estimate(n)
}
