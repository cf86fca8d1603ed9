package model

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/adjoint"
	"github.com/odeflow/odeflow/cnf"
	"github.com/odeflow/odeflow/discrete"
	"github.com/odeflow/odeflow/modelfile"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/trace"
	"github.com/odeflow/odeflow/vectorfield"
)

// Salts of the PCG streams derived from Spec.Seed: one for the
// construction (weights, masks, permutations, LU factors) and one per CNF
// block for its probe noise.
const (
	saltInit  = 0x6f6465666c6f77 // "odeflow"
	saltNoise = 0x6e6f697365     // "noise", plus the block index
)

// Model is a flow together with the Spec that builds it and the metadata
// and extra sections of its file.
type Model struct {
	// Spec is the resolved spec (every default filled in).
	Spec Spec
	// Flow is the model. Its parameters are those Build drew from the
	// seed until they are trained or loaded.
	Flow *odeflow.Flow
	// Meta is the training metadata written to and read from the file.
	Meta modelfile.Meta
	// Sections are extra sections of the file (a training checkpoint,
	// for example); Save writes them after the registry's own, and Load
	// returns the file's sections other than the registry's.
	Sections []modelfile.Section

	blocks []*cnf.Block
	layers []odeflow.Transform
	noise  []*rand.PCG
}

