package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/model"
	"github.com/odeflow/odeflow/modelfile"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/train"
)

// Sections the command adds to model files.
const (
	checkpointSection  = "train/checkpoint" // bytes: a train package checkpoint, for --resume
	trainConfigSection = "train/config"     // json: the trainConfig of the run
)

// trainConfig is everything that configures a training run: the model's
// Spec (kind, architecture, seed) and the training settings. It is the
// format of --config files, with the json names below and those of
// model.Spec.
type trainConfig struct {
	model.Spec
	Iterations int     `json:"iterations,omitempty"`
	Epochs     int     `json:"epochs,omitempty"`
	BatchSize  int     `json:"batch_size,omitempty"`
	LR         float64 `json:"lr,omitempty"`
	Warmup     int     `json:"warmup,omitempty"`
	ClipNorm   float64 `json:"clip_norm,omitempty"`
	InputNoise float64 `json:"input_noise,omitempty"`
	Patience   int     `json:"patience,omitempty"`
	EvalEvery  int     `json:"eval_every,omitempty"`
	// ValidFrac is the share of the rows held out for validation when no
	// validation file is given; nil means the default 0.1 and 0 none.
	ValidFrac *float64 `json:"valid_frac,omitempty"`
}

// Training defaults.
const (
	defaultBatch     = 256
	defaultLR        = 1e-3
	defaultValidFrac = 0.1
)

// specFlags lists the flags that set model.Spec fields, by json name.
var specFlags = []struct{ json, help string }{
	{"hidden", "hidden layer widths, e.g. 64-64-64 (cnf field; conditioners of nice, realnvp, maf, iaf, nsf, glow)"},
	{"base_components", "a trainable mixture of this many Gaussians as the base instead of the standard normal (0: standard normal)"},
	{"layers", "layers: coupling/autoregressive layers, glow steps, planar layers, stacked bnaf networks"},
	{"activation", "activation: tanh, relu, softplus, elu, ... (bnaf: leakytanh or tanh)"},
	{"log_scale_bound", "bound of the affine log-scales (realnvp, maf, iaf, glow)"},
	{"bins", "spline bins (nsf)"},
	{"bound", "spline interval [-B, B] (nsf)"},
	{"mask", "coupling masks: alternating, half, random (nice, realnvp, nsf)"},
	{"permute", "permutation between layers: default, none, reverse, random"},
	{"autoregressive", "autoregressive instead of coupling layers (nsf)"},
	{"depth", "hidden block layers per network (bnaf)"},
	{"hidden_factor", "hidden units per dimension (bnaf)"},
	{"residual", "residual connection: none, gated (bnaf)"},
	{"blocks", "CNF blocks (cnf)"},
	{"actnorm", "an ActNorm layer before every CNF block (cnf)"},
	{"field_kind", "field layer kind: concatsquash, squash, concat, ignore, blend (cnf)"},
	{"time", "initial integration time T (cnf)"},
	{"fixed_t", "keep T fixed (cnf)"},
	{"divergence", "divergence estimator: auto, exact, hutchinson, hutch++ (cnf)"},
	{"probe", "probe distribution: rademacher, gaussian (cnf)"},
	{"probes", "probes per row (cnf, hutchinson)"},
	{"solver", "Runge-Kutta method: dopri5, tsit5, bosh3, dop853, ... (cnf)"},
	{"rtol", "relative tolerance of training solves (cnf)"},
	{"atol", "absolute tolerance of training solves (cnf)"},
	{"eval_rtol", "relative tolerance of evaluation solves (cnf)"},
	{"eval_atol", "absolute tolerance of evaluation solves (cnf)"},
	{"step", "fixed step size instead of adaptive steps (cnf)"},
	{"max_steps", "most steps of one solve (cnf)"},
	{"gradient", "gradient method: checkpointed, backsolve, direct (cnf)"},
	{"seminorm", "seminorm for the backsolve adjoint (cnf)"},
	{"kinetic", "kinetic-energy regularizer weight (cnf)"},
	{"frobenius", "Jacobian Frobenius-norm regularizer weight (cnf)"},
	{"l1", "l1int regularizer weight (cnf)"},
	{"l2", "l2int regularizer weight (cnf)"},
}

