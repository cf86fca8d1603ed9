package train

import (
	"testing"
	"time"

	"github.com/odeflow/odeflow/internal/testrand"
)

// One training iteration (minibatch gather, gradient, clipping, schedule,
// optimizer step, loss history) allocates nothing after set-up, for both
// objectives.
func TestIterationAllocs(t *testing.T) {
	x := data(t, "8gaussians", 2048, 1, 1)
	flow := gmmFlow(8, x, testrand.NewSource(t, 2))
	l, err := newMLLoop(flow, x, nil, &Settings{BatchSize: 256, Iterations: 1000, ClipNorm: 1, Warmup: 10})
	if err != nil {
		t.Fatal(err)
	}
	l.start = time.Now()
	step := func() {
		if _, err := l.iterate(); err != nil {
			t.Fatal(err)
		}
		l.iter++
	}
	if a := testing.AllocsPerRun(200, step); a != 0 {
		t.Errorf("maximum likelihood: %v allocations per iteration", a)
	}

	kflow, _ := normalFlow([]float64{0, 0}, []float64{0, 0})
	kl, _, err := newKLLoop(kflow, gaussTarget([]float64{1, 2}, []float64{1, 1}, 0), &Settings{BatchSize: 128, Iterations: 1000})
	if err != nil {
		t.Fatal(err)
	}
	kl.start = time.Now()
	kstep := func() {
		if _, err := kl.iterate(); err != nil {
			t.Fatal(err)
		}
		kl.iter++
	}
	if a := testing.AllocsPerRun(200, kstep); a != 0 {
		t.Errorf("reverse KL: %v allocations per iteration", a)
	}
}

// BenchmarkFitIteration is one maximum-likelihood iteration on 8gaussians,
// batch 256, with a K = 8 GaussianMixture base behind an affine transform.
func BenchmarkFitIteration(b *testing.B) {
	x := data(b, "8gaussians", 4096, 1, 1)
	flow := gmmFlow(8, x, testrand.NewSource(b, 2))
	l, err := newMLLoop(flow, x, nil, &Settings{BatchSize: 256, Iterations: b.N + 1, ClipNorm: 10})
	if err != nil {
		b.Fatal(err)
	}
	l.start = time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.iterate(); err != nil {
			b.Fatal(err)
		}
		l.iter++
	}
}
