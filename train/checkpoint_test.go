package train

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

// jitter wraps a Differentiable and scales the cotangents of Backward by a
// random factor 1 + 0.01u, u ~ U[0,1) from its own source: a stand-in for a
// model with its own randomness (a Hutchinson estimator), whose state a
// checkpoint must carry through Settings.State.
type jitter struct {
	odeflow.Differentiable
	src *rand.PCG
	g   mat.Dense
}

func (j *jitter) Backward(gin *mat.Dense, gp []float64, gout *mat.Dense, gldj []float64) error {
	f := 1 + 0.01*float64(j.src.Uint64()>>11)/(1<<53)
	j.g.Reset()
	j.g.Scale(f, gout)
	return j.Differentiable.Backward(gin, gp, &j.g, gldj)
}

var caseSeeds = map[string]uint64{}

// caseSeed returns one seed per test, from testrand.Seed.
func caseSeed(t *testing.T) uint64 {
	s, ok := caseSeeds[t.Name()]
	if !ok {
		s = testrand.Seed(t)
		caseSeeds[t.Name()] = s
	}
	return s
}

// resumeCase builds a fresh "process": data, flow, and settings with a
// source seeded by srcSeed (a resumed run's Src state is overwritten).
func resumeCase(t *testing.T, iters int, srcSeed uint64) (*odeflow.Flow, *mat.Dense, *Settings) {
	seed := caseSeed(t)
	x := data(t, "8gaussians", 1200, seed, 1)
	g := gmmFlow(8, x, rand.NewPCG(seed, 3))
	j := &jitter{Differentiable: g.Transform().(odeflow.Differentiable), src: rand.NewPCG(srcSeed, 77)}
	flow := odeflow.NewFlow(g.Base(), j)
	return flow, x, &Settings{
		Method: AdamW, BatchSize: 64, Iterations: iters, ValFraction: 0.2, EvalEvery: 7,
		Schedule: nn.Cosine{Base: 0.02, Floor: 1e-4, Steps: 2000}, Warmup: 50, ClipNorm: 3,
		InputNoise: nn.Cosine{Base: 0.05, Steps: 2000}, // drawn from Src: resumed with it
		Src:        rand.NewPCG(srcSeed, 5), State: []Stateful{j.src},
	}
}

func sameRun(t *testing.T, what string, pa, pb []float64, a, b *Result) {
	t.Helper()
	if !check.SameBits(pa, pb) {
		t.Errorf("%s: parameters differ", what)
	}
	if !check.SameBits(a.TrainLoss, b.TrainLoss) || !check.SameBits(a.EvalLoss, b.EvalLoss) || !equalInts(a.EvalIters, b.EvalIters) {
		t.Errorf("%s: histories differ", what)
	}
	if a.BestIter != b.BestIter || a.BestLoss != b.BestLoss || a.Iterations != b.Iterations || a.Epochs != b.Epochs || a.Status != b.Status {
		t.Errorf("%s: results differ: %+v vs %+v", what, *a, *b)
	}
}

// A run interrupted and resumed from its checkpoint in a fresh "process"
// (new flow, new data slice, new sources) ends bit for bit where an
// uninterrupted run ends.
func TestResumeBitIdentical(t *testing.T) {
	flowA, x, s := resumeCase(t, 2000, 1)
	resA, err := Fit(context.Background(), flowA, x, nil, s)
	if err != nil {
		t.Fatal(err)
	}
	if resA.Status != Finished || resA.Iterations != 2000 {
		t.Fatalf("uninterrupted run: %v after %d", resA.Status, resA.Iterations)
	}

	dir := t.TempDir()
	path, killed := dir+"/run.ckpt", dir+"/killed.ckpt"
	flowB, x, s := resumeCase(t, 1000, 1)
	s.Checkpoint, s.CheckpointEvery = path, 250
	var at1000 []float64
	s.Progress = func(p Progress) {
		if p.Iteration == 900 { // the file holds the checkpoint of iteration 750
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(killed, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if p.Iteration == 1000 {
			at1000 = clone(flowB.Params().Data)
		}
	}
	if _, err := Fit(context.Background(), flowB, x, nil, s); err != nil {
		t.Fatal(err)
	}
	c, err := ReadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Iteration != 1000 || c.Status != Finished || len(c.TrainLoss) != 1000 || !check.SameBits(c.Params, at1000) || c.Objective != "ml" {
		t.Errorf("checkpoint: iteration %d, status %v, %d losses, objective %q", c.Iteration, c.Status, len(c.TrainLoss), c.Objective)
	}
	if c, err := ReadCheckpoint(killed); err != nil || c.Iteration != 750 || c.Status != Running {
		t.Fatalf("periodic checkpoint: %v, %+v", err, c)
	}
	for _, from := range []string{path, killed} {
		flowC, x, s := resumeCase(t, 2000, 99) // other seeds: the checkpoint's states must win
		s.ResumeFrom = from
		resC, err := Fit(context.Background(), flowC, x, nil, s)
		if err != nil {
			t.Fatal(err)
		}
		sameRun(t, "resumed from "+from, flowA.Params().Data, flowC.Params().Data, resA, resC)
	}

	// Without the model's State the checkpoint does not fit.
	flowD, x, s := resumeCase(t, 2000, 1)
	s.ResumeFrom, s.State = path, nil
	if _, err := Fit(context.Background(), flowD, x, nil, s); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("missing State: error %v", err)
	}
}

func TestResumeEarlyStopped(t *testing.T) {
	seed := testrand.Seed(t)
	flow, x, val := shiftProblem(seed)
	path := t.TempDir() + "/es.ckpt"
	s := &Settings{Method: SGD, LR: 0.05, BatchSize: 64, ValX: val, EvalEvery: 4, Patience: 3, Checkpoint: path, Src: rand.NewPCG(1, 1)}
	res, err := Fit(context.Background(), flow, x, nil, s)
	if err != nil || res.Status != EarlyStopped {
		t.Fatalf("%v, %v", err, res.Status)
	}
	flow2, x, _ := shiftProblem(seed)
	s.ResumeFrom = path
	res2, err := Fit(context.Background(), flow2, x, nil, s)
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, "resumed early-stopped run", flow.Params().Data, flow2.Params().Data, res, res2)
}