// trainFlags lists the flags that set trainConfig's own fields.
var trainFlags = []struct{ json, help string }{
	{"iterations", "training iterations (total, counting those before a resume; default: 100 epochs)"},
	{"epochs", "training epochs (bound on passes over the data)"},
	{"batch_size", "minibatch size (default 256)"},
	{"lr", "learning rate of Adam (default 0.001)"},
	{"warmup", "linear learning-rate warm-up iterations"},
	{"clip_norm", "clip the gradient's norm to this value (0: no clipping)"},
	{"input_noise", "standard deviation of Gaussian noise added to every training row, fresh each iteration: noise regularization for small data sets (0: none)"},
	{"patience", "stop after this many evaluations without improvement (0: never)"},
	{"eval_every", "iterations between validation evaluations (default: once per epoch)"},
}

func flagName(jsonName string) string { return strings.ReplaceAll(jsonName, "_", "-") }

// field returns the field of the trainConfig v (a struct value) with the
// given json name, searching the embedded Spec too.
func field(v reflect.Value, name string) reflect.Value {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			if r := field(v.Field(i), name); r.IsValid() {
				return r
			}
			continue
		}
		if n, _, _ := strings.Cut(f.Tag.Get("json"), ","); n == name {
			return v.Field(i)
		}
	}
	return reflect.Value{}
}

// bindFlag defines flag --name bound to the field of c with json name.
func bindFlag(fs *flags, c *trainConfig, jsonName, help string) {
	f := field(reflect.ValueOf(c).Elem(), jsonName)
	name := flagName(jsonName)
	switch p := f.Addr().Interface().(type) {
	case *string:
		fs.StringVar(p, name, "", help)
	case *int:
		fs.IntVar(p, name, 0, help)
	case *float64:
		fs.Float64Var(p, name, 0, help)
	case *bool:
		fs.BoolVar(p, name, false, help)
	case **float64:
		fs.Func(name, help, func(s string) error {
			var x float64
			if _, err := fmt.Sscan(s, &x); err != nil {
				return fmt.Errorf("not a number: %q", s)
			}
			*p = &x
			return nil
		})
	default:
		panic(fmt.Sprintf("odeflow: bindFlag: %s has type %T", jsonName, p))
	}
}

// parseConfig reads a --config file into c: one JSON object with the
// json names of trainConfig's fields; the fields it holds replace those of
// c, and unknown fields are an error.
func parseConfig(path string, c *trainConfig) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("--config: %s: %v", path, err)
	}
	if dec.More() {
		return fmt.Errorf("--config: %s: trailing data after the JSON object", path)
	}
	return nil
}

