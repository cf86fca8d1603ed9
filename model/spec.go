package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/ode"
	"github.com/odeflow/odeflow/vectorfield"
)

// ErrSpec is wrapped by every error about a Spec: an unknown kind, a
// hyper-parameter out of range or one that does not apply to the kind.
var ErrSpec = errors.New("invalid model spec")

// The model kinds.
const (
	CNF     = "cnf"     // FFJORD: optional ActNorm and CNF blocks (package cnf)
	NICE    = "nice"    // additive coupling (discrete.NewNICE)
	RealNVP = "realnvp" // affine coupling (discrete.NewRealNVP)
	MAF     = "maf"     // masked autoregressive flow (discrete.NewMAF)
	IAF     = "iaf"     // inverse autoregressive flow (discrete.NewIAF)
	NSF     = "nsf"     // neural spline flow, coupling or autoregressive (discrete.NewNSF, NewNSFAutoregressive)
	Glow    = "glow"    // ActNorm + LU + affine coupling (discrete.NewGlow)
	BNAF    = "bnaf"    // block neural autoregressive flow (discrete.NewBNAFFlow)
	Planar  = "planar"  // planar flow (discrete.NewPlanarFlow)
)

var kinds = []string{CNF, NICE, RealNVP, MAF, IAF, NSF, Glow, BNAF, Planar}

// Kinds returns the model kinds that Build knows, in a fixed order.
func Kinds() []string { return slices.Clone(kinds) }

