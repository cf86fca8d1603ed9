// Command ffjord runs FFJORD's toy experiment (Grathwohl et al. 2019,
// arXiv:1810.01367, train_toy.py) with package cnf and prints the held-out
// negative log-likelihood against iterations, training time and NFE.
//
//	go run ./examples/ffjord                         # 8gaussians, 10 000 iterations
//	go run ./examples/ffjord -data ringgaussians -iters 5000
//	go run ./examples/ffjord -gradient backsolve -seminorm
//	go run ./examples/ffjord -mem                    # backward-pass memory by gradient method
//
// The set-up is FFJORD's by default: a field 2 → 64-64-64 concatsquash tanh
// → 2 (-hidden), one CNF block with T = 0.5 trainable (-T, -fixed-t), exact
// divergence, Dopri5 at rtol = atol = 1e-5 in training (-tol), a standard
// normal base, fresh batches of -batch points from the data set per
// iteration, and Adam with L2 weight decay -wd added to the gradient, as
// FFJORD's torch.optim.Adam(weight_decay=1e-5) does (-adamw switches to
// AdamW's decoupled decay). The learning rate -lr is constant.
//
// Every -eval-every iterations it prints one row: the iteration, the
// held-out NLL of -ntest fresh points (drawn once, from a stream separate
// from the training batches) computed by plain Forward solves at the block's
// evaluation tolerance (cnf.DefaultEvalTol), the training wall time and the
// process's CPU time (user + system, getrusage) spent in training
// iterations (evaluations excluded from both), T, the mean forward and
// backward NFE per iteration over the iterations since the previous row,
// and the 1-minute load average (the wall time depends on what else runs
// on the machine; NLL and NFE do not). A last line gives the first row
// whose NLL was at most -target.
//
// With -mem it trains -iters iterations (use a few hundred at -lr 5e-3 to
// get a field with a typical step count), then for each gradient method and
// for training tolerances 1e-5, 1e-8 and 1e-10 (about 10× the steps) measures
// one recording and backward pass of a fresh block on one batch: steps, the
// adjoint's tape (float64s), and runtime.MemStats deltas against the model
// after one plain (evaluation) solve of the batch: bytes allocated by the
// first recording + backward pass (the training solver's and the adjoint's
// workspaces and tape), HeapInuse kept after it and a GC, and bytes
// allocated by a second pass.
//
// Everything is seeded by -seed: the same seed and -workers print the same
// NLL, T and NFE numbers (times vary); another -workers gives the same NFE
// and agrees to rounding.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/adjoint"
	"github.com/odeflow/odeflow/cnf"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/train/toy"
	"github.com/odeflow/odeflow/vectorfield"
)

// config is one run.
type config struct {
	Data      string
	Iters     int
	Batch     int
	LR        float64
	WD        float64
	AdamW     bool
	Workers   int
	Gradient  string // checkpointed, direct, backsolve
	SemiNorm  bool
	Hidden    string
	T         float64
	FixedT    bool
	Tol       float64 // training rtol = atol
	EvalEvery int
	NTest     int
	Target    float64
	Seed      uint64
}

// row is one evaluation.
type row struct {
	Iter        int
	NLL         float64
	Wall, CPU   time.Duration // training only
	T           float64
	NFEF, NFEB  float64 // mean per iteration since the previous row
	Load1       float64
	TrueNLLTest float64
}