const trainUsage = `
Usage: odeflow train --model KIND --data X.npy --out MODEL [flags]
       odeflow train --resume MODEL --data X.npy [--out MODEL2] [flags]

Trains a flow by maximum likelihood (Adam on minibatches) on the rows of
X (n×d, float32 or float64) and writes a model file. KIND is one of
cnf, nice, realnvp, maf, iaf, nsf (--autoregressive for the autoregressive
variant), glow, bnaf, planar. With --context C.npy (n×m) the flow is
conditional: p(x | c).

Validation: --valid V.npy (with --valid-context for a conditional model)
or --valid-frac F (default 0.1; 0 turns validation off). The validation
NLL is evaluated once per epoch (or every --eval-every iterations); the
parameters with the best validation NLL are the ones written, and
--patience stops early.

Settings: defaults < --config cfg.json < command-line flags. The config
file is one JSON object with the json names of the flags (e.g.
{"kind": "cnf", "hidden": "64-64-64", "iterations": 2000, "lr": 0.001});
a flag given on the command line always wins. With --resume the
architecture and training settings of the model file come first, and
only training settings may change (e.g. a larger --iterations).

Progress (iteration, loss, validation loss, NFE, ETA) is shown on stderr
when it is a terminal, or with --verbose; the command is otherwise quiet
and prints one summary line on stdout.

Ctrl-C (SIGINT) or SIGTERM stops training cleanly: the model with the
best parameters so far is written, with a checkpoint, and the exit status
is 130. The model file keeps a training checkpoint (section
"train/checkpoint": parameters, Adam state, random state, data order) so
that 'odeflow train --resume MODEL --data X.npy' continues the run as if
it had not stopped (the same data, batch size and seed are required). A
resumed run updates MODEL in place unless --out names another file.

Examples:
	odeflow train --model cnf --data x.npy --out m.odfl --iterations 2000
	odeflow train --model realnvp --data x.npy --context c.npy --out m.odfl --hidden 128-128 --layers 6
	odeflow train --model cnf --data x.npy --out m.odfl --config cfg.json --lr 0.003
	odeflow train --resume m.odfl --data x.npy --iterations 4000`

