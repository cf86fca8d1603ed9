package main

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/train/toy"
)

// tiny is a configuration that trains in a few seconds: a narrower field,
// a larger learning rate and a small held-out set.
func tiny(seed uint64) config {
	return config{
		Data: toy.Gaussians8, Iters: 120, Batch: 100, LR: 1e-2, WD: 1e-5, Workers: 1,
		Gradient: "checkpointed", Hidden: "32-32", T: 0.5, Tol: 1e-5, EvalEvery: 60,
		NTest: 1000, Target: 2.90, Seed: seed,
	}
}

// TestShortRunLearns trains the tiny configuration and checks that the
// held-out NLL falls from the untrained model's to below that of the best
// single Gaussian, and stays above the true density's (up to Monte Carlo
// error).
func TestShortRunLearns(t *testing.T) {
	c := tiny(testrand.Seed(t))
	m, err := newModel(c, c.Tol, 0)
	if err != nil {
		t.Fatal(err)
	}
	test, err := toy.Generate(c.Data, c.NTest, rand.NewPCG(c.Seed, 3)) // run's held-out points
	if err != nil {
		t.Fatal(err)
	}
	before, err := meanNLL(m.flow, test)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rows, err := run(c, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if len(rows) != 2 || rows[0].Iter != 60 || rows[1].Iter != 120 {
		t.Fatalf("rows %+v: want evaluations at iterations 60 and 120", rows)
	}
	if got := strings.Count(out.String(), "\n| "); got != 3 { // header and two rows
		t.Errorf("table has %d lines starting with '| ', want 3:\n%s", got, out.String())
	}
	// The best single Gaussian for 8gaussians has covariance E[xxᵀ] =
	// (4² + 0.5²)/(2·1.414²) I, so its NLL is log 2π + 1 + log of that.
	v := (16 + 0.25) / (2 * 1.414 * 1.414)
	gauss := math.Log(2*math.Pi) + 1 + math.Log(v)
	last := rows[len(rows)-1]
	if !(last.NLL < gauss) || !(last.NLL < before-1) {
		t.Errorf("held-out NLL %.4f after %d iterations (untrained %.4f), want below the best Gaussian's %.4f and 1 nat below the start",
			last.NLL, last.Iter, before, gauss)
	}
	if last.NLL < last.TrueNLLTest-0.1 {
		t.Errorf("held-out NLL %.4f beats the true density's %.4f", last.NLL, last.TrueNLLTest)
	}
	for i, r := range rows {
		if !(r.NFEF > 0 && r.NFEB > 0 && r.Wall > 0 && r.T > 0) {
			t.Errorf("row %d: %+v: want positive NFE, time and T", i, r)
		}
	}
}

// TestTrueNLL checks the true densities against the data sets' entropies
// (package toy's doc): on 20 000 points the Monte Carlo error is about
// 0.01 nats.
func TestTrueNLL(t *testing.T) {
	for _, tc := range []struct {
		data  string
		sigma float64
	}{{toy.Gaussians8, 0.5 / 1.414}, {toy.RingGaussians, 0.25}} {
		x, err := toy.Generate(tc.data, 20000, testrand.NewSource(t, 11))
		if err != nil {
			t.Fatal(err)
		}
		want := math.Log(8) + 1 + math.Log(2*math.Pi) + 2*math.Log(tc.sigma)
		if got := trueNLL(tc.data, x); math.Abs(got-want) > 0.04 {
			t.Errorf("%s: true NLL %.4f, want %.4f ± 0.04", tc.data, got, want)
		}
	}
	x, _ := toy.Generate(toy.Moons, 10, testrand.NewSource(t, 12))
	if got := trueNLL(toy.Moons, x); !math.IsNaN(got) {
		t.Errorf("moons: true NLL %v, want NaN (unknown)", got)
	}
}

// TestBadConfig checks that bad settings are errors.
func TestBadConfig(t *testing.T) {
	for _, mod := range []func(*config){
		func(c *config) { c.Gradient = "nope" },
		func(c *config) { c.Data = "nope" },
		func(c *config) { c.Iters = 0 },
		func(c *config) { c.Hidden = "x" },
	} {
		c := tiny(1)
		mod(&c)
		if _, err := run(c, new(bytes.Buffer)); err == nil {
			t.Errorf("config %+v: no error", c)
		}
	}
}

// TestDeterministic checks that the same seed gives the same NLL, T and NFE
// bit for bit, and, with the field's rows split across two workers, the
// same NFE and the NLL to rounding (the field's kernels may order the
// floating-point operations of a row differently for different row counts).
func TestDeterministic(t *testing.T) {
	c := tiny(testrand.Seed(t))
	c.Iters, c.EvalEvery, c.NTest = 20, 10, 200
	var rows [3][]row
	for k, workers := range []int{1, 1, 2} {
		c.Workers = workers
		var err error
		if rows[k], err = run(c, new(bytes.Buffer)); err != nil {
			t.Fatal(err)
		}
	}
	a, a2, b := rows[0], rows[1], rows[2]
	for i := range a {
		if a[i].NLL != a2[i].NLL || a[i].T != a2[i].T || a[i].NFEF != a2[i].NFEF || a[i].NFEB != a2[i].NFEB {
			t.Errorf("iteration %d: first run %+v, second %+v", a[i].Iter, a[i], a2[i])
		}
		if math.Abs(a[i].NLL-b[i].NLL) > 1e-12 || math.Abs(a[i].T-b[i].T) > 1e-12 || a[i].NFEF != b[i].NFEF || a[i].NFEB != b[i].NFEB {
			t.Errorf("iteration %d: 1 worker %+v, 2 workers %+v", a[i].Iter, a[i], b[i])
		}
	}
}
