package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/npy"
	"github.com/odeflow/odeflow/train/toy"
)

// Salts of the PCG streams derived from --seed.
const (
	saltData   = 0x64617461 // "data"
	saltSample = 0x73616d70 // "samp"
	saltTrain  = 0x74726169 // "trai"
)

func runData(_ context.Context, e *env, args []string) error {
	fs := newFlags("data", `
Usage: odeflow data --name NAME [--n N] [--seed S] --out X.npy
       odeflow data --list

Writes N i.i.d. draws of a built-in 2-D toy data set (FFJORD's eight sets
and a ring of Gaussians) as an N×2 float64 .npy file. The same seed gives
the same file.

Example:
	odeflow data --name 8gaussians --n 10000 --seed 1 --out x.npy`)
	name := fs.String("name", "", "data set (see --list)")
	n := fs.Int("n", 10000, "number of rows")
	seed := fs.Uint64("seed", 1, "random seed")
	out := fs.String("out", "", "output .npy file")
	list := fs.Bool("list", false, "list the data sets and exit")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if *list {
		for _, s := range toy.Names() {
			fmt.Fprintln(e.stdout, s)
		}
		return nil
	}
	if err := required(fs, "name", "out"); err != nil {
		return err
	}
	if *n < 1 {
		return usagef("--n must be at least 1, got %d", *n)
	}
	known := false
	for _, s := range toy.Names() {
		known = known || s == *name
	}
	if !known {
		return usagef("unknown data set %q (want one of %s)", *name, strings.Join(toy.Names(), ", "))
	}
	if err := checkOutput("out", *out); err != nil {
		return err
	}
	x, err := toy.Generate(*name, *n, rand.NewPCG(*seed, saltData))
	if err != nil {
		return err
	}
	return npy.WriteFile(*out, x)
}

func runLogProb(_ context.Context, e *env, args []string) error {
	fs := newFlags("logprob", `
Usage: odeflow logprob --model MODEL --in X.npy [--context C.npy] --out LP.npy

Writes the log-density log p(x_i | c_i) of every row of X (in nats) as a
1-D float64 array of length n. X must have the model's number of columns;
a conditional model needs one context row per row of X. Points outside
the model's support get -inf. A CNF with a Hutchinson divergence gives a
stochastic (unbiased) estimate.

Example:
	odeflow logprob --model m.odfl --in x.npy --out lp.npy`)
	mp := fs.String("model", "", "model file")
	in := fs.String("in", "", "input .npy file, n×d")
	cp := fs.String("context", "", "context .npy file, n×m (conditional models)")
	out := fs.String("out", "", "output .npy file (1-D, length n)")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := required(fs, "model", "in", "out"); err != nil {
		return err
	}
	if err := checkOutput("out", *out, *mp, *in, *cp); err != nil {
		return err
	}
	m, x, c, err := loadWithInput(*mp, *in, *cp)
	if err != nil {
		return err
	}
	lp, err := logProb(m, x, c)
	if err != nil {
		return err
	}
	return npy.WriteVectorFile(*out, lp)
}

func runSample(_ context.Context, e *env, args []string) error {
	fs := newFlags("sample", `
Usage: odeflow sample --model MODEL [--n N] [--context C.npy] [--temperature T] [--seed S] --out S.npy

Draws samples x = f⁻¹(z), z ~ N(0, T² I), and writes them as an n×d
float64 array. Without a context, N samples (default 1000). With a
context file of m rows, N samples per context row (default 1): the output
has m·N rows, the N samples of context row i at rows i·N to i·N+N−1.
A temperature T < 1 concentrates the samples near the modes. The same
seed gives the same samples.

Example:
	odeflow sample --model m.odfl --n 5000 --seed 2 --out s.npy`)
	mp := fs.String("model", "", "model file")
	n := fs.Int("n", 0, "samples (per context row with --context); default 1000, or 1 per context row")
	cp := fs.String("context", "", "context .npy file, m×k (conditional models)")
	temp := fs.Float64("temperature", 1, "sampling temperature T > 0")
	seed := fs.Uint64("seed", 1, "random seed")
	out := fs.String("out", "", "output .npy file")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := required(fs, "model", "out"); err != nil {
		return err
	}
	if *n < 0 {
		return usagef("--n must be positive, got %d", *n)
	}
	if !(*temp > 0) || math.IsInf(*temp, 0) {
		return usagef("--temperature must be positive and finite, got %v", *temp)
	}
	if err := checkOutput("out", *out, *mp, *cp); err != nil {
		return err
	}
	m, err := loadModel(*mp)
	if err != nil {
		return err
	}
	c, err := readContext(m, *cp, 0, "")
	if err != nil {
		return err
	}
	total := *n
	if c == nil && total == 0 {
		total = 1000
	}
	if c != nil {
		per := max(*n, 1)
		rows, cols := c.Dims()
		rep := mat.NewDense(rows*per, cols, nil)
		for i := range rows {
			for k := range per {
				rep.SetRow(i*per+k, c.RawRowView(i))
			}
		}
		c, total = rep, rows*per
	}
	s, err := sample(m, total, c, *temp, rand.NewPCG(*seed, saltSample))
	if err != nil {
		return err
	}
	return npy.WriteFile(*out, s)
}

func runEncode(_ context.Context, e *env, args []string) error {
	return runTransform(e, args, "encode", false)
}