func main() {
	var c config
	var mem bool
	flag.StringVar(&c.Data, "data", toy.Gaussians8, "data set: "+strings.Join(toy.Names(), ", "))
	flag.IntVar(&c.Iters, "iters", 10000, "training iterations")
	flag.IntVar(&c.Batch, "batch", 100, "fresh points per iteration")
	flag.Float64Var(&c.LR, "lr", 1e-3, "Adam learning rate (constant)")
	flag.Float64Var(&c.WD, "wd", 1e-5, "weight decay (L2 added to the gradient, as FFJORD; see -adamw)")
	flag.BoolVar(&c.AdamW, "adamw", false, "decoupled weight decay (AdamW) instead of L2")
	flag.IntVar(&c.Workers, "workers", 2, "field worker goroutines")
	flag.StringVar(&c.Gradient, "gradient", "checkpointed", "gradient method: checkpointed, direct or backsolve")
	flag.BoolVar(&c.SemiNorm, "seminorm", false, "Backsolve: error control on the state and adjoint only (seminorm)")
	flag.StringVar(&c.Hidden, "hidden", "64-64-64", "hidden widths of the field")
	flag.Float64Var(&c.T, "T", cnf.DefaultT, "initial integration time")
	flag.BoolVar(&c.FixedT, "fixed-t", false, "keep T fixed")
	flag.Float64Var(&c.Tol, "tol", cnf.DefaultTrainTol, "rtol = atol of training solves")
	flag.IntVar(&c.EvalEvery, "eval-every", 500, "iterations between evaluations")
	flag.IntVar(&c.NTest, "ntest", 10000, "held-out points")
	flag.Float64Var(&c.Target, "target", 2.90, "report the first evaluation with NLL at most this")
	flag.Uint64Var(&c.Seed, "seed", 1, "seed of initialization, training batches and held-out points")
	flag.BoolVar(&mem, "mem", false, "measure the backward pass's memory instead of the training table")
	flag.Parse()
	var err error
	if mem {
		err = memory(c, os.Stdout)
	} else {
		_, err = run(c, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ffjord:", err)
		os.Exit(1)
	}
}

// gradient parses a gradient method name.
func gradient(name string) (adjoint.Method, error) {
	switch name {
	case "checkpointed":
		return adjoint.Checkpointed, nil
	case "direct":
		return adjoint.Direct, nil
	case "backsolve":
		return adjoint.Backsolve, nil
	}
	return 0, fmt.Errorf("unknown gradient method %q (checkpointed, direct or backsolve)", name)
}

// model is the flow of a run.
type model struct {
	flow *odeflow.Flow
	blk  *cnf.Block
	p    *nn.Params
}

// newModel builds FFJORD's toy model with training solves at rtol = atol =
// tol and the given gradient method.
func newModel(c config, tol float64, m adjoint.Method) (*model, error) {
	p := new(nn.Params)
	f, err := vectorfield.NewMLP(2, c.Hidden, nn.Tanh, &vectorfield.Settings{
		Params: p, Workers: c.Workers, Src: rand.NewPCG(c.Seed, 1),
	})
	if err != nil {
		return nil, err
	}
	blk := cnf.New(f, &cnf.Settings{T: c.T, FixedT: c.FixedT, Divergence: cnf.Exact,
		Train: &cnf.SolverSettings{RTol: tol, ATol: tol, Gradient: m, SemiNorm: c.SemiNorm}})
	return &model{flow: odeflow.NewFlow(odeflow.NewStandardNormal(2), blk), blk: blk, p: p}, nil
}

// trainer takes Adam steps on fresh batches.
type trainer struct {
	m   *model
	opt *nn.Adam
	src rand.Source
	lp  []float64
	w   []float64
	c   config
}

func newTrainer(m *model, c config) *trainer {
	s := &nn.AdamSettings{WeightDecay: c.WD}
	opt := nn.NewAdam(m.p.Len(), m.p.Trainable(nil), s)
	if c.AdamW {
		opt = nn.NewAdamW(m.p.Len(), m.p.Trainable(nil), s)
	}
	w := make([]float64, c.Batch)
	for i := range w {
		w[i] = -1 / float64(c.Batch)
	}
	return &trainer{m: m, opt: opt, src: rand.NewPCG(c.Seed, 2), lp: make([]float64, c.Batch), w: w, c: c}
}

// step is one iteration: a fresh batch, the mean NLL's gradient, an Adam
// step.
func (tr *trainer) step() error {
	x, err := toy.Generate(tr.c.Data, tr.c.Batch, tr.src)
	if err != nil {
		return err
	}
	tr.m.p.ZeroGrad()
	if _, err := tr.m.flow.LogProbGrad(tr.lp, tr.m.p.Grad, nil, tr.w, x, nil); err != nil {
		return err
	}
	tr.opt.Step(tr.m.p.Data, tr.m.p.Grad, tr.c.LR)
	return nil
}

// cpuTime is the process's user + system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// load1 is the 1-minute load average (NaN if unavailable).
func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return math.NaN()
	}
	var l float64
	if _, err := fmt.Sscan(string(b), &l); err != nil {
		return math.NaN()
	}
	return l
}

// meanNLL is −mean log p(x) of flow.
func meanNLL(flow *odeflow.Flow, x *mat.Dense) (float64, error) {
	lp, err := flow.LogProb(nil, x, nil)
	if err != nil {
		return 0, err
	}
	s := 0.0
	for _, v := range lp {
		s -= v
	}
	return s / float64(len(lp)), nil
}