// Spec describes a model completely: Build(spec) makes the same model
// every time, weights included, since every random choice (initial
// weights, masks, permutations, Glow's LU factors, the CNF's probe noise)
// is drawn from sources seeded by Seed. A Spec is stored as JSON in the
// model file (the field names are the json tags below).
//
// Kind, Dim, Seed and BaseComponents apply to every kind and ContextDim to
// every kind but planar. Each other field applies to the kinds listed beside it: a
// non-zero value of a field that does not apply is an error, so that a
// hyper-parameter is never ignored silently. Zero means the default given
// beside the field; Resolve fills in the defaults.
type Spec struct {
	Kind       string `json:"kind"`
	Dim        int    `json:"dim"`
	ContextDim int    `json:"context_dim,omitempty"`
	Seed       uint64 `json:"seed"`
	// BaseComponents > 0 replaces the standard normal base by a trainable
	// mixture of that many Gaussians (every kind; at most 4096; see
	// discrete.FlowSettings.BaseComponents). Default 0.
	BaseComponents int `json:"base_components,omitempty"`

	// Hidden is the widths of the hidden layers, as "64-64": of the
	// conditioners (nice, realnvp, maf, iaf, nsf, glow; default "64-64")
	// or of the vector field (cnf; default "64-64-64", FFJORD's toy set-up).
	Hidden string `json:"hidden,omitempty"`
	// Layers is the number of coupling or autoregressive layers, Glow
	// steps or planar layers (default 5), or of stacked BNAF networks
	// (default 1).
	Layers int `json:"layers,omitempty"`
	// Activation names the nonlinearity (nn.ParseActivation): of the
	// conditioners (default "relu") or of the field (cnf; default
	// "tanh"); for bnaf "leakytanh" (default) or "tanh".
	Activation string `json:"activation,omitempty"`

	// LogScaleBound bounds the affine log-scales (realnvp, maf, iaf,
	// glow; default 3).
	LogScaleBound float64 `json:"log_scale_bound,omitempty"`
	// Bins and Bound configure the splines (nsf; default 8 bins on
	// [−5, 5]).
	Bins  int     `json:"bins,omitempty"`
	Bound float64 `json:"bound,omitempty"`
	// Mask is "alternating" (default), "half" or "random" (nice,
	// realnvp, nsf coupling).
	Mask string `json:"mask,omitempty"`
	// Permute is "default", "none", "reverse" or "random" (nice,
	// realnvp, maf, iaf, nsf; see discrete.PermuteKind).
	Permute string `json:"permute,omitempty"`
	// Autoregressive selects the autoregressive neural spline flow
	// instead of the coupling one (nsf).
	Autoregressive bool `json:"autoregressive,omitempty"`

	// Depth is the number of hidden block layers of each network (bnaf;
	// default 1), HiddenFactor the hidden units per dimension (default 8)
	// and Residual "none" (default) or "gated".
	Depth        int    `json:"depth,omitempty"`
	HiddenFactor int    `json:"hidden_factor,omitempty"`
	Residual     string `json:"residual,omitempty"`

	// The CNF (cnf): Blocks CNF blocks (default 1), each preceded by an
	// ActNorm layer if ActNorm is set, on MLP fields of layer kind
	// FieldKind (vectorfield.ParseKind; default "concatsquash").
	Blocks    int    `json:"blocks,omitempty"`
	ActNorm   bool   `json:"actnorm,omitempty"`
	FieldKind string `json:"field_kind,omitempty"`
	// Time is the initial integration time T of every block (default
	// 0.5); FixedT freezes it.
	Time   float64 `json:"time,omitempty"`
	FixedT bool    `json:"fixed_t,omitempty"`
	// Divergence is "auto" (exact for d ≤ 10, Hutchinson above; the
	// default), "exact", "hutchinson" or "hutch++"; Probe "rademacher"
	// (default) or "gaussian"; Probes the probes per row (default 1).
	Divergence string `json:"divergence,omitempty"`
	Probe      string `json:"probe,omitempty"`
	Probes     int    `json:"probes,omitempty"`
	// Solver names the Runge–Kutta method (default "dopri5"; see
	// Solvers). RTol and ATol are the training tolerances (default
	// 1e-5), EvalRTol and EvalATol those of density evaluation and
	// sampling (default 1e-7). Step > 0 selects fixed steps (required
	// by methods without an error estimate). MaxSteps bounds a solve
	// (default 10000).
	Solver   string  `json:"solver,omitempty"`
	RTol     float64 `json:"rtol,omitempty"`
	ATol     float64 `json:"atol,omitempty"`
	EvalRTol float64 `json:"eval_rtol,omitempty"`
	EvalATol float64 `json:"eval_atol,omitempty"`
	Step     float64 `json:"step,omitempty"`
	MaxSteps int     `json:"max_steps,omitempty"`
	// Gradient is "checkpointed" (default), "backsolve" or "direct";
	// SemiNorm applies the seminorm to backsolve.
	Gradient string `json:"gradient,omitempty"`
	SemiNorm bool   `json:"seminorm,omitempty"`
	// Regularizer weights (default 0, off): kinetic energy, Jacobian
	// Frobenius norm (RNODE), FFJORD's l1int and l2int.
	Kinetic   float64 `json:"kinetic,omitempty"`
	Frobenius float64 `json:"frobenius,omitempty"`
	L1        float64 `json:"l1,omitempty"`
	L2        float64 `json:"l2,omitempty"`
}

// applies lists, for every hyper-parameter (by json name), the kinds it
// applies to. Fields not listed apply to every kind.
var applies = map[string][]string{
	"context_dim":     {CNF, NICE, RealNVP, MAF, IAF, NSF, Glow, BNAF},
	"base_components": kinds,
	"hidden":          {CNF, NICE, RealNVP, MAF, IAF, NSF, Glow},
	"layers":          {NICE, RealNVP, MAF, IAF, NSF, Glow, BNAF, Planar},
	"activation":      {CNF, NICE, RealNVP, MAF, IAF, NSF, Glow, BNAF},
	"log_scale_bound": {RealNVP, MAF, IAF, Glow},
	"bins":            {NSF},
	"bound":           {NSF},
	"mask":            {NICE, RealNVP, NSF},
	"permute":         {NICE, RealNVP, MAF, IAF, NSF},
	"autoregressive":  {NSF},
	"depth":           {BNAF},
	"hidden_factor":   {BNAF},
	"residual":        {BNAF},
	"blocks":          {CNF},
	"actnorm":         {CNF},
	"field_kind":      {CNF},
	"time":            {CNF},
	"fixed_t":         {CNF},
	"divergence":      {CNF},
	"probe":           {CNF},
	"probes":          {CNF},
	"solver":          {CNF},
	"rtol":            {CNF},
	"atol":            {CNF},
	"eval_rtol":       {CNF},
	"eval_atol":       {CNF},
	"step":            {CNF},
	"max_steps":       {CNF},
	"gradient":        {CNF},
	"seminorm":        {CNF},
	"kinetic":         {CNF},
	"frobenius":       {CNF},
	"l1":              {CNF},
	"l2":              {CNF},
}