func runDecode(_ context.Context, e *env, args []string) error {
	return runTransform(e, args, "decode", true)
}

func runTransform(e *env, args []string, name string, inverse bool) error {
	what := "data points to the base space: z = f(x), the forward transform"
	ex := "odeflow encode --model m.odfl --in x.npy --out z.npy"
	if inverse {
		what = "base points to the data space: x = f⁻¹(z), the inverse transform"
		ex = "odeflow decode --model m.odfl --in z.npy --out x.npy"
	}
	fs := newFlags(name, fmt.Sprintf(`
Usage: odeflow %s --model MODEL --in IN.npy [--context C.npy] --out OUT.npy [--states S.npy]

Maps %s,
row by row, and writes the n×d result. Encoding data of the training
distribution gives points that look standard normal; decoding standard
normal points gives samples. A conditional model needs one context row
per row of IN.

--states also writes the points layer by layer, in the order this command
applies the layers: an (L+1)·n×d array whose rows k·n … k·n+n−1 hold the
n points after k of the model's L layers (k = 0: IN itself, k = L: OUT).
A CNF block counts as one layer.

Example:
	%s`, name, what, ex))
	mp := fs.String("model", "", "model file")
	in := fs.String("in", "", "input .npy file, n×d")
	cp := fs.String("context", "", "context .npy file, n×m (conditional models)")
	out := fs.String("out", "", "output .npy file, n×d")
	sp := fs.String("states", "", "optional .npy file for the states layer by layer, (L+1)·n×d")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := required(fs, "model", "in", "out"); err != nil {
		return err
	}
	if err := checkOutput("out", *out, *mp, *in, *cp); err != nil {
		return err
	}
	if *sp != "" {
		if err := checkOutput("states", *sp, *mp, *in, *cp, *out); err != nil {
			return err
		}
	}
	m, x, c, err := loadWithInput(*mp, *in, *cp)
	if err != nil {
		return err
	}
	y, err := transform(m, x, c, inverse)
	if err != nil {
		return err
	}
	if *sp != "" {
		st, err := transformStates(m, x, c, inverse)
		if err != nil {
			return err
		}
		if err := npy.WriteFile(*sp, st); err != nil {
			return err
		}
	}
	return npy.WriteFile(*out, y)
}

func runInfo(_ context.Context, e *env, args []string) error {
	fs := newFlags("info", `
Usage: odeflow info --model MODEL [--json]

Describes a model file: its architecture (every hyper-parameter), the
parameter count, the training metadata (data shape, iterations, seed,
time) and the training and held-out NLL when known. --json prints the
same as one JSON object.

Example:
	odeflow info --model m.odfl`)
	mp := fs.String("model", "", "model file")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := required(fs, "model"); err != nil {
		return err
	}
	m, err := loadModel(*mp)
	if err != nil {
		return err
	}
	total, trainable := m.NumParams()
	meta := m.Meta
	resumable := m.Section(checkpointSection) != nil
	if *asJSON {
		type block struct {
			T float64 `json:"T"`
		}
		var blocks []block
		for _, b := range m.Blocks() {
			blocks = append(blocks, block{b.T()})
		}
		v := map[string]any{
			"spec": m.Spec, "params": total, "trainable_params": trainable,
			"created": meta.Created, "odeflow_version": meta.Version, "data_shape": meta.DataShape,
			"iterations": meta.Iterations, "seed": meta.Seed, "extra": meta.Extra,
			"train_nll": jsonFloat(meta.TrainNLL), "valid_nll": jsonFloat(meta.ValidNLL),
			"resumable": resumable, "blocks": blocks,
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(b))
		return nil
	}
	w := e.stdout
	fmt.Fprintf(w, "model        %s\n", *mp)
	fmt.Fprint(w, m.Describe())
	if !meta.Created.IsZero() {
		fmt.Fprintf(w, "created      %s\n", meta.Created.Format("2006-01-02 15:04:05 MST"))
	}
	if meta.Version != "" {
		fmt.Fprintf(w, "odeflow      %s\n", meta.Version)
	}
	if len(meta.DataShape) > 0 {
		fmt.Fprintf(w, "data shape   %v\n", meta.DataShape)
	}
	if meta.Iterations > 0 {
		fmt.Fprintf(w, "iterations   %d\n", meta.Iterations)
	}
	if meta.TrainNLL != nil {
		fmt.Fprintf(w, "train NLL    %.4f nats\n", *meta.TrainNLL)
	}
	if meta.ValidNLL != nil {
		fmt.Fprintf(w, "held-out NLL %.4f nats\n", *meta.ValidNLL)
	} else {
		fmt.Fprintf(w, "held-out NLL unknown (trained without validation data)\n")
	}
	for _, k := range sortedKeys(meta.Extra) {
		fmt.Fprintf(w, "%-12s %s\n", k, meta.Extra[k])
	}
	if resumable {
		fmt.Fprintf(w, "resumable    yes (odeflow train --resume %s)\n", *mp)
	}
	return nil
}

// jsonFloat returns *p, or nil, as a JSON-friendly value (NaN and ±Inf as
// strings).
func jsonFloat(p *float64) any {
	if p == nil {
		return nil
	}
	if math.IsNaN(*p) || math.IsInf(*p, 0) {
		return fmt.Sprint(*p)
	}
	return *p
}
