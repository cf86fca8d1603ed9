package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

const entropy8Gaussians = 2.8382 // log 8 + 1 + log 2π + 2 log(0.5/1.414)

// A short run of maximum likelihood on 8gaussians with a K = 8 mixture base
// reaches a held-out NLL near the data's entropy.
func TestFit8Gaussians(t *testing.T) {
	seed := testrand.Seed(t)
	x := data(t, "8gaussians", 5000, seed, 1)
	test := data(t, "8gaussians", 10000, seed, 2)
	flow := gmmFlow(8, x, rand.NewPCG(seed, 3))
	before := flowtest.MeanNLL(t, flow, test, nil)
	res, err := Fit(context.Background(), flow, x, nil, &Settings{
		LR: 0.02, Epochs: 40, ValFraction: 0.1, Src: testrand.NewSource(t, 4),
	})
	if err != nil {
		t.Fatal(err)
	}
	lp, err := flow.LogProb(nil, test, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, se := 0.0, 0.0
	for _, v := range lp {
		after -= v
	}
	after /= float64(len(lp))
	for _, v := range lp {
		se += (-v - after) * (-v - after)
	}
	se = math.Sqrt(se / float64(len(lp)-1) / float64(len(lp)))
	t.Logf("held-out NLL %.4f ± %.4f after %d iterations (before %.4f; true entropy %.4f; best validation %.4f at %d)",
		after, se, res.Iterations, before, entropy8Gaussians, res.BestLoss, res.BestIter)
	if res.Status != Finished || res.Iterations != 40*(4500/256) {
		t.Errorf("status %v after %d iterations, want finished after %d", res.Status, res.Iterations, 40*(4500/256))
	}
	if !(after < before-0.5) {
		t.Errorf("held-out NLL %.4f, not well below the initial %.4f", after, before)
	}
	if after > 2.90 {
		t.Errorf("held-out NLL %.4f > 2.90 (entropy %.4f)", after, entropy8Gaussians)
	}
	// −E log q = H(p) + KL(p‖q) ≥ H(p): a lower estimate means a density that is not normalized.
	if after < entropy8Gaussians-4*se {
		t.Errorf("held-out NLL %.4f below the entropy %.4f by more than 4 SE", after, entropy8Gaussians)
	}
	// The training loss went down and the restored parameters are the best evaluated.
	n := len(res.TrainLoss)
	if n != res.Iterations {
		t.Fatalf("%d training losses for %d iterations", n, res.Iterations)
	}
	if m0, m1 := mean(res.TrainLoss[:20]), mean(res.TrainLoss[n-20:]); !(m1 < m0-0.5) {
		t.Errorf("training loss did not go down: %.4f → %.4f", m0, m1)
	}
	if !res.Restored || res.BestLoss != minOf(res.EvalLoss) {
		t.Errorf("best loss %v, restored %v; evaluations %v", res.BestLoss, res.Restored, res.EvalLoss)
	}
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func minOf(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

// shiftProblem is a 2-D problem whose validation loss first improves, then
// worsens: the flow starts at mean 0, the training data sit at mean 6 and
// the validation data at mean 3.
func shiftProblem(seed uint64) (flow *odeflow.Flow, x, val *mat.Dense) {
	flow, _ = normalFlow([]float64{0, 0}, []float64{0, 0})
	x = gaussian(512, []float64{6, 6}, []float64{1, 1}, rand.NewPCG(seed, 1))
	val = gaussian(256, []float64{3, 3}, []float64{1, 1}, rand.NewPCG(seed, 2))
	return flow, x, val
}

func TestEarlyStoppingRestoresBest(t *testing.T) {
	flow, x, val := shiftProblem(testrand.Seed(t))
	snap := map[int][]float64{0: clone(flow.Params().Data)}
	const every, patience = 4, 3
	res, err := Fit(context.Background(), flow, x, nil, &Settings{
		Method: SGD, LR: 0.05, BatchSize: 64, Iterations: 1000,
		ValX: val, EvalEvery: every, Patience: patience,
		Progress: func(p Progress) {
			if p.Evaluated {
				snap[p.Iteration] = clone(flow.Params().Data)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != EarlyStopped {
		t.Fatalf("status %v, want early stopped", res.Status)
	}
	arg := 0
	for k, v := range res.EvalLoss {
		if v < res.EvalLoss[arg] {
			arg = k
		}
	}
	if res.BestIter != res.EvalIters[arg] || res.BestLoss != res.EvalLoss[arg] {
		t.Errorf("best %v at %d, want %v at %d", res.BestLoss, res.BestIter, res.EvalLoss[arg], res.EvalIters[arg])
	}
	if res.BestIter == 0 || res.BestIter == res.Iterations {
		t.Errorf("best iteration %d: the problem should improve first, then worsen (stopped at %d)", res.BestIter, res.Iterations)
	}
	if res.Iterations != res.BestIter+patience*every {
		t.Errorf("stopped at %d, want best %d + patience %d × %d", res.Iterations, res.BestIter, patience, every)
	}
	if !res.Restored || !check.SameBits(flow.Params().Data, snap[res.BestIter]) {
		t.Errorf("parameters %v, want those at the best iteration %v", flow.Params().Data, snap[res.BestIter])
	}
	if got := flowtest.MeanNLL(t, flow, val, nil); math.Abs(got-res.BestLoss) > 1e-12 {
		t.Errorf("validation NLL of the restored flow %v, want %v", got, res.BestLoss)
	}

	// A validation set that only gets worse: the initial parameters are restored.
	flow, x, _ = shiftProblem(testrand.Seed(t))
	init := clone(flow.Params().Data)
	worse := gaussian(256, []float64{0, 0}, []float64{0.1, 0.1}, testrand.NewSource(t, 3))
	res, err = Fit(context.Background(), flow, x, nil, &Settings{
		Method: SGD, LR: 0.05, BatchSize: 64, ValX: worse, EvalEvery: 2, Patience: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != EarlyStopped || res.BestIter != 0 || res.Iterations != 4 || !check.SameBits(flow.Params().Data, init) {
		t.Errorf("status %v, best at %d, stopped at %d, params %v; want early stop at 4, initial params %v restored",
			res.Status, res.BestIter, res.Iterations, flow.Params().Data, init)
	}
}

func TestCancel(t *testing.T) {
	flow, x, val := shiftProblem(testrand.Seed(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snap := map[int][]float64{}
	path := t.TempDir() + "/run.ckpt"
	res, err := Fit(ctx, flow, x, nil, &Settings{
		BatchSize: 64, LR: 0.1, ValX: val, EvalEvery: 2, Checkpoint: path,
		Progress: func(p Progress) {
			if p.Evaluated {
				snap[p.Iteration] = clone(flow.Params().Data)
			}
			if p.Iteration == 7 {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if res == nil || res.Status != Canceled || res.Iterations != 7 || len(res.TrainLoss) != 7 {
		t.Fatalf("result %+v, want canceled after 7 iterations", res)
	}
	if !check.SameBits(flow.Params().Data, snap[res.BestIter]) {
		t.Errorf("parameters %v, want the best (iteration %d) %v", flow.Params().Data, res.BestIter, snap[res.BestIter])
	}
	c, err := ReadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Iteration != 7 || c.Status != Running {
		t.Errorf("checkpoint at iteration %d with status %v, want 7, running", c.Iteration, c.Status)
	}
	// Canceled before the first iteration.
	flow, x, _ = shiftProblem(testrand.Seed(t))
	init := clone(flow.Params().Data)
	res, err = Fit(ctx, flow, x, nil, nil)
	if !errors.Is(err, context.Canceled) || res.Iterations != 0 || !check.SameBits(init, flow.Params().Data) {
		t.Errorf("already canceled: error %v, %d iterations", err, res.Iterations)
	}
}

func TestClipping(t *testing.T) {
	seed := testrand.Seed(t)
	flow, x, _ := shiftProblem(seed)
	// The first step uses the full batch at the initial parameters: its
	// gradient norm is computed independently here.
	n, _ := x.Dims()
	w := make([]float64, n)
	for i := range w {
		w[i] = -1 / float64(n)
	}
	g := make([]float64, flow.Params().Len())
	if _, err := flow.LogProbGrad(nil, g, nil, w, x, nil); err != nil {
		t.Fatal(err)
	}
	norm0 := math.Sqrt(dot(g, g))
	for _, clip := range []float64{0, 0.5} {
		flow, x, _ := shiftProblem(seed)
		opt := &recOpt{Optimizer: nn.NewSGD(flow.Params().Len(), nil, nil)}
		var norms []float64
		_, err := Fit(context.Background(), flow, x, nil, &Settings{
			Optimizer: opt, ClipNorm: clip, BatchSize: n, Iterations: 30, LR: 0.1,
			Progress: func(p Progress) { norms = append(norms, p.GradNorm) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(norms[0]-norm0) > 1e-12*norm0 {
			t.Errorf("clip %v: first gradient norm %.15g, want %.15g", clip, norms[0], norm0)
		}
		clipped := 0
		for k, got := range opt.norms {
			want := norms[k]
			if clip > 0 && want > clip {
				want = clip
				clipped++
			}
			if math.Abs(got-want) > 1e-12*want {
				t.Errorf("clip %v, step %d: optimizer saw a gradient of norm %.15g, want %.15g", clip, k, got, want)
			}
		}
		if clip > 0 && clipped == 0 {
			t.Errorf("clip %v: no step was clipped (norms %v)", clip, norms)
		}
	}
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func TestSchedule(t *testing.T) {
	flow, x, _ := shiftProblem(testrand.Seed(t))
	opt := &recOpt{Optimizer: nn.NewAdam(flow.Params().Len(), nil, nil)}
	sched := nn.StepDecay{Base: 0.1, Every: 5, Gamma: 0.5}
	var seen []float64
	res, err := Fit(context.Background(), flow, x, nil, &Settings{
		Optimizer: opt, Schedule: sched, Warmup: 4, BatchSize: 64, Iterations: 25,
		Progress: func(p Progress) { seen = append(seen, p.LR) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(opt.lrs) != 25 || res.Iterations != 25 {
		t.Fatalf("%d optimizer steps, %d iterations, want 25", len(opt.lrs), res.Iterations)
	}
	for s, lr := range opt.lrs {
		var want float64
		if s < 4 {
			want = 0.1 * float64(s+1) / 4
		} else {
			want = 0.1 * math.Pow(0.5, float64((s-4)/5))
		}
		if math.Abs(lr-want) > 1e-15 || seen[s] != lr {
			t.Errorf("step %d: optimizer lr %v, progress %v, want %v", s, lr, seen[s], want)
		}
	}
	// Defaults: constant 1e-3.
	flow, x, _ = shiftProblem(testrand.Seed(t))
	opt = &recOpt{Optimizer: nn.NewAdam(flow.Params().Len(), nil, nil)}
	if _, err := Fit(context.Background(), flow, x, nil, &Settings{Optimizer: opt, Iterations: 3}); err != nil {
		t.Fatal(err)
	}
	for _, lr := range opt.lrs {
		if lr != 1e-3 {
			t.Errorf("default lr %v, want 1e-3", lr)
		}
	}
}

func TestProgressAndNFE(t *testing.T) {
	flow0, x, val := shiftProblem(testrand.Seed(t))
	cnt := &counting{Differentiable: flow0.Transform().(odeflow.Differentiable)}
	flow := odeflow.NewFlow(flow0.Base(), cnt)
	var ps []Progress
	res, err := Fit(context.Background(), flow, x, nil, &Settings{
		BatchSize: 100, Epochs: 3, ValX: val, EvalEvery: 4, ProgressEvery: 2,
		Progress: func(p Progress) { ps = append(ps, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	const perEpoch = 512 / 100
	if res.Iterations != 3*perEpoch || res.Epochs != 3 {
		t.Fatalf("%d iterations, %d epochs; want %d, 3", res.Iterations, res.Epochs, 3*perEpoch)
	}
	var iters []int
	for k, p := range ps {
		iters = append(iters, p.Iteration)
		if p.Epoch != p.Iteration/perEpoch {
			t.Errorf("iteration %d: epoch %d, want %d", p.Iteration, p.Epoch, p.Iteration/perEpoch)
		}
		if p.TrainLoss != res.TrainLoss[p.Iteration-1] {
			t.Errorf("iteration %d: loss %v, history %v", p.Iteration, p.TrainLoss, res.TrainLoss[p.Iteration-1])
		}
		if p.Evaluated != (p.Iteration%4 == 0) {
			t.Errorf("iteration %d: evaluated %v", p.Iteration, p.Evaluated)
		}
		if p.Evaluated {
			at := -1
			for j, it := range res.EvalIters {
				if it == p.Iteration {
					at = j
				}
			}
			if at < 0 || p.EvalLoss != res.EvalLoss[at] {
				t.Errorf("iteration %d: evaluation loss %v not in the history", p.Iteration, p.EvalLoss)
			}
		}
		// Each iteration runs one ForwardRecord (3 "evaluations") and one Backward (2).
		if p.NFEForward != 3 || p.NFEBackward != 2 {
			t.Errorf("iteration %d: NFE %d/%d, want 3/2", p.Iteration, p.NFEForward, p.NFEBackward)
		}
		if p.LR != 1e-3 || !(p.GradNorm > 0) || p.Elapsed <= 0 || p.ETA < 0 {
			t.Errorf("iteration %d: lr %v, norm %v, elapsed %v, ETA %v", p.Iteration, p.LR, p.GradNorm, p.Elapsed, p.ETA)
		}
		if k > 0 && p.Elapsed < ps[k-1].Elapsed {
			t.Errorf("elapsed time went back at iteration %d", p.Iteration)
		}
		if math.IsNaN(p.BestLoss) || p.BestLoss > p.EvalLoss {
			t.Errorf("iteration %d: best %v, last evaluation %v", p.Iteration, p.BestLoss, p.EvalLoss)
		}
	}
	want := []int{2, 4, 6, 8, 10, 12, 14, 15}
	if !equalInts(iters, want) {
		t.Errorf("callback at iterations %v, want %v", iters, want)
	}
	if last := ps[len(ps)-1]; last.ETA != 0 {
		t.Errorf("ETA %v at the end", last.ETA)
	}
	if res.NFEForward != 3*res.Iterations || res.NFEBackward != 2*res.Iterations {
		t.Errorf("NFE totals %d/%d, want %d/%d (evaluations use Forward, not counted)", res.NFEForward, res.NFEBackward, 3*res.Iterations, 2*res.Iterations)
	}
	// Evaluations: before training, every 4 iterations, and after the last (15).
	if !equalInts(res.EvalIters, []int{0, 4, 8, 12, 15}) {
		t.Errorf("evaluations at %v", res.EvalIters)
	}
}

func TestSameSeedSameResult(t *testing.T) {
	dseed := testrand.Seed(t)
	run := func(seed uint64) ([]float64, *Result) {
		x := data(t, "8gaussians", 1000, dseed, 1)
		flow := gmmFlow(8, x, rand.NewPCG(dseed, 3))
		res, err := Fit(context.Background(), flow, x, nil, &Settings{
			BatchSize: 64, Epochs: 5, ValFraction: 0.2, Src: rand.NewPCG(seed, 5), ClipNorm: 1, Warmup: 10,
		})
		if err != nil {
			t.Fatal(err)
		}
		return clone(flow.Params().Data), res
	}
	p1, r1 := run(1)
	p2, r2 := run(1)
	p3, r3 := run(2)
	if !check.SameBits(p1, p2) || !check.SameBits(r1.TrainLoss, r2.TrainLoss) || !check.SameBits(r1.EvalLoss, r2.EvalLoss) {
		t.Error("same seed, different results")
	}
	if check.SameBits(p1, p3) || check.SameBits(r1.TrainLoss, r3.TrainLoss) {
		t.Error("different seeds, same results")
	}
}

func TestNonFiniteLoss(t *testing.T) {
	flow0, x, val := shiftProblem(testrand.Seed(t))
	cnt := &counting{Differentiable: flow0.Transform().(odeflow.Differentiable), poisonAt: 6}
	flow := odeflow.NewFlow(flow0.Base(), cnt)
	snap := map[int][]float64{}
	res, err := Fit(context.Background(), flow, x, nil, &Settings{
		BatchSize: 64, LR: 0.1, ValX: val, EvalEvery: 2,
		Progress: func(p Progress) {
			if p.Evaluated {
				snap[p.Iteration] = clone(flow.Params().Data)
			}
		},
	})
	if err == nil {
		t.Fatal("no error")
	}
	t.Log(err)
	if !errors.Is(err, odeflow.ErrNumerical) || !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "iteration 6") {
		t.Errorf("error %q: want a numerical error naming iteration 6", err)
	}
	if res.Status != Failed || res.Iterations != 5 || !check.SameBits(flow.Params().Data, snap[res.BestIter]) {
		t.Errorf("status %v after %d iterations, params %v; want failed after 5 with the best (%d) restored",
			res.Status, res.Iterations, flow.Params().Data, res.BestIter)
	}
}

func TestDataErrors(t *testing.T) {
	flow, x, _ := shiftProblem(testrand.Seed(t))
	nan := mat.DenseCopyOf(x)
	nan.Set(3, 1, math.NaN())
	nan.Set(7, 0, math.Inf(-1))
	x3 := mat.NewDense(10, 3, nil)
	p := new(nn.Params)
	ct := newAffine(p, "c", 2, 2)
	cflow := odeflow.NewConditionalFlow(odeflow.NewStandardNormal(2), ct)
	c := mat.NewDense(512, 2, nil)
	for _, tc := range []struct {
		name     string
		flow     *odeflow.Flow
		x, c     *mat.Dense
		s        *Settings
		contains string
	}{
		{"nil x", flow, nil, nil, nil, "empty"},
		{"empty x", flow, &mat.Dense{}, nil, nil, "empty"},
		{"NaN rows", flow, nan, nil, nil, "[3 7]"},
		{"columns", flow, x3, nil, nil, "3 columns"},
		{"context for an unconditional flow", flow, x, c, nil, "unconditional"},
		{"missing context", cflow, x, nil, nil, "no contexts"},
		{"context rows", cflow, x, mat.NewDense(5, 2, nil), nil, "5 rows"},
		{"context columns", cflow, x, mat.NewDense(512, 3, nil), nil, "3 columns"},
		{"validation columns", flow, x, nil, &Settings{ValX: x3}, "validation set has 3 columns"},
		{"validation NaN", flow, x, nil, &Settings{ValX: nan}, "[3 7]"},
		{"fraction too small", flow, x, nil, &Settings{ValFraction: 1e-4}, "ValFraction"},
		{"missing checkpoint", flow, x, nil, &Settings{ResumeFrom: t.TempDir() + "/none", Src: rand.NewPCG(1, 1)}, "no such file"},
	} {
		res, err := Fit(context.Background(), tc.flow, tc.x, tc.c, tc.s)
		if err == nil || !strings.Contains(err.Error(), tc.contains) || res != nil {
			t.Errorf("%s: error %v, want one containing %q and no result", tc.name, err, tc.contains)
		}
	}
	var re *odeflow.RowError
	if _, err := Fit(context.Background(), flow, nan, nil, nil); !errors.As(err, &re) || !equalInts(re.Rows, []int{3, 7}) {
		t.Errorf("NaN rows: error %v, want a RowError for rows [3 7]", err)
	}
	// Programmer errors panic.
	for name, s := range map[string]*Settings{
		"negative batch":     {BatchSize: -1},
		"fraction ≥ 1":       {ValFraction: 1},
		"ValX and fraction":  {ValX: x, ValFraction: 0.1},
		"unknown method":     {Method: Method(9)},
		"stateless Src":      {Checkpoint: "x", Src: plainSource{}},
		"negative clip norm": {ClipNorm: -1},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			_, _ = Fit(context.Background(), flow, x, nil, s)
		}()
	}
}

// plainSource is a rand.Source without a marshalable state.
type plainSource struct{}

func (plainSource) Uint64() uint64 { return 42 }

// A conditional flow learns a context-dependent mean: x | c ~ N(A c, I).
func TestFitConditional(t *testing.T) {
	r := testrand.New(t)
	n := 2000
	c := mat.NewDense(n, 2, nil)
	x := mat.NewDense(n, 2, nil)
	a := []float64{1.5, -0.5, 0.3, 2}
	for i := 0; i < n; i++ {
		c.Set(i, 0, r.NormFloat64())
		c.Set(i, 1, r.NormFloat64())
		x.Set(i, 0, a[0]*c.At(i, 0)+a[1]*c.At(i, 1)+r.NormFloat64())
		x.Set(i, 1, a[2]*c.At(i, 0)+a[3]*c.At(i, 1)+r.NormFloat64())
	}
	p := new(nn.Params)
	tr := newAffine(p, "c", 2, 2)
	flow := odeflow.NewConditionalFlow(odeflow.NewStandardNormal(2), tr)
	res, err := Fit(context.Background(), flow, x, c, &Settings{
		Schedule: nn.Cosine{Base: 0.05, Floor: 1e-4, Steps: 600}, BatchSize: 200, Epochs: 60,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := tr.a.Of(p.Data)
	for k := range a {
		if math.Abs(got[k]-a[k]) > 0.1 {
			t.Errorf("A = %.3f, want %.3f", got, a)
			break
		}
	}
	if res.Restored || res.Iterations != 600 {
		t.Errorf("without validation: restored %v, %d iterations", res.Restored, res.Iterations)
	}
	t.Logf("A = %.3f (want %v), final training NLL %.4f (entropy of N(0, I): %.4f)", got, a, res.TrainLoss[599], 1+math.Log(2*math.Pi))
}

// With InputNoise each minibatch row gets fresh N(0, s²) noise: an affine
// flow fitted to N(0, I) data then learns N(0, (1+s²) I), and the same seed
// gives the same run.
func TestInputNoise(t *testing.T) {
	seed := testrand.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	x := mat.NewDense(4000, 2, nil)
	for i := range 4000 {
		x.Set(i, 0, rng.NormFloat64())
		x.Set(i, 1, rng.NormFloat64())
	}
	run := func(noise nn.Schedule, src uint64) (*odeflow.Flow, []float64) {
		p := new(nn.Params)
		flow := odeflow.NewFlow(odeflow.NewStandardNormal(2), newAffine(p, "affine", 2, 0).bound())
		_, err := Fit(context.Background(), flow, x, nil, &Settings{
			BatchSize: 200, Epochs: 60, LR: 0.02, InputNoise: noise, Src: rand.NewPCG(seed, src),
		})
		if err != nil {
			t.Fatal(err)
		}
		return flow, clone(p.Data)
	}
	variance := func(flow *odeflow.Flow) [2]float64 {
		s := mat.NewDense(40000, 2, nil)
		if err := flow.Sample(s, nil, rand.NewPCG(seed, 9)); err != nil {
			t.Fatal(err)
		}
		var v [2]float64
		for i := range 40000 {
			for j := range 2 {
				v[j] += s.At(i, j) * s.At(i, j) / 40000
			}
		}
		return v
	}
	clean, p0 := run(nil, 5)
	noisy, p1 := run(nn.Constant(1), 5)
	_, p2 := run(nn.Constant(1), 5)
	_, p3 := run(nn.Constant(1), 6)
	for j, v := range variance(clean) {
		if math.Abs(v-1) > 0.1 {
			t.Errorf("no noise: variance %d = %.3f, want ≈ 1", j, v)
		}
	}
	for j, v := range variance(noisy) {
		if math.Abs(v-2) > 0.2 {
			t.Errorf("noise std 1: variance %d = %.3f, want ≈ 2", j, v)
		}
	}
	if !check.SameBits(p1, p2) {
		t.Error("same seed, different noisy runs")
	}
	if check.SameBits(p1, p3) || check.SameBits(p0, p1) {
		t.Error("the noise does not depend on the seed, or is not applied")
	}
}
