package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// objective is what distinguishes maximum likelihood from reverse KL; the
// loop around it (optimizer, schedule, clipping, evaluation, early stopping,
// progress, checkpoints) is shared.
type objective interface {
	// step adds the gradient of iteration it's minibatch loss into g (which
	// the loop zeroes) and returns the loss.
	step(g []float64, it int) (float64, error)
	// canEval reports whether evaluations happen; eval returns the
	// evaluation loss at the current parameters.
	canEval() bool
	eval() (float64, error)
	// epochs returns the completed epochs after it iterations.
	epochs(it int) int
	// kind identifies the objective in checkpoints; save and load its state.
	kind() byte
	save(e *encoder)
	load(d *decoder) error
}

// loop is the shared training machinery.
type loop struct {
	flow      *odeflow.Flow
	params    *nn.Params
	trainable []bool
	clipMask  []bool // trainable, or nil if every parameter is (a faster norm)
	opt       nn.Optimizer
	sched     nn.Schedule
	clip      float64
	src       rand.Source
	states    []Stateful
	obj       objective
	grad      []float64
	total     int

	evalEvery, patience int
	minDelta            float64
	progress            func(Progress)
	progressEvery       int
	nfe                 []NFECounter
	ckptPath            string
	ckptEvery           int

	// state, saved in checkpoints
	iter                int
	trainLoss, evalLoss []float64
	evalIters           []int
	best                []float64
	haveBest            bool
	bestLoss            float64
	bestIter, bad       int
	stopped             Status
	nfeF, nfeB          int
	elapsed0            time.Duration

	// reporting
	start            time.Time
	startIter        int
	lastLR, lastNorm float64
}

// newLoop builds the shared machinery from the settings. It panics on
// invalid settings (programmer errors).
func newLoop(op string, flow *odeflow.Flow, s *Settings, defaultIters int) *loop {
	if flow == nil {
		panic(op + ": nil flow")
	}
	p := flow.Params()
	if p == nil || p.Len() == 0 {
		panic(op + ": the flow has no parameters")
	}
	switch {
	case s.BatchSize < 0, s.Iterations < 0, s.Epochs < 0, s.Warmup < 0, s.EvalEvery < 0,
		s.Patience < 0, s.ProgressEvery < 0, s.CheckpointEvery < 0, s.EvalSamples < 0:
		panic(op + ": negative count in Settings")
	case s.LR < 0 || math.IsNaN(s.LR), s.ClipNorm < 0 || math.IsNaN(s.ClipNorm), s.MinDelta < 0 || math.IsNaN(s.MinDelta):
		panic(op + ": negative or NaN LR, ClipNorm or MinDelta")
	}
	l := &loop{
		flow:          flow,
		params:        p,
		trainable:     p.Trainable(nil),
		src:           s.Src,
		states:        s.State,
		grad:          make([]float64, p.Len()),
		total:         s.Iterations,
		evalEvery:     s.EvalEvery,
		patience:      s.Patience,
		minDelta:      s.MinDelta,
		progress:      s.Progress,
		progressEvery: max(s.ProgressEvery, 1),
		ckptPath:      s.Checkpoint,
		ckptEvery:     s.CheckpointEvery,
		bestLoss:      math.NaN(),
		clip:          math.Inf(1),
	}
	if !slices.Contains(l.trainable, false) {
		l.clipMask = nil
	} else {
		l.clipMask = l.trainable
	}
	if l.total == 0 && s.Epochs == 0 {
		l.total = defaultIters
	}
	if s.ClipNorm > 0 {
		l.clip = s.ClipNorm
	}
	if l.src == nil {
		l.src = rand.NewPCG(1, 2)
	}
	if s.Checkpoint != "" || s.ResumeFrom != "" {
		if _, ok := l.src.(Stateful); !ok {
			panic(fmt.Sprintf("%s: checkpoints need a Src that implements Stateful; %T does not", op, l.src))
		}
	}
	l.opt = s.Optimizer
	if l.opt == nil {
		switch s.Method {
		case Adam:
			l.opt = nn.NewAdam(p.Len(), l.trainable, s.Adam)
		case AdamW:
			l.opt = nn.NewAdamW(p.Len(), l.trainable, s.Adam)
		case SGD:
			l.opt = nn.NewSGD(p.Len(), l.trainable, s.SGD)
		default:
			panic(fmt.Sprintf("%s: unknown %v", op, s.Method))
		}
	}
	l.sched = s.Schedule
	if l.sched == nil {
		lr := s.LR
		if lr == 0 {
			lr = 1e-3
		}
		l.sched = nn.Constant(lr)
	}
	if s.Warmup > 0 {
		l.sched = nn.Warmup{Steps: s.Warmup, Then: l.sched}
	}
	if s.NFE != nil {
		l.nfe = []NFECounter{s.NFE}
	} else if t := flow.Transform(); t != nil {
		l.nfe = nfeCounters(l.nfe, t)
	} else if c, ok := flow.ConditionalTransform().(NFECounter); ok {
		l.nfe = []NFECounter{c}
	}
	return l
}

