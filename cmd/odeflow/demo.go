package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/odeflow/odeflow/model"
	"github.com/odeflow/odeflow/modelfile"
	"github.com/odeflow/odeflow/npy"
	"github.com/odeflow/odeflow/train"
	"github.com/odeflow/odeflow/train/toy"
)

// Demo defaults: a small FFJORD model that trains in well under two
// minutes on two cores (README.md gives the measured times).
const (
	demoHidden = "32-32-32"
	demoIters  = 1000
	demoBatch  = 256
	demoLR     = 5e-3
	demoTrain  = 5000
	demoTest   = 2000
)

// entropies are the true entropies of the toy sets that have a closed
// form, in nats: the limit of a held-out NLL.
var entropies = map[string]float64{toy.Gaussians8: 2.838, toy.RingGaussians: 2.145, toy.Checkerboard: 3.466}

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlags("demo", `
Usage: odeflow demo [--dir DIR] [--name NAME] [--iterations N] [--seed S]

Trains a small continuous normalizing flow (FFJORD: one CNF block on a
32-32-32 concatsquash tanh field, exact divergence, dopri5) on a built-in
2-D toy set and writes into DIR (created if needed):

	data.npy      the 5000 training points
	test.npy      2000 held-out points
	model.odfl    the trained model (see 'odeflow info')
	samples.npy   5000 samples of the model
	demo.png      data, samples, density and trajectories

It prints where they are and the held-out NLL next to the data's entropy
(the best possible NLL). It takes well under two minutes on two cores.
Existing files of those names in DIR are replaced.

Example:
	odeflow demo --dir /tmp/odeflow-demo`)
	dir := fs.String("dir", "odeflow-demo", "output directory")
	name := fs.String("name", toy.Gaussians8, "toy data set (odeflow data --list)")
	iters := fs.Int("iterations", demoIters, "training iterations")
	seed := fs.Uint64("seed", 1, "random seed")
	verbose := fs.Bool("verbose", false, "show progress even when stderr is not a terminal")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if *iters < 1 {
		return usagef("--iterations must be at least 1, got %d", *iters)
	}
	known := false
	for _, s := range toy.Names() {
		known = known || s == *name
	}
	if !known {
		return usagef("unknown data set %q (want one of %s)", *name, strings.Join(toy.Names(), ", "))
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	start := time.Now()
	src := rand.NewPCG(*seed, saltData)
	x, err := toy.Generate(*name, demoTrain, src)
	if err != nil {
		return err
	}
	xt, err := toy.Generate(*name, demoTest, src)
	if err != nil {
		return err
	}
	m, err := model.New(model.Spec{Kind: model.CNF, Dim: 2, Hidden: demoHidden, Seed: *seed})
	if err != nil {
		return err
	}
	out := func(f string) string { return filepath.Join(*dir, f) }
	if err := npy.WriteFile(out("data.npy"), x); err != nil {
		return err
	}
	if err := npy.WriteFile(out("test.npy"), xt); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "training a CNF (FFJORD, %s field) on %d points of %s for %d iterations...\n", demoHidden, demoTrain, *name, *iters)
	s := &train.Settings{
		LR: demoLR, Warmup: 50, BatchSize: demoBatch, Iterations: *iters,
		ValX: xt, EvalEvery: max(*iters/4, 1), Src: rand.NewPCG(*seed, saltTrain), NFE: m,
	}
	for _, st := range m.State() {
		s.State = append(s.State, st)
	}
	var prog *progress
	if e.tty || *verbose {
		prog = &progress{w: e.stderr, tty: e.tty}
		s.Progress = prog.report
	}
	res, err := train.Fit(ctx, m.Flow, x, nil, s)
	if prog != nil {
		prog.done()
	}
	canceled := err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err())
	if err != nil && !canceled {
		return err
	}
	nll := res.BestLoss
	m.Meta = modelfile.Meta{
		Created: time.Now().UTC(), Version: version, DataShape: []int{demoTrain, 2},
		Iterations: res.Iterations, Seed: *seed, ValidNLL: &nll,
		Extra: map[string]string{"data": *name, "status": res.Status.String(), "elapsed": res.Elapsed.Round(time.Millisecond).String()},
	}
	if err := model.Save(out("model.odfl"), m); err != nil {
		return err
	}
	if canceled {
		return &interrupted{fmt.Sprintf("interrupted after iteration %d; wrote %s", res.Iterations, out("model.odfl"))}
	}
	trainTime := time.Since(start)
	smp, err := sample(m, demoTrain, nil, 1, rand.NewPCG(*seed, saltSample))
	if err != nil {
		return err
	}
	if err := npy.WriteFile(out("samples.npy"), smp); err != nil {
		return err
	}
	if err := drawModel(out("demo.png"), m, x, nil, plotOptions{n: 2000, grid: 100, paths: 60, size: 360, seed: *seed}); err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "trained in %s (%d iterations, %d field evaluations forward, %d backward)\n",
		trainTime.Round(100*time.Millisecond), res.Iterations, res.NFEForward, res.NFEBackward)
	if h, ok := entropies[*name]; ok {
		fmt.Fprintf(w, "held-out NLL: %.3f nats (the data's entropy, the best possible, is %.3f)\n", nll, h)
	} else {
		fmt.Fprintf(w, "held-out NLL: %.3f nats\n", nll)
	}
	fmt.Fprintf(w, "wrote, in %s:\n", *dir)
	for _, f := range []string{"data.npy", "test.npy", "model.odfl", "samples.npy", "demo.png"} {
		fmt.Fprintf(w, "  %s\n", out(f))
	}
	fmt.Fprintf(w, "total time %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}