// trueNLL is −mean log p(x) under the true density of the Gaussian-ring
// data sets, and NaN for the others.
func trueNLL(data string, x *mat.Dense) float64 {
	var radius, sigma float64
	switch data {
	case toy.Gaussians8:
		radius, sigma = 4/1.414, 0.5/1.414
	case toy.RingGaussians:
		radius, sigma = 3, 0.25
	default:
		return math.NaN()
	}
	n, _ := x.Dims()
	s := 0.0
	for i := range n {
		var l [8]float64
		m := math.Inf(-1)
		for k := range 8 {
			a := float64(k) * math.Pi / 4
			dx, dy := x.At(i, 0)-radius*math.Cos(a), x.At(i, 1)-radius*math.Sin(a)
			l[k] = -(dx*dx+dy*dy)/(2*sigma*sigma) - math.Log(2*math.Pi*sigma*sigma) - math.Log(8)
			m = max(m, l[k])
		}
		e := 0.0
		for k := range 8 {
			e += math.Exp(l[k] - m)
		}
		s -= m + math.Log(e)
	}
	return s / float64(n)
}

// run trains and writes the table to w; it returns the rows.
func run(c config, w io.Writer) ([]row, error) {
	gm, err := gradient(c.Gradient)
	if err != nil {
		return nil, err
	}
	if c.Iters < 1 || c.Batch < 1 || c.EvalEvery < 1 || c.NTest < 1 {
		return nil, fmt.Errorf("iters, batch, eval-every and ntest must be positive")
	}
	m, err := newModel(c, c.Tol, gm)
	if err != nil {
		return nil, err
	}
	test, err := toy.Generate(c.Data, c.NTest, rand.NewPCG(c.Seed, 3))
	if err != nil {
		return nil, err
	}
	tr := newTrainer(m, c)
	opt := "Adam with L2 weight decay (gradient += wd·θ, as FFJORD)"
	if c.AdamW {
		opt = "AdamW (decoupled weight decay)"
	}
	truth := trueNLL(c.Data, test)
	fmt.Fprintf(w, "# ffjord: data %s, field 2 → %s concatsquash tanh → 2 (%d parameters + τ), T0 %.3g (fixed %v), exact divergence\n",
		c.Data, c.Hidden, m.p.Len()-1, c.T, c.FixedT)
	fmt.Fprintf(w, "# training: dopri5 rtol = atol = %.0e, gradient %s (seminorm %v), batch %d fresh, %s, lr %.3g, wd %.3g, workers %d, seed %d\n",
		c.Tol, c.Gradient, c.SemiNorm, c.Batch, opt, c.LR, c.WD, c.Workers, c.Seed)
	fmt.Fprintf(w, "# held-out: %d fresh points, evaluation solves at rtol = atol = %.0e; true-density NLL on them %.4f\n",
		c.NTest, cnf.DefaultEvalTol, truth)
	fmt.Fprintf(w, "# load average at start: %s", loadavg())
	fmt.Fprintln(w, "| iteration | held-out NLL | train wall (s) | train CPU (s) | T | mean NFE fwd/bwd | load1 |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	var rows []row
	var wall, cpu time.Duration
	lastF, lastB, lastK := 0, 0, 0
	first := -1
	for k := 1; k <= c.Iters; k++ {
		t0, c0 := time.Now(), cpuTime()
		if err := tr.step(); err != nil {
			return rows, fmt.Errorf("iteration %d: %w", k, err)
		}
		wall += time.Since(t0)
		cpu += cpuTime() - c0
		if k%c.EvalEvery != 0 && k != c.Iters {
			continue
		}
		nll, err := meanNLL(m.flow, test)
		if err != nil {
			return rows, fmt.Errorf("evaluation at iteration %d: %w", k, err)
		}
		f, b := m.blk.NFE()
		r := row{Iter: k, NLL: nll, Wall: wall, CPU: cpu, T: m.blk.T(),
			NFEF: float64(f-lastF) / float64(k-lastK), NFEB: float64(b-lastB) / float64(k-lastK),
			Load1: load1(), TrueNLLTest: truth}
		lastF, lastB, lastK = f, b, k
		rows = append(rows, r)
		if first < 0 && nll <= c.Target {
			first = len(rows) - 1
		}
		fmt.Fprintf(w, "| %d | %.4f | %.1f | %.1f | %.3f | %.1f / %.1f | %.1f |\n",
			r.Iter, r.NLL, r.Wall.Seconds(), r.CPU.Seconds(), r.T, r.NFEF, r.NFEB, r.Load1)
	}
	fmt.Fprintf(w, "# load average at end: %s", loadavg())
	if first >= 0 {
		r := rows[first]
		fmt.Fprintf(w, "# first held-out NLL ≤ %.2f: iteration %d, %.1f s training wall time, %.1f s training CPU time\n",
			c.Target, r.Iter, r.Wall.Seconds(), r.CPU.Seconds())
	} else {
		fmt.Fprintf(w, "# held-out NLL never ≤ %.2f\n", c.Target)
	}
	return rows, nil
}

// loadavg is the content of /proc/loadavg (with its newline).
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unavailable\n"
	}
	return string(b)
}