// nfeCounters appends the NFE counters found in t.
func nfeCounters(dst []NFECounter, t odeflow.Transform) []NFECounter {
	if c, ok := t.(NFECounter); ok {
		return append(dst, c)
	}
	switch v := t.(type) {
	case *odeflow.Chain:
		for i := 0; i < v.Len(); i++ {
			dst = nfeCounters(dst, v.Member(i))
		}
	case *odeflow.Inverted:
		dst = nfeCounters(dst, v.Inner())
	}
	return dst
}

func (l *loop) readNFE() (f, b int) {
	for _, c := range l.nfe {
		cf, cb := c.NFE()
		f += cf
		b += cb
	}
	return f, b
}

// iterate runs one iteration: gradient, clipping, optimizer step. It does
// not allocate (beyond the loss history's amortized growth and what the
// flow allocates).
func (l *loop) iterate() (float64, error) {
	clear(l.grad)
	loss, err := l.obj.step(l.grad, l.iter)
	if err != nil {
		if errors.Is(err, odeflow.ErrNumerical) && !errors.Is(err, ErrNonFinite) {
			err = fmt.Errorf("%w: %w", ErrNonFinite, err)
		}
		return loss, err
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, fmt.Errorf("loss is %v: %w", loss, ErrNonFinite)
	}
	norm := nn.ClipGradNorm(l.grad, l.clipMask, l.clip)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return loss, fmt.Errorf("gradient norm is %v: %w", norm, ErrNonFinite)
	}
	lr := l.sched.LR(l.iter)
	l.opt.Step(l.params.Data, l.grad, lr)
	l.trainLoss = append(l.trainLoss, loss)
	l.lastLR, l.lastNorm = lr, norm
	return loss, nil
}

// evaluate records an evaluation at the current iteration and reports
// whether patience has run out.
func (l *loop) evaluate() (bool, error) {
	v, err := l.obj.eval()
	if err != nil {
		return false, fmt.Errorf("train: evaluation after iteration %d: %w", l.iter, err)
	}
	if math.IsNaN(v) {
		return false, fmt.Errorf("train: evaluation after iteration %d: loss is NaN: %w", l.iter, ErrNonFinite)
	}
	l.evalIters = append(l.evalIters, l.iter)
	l.evalLoss = append(l.evalLoss, v)
	if !l.haveBest || v < l.bestLoss-l.minDelta {
		if l.best == nil {
			l.best = make([]float64, len(l.params.Data))
		}
		copy(l.best, l.params.Data)
		l.haveBest, l.bestLoss, l.bestIter, l.bad = true, v, l.iter, 0
		return false, nil
	}
	l.bad++
	return l.patience > 0 && l.bad >= l.patience, nil
}

func (l *loop) lastEval() float64 {
	if len(l.evalLoss) == 0 {
		return math.NaN()
	}
	return l.evalLoss[len(l.evalLoss)-1]
}