// FieldsFor returns the json names of the hyper-parameters that apply to
// kind (beyond kind, dim and seed), in the order of Spec's fields.
func FieldsFor(kind string) []string {
	var names []string
	t := reflect.TypeFor[Spec]()
	for i := range t.NumField() {
		name := jsonName(t.Field(i))
		if ks, ok := applies[name]; ok && slices.Contains(ks, kind) {
			names = append(names, name)
		}
	}
	return names
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// solvers maps the accepted solver names to their tableaus.
var solvers = map[string]*ode.Tableau{}

func init() {
	for _, t := range []*ode.Tableau{
		ode.Dopri5, ode.Tsit5, ode.BogackiShampine, ode.HeunEuler, ode.Fehlberg45,
		ode.CashKarp, ode.DOP853, ode.Euler, ode.Midpoint, ode.Heun, ode.RK4, ode.RK38,
	} {
		solvers[t.Name] = t
	}
}

// Solvers returns the names of the Runge–Kutta methods a cnf Spec accepts,
// sorted. Those without an error estimate (euler, midpoint, heun, rk4,
// rk38) need a fixed Step.
func Solvers() []string {
	names := make([]string, 0, len(solvers))
	for n := range solvers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func specErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSpec, fmt.Sprintf(format, args...))
}

func oneOf(what, v string, allowed ...string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return specErr("unknown %s %q (want one of %s)", what, v, strings.Join(allowed, ", "))
}

// maxBaseComponents bounds Spec.BaseComponents.
const maxBaseComponents = 4096

// Resolve checks s and returns it with every default filled in, so that
// the stored spec does not depend on the defaults of the odeflow that reads
// it. Names are lower-cased and canonical (activations as nn spells them).
// Errors wrap ErrSpec; a Spec that Resolve accepts builds without error.
func (s Spec) Resolve() (Spec, error) {
	s.Kind = strings.ToLower(strings.TrimSpace(s.Kind))
	if s.Kind == "" {
		return s, specErr("no model kind (want one of %s)", strings.Join(kinds, ", "))
	}
	if !slices.Contains(kinds, s.Kind) {
		return s, specErr("unknown model kind %q (want one of %s)", s.Kind, strings.Join(kinds, ", "))
	}
	if s.Dim < 1 {
		return s, specErr("dimension %d (want at least 1)", s.Dim)
	}
	if s.ContextDim < 0 {
		return s, specErr("negative context dimension %d", s.ContextDim)
	}
	// Fields that do not apply to the kind must be zero.
	v := reflect.ValueOf(s)
	t := v.Type()
	for i := range t.NumField() {
		name := jsonName(t.Field(i))
		ks, ok := applies[name]
		if ok && !v.Field(i).IsZero() && !slices.Contains(ks, s.Kind) {
			if name == "context_dim" {
				return s, specErr("a %s flow takes no context", s.Kind)
			}
			return s, specErr("%s does not apply to a %s model (it applies to %s)", name, s.Kind, strings.Join(ks, ", "))
		}
	}
	for name, x := range map[string]float64{
		"log_scale_bound": s.LogScaleBound, "bound": s.Bound, "time": s.Time, "rtol": s.RTol, "atol": s.ATol,
		"eval_rtol": s.EvalRTol, "eval_atol": s.EvalATol, "step": s.Step, "kinetic": s.Kinetic,
		"frobenius": s.Frobenius, "l1": s.L1, "l2": s.L2,
	} {
		if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
			return s, specErr("%s = %v (want a finite value ≥ 0)", name, x)
		}
	}
	for name, n := range map[string]int{
		"layers": s.Layers, "bins": s.Bins, "depth": s.Depth, "hidden_factor": s.HiddenFactor,
		"blocks": s.Blocks, "probes": s.Probes, "max_steps": s.MaxSteps, "base_components": s.BaseComponents,
	} {
		if n < 0 {
			return s, specErr("%s = %d (want ≥ 0)", name, n)
		}
	}
	if s.BaseComponents > maxBaseComponents {
		return s, specErr("base_components = %d (want at most %d)", s.BaseComponents, maxBaseComponents)
	}
	var err error
	switch s.Kind {
	case CNF:
		err = s.resolveCNF()
	case BNAF:
		err = s.resolveBNAF()
	default:
		err = s.resolveDiscrete()
	}
	return s, err
}