func runTrain(ctx context.Context, e *env, args []string) error {
	fs := newFlags("train", trainUsage)
	var fl trainConfig
	kind := fs.String("model", "", "model kind: "+strings.Join(model.Kinds(), ", "))
	dataPath := fs.String("data", "", "training data .npy file, n×d")
	ctxPath := fs.String("context", "", "context .npy file, n×m (conditional flow)")
	validPath := fs.String("valid", "", "validation data .npy file")
	validCtx := fs.String("valid-context", "", "validation context .npy file")
	out := fs.String("out", "", "output model file")
	cfgPath := fs.String("config", "", "JSON config file (flags override it)")
	resume := fs.String("resume", "", "model file to continue training")
	fs.Uint64Var(&fl.Seed, "seed", 1, "random seed of the initialization and of training")
	verbose := fs.Bool("verbose", false, "show progress even when stderr is not a terminal")
	quiet := fs.Bool("quiet", false, "no progress and no summary")
	fs.Func("valid-frac", "share of the rows held out for validation when --valid is not given (default 0.1)", func(s string) error {
		var x float64
		if _, err := fmt.Sscan(s, &x); err != nil {
			return fmt.Errorf("not a number: %q", s)
		}
		fl.ValidFrac = &x
		return nil
	})
	for _, f := range specFlags {
		bindFlag(fs, &fl, f.json, f.help)
	}
	for _, f := range trainFlags {
		bindFlag(fs, &fl, f.json, f.help)
	}
	if err := parse(e, fs, args); err != nil {
		return err
	}
	set := visited(fs)
	fl.Kind = *kind

	// Settings: defaults < resumed model < --config < flags.
	cfg := trainConfig{Spec: model.Spec{Seed: 1}}
	var resumed *model.Model
	if *resume != "" {
		if set["model"] {
			return usagef("--model does not apply with --resume (the model file fixes the kind)")
		}
		m, err := model.Load(*resume)
		if err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		if m.Section(checkpointSection) == nil {
			return fmt.Errorf("--resume: %s holds no training checkpoint (it was not written by odeflow train)", *resume)
		}
		resumed = m
		if sec := m.Section(trainConfigSection); sec != nil {
			if err := json.Unmarshal(sec.Data, &cfg); err != nil {
				return fmt.Errorf("--resume: %s: section %s: %v", *resume, trainConfigSection, err)
			}
		}
		cfg.Spec = m.Spec
		if *out == "" {
			*out = *resume
		}
	}
	if *cfgPath != "" {
		if err := parseConfig(*cfgPath, &cfg); err != nil {
			return err
		}
	}
	// Flags given on the command line override, zero values included.
	for name := range set {
		j := strings.ReplaceAll(name, "-", "_")
		if j == "model" {
			j = "kind"
		}
		if f := field(reflect.ValueOf(&fl).Elem(), j); f.IsValid() {
			field(reflect.ValueOf(&cfg).Elem(), j).Set(f)
		}
	}
	if resumed != nil {
		// The architecture cannot change.
		s := cfg.Spec
		s.Dim, s.ContextDim = resumed.Spec.Dim, resumed.Spec.ContextDim
		r, err := s.Resolve()
		if err != nil || r != resumed.Spec {
			return usagef("--resume: the model's architecture and seed cannot change (only training settings such as --iterations, --lr, --patience)")
		}
	}

	if err := required(fs, "data", "out"); err != nil {
		return err
	}
	if cfg.Kind == "" {
		return usagef("--model is required (one of %s)", strings.Join(model.Kinds(), ", "))
	}
	if *validPath != "" && cfg.ValidFrac != nil && set["valid-frac"] {
		return usagef("--valid and --valid-frac exclude each other")
	}
	if *validCtx != "" && *validPath == "" {
		return usagef("--valid-context needs --valid")
	}
	for name, v := range map[string]int{"iterations": cfg.Iterations, "epochs": cfg.Epochs, "batch-size": cfg.BatchSize,
		"warmup": cfg.Warmup, "patience": cfg.Patience, "eval-every": cfg.EvalEvery} {
		if v < 0 {
			return usagef("--%s must not be negative, got %d", name, v)
		}
	}
	for name, v := range map[string]float64{"lr": cfg.LR, "clip-norm": cfg.ClipNorm, "input-noise": cfg.InputNoise} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return usagef("--%s must be finite and not negative, got %v", name, v)
		}
	}
	vf := defaultValidFrac
	if *validPath != "" {
		vf = 0
	} else if cfg.ValidFrac != nil {
		vf = *cfg.ValidFrac
	}
	if vf < 0 || vf >= 1 || math.IsNaN(vf) {
		return usagef("--valid-frac must be in [0, 1), got %v", vf)
	}
	inputs := []string{*dataPath, *ctxPath, *validPath, *validCtx, *cfgPath}
	if err := checkOutput("out", *out, inputs...); err != nil {
		return err
	}

	// Data.
	x, err := readMatrix("data", *dataPath, 0, "")
	if err != nil {
		return err
	}
	n, d := x.Dims()
	if cfg.Dim != 0 && cfg.Dim != d {
		return fmt.Errorf("--data: %s has %d columns, the model's dimension is %d", *dataPath, d, cfg.Dim)
	}
	cfg.Dim = d
	var c *mat.Dense
	if *ctxPath != "" {
		if c, err = readMatrix("context", *ctxPath, 0, ""); err != nil {
			return err
		}
		if r, _ := c.Dims(); r != n {
			return fmt.Errorf("--context: %s has %d rows but --data has %d (one context row per data row)", *ctxPath, r, n)
		}
		_, cd := c.Dims()
		if cfg.ContextDim != 0 && cfg.ContextDim != cd {
			return fmt.Errorf("--context: %s has %d columns, the model's context dimension is %d", *ctxPath, cd, cfg.ContextDim)
		}
		cfg.ContextDim = cd
	} else if cfg.ContextDim != 0 {
		return usagef("the model is conditional on a %d-column context: give --context", cfg.ContextDim)
	}
	var vx, vc *mat.Dense
	if *validPath != "" {
		if vx, err = readMatrix("valid", *validPath, d, "the training data's columns"); err != nil {
			return err
		}
		vn, _ := vx.Dims()
		switch {
		case c != nil && *validCtx == "":
			return usagef("a conditional model needs --valid-context with --valid")
		case c == nil && *validCtx != "":
			return usagef("--valid-context given without --context")
		case c != nil:
			_, cd := c.Dims()
			if vc, err = readMatrix("valid-context", *validCtx, cd, "the context's columns"); err != nil {
				return err
			}
			if r, _ := vc.Dims(); r != vn {
				return fmt.Errorf("--valid-context: %s has %d rows but --valid has %d", *validCtx, r, vn)
			}
		}
	}

	// Model.
	var m *model.Model
	if resumed != nil {
		m = resumed
	} else if m, err = model.New(cfg.Spec); err != nil {
		return usagef("%v", err)
	}
	if m.Flow.Params() == nil || m.Flow.Params().Len() == 0 {
		return fmt.Errorf("the %s model has no parameters to train", m.Spec.Kind)
	}
	if vf > 0 && int(math.Floor(vf*float64(n))) < 1 {
		if cfg.ValidFrac != nil {
			return fmt.Errorf("--valid-frac %v of %d rows leaves no validation row", vf, n)
		}
		vf = 0 // too few rows for the default split: no validation
	}
	if vf > 0 && n-int(math.Floor(vf*float64(n))) < 1 {
		return fmt.Errorf("--valid-frac %v of %d rows leaves no training row", vf, n)
	}

	// Training.
	tmpDir := filepath.Dir(*out)
	ckpt, err := os.CreateTemp(tmpDir, ".odeflow-checkpoint-*")
	if err != nil {
		return err
	}
	ckptPath := ckpt.Name()
	ckpt.Close()
	defer os.Remove(ckptPath)
	s := &train.Settings{
		LR: cfg.LR, Warmup: cfg.Warmup, ClipNorm: cfg.ClipNorm, BatchSize: cfg.BatchSize,
		Iterations: cfg.Iterations, Epochs: cfg.Epochs, Patience: cfg.Patience, EvalEvery: cfg.EvalEvery,
		ValX: vx, ValC: vc, ValFraction: vf,
		Src:        rand.NewPCG(m.Spec.Seed, saltTrain),
		NFE:        m,
		Checkpoint: ckptPath,
	}
	if s.BatchSize == 0 {
		s.BatchSize = defaultBatch
	}
	if cfg.InputNoise > 0 {
		s.InputNoise = nn.Constant(cfg.InputNoise)
	}
	for _, st := range m.State() {
		s.State = append(s.State, st)
	}
	if resumed != nil {
		sec := resumed.Section(checkpointSection)
		rp, err := os.CreateTemp(tmpDir, ".odeflow-resume-*")
		if err != nil {
			return err
		}
		defer os.Remove(rp.Name())
		if _, err := rp.Write(sec.Data); err != nil {
			rp.Close()
			return err
		}
		if err := rp.Close(); err != nil {
			return err
		}
		s.ResumeFrom = rp.Name()
	}
	showProgress := (e.tty || *verbose) && !*quiet
	var prog *progress
	if showProgress {
		prog = &progress{w: e.stderr, tty: e.tty}
		s.Progress = prog.report
	}
	res, fitErr := train.Fit(ctx, m.Flow, x, c, s)
	if prog != nil {
		prog.done()
	}
	canceled := fitErr != nil && ctx.Err() != nil && errors.Is(fitErr, ctx.Err())
	if fitErr != nil && !canceled {
		if res == nil {
			return fitErr
		}
		if errors.Is(fitErr, train.ErrCheckpoint) && resumed != nil {
			return fmt.Errorf("--resume: %w (a resumed run needs the data, context, validation set, batch size and seed of the first run)", fitErr)
		}
		if errors.Is(fitErr, train.ErrNonFinite) {
			return fmt.Errorf("%w (try a lower --lr, --clip-norm or, for a cnf, tighter tolerances); no model written", fitErr)
		}
		return fmt.Errorf("%w; no model written", fitErr)
	}

	// Metadata and the checkpoint.
	ck, err := os.ReadFile(ckptPath)
	if err != nil {
		return fmt.Errorf("reading the checkpoint: %w", err)
	}
	m.SetSection(modelfile.Section{Name: checkpointSection, Kind: modelfile.SectionBytes, Data: ck})
	cfg.Spec = m.Spec
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	m.SetSection(modelfile.Section{Name: trainConfigSection, Kind: modelfile.SectionJSON, Data: cfgJSON})
	meta := modelfile.Meta{
		Created: time.Now().UTC(), Version: version, DataShape: []int{n, d},
		Iterations: res.Iterations, Seed: m.Spec.Seed,
		Extra: map[string]string{
			"data":      filepath.Base(*dataPath),
			"status":    res.Status.String(),
			"epochs":    fmt.Sprint(res.Epochs),
			"elapsed":   res.Elapsed.Round(time.Millisecond).String(),
			"best_iter": fmt.Sprint(res.BestIter),
		},
	}
	if c != nil {
		meta.Extra["context"] = filepath.Base(*ctxPath)
	}
	if res.NFEForward > 0 {
		meta.Extra["nfe_forward"] = fmt.Sprint(res.NFEForward)
		meta.Extra["nfe_backward"] = fmt.Sprint(res.NFEBackward)
	}
	if *validPath != "" {
		meta.Extra["valid"] = filepath.Base(*validPath)
	} else if vf > 0 {
		meta.Extra["valid_frac"] = fmt.Sprint(vf)
	}
	if !math.IsNaN(res.BestLoss) && (vx != nil || vf > 0) {
		v := res.BestLoss
		meta.ValidNLL = &v
	}
	if !canceled {
		if lp, err := logProb(m, x, c); err == nil {
			v := -mean(lp)
			meta.TrainNLL = &v
		}
	}
	m.Meta = meta
	if err := model.Save(*out, m); err != nil {
		return err
	}
	if canceled {
		return &interrupted{fmt.Sprintf("interrupted after iteration %d; wrote the best model so far to %s (continue with: odeflow train --resume %s --data %s)",
			res.Iterations, *out, *out, *dataPath)}
	}
	if !*quiet {
		fmt.Fprintf(e.stdout, "wrote %s: %s, %d-D, %d iterations (%s) in %s", *out, m.Spec.Kind, d, res.Iterations,
			res.Status, res.Elapsed.Round(time.Millisecond))
		if meta.TrainNLL != nil {
			fmt.Fprintf(e.stdout, ", train NLL %.4f", *meta.TrainNLL)
		}
		if meta.ValidNLL != nil {
			fmt.Fprintf(e.stdout, ", held-out NLL %.4f", *meta.ValidNLL)
		}
		fmt.Fprintln(e.stdout)
	}
	return nil
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// progress prints training progress: a line rewritten in place on a
// terminal, otherwise a line per evaluation and at most one per second.
type progress struct {
	w       io.Writer
	tty     bool
	last    time.Time
	printed bool
}