func (l *loop) report(loss float64, evaluated bool, nf, nb int) {
	el := time.Since(l.start)
	var eta time.Duration
	if done := l.iter - l.startIter; done > 0 && l.total > l.iter {
		eta = time.Duration(float64(el) / float64(done) * float64(l.total-l.iter))
	}
	l.progress(Progress{
		Iteration:   l.iter,
		Epoch:       l.obj.epochs(l.iter),
		TrainLoss:   loss,
		EvalLoss:    l.lastEval(),
		BestLoss:    l.bestLoss,
		Evaluated:   evaluated,
		LR:          l.lastLR,
		GradNorm:    l.lastNorm,
		NFEForward:  nf,
		NFEBackward: nb,
		Elapsed:     l.elapsed0 + el,
		ETA:         eta,
	})
}

// run trains until a bound, early stopping, cancellation or failure, then
// writes the final checkpoint and restores the best parameters.
func (l *loop) run(ctx context.Context) (*Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	l.start, l.startIter = time.Now(), l.iter
	status := Running
	if l.stopped == EarlyStopped {
		status = EarlyStopped // a resumed run that had already stopped
	}
	var runErr error
	fail := func(err error) {
		status, runErr = Failed, err
	}
	if status == Running && l.obj.canEval() && len(l.evalIters) == 0 {
		if _, err := l.evaluate(); err != nil {
			fail(err)
		}
	}
	for status == Running {
		if l.iter >= l.total {
			status = Finished
			break
		}
		if err := ctx.Err(); err != nil {
			status, runErr = Canceled, fmt.Errorf("train: stopped after iteration %d: %w", l.iter, err)
			break
		}
		f0, b0 := l.readNFE()
		loss, err := l.iterate()
		f1, b1 := l.readNFE()
		l.nfeF += f1 - f0
		l.nfeB += b1 - b0
		if err != nil {
			fail(fmt.Errorf("train: iteration %d: %w", l.iter+1, err))
			break
		}
		l.iter++
		evaluated := false
		if l.obj.canEval() && l.evalEvery > 0 && l.iter%l.evalEvery == 0 {
			stop, err := l.evaluate()
			if err != nil {
				fail(err)
				break
			}
			evaluated = true
			if stop {
				status = EarlyStopped
			}
		}
		if l.progress != nil && (l.iter%l.progressEvery == 0 || evaluated || status != Running || l.iter == l.total) {
			l.report(loss, evaluated, f1-f0, b1-b0)
		}
		if status == Running && l.ckptPath != "" && l.ckptEvery > 0 && l.iter%l.ckptEvery == 0 {
			if err := l.writeCheckpoint(Running); err != nil {
				fail(err)
			}
		}
	}
	if status != Failed && l.ckptPath != "" {
		st := status
		if st == Canceled {
			st = Running
		}
		if err := l.writeCheckpoint(st); err != nil {
			status, runErr = Failed, err
		}
	}
	if status == Finished && l.obj.canEval() && (len(l.evalIters) == 0 || l.evalIters[len(l.evalIters)-1] != l.iter) {
		if _, err := l.evaluate(); err != nil {
			status, runErr = Failed, err
		}
	}
	res := &Result{
		Status:      status,
		Iterations:  l.iter,
		Epochs:      l.obj.epochs(l.iter),
		TrainLoss:   l.trainLoss,
		EvalIters:   l.evalIters,
		EvalLoss:    l.evalLoss,
		BestLoss:    l.bestLoss,
		BestIter:    l.bestIter,
		NFEForward:  l.nfeF,
		NFEBackward: l.nfeB,
		Elapsed:     l.elapsed0 + time.Since(l.start),
	}
	if l.haveBest {
		copy(l.params.Data, l.best)
		res.Restored = true
	}
	return res, runErr
}

// uintn returns an integer uniform in [0, n) drawn from src (Lemire's
// multiply-shift method with rejection; n > 0).
func uintn(src rand.Source, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}

// shuffle permutes p uniformly at random (Fisher–Yates).
func shuffle(p []int, src rand.Source) {
	for i := len(p) - 1; i > 0; i-- {
		j := int(uintn(src, uint64(i+1)))
		p[i], p[j] = p[j], p[i]
	}
}
