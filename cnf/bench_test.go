package cnf_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/adjoint"
	"github.com/odeflow/odeflow/cnf"
	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/vectorfield"
)

// toyModel is FFJORD's toy set-up: 2 → 64-64-64 concatsquash tanh → 2, one
// block, T = 0.5, dopri5 at rtol = atol = 1e-5, exact divergence, standard
// normal base.
func toyModel(b testing.TB, m adjoint.Method, semi bool, workers int) (*odeflow.Flow, *cnf.Block, *nn.Params) {
	p := new(nn.Params)
	f, err := vectorfield.NewMLP(2, "64-64-64", nn.Tanh, &vectorfield.Settings{Params: p, Workers: workers})
	if err != nil {
		b.Fatal(err)
	}
	blk := cnf.New(f, &cnf.Settings{T: 0.5, Divergence: cnf.Exact,
		Train: &cnf.SolverSettings{RTol: 1e-5, ATol: 1e-5, Gradient: m, SemiNorm: semi}})
	return odeflow.NewFlow(odeflow.NewStandardNormal(2), blk), blk, p
}

// iterate is one training iteration on a fresh batch: the NLL's gradient
// by ForwardRecord + Backward (through Flow.LogProbGrad), and an Adam step
// if opt is not nil.
type iterator struct {
	flow *odeflow.Flow
	p    *nn.Params
	opt  *nn.Adam
	rnd  *rand.Rand
	x    *mat.Dense
	lp   []float64
	w    []float64
}

func newIterator(flow *odeflow.Flow, p *nn.Params, n int, adam bool) *iterator {
	it := &iterator{flow: flow, p: p, rnd: rand.New(rand.NewPCG(3, 4)), x: mat.NewDense(n, 2, nil), lp: make([]float64, n), w: make([]float64, n)}
	for i := range it.w {
		it.w[i] = -1 / float64(n)
	}
	if adam {
		it.opt = nn.NewAdam(p.Len(), p.Trainable(nil), &nn.AdamSettings{WeightDecay: 1e-5})
	}
	return it
}

func (it *iterator) step(tb testing.TB, lr float64) {
	gaussians8Into(it.x, it.rnd)
	it.p.ZeroGrad()
	if _, err := it.flow.LogProbGrad(it.lp, it.p.Grad, nil, it.w, it.x, nil); err != nil {
		tb.Fatal(err)
	}
	if it.opt != nil {
		it.opt.Step(it.p.Data, it.p.Grad, lr)
	}
}

var trained struct {
	once  sync.Once
	theta []float64
}

// trainedTheta returns the parameters of the toy model after 400 Adam
// iterations (lr 5e-3, weight decay 1e-5) on fresh 8gaussians batches of
// 100: a field with about the NFE of a trained FFJORD model (≈ 75 forward
// evaluations). Computed once per test binary.
func trainedTheta(b testing.TB) []float64 {
	trained.once.Do(func() {
		flow, _, p := toyModel(b, adjoint.Checkpointed, false, 1)
		tr := newIterator(flow, p, 100, true)
		for range 400 {
			tr.step(b, 5e-3)
		}
		trained.theta = append([]float64(nil), p.Data...)
	})
	return trained.theta
}

// BenchmarkToyIteration times one training iteration (ForwardRecord +
// Backward of the mean NLL on a fresh batch of 100 from 8gaussians, through
// Flow.LogProbGrad) of FFJORD's toy set-up, by gradient method and number
// of field workers, in two states of the field: as initialized (few steps)
// and trained (see trainedTheta).
//
// Metrics: nfe_fwd (forward evaluations), nfe_bwd (VJPs of the backward
// pass), evals_bwd (evaluations of the augmented dynamics in the backward
// pass: Checkpointed's re-run of each step, Backsolve's reconstruction),
// evals_bwd_f (evaluations of f alone, without the divergence, in
// Checkpointed's re-run: adjoint.ActiveEvaler), s/iter.
//
//	go test ./cnf -run '^$' -bench ToyIteration -benchtime 20x
func BenchmarkToyIteration(b *testing.B) {
	for _, st := range []string{"init", "trained"} {
		for _, m := range []struct {
			name string
			m    adjoint.Method
			semi bool
		}{{"checkpointed", adjoint.Checkpointed, false}, {"direct", adjoint.Direct, false}, {"backsolve-seminorm", adjoint.Backsolve, true}} {
			for _, workers := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%s/workers=%d", st, m.name, workers), func(b *testing.B) {
					flow, blk, p := toyModel(b, m.m, m.semi, workers)
					if st == "trained" {
						copy(p.Data, trainedTheta(b))
					}
					it := newIterator(flow, p, 100, false)
					it.step(b, 0)
					f0, b0 := blk.NFE()
					evals, active := 0, 0
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						it.step(b, 0)
						evals += blk.Stats().Adjoint.BackwardEvals
						active += blk.Stats().Adjoint.BackwardActiveEvals
					}
					b.StopTimer()
					f1, b1 := blk.NFE()
					k := float64(b.N)
					b.ReportMetric(float64(f1-f0)/k, "nfe_fwd")
					b.ReportMetric(float64(b1-b0)/k, "nfe_bwd")
					b.ReportMetric(float64(evals)/k, "evals_bwd")
					b.ReportMetric(float64(active)/k, "evals_bwd_f")
					b.ReportMetric(b.Elapsed().Seconds()/k, "s/iter")
				})
			}
		}
	}
}

// BenchmarkToyTraining is the toy experiment at reduced length: FFJORD's
// set-up trained with Adam (lr 1e-3, weight decay 1e-5) on fresh batches
// of 100 from 8gaussians for 2000 iterations, the held-out NLL on 10 000
// fresh samples (evaluation settings, rtol = atol = 1e-7) logged every 250
// iterations with the training wall-clock time (evaluations excluded).
// Metrics: the final held-out NLL, training seconds, mean forward and
// backward NFE per iteration.
//
//	go test ./cnf -run '^$' -bench ToyTraining -benchtime 1x -v
func BenchmarkToyTraining(b *testing.B) {
	for b.Loop() {
		flow, blk, p := toyModel(b, adjoint.Checkpointed, false, 2)
		it := newIterator(flow, p, 100, true)
		val := gaussians8(10000, rand.NewPCG(77, 78))
		var train time.Duration
		heldOut := 0.0
		nf, nb := 0, 0
		const iters = 2000
		for k := 1; k <= iters; k++ {
			f0, b0 := blk.NFE()
			start := time.Now()
			it.step(b, 1e-3)
			train += time.Since(start)
			f1, b1 := blk.NFE()
			nf, nb = nf+f1-f0, nb+b1-b0
			if k%250 == 0 {
				heldOut = flowtest.MeanNLL(b, flow, val, nil)
				b.Logf("iteration %4d: held-out NLL %.4f, training time %.1f s, T %.3f, NFE/iteration %.1f/%.1f",
					k, heldOut, train.Seconds(), blk.T(), float64(nf)/float64(k), float64(nb)/float64(k))
			}
		}
		b.ReportMetric(heldOut, "nll")
		b.ReportMetric(train.Seconds(), "train_s")
		b.ReportMetric(float64(nf)/iters, "nfe_fwd")
		b.ReportMetric(float64(nb)/iters, "nfe_bwd")
	}
}