func (s *Spec) resolveHidden(def string) error {
	if s.Hidden == "" {
		s.Hidden = def
	}
	w, err := vectorfield.ParseHidden(s.Hidden)
	if err != nil {
		return specErr("hidden %q: %v", s.Hidden, err)
	}
	for _, x := range w {
		if x < 1 {
			return specErr("hidden %q: width %d", s.Hidden, x)
		}
	}
	parts := make([]string, len(w))
	for i, x := range w {
		parts[i] = fmt.Sprint(x)
	}
	s.Hidden = strings.Join(parts, "-")
	return nil
}

func (s *Spec) resolveActivation(def string) error {
	if s.Activation == "" {
		s.Activation = def
	}
	a, err := nn.ParseActivation(s.Activation)
	if err != nil {
		return specErr("activation: %v", err)
	}
	s.Activation = a.String()
	return nil
}

func (s *Spec) resolveDiscrete() error {
	if s.Layers == 0 {
		s.Layers = 5
	}
	if s.Kind == Planar {
		return nil
	}
	coupling := s.Kind == NICE || s.Kind == RealNVP || (s.Kind == NSF && !s.Autoregressive)
	if coupling && s.Dim < 2 && s.ContextDim == 0 {
		return specErr("an unconditional %s flow needs at least 2 dimensions, got 1 (use maf, bnaf, planar or cnf for 1-D data)", s.Kind)
	}
	if err := s.resolveHidden("64-64"); err != nil {
		return err
	}
	if err := s.resolveActivation("relu"); err != nil {
		return err
	}
	switch s.Kind {
	case RealNVP, MAF, IAF, Glow:
		if s.LogScaleBound == 0 {
			s.LogScaleBound = 3
		}
	case NSF:
		if s.Bins == 0 {
			s.Bins = 8
		}
		if s.Bound == 0 {
			s.Bound = 5
		}
	}
	if coupling {
		if s.Mask == "" {
			s.Mask = "alternating"
		}
		s.Mask = strings.ToLower(s.Mask)
		if err := oneOf("mask", s.Mask, "alternating", "half", "random"); err != nil {
			return err
		}
	} else if s.Mask != "" {
		return specErr("mask does not apply to an autoregressive %s flow", s.Kind)
	}
	if s.Kind != Glow {
		if s.Permute == "" {
			s.Permute = "default"
		}
		s.Permute = strings.ToLower(s.Permute)
		if err := oneOf("permute", s.Permute, "default", "none", "reverse", "random"); err != nil {
			return err
		}
	}
	return nil
}

