package main

import (
	"bytes"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odeflow/odeflow/npy"
)

// TestTrueNLL checks the analytic limits against the closed forms of the
// package doc: the true density's NLL on the test points is the data's
// entropy up to Monte Carlo error (its standard deviation here is about
// 0.01 nats for 10 000 points).
func TestTrueNLL(t *testing.T) {
	gauss := 1 + math.Log(2*math.Pi) + 2*math.Log(ringStd) // one mode: ≈ 0.0653
	for _, tc := range []struct {
		cond string
		want float64
		tol  float64
	}{
		{"none", math.Log(8) + gauss, 0.04},
		{"mode", gauss, 0.04},
		// At r near 1 neighbouring modes overlap a little, so the
		// conditional entropy is slightly below log 8 + gauss.
		{"radius", math.Log(8) + gauss - 0.02, 0.05},
	} {
		p, err := newProblem(tc.cond, 10, 10000, 7)
		if err != nil {
			t.Fatal(err)
		}
		got := p.trueNLL(p.testX, p.testC)
		if math.Abs(got-tc.want) > tc.tol {
			t.Errorf("%s: true NLL %.4f, want %.4f ± %.2f", tc.cond, got, tc.want, tc.tol)
		}
	}
}

// TestShortRun trains briefly and checks that the example still learns:
// a reduced neural spline flow fitted for a few epochs must beat a held-out
// NLL of 2.6 nats (an untrained flow scores about 5.9; a single Gaussian
// fitted to the ring, 4.6), must not beat the true density by more than
// the Monte Carlo error, and its samples must mostly fall into the modes.
func TestShortRun(t *testing.T) {
	c := config{
		Model: "nsf", Cond: "none", Layers: 4, Hidden: "32-32", Epochs: 40, Batch: 128,
		LR: 3e-3, Warmup: 20, Clip: 10, NTrain: 2000, NTest: 2000, NSample: 1000, Every: 20, Seed: 3,
	}
	var out bytes.Buffer
	res, err := run(c, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if !(res.TestNLL < 2.6) {
		t.Errorf("held-out NLL %.4f after %d epochs, want < 2.6", res.TestNLL, c.Epochs)
	}
	if res.TestNLL < res.TrueNLL-0.05 {
		t.Errorf("held-out NLL %.4f beats the true density's %.4f", res.TestNLL, res.TrueNLL)
	}
	if len(res.Curve) != 2 || res.Curve[1].Test != res.TestNLL {
		t.Errorf("curve %+v: want 2 points ending at the final test NLL %.4f", res.Curve, res.TestNLL)
	}
	if len(res.Samples) != 1 || !(res.Samples[0].InMode > 0.7) {
		t.Errorf("samples %+v: want more than 70%% within 3σ of a mode", res.Samples)
	}
}

// TestNoiseAndDefaults checks that the tuned defaults regularize NSF and
// RealNVP with input noise, and that -noise reaches the training: a short
// noisy run trains (below 2.8) and differs from the same run without noise.
func TestNoiseAndDefaults(t *testing.T) {
	for _, m := range []string{"nsf", "realnvp"} {
		if d := defaults(config{Model: m, Cond: "none", WD: -1, Noise: -1, NoiseEnd: -1}); !(d.Noise > d.NoiseEnd && d.NoiseEnd > 0) {
			t.Errorf("%s: tuned noise %g → %g", m, d.Noise, d.NoiseEnd)
		}
	}
	if d := defaults(config{Model: "nsf", Cond: "mode", WD: -1, Noise: -1, NoiseEnd: -1}); d.Noise != 0 {
		t.Errorf("conditional on the mode: tuned noise %g, want none", d.Noise)
	}
	base := config{
		Model: "nsf", Cond: "none", Layers: 4, Hidden: "32-32", Epochs: 40, Batch: 128,
		LR: 3e-3, Warmup: 20, Clip: 10, NTrain: 2000, NTest: 2000, NSample: 500, Seed: 4,
	}
	noisy := base
	noisy.Noise, noisy.NoiseEnd = 0.15, 0.05
	var out bytes.Buffer
	r0, err := run(base, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := run(noisy, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "input noise: std 0.15 cosine-annealed to 0.05") {
		t.Errorf("the noisy run does not report its noise:\n%s", out.String())
	}
	if !(r1.TestNLL < 2.8) || r1.TestNLL == r0.TestNLL {
		t.Errorf("held-out NLL with noise %.4f, without %.4f: want < 2.8 and different", r1.TestNLL, r0.TestNLL)
	}
}

// TestMixtureBase checks -base-components: the model gets the mixture's
// 5K extra parameters and says so, and a short run trains.
func TestMixtureBase(t *testing.T) {
	c := config{
		Model: "realnvp", Cond: "none", Layers: 4, Hidden: "32-32", Epochs: 60, Batch: 128,
		LR: 3e-3, Warmup: 20, Clip: 10, NTrain: 2000, NTest: 2000, NSample: 500, Seed: 5,
	}
	r0, err := run(c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c.Base = 8
	var out bytes.Buffer
	r1, err := run(c, &out)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Params != r0.Params+8*5 {
		t.Errorf("%d parameters with an 8-component base, %d without: want 40 more", r1.Params, r0.Params)
	}
	if !strings.Contains(out.String(), "base: a trainable mixture of 8 Gaussians") {
		t.Errorf("the run does not report its base:\n%s", out.String())
	}
	t.Logf("held-out NLL %.4f with the mixture base, %.4f without", r1.TestNLL, r0.TestNLL)
	if !(r1.TestNLL < 2.8) {
		t.Errorf("held-out NLL %.4f with a mixture base after %d epochs, want < 2.8", r1.TestNLL, c.Epochs)
	}
}

// TestConditionalShortRuns checks that both conditional problems train and
// that -out writes the samples.
func TestConditionalShortRuns(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		cond  string
		below float64 // held-out NLL bound after the short run
		files []string
	}{
		// An untrained flow scores ≈ 5.9 on both. A model ignoring the
		// mode cannot go below the ring's entropy 2.145; one ignoring the
		// radius cannot go below the entropy of the data's marginal,
		// ≈ log 8 + log 3 + ½ log(2πe·0.25²) ≈ 3.2 (eight spokes of
		// length 3 and width 0.25).
		{"mode", 1.2, []string{"samples_mode.npy", "samples_mode_ctx.npy", "test.npy"}},
		{"radius", 2.9, []string{"samples_r1.npy", "samples_r2.npy", "samples_r3.npy", "samples_r4.npy", "test.npy"}},
	} {
		out := filepath.Join(dir, tc.cond)
		c := config{
			Model: "nsf", Cond: tc.cond, Layers: 4, Hidden: "32-32", Epochs: 25, Batch: 128,
			LR: 3e-3, Warmup: 20, Clip: 10, NTrain: 2000, NTest: 2000, NSample: 200, Seed: 5, Out: out,
		}
		res, err := run(c, new(bytes.Buffer))
		if err != nil {
			t.Fatalf("%s: %v", tc.cond, err)
		}
		if !(res.TestNLL < tc.below) || res.TestNLL < res.TrueNLL-0.05 {
			t.Errorf("%s: held-out NLL %.4f, want in [%.4f, %.4f)", tc.cond, res.TestNLL, res.TrueNLL-0.05, tc.below)
		}
		for _, f := range tc.files {
			m, _, err := npy.ReadFile(filepath.Join(out, f), nil)
			if err != nil {
				t.Errorf("%s: %v", tc.cond, err)
				continue
			}
			if r, _ := m.Dims(); f != "test.npy" && r != c.NSample {
				t.Errorf("%s: %s has %d rows, want %d", tc.cond, f, r, c.NSample)
			}
		}
	}
}

// TestNoOutput checks that a run without -out writes nothing and that the
// same seed gives the same numbers.
func TestNoOutput(t *testing.T) {
	dir := t.TempDir()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.Chdir(wd); err != nil {
			t.Fatal(err)
		}
	}()
	c := config{Model: "realnvp", Cond: "none", Layers: 2, Hidden: "8", Epochs: 1, NTrain: 256, NTest: 100, NSample: 10, Seed: 1}
	var out1, out2 bytes.Buffer
	res1, err := run(c, &out1)
	if err != nil {
		t.Fatal(err)
	}
	res2, err := run(c, &out2)
	if err != nil {
		t.Fatal(err)
	}
	if res1.TestNLL != res2.TestNLL || res1.TrainNLL != res2.TrainNLL {
		t.Errorf("same seed, different NLLs: %v, %v then %v, %v", res1.TestNLL, res1.TrainNLL, res2.TestNLL, res2.TrainNLL)
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Errorf("a run without -out wrote %v (err %v)", ents, err)
	}
}