func TestCheckpointErrors(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/run.ckpt"
	flow, x, s := resumeCase(t, 30, 1)
	s.Checkpoint = path
	if _, err := Fit(context.Background(), flow, x, nil, s); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseCheckpoint(good); err != nil {
		t.Fatalf("good checkpoint: %v", err)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	newer := mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 2); return b })
	files := []struct {
		name, contains string
		b              []byte
	}{
		{"flipped byte", "checksum", mutate(func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b })},
		{"truncated", "truncated", good[:len(good)-9]},
		{"truncated header", "truncated", good[:12]},
		{"magic only", "truncated", good[:8]},
		{"empty", "not an Odeflow checkpoint", nil},
		{"bad magic", "not an Odeflow checkpoint", mutate(func(b []byte) []byte { b[0] = 'X'; return b })},
		{"newer version", "newer", newer},
		{"version 0", "version 0", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 0); return b })},
		{"trailing bytes", "trailing", append(append([]byte(nil), good...), 1, 2, 3)},
	}
	for _, f := range files {
		p := dir + "/bad.ckpt"
		if err := os.WriteFile(p, f.b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadCheckpoint(p)
		if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), f.contains) {
			t.Errorf("%s: ReadCheckpoint error %v, want ErrCheckpoint containing %q", f.name, err, f.contains)
		}
		flow, x, s := resumeCase(t, 60, 1)
		s.ResumeFrom = p
		before := clone(flow.Params().Data)
		if res, err := Fit(context.Background(), flow, x, nil, s); !errors.Is(err, ErrCheckpoint) || res != nil || !check.SameBits(before, flow.Params().Data) {
			t.Errorf("%s: Fit error %v, result %v", f.name, err, res)
		}
	}

	// Checkpoints that are valid but belong to another run.
	other := func(name, contains string, edit func(flow **odeflow.Flow, x **mat.Dense, s *Settings)) {
		flow, x, s := resumeCase(t, 60, 1)
		edit(&flow, &x, s)
		s.ResumeFrom = path
		if _, err := Fit(context.Background(), flow, x, nil, s); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), contains) {
			t.Errorf("%s: error %v, want ErrCheckpoint containing %q", name, err, contains)
		}
	}
	other("other data", "other training data", func(_ **odeflow.Flow, x **mat.Dense, _ *Settings) {
		y := mat.DenseCopyOf(*x)
		y.Set(5, 0, y.At(5, 0)+1e-9)
		*x = y
	})
	other("batch size", "batch size", func(_ **odeflow.Flow, _ **mat.Dense, s *Settings) { s.BatchSize = 32 })
	other("optimizer", "optimizer", func(_ **odeflow.Flow, _ **mat.Dense, s *Settings) { s.Method = Adam })
	other("split", "split", func(_ **odeflow.Flow, _ **mat.Dense, s *Settings) { s.ValFraction = 0.1 })
	other("parameters", "parameters", func(flow **odeflow.Flow, x **mat.Dense, _ *Settings) { *flow = gmmFlow(4, *x, rand.NewPCG(1, 1)) })

	// A reverse-KL checkpoint given to Fit.
	klPath := dir + "/kl.ckpt"
	kflow, _ := normalFlow([]float64{0, 0}, []float64{0, 0})
	if _, err := FitKL(context.Background(), kflow, gaussTarget([]float64{1, 1}, []float64{1, 1}, 0), &Settings{Iterations: 3, Checkpoint: klPath, EvalSamples: 16}); err != nil {
		t.Fatal(err)
	}
	flow, x, s = resumeCase(t, 60, 1)
	s.ResumeFrom = klPath
	if _, err := Fit(context.Background(), flow, x, nil, s); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), `"kl" run`) {
		t.Errorf("KL checkpoint for ML: error %v", err)
	}
}

// Checkpoints are written atomically: no temporary file is left behind.
func TestCheckpointAtomic(t *testing.T) {
	dir := t.TempDir()
	flow, x, s := resumeCase(t, 40, 1)
	s.Checkpoint, s.CheckpointEvery = dir+"/a.ckpt", 10
	if _, err := Fit(context.Background(), flow, x, nil, s); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "a.ckpt" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only a.ckpt", names)
	}
	// An unwritable location is an error that stops the run.
	flow, x, s = resumeCase(t, 40, 1)
	s.Checkpoint, s.CheckpointEvery = dir+"/no/such/dir/a.ckpt", 10
	res, err := Fit(context.Background(), flow, x, nil, s)
	if err == nil || res.Status != Failed || res.Iterations != 10 {
		t.Errorf("unwritable checkpoint: %v, %+v", err, res)
	}
}