func (s *Spec) resolveBNAF() error {
	if s.Layers == 0 {
		s.Layers = 1
	}
	if s.Depth == 0 {
		s.Depth = 1
	}
	if s.HiddenFactor == 0 {
		s.HiddenFactor = 8
	}
	if s.Activation == "" {
		s.Activation = "leakytanh"
	}
	s.Activation = strings.ToLower(s.Activation)
	if err := oneOf("bnaf activation", s.Activation, "leakytanh", "tanh"); err != nil {
		return err
	}
	if s.Residual == "" {
		s.Residual = "none"
	}
	s.Residual = strings.ToLower(s.Residual)
	return oneOf("residual", s.Residual, "none", "gated")
}

func (s *Spec) resolveCNF() error {
	if s.Blocks == 0 {
		s.Blocks = 1
	}
	if err := s.resolveHidden("64-64-64"); err != nil {
		return err
	}
	if err := s.resolveActivation("tanh"); err != nil {
		return err
	}
	k, err := vectorfield.ParseKind(s.FieldKind)
	if err != nil {
		return specErr("field_kind: %v", err)
	}
	s.FieldKind = k.String()
	if s.Time == 0 {
		s.Time = 0.5
	}
	if s.Divergence == "" {
		s.Divergence = "auto"
	}
	s.Divergence = strings.ToLower(s.Divergence)
	if err := oneOf("divergence", s.Divergence, "auto", "exact", "hutchinson", "hutch++"); err != nil {
		return err
	}
	if s.Divergence == "auto" {
		s.Divergence = "exact"
		if s.Dim > 10 {
			s.Divergence = "hutchinson"
		}
	}
	if s.Divergence == "exact" {
		if s.Probe != "" || s.Probes != 0 {
			return specErr("probe and probes apply to the hutchinson and hutch++ divergences, not exact")
		}
	} else {
		if s.Probe == "" {
			s.Probe = "rademacher"
		}
		s.Probe = strings.ToLower(s.Probe)
		if err := oneOf("probe", s.Probe, "rademacher", "gaussian"); err != nil {
			return err
		}
		if s.Probes == 0 {
			s.Probes = 1
		}
	}
	if s.Solver == "" {
		s.Solver = "dopri5"
	}
	s.Solver = strings.ToLower(s.Solver)
	tab, ok := solvers[s.Solver]
	if !ok {
		return specErr("unknown solver %q (want one of %s)", s.Solver, strings.Join(Solvers(), ", "))
	}
	if tab.BErr == nil && s.Step == 0 {
		return specErr("solver %s has no error estimate: give a fixed step", s.Solver)
	}
	if s.Step == 0 {
		if s.RTol == 0 {
			s.RTol = 1e-5
		}
		if s.ATol == 0 {
			s.ATol = 1e-5
		}
		if s.EvalRTol == 0 {
			s.EvalRTol = 1e-7
		}
		if s.EvalATol == 0 {
			s.EvalATol = 1e-7
		}
	} else if s.RTol != 0 || s.ATol != 0 || s.EvalRTol != 0 || s.EvalATol != 0 {
		return specErr("tolerances do not apply with a fixed step")
	}
	if s.MaxSteps == 0 {
		s.MaxSteps = 10000
	}
	if s.Gradient == "" {
		s.Gradient = "checkpointed"
	}
	s.Gradient = strings.ToLower(s.Gradient)
	if err := oneOf("gradient", s.Gradient, "checkpointed", "backsolve", "direct"); err != nil {
		return err
	}
	if s.SemiNorm && s.Gradient != "backsolve" {
		return specErr("seminorm applies to the backsolve gradient only")
	}
	return nil
}

// ParseSpec decodes a Spec from JSON, rejecting unknown fields (a spec
// written by a newer odeflow, or a misspelt name) and trailing data. It
// does not resolve the spec.
func ParseSpec(data []byte) (Spec, error) {
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, specErr("%v", err)
	}
	if dec.More() {
		return s, specErr("trailing data after the JSON object")
	}
	return s, nil
}