func (p *progress) report(pr train.Progress) {
	now := time.Now()
	if !pr.Evaluated && now.Sub(p.last) < 250*time.Millisecond*time.Duration(1+3*b2i(!p.tty)) {
		return
	}
	p.last = now
	var b strings.Builder
	fmt.Fprintf(&b, "iter %d  epoch %d  loss %.4f", pr.Iteration, pr.Epoch, pr.TrainLoss)
	if !math.IsNaN(pr.EvalLoss) {
		fmt.Fprintf(&b, "  valid %.4f (best %.4f)", pr.EvalLoss, pr.BestLoss)
	}
	if pr.NFEForward > 0 {
		fmt.Fprintf(&b, "  NFE %d+%d", pr.NFEForward, pr.NFEBackward)
	}
	fmt.Fprintf(&b, "  %s", pr.Elapsed.Round(time.Second))
	if pr.ETA > 0 {
		fmt.Fprintf(&b, "  ETA %s", pr.ETA.Round(time.Second))
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", b.String())
		p.printed = true
		if pr.Evaluated {
			fmt.Fprintln(p.w)
			p.printed = false
		}
		return
	}
	fmt.Fprintln(p.w, b.String())
}

func (p *progress) done() {
	if p.tty && p.printed {
		fmt.Fprintln(p.w)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