// memory trains c.Iters iterations, then measures one recording + backward
// pass per gradient method and tolerance.
func memory(c config, w io.Writer) error {
	m, err := newModel(c, c.Tol, adjoint.Checkpointed)
	if err != nil {
		return err
	}
	tr := newTrainer(m, c)
	for k := 0; k < c.Iters; k++ {
		if err := tr.step(); err != nil {
			return fmt.Errorf("training iteration %d: %w", k+1, err)
		}
	}
	theta := append([]float64(nil), m.p.Data...)
	x, err := toy.Generate(c.Data, c.Batch, rand.NewPCG(c.Seed, 4))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "# memory of one ForwardRecord + Backward (batch %d of %s) after %d training iterations (lr %.3g); T %.3f; load %s",
		c.Batch, c.Data, c.Iters, c.LR, m.blk.T(), loadavg())
	fmt.Fprintln(w, "| gradient | rtol = atol | fwd steps | bwd steps | NFE fwd / bwd VJPs | tape (float64) | 1st pass TotalAlloc (KiB) | HeapInuse kept (KiB) | 2nd pass TotalAlloc (B) | 2nd pass time (s) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	wts := make([]float64, c.Batch)
	for i := range wts {
		wts[i] = -1 / float64(c.Batch)
	}
	lp := make([]float64, c.Batch)
	for _, g := range []struct {
		name string
		m    adjoint.Method
		semi bool
	}{{"checkpointed", adjoint.Checkpointed, false}, {"direct", adjoint.Direct, false},
		{"backsolve", adjoint.Backsolve, false}, {"backsolve (seminorm)", adjoint.Backsolve, true}} {
		for _, tol := range []float64{1e-5, 1e-8, 1e-10} {
			cc := c
			cc.SemiNorm = g.semi
			var ms0, ms1, ms2, ms3 runtime.MemStats
			mm, err := newModel(cc, tol, g.m)
			if err != nil {
				return err
			}
			copy(mm.p.Data, theta)
			// The baseline: the model after a plain solve (its field's and
			// solver's workspaces for the batch).
			if _, err := mm.flow.LogProb(lp, x, nil); err != nil {
				return fmt.Errorf("%s at %.0e: %w", g.name, tol, err)
			}
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			if _, err := mm.flow.LogProbGrad(lp, mm.p.Grad, nil, wts, x, nil); err != nil {
				return fmt.Errorf("%s at %.0e: %w", g.name, tol, err)
			}
			runtime.ReadMemStats(&ms1)
			runtime.GC()
			runtime.ReadMemStats(&ms2)
			t0 := time.Now()
			if _, err := mm.flow.LogProbGrad(lp, mm.p.Grad, nil, wts, x, nil); err != nil {
				return fmt.Errorf("%s at %.0e: %w", g.name, tol, err)
			}
			el := time.Since(t0)
			runtime.ReadMemStats(&ms3)
			st := mm.blk.Stats()
			fmt.Fprintf(w, "| %s | %.0e | %d | %d | %d / %d | %d | %.0f | %.0f | %d | %.3f |\n",
				g.name, tol, st.Forward.Accepted, st.Adjoint.BackwardSteps, st.Forward.NFE, st.Adjoint.BackwardVJPs,
				st.Adjoint.Tape, float64(ms1.TotalAlloc-ms0.TotalAlloc)/1024,
				(float64(ms2.HeapInuse)-float64(ms0.HeapInuse))/1024, ms3.TotalAlloc-ms2.TotalAlloc, el.Seconds())
			runtime.KeepAlive(mm)
		}
	}
	return nil
}