// New resolves spec and builds its model. The result is determined by the
// spec: the same spec gives the same parameters, masks, permutations and
// noise. Errors wrap ErrSpec.
func New(spec Spec) (*Model, error) {
	s, err := spec.Resolve()
	if err != nil {
		return nil, err
	}
	m := &Model{Spec: s}
	// Resolve checks everything the constructors below check, so a panic
	// here is a bug; it is still reported as an error, since the spec may
	// come from a file.
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, specErr("building a %s model: %v", s.Kind, r)
		}
	}()
	if s.Kind == CNF {
		err = m.buildCNF()
	} else {
		m.Flow, err = buildDiscrete(s)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Build returns the flow that spec describes; see New.
func Build(spec Spec) (*odeflow.Flow, error) {
	m, err := New(spec)
	if err != nil {
		return nil, err
	}
	return m.Flow, nil
}

func buildDiscrete(s Spec) (*odeflow.Flow, error) {
	src := rand.NewPCG(s.Seed, saltInit)
	if s.Kind == BNAF {
		act := discrete.BNAFLeakyTanh
		if s.Activation == "tanh" {
			act = discrete.BNAFTanh
		}
		res := discrete.BNAFNoResidual
		if s.Residual == "gated" {
			res = discrete.BNAFGated
		}
		return discrete.NewBNAFFlow(s.Dim, &discrete.BNAFFlowSettings{
			Flows: s.Layers, Layers: s.Depth, HiddenFactor: s.HiddenFactor,
			Act: act, Residual: res, ContextDim: s.ContextDim, BaseComponents: s.BaseComponents, Src: src,
		}), nil
	}
	fs := &discrete.FlowSettings{
		Layers: s.Layers, Hidden: s.Hidden, LogScaleBound: s.LogScaleBound,
		Bins: s.Bins, Bound: s.Bound, ContextDim: s.ContextDim, BaseComponents: s.BaseComponents, Src: src,
	}
	if s.Kind == Planar {
		return discrete.NewPlanarFlow(s.Dim, fs), nil
	}
	act, err := nn.ParseActivation(s.Activation)
	if err != nil {
		return nil, specErr("activation: %v", err)
	}
	fs.Act = act
	switch s.Mask {
	case "half":
		fs.Mask = discrete.MaskHalf
	case "random":
		fs.Mask = discrete.MaskRandom
	}
	switch s.Permute {
	case "none":
		fs.Permute = discrete.PermuteNone
	case "reverse":
		fs.Permute = discrete.PermuteReverse
	case "random":
		fs.Permute = discrete.PermuteRandom
	}
	var f *odeflow.Flow
	switch s.Kind {
	case NICE:
		f, err = discrete.NewNICE(s.Dim, fs)
	case RealNVP:
		f, err = discrete.NewRealNVP(s.Dim, fs)
	case MAF:
		f, err = discrete.NewMAF(s.Dim, fs)
	case IAF:
		f, err = discrete.NewIAF(s.Dim, fs)
	case NSF:
		if s.Autoregressive {
			f, err = discrete.NewNSFAutoregressive(s.Dim, fs)
		} else {
			f, err = discrete.NewNSF(s.Dim, fs)
		}
	case Glow:
		f, err = discrete.NewGlow(s.Dim, fs)
	default:
		return nil, specErr("unknown model kind %q", s.Kind)
	}
	if err != nil {
		return nil, specErr("%v", err)
	}
	return f, nil
}

func (m *Model) buildCNF() error {
	s := m.Spec
	p := new(nn.Params)
	src := rand.NewPCG(s.Seed, saltInit)
	act, err := nn.ParseActivation(s.Activation)
	if err != nil {
		return specErr("activation: %v", err)
	}
	kind, err := vectorfield.ParseKind(s.FieldKind)
	if err != nil {
		return specErr("field_kind: %v", err)
	}
	set := cnf.Settings{
		T: s.Time, FixedT: s.FixedT, Probes: s.Probes,
		Kinetic: s.Kinetic, Frobenius: s.Frobenius, L1: s.L1, L2: s.L2,
	}
	switch s.Divergence {
	case "exact":
		set.Divergence = cnf.Exact
	case "hutchinson":
		set.Divergence = cnf.Hutchinson
	case "hutch++":
		set.Divergence = cnf.HutchPP
	}
	if s.Probe == "gaussian" {
		set.Probe = trace.Gaussian
	}
	grad := adjoint.Checkpointed
	switch s.Gradient {
	case "backsolve":
		grad = adjoint.Backsolve
	case "direct":
		grad = adjoint.Direct
	}
	tab := solvers[s.Solver]
	set.Train = &cnf.SolverSettings{
		Method: tab, RTol: s.RTol, ATol: s.ATol, MaxSteps: s.MaxSteps, Step: s.Step,
		Gradient: grad, SemiNorm: s.SemiNorm,
	}
	set.Eval = &cnf.SolverSettings{Method: tab, RTol: s.EvalRTol, ATol: s.EvalATol, MaxSteps: s.MaxSteps, Step: s.Step}

	var plain []odeflow.Transform
	var cond []odeflow.Conditional
	add := func(t odeflow.Transform, c odeflow.Conditional) {
		plain = append(plain, t)
		m.layers = append(m.layers, t)
		if c == nil {
			c = odeflow.Unconditional(t)
		}
		cond = append(cond, c)
	}
	for k := range s.Blocks {
		if s.ActNorm {
			add(discrete.NewActNorm(p, fmt.Sprintf("actnorm%d", k), s.Dim), nil)
		}
		f, err := vectorfield.NewMLP(s.Dim, s.Hidden, act, &vectorfield.Settings{
			Kind: kind, ContextDim: s.ContextDim, Params: p, Name: fmt.Sprintf("field%d", k), Src: src,
		})
		if err != nil {
			return specErr("%v", err)
		}
		noise := rand.NewPCG(s.Seed, saltNoise+uint64(k))
		bs := set
		bs.Name = fmt.Sprintf("cnf%d", k)
		bs.Src = noise
		m.noise = append(m.noise, noise)
		if s.ContextDim > 0 {
			cb := cnf.NewConditional(f, &bs)
			m.blocks = append(m.blocks, cb.Block())
			add(cb.Block(), cb)
		} else {
			b := cnf.New(f, &bs)
			m.blocks = append(m.blocks, b)
			add(b, nil)
		}
	}
	var base odeflow.Distribution = odeflow.NewStandardNormal(s.Dim)
	if s.BaseComponents > 0 {
		base = odeflow.NewRandomGaussianMixture(p, "base", s.Dim, s.BaseComponents, src)
	}
	if s.ContextDim > 0 {
		m.Flow = odeflow.NewConditionalFlow(base, odeflow.NewConditionalChain(cond...))
	} else {
		m.Flow = odeflow.NewFlow(base, odeflow.NewChain(plain...))
	}
	return nil
}

// Blocks returns the CNF blocks of a cnf model in data-to-base order (nil
// for other kinds), for their statistics, integration times and
// trajectories. The blocks of a conditional model need a context bound
// through the flow's conditional transform (or their ConditionalBlock).
func (m *Model) Blocks() []*cnf.Block { return m.blocks }

// Layers returns the layers of a cnf model in data-to-base order: its CNF
// blocks and ActNorm layers (nil for other kinds). For a conditional model
// the blocks act with the context last bound by the flow's conditional
// transform (Given).
func (m *Model) Layers() []odeflow.Transform { return m.layers }

// State returns the model's random state outside its parameters: the
// probe-noise sources of its CNF blocks, in block order (nil for other
// kinds). Pass it as train.Settings.State so that a resumed training run
// draws the same noise; Save stores it and Load restores it.
func (m *Model) State() []interface {
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
} {
	var st []interface {
		MarshalBinary() ([]byte, error)
		UnmarshalBinary([]byte) error
	}
	for _, s := range m.noise {
		st = append(st, s)
	}
	return st
}

// NFE returns the cumulative numbers of field evaluations of the model's
// CNF blocks (train.NFECounter): forward solves and backward passes. Both
// are 0 for discrete flows.
func (m *Model) NFE() (forward, backward int) {
	for _, b := range m.blocks {
		f, bk := b.NFE()
		forward += f
		backward += bk
	}
	return forward, backward
}

// NumParams returns the number of parameters and of trainable ones (frozen
// blocks, such as ActNorm's initialization flags or a fixed T, are not
// trainable).
func (m *Model) NumParams() (total, trainable int) {
	p := m.Flow.Params()
	if p == nil {
		return 0, 0
	}
	for _, t := range p.Trainable(nil) {
		if t {
			trainable++
		}
	}
	return p.Len(), trainable
}

// Describe returns a human-readable summary of the architecture, one item
// per line: the kind, dimensions, every hyper-parameter of the resolved
// spec, the parameter counts and, for a CNF, each block's current
// integration time.
func (m *Model) Describe() string {
	s := m.Spec
	var b strings.Builder
	fmt.Fprintf(&b, "kind         %s (%s)\n", s.Kind, kindTitle[s.Kind])
	fmt.Fprintf(&b, "dim          %d\n", s.Dim)
	if s.ContextDim > 0 {
		fmt.Fprintf(&b, "context_dim  %d\n", s.ContextDim)
	}
	fmt.Fprintf(&b, "seed         %d\n", s.Seed)
	for _, kv := range s.hyper() {
		fmt.Fprintf(&b, "%-12s %s\n", kv[0], kv[1])
	}
	total, train := m.NumParams()
	fmt.Fprintf(&b, "params       %d (%d trainable)\n", total, train)
	for i, blk := range m.blocks {
		fmt.Fprintf(&b, "block %-6d T = %.6g\n", i, blk.T())
	}
	return b.String()
}

var kindTitle = map[string]string{
	CNF:     "continuous normalizing flow, FFJORD",
	NICE:    "NICE, additive coupling",
	RealNVP: "RealNVP, affine coupling",
	MAF:     "masked autoregressive flow",
	IAF:     "inverse autoregressive flow",
	NSF:     "neural spline flow",
	Glow:    "Glow: ActNorm, LU, affine coupling",
	BNAF:    "block neural autoregressive flow",
	Planar:  "planar flow",
}
