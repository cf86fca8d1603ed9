package discrete

import (
	"fmt"
	"math/rand/v2"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// MaskKind chooses the coupling masks of a prebuilt coupling flow.
type MaskKind int

const (
	// MaskAlternating transforms the odd coordinates in even-numbered
	// layers and the even coordinates in odd-numbered layers (the default).
	MaskAlternating MaskKind = iota
	// MaskHalf transforms the second half of the coordinates in
	// even-numbered layers and the first half in odd-numbered layers.
	MaskHalf
	// MaskRandom draws a new random mask (RandomMask) for every layer.
	MaskRandom
)

// String returns the mask kind's name.
func (k MaskKind) String() string {
	switch k {
	case MaskAlternating:
		return "alternating"
	case MaskHalf:
		return "half"
	case MaskRandom:
		return "random"
	}
	return fmt.Sprintf("MaskKind(%d)", int(k))
}

// PermuteKind chooses how a prebuilt flow reorders the coordinates between
// its layers.
type PermuteKind int

const (
	// PermuteDefault means PermuteNone for coupling flows (their masks
	// alternate) and PermuteReverse for autoregressive flows.
	PermuteDefault PermuteKind = iota
	// PermuteNone keeps the coordinates in place: coupling flows rely on
	// their masks, autoregressive layers all use the order 0, …, d−1.
	PermuteNone
	// PermuteReverse reverses the order between layers: a
	// NewReversePermutation layer between coupling layers, alternately the
	// identity and the reversed variable order for autoregressive layers.
	PermuteReverse
	// PermuteRandom draws a random permutation for every gap (coupling
	// flows: a NewRandomPermutation layer; autoregressive flows: a random
	// variable order per layer).
	PermuteRandom
)

// String returns the permutation kind's name.
func (k PermuteKind) String() string {
	switch k {
	case PermuteDefault:
		return "default"
	case PermuteNone:
		return "none"
	case PermuteReverse:
		return "reverse"
	case PermuteRandom:
		return "random"
	}
	return fmt.Sprintf("PermuteKind(%d)", int(k))
}

// FlowSettings configures the prebuilt flows (NewNICE, NewRealNVP, NewNSF,
// NewNSFAutoregressive, NewMAF, NewIAF, NewGlow, NewPlanarFlow), keyword
// style. A nil *FlowSettings means every default; so does the zero value of
// each field. Fields that do not apply to a flow are ignored.
type FlowSettings struct {
	// Layers is the number of coupling or autoregressive layers, of Glow
	// steps, or of planar layers. Zero means 5.
	Layers int
	// Hidden lists the conditioner's hidden widths ("64-64" when empty).
	Hidden string
	// Act is the conditioner's activation; the zero value (nn.Identity)
	// means nn.ReLU.
	Act nn.Activation
	// LogScaleBound is the bound L of the affine transformers' soft-clamped
	// log-scale, L·tanh(r/L) (RealNVP, MAF, IAF, Glow; see Affine). Zero
	// means 3.
	LogScaleBound float64
	// Bins and Bound configure the splines of NSF: K bins on [−B, B],
	// linear (identity) tails outside. Zero means 8 bins and B = 5.
	Bins  int
	Bound float64
	// Mask chooses the masks of coupling flows (default MaskAlternating).
	// Glow always uses half masks (its LU layers mix the coordinates).
	Mask MaskKind
	// Permute chooses the reordering between layers (see PermuteKind).
	Permute PermuteKind
	// ContextDim > 0 makes the flow conditional on a context of that
	// dimension: the flow is then built with odeflow.NewConditionalFlow
	// and every conditioner reads the context.
	ContextDim int
	// BaseComponents > 0 replaces the standard normal base by a trainable
	// mixture of that many Gaussians (odeflow.NewRandomGaussianMixture,
	// parameters "base/…", drawn from Src after the layers'). Such a base
	// lets the flow put its mass into separate lumps: a flow from a
	// standard normal must stretch one Gaussian across the gaps between
	// modes. It cannot be trained by reverse KL (train.FitKL returns an
	// error: its samples are not differentiable in the weights).
	BaseComponents int
	// Src draws the initial weights, random masks and permutations, and
	// Glow's initial rotations. nil means rand.NewPCG(1, 2). The same
	// source state builds the same model.
	Src rand.Source
}

type pbSettings struct {
	FlowSettings
	d int
}

func pbDefaults(op string, d int, s *FlowSettings) pbSettings {
	linCheckDim(op, d)
	var c FlowSettings
	if s != nil {
		c = *s
	}
	if c.Layers == 0 {
		c.Layers = 5
	}
	if c.Layers < 0 {
		panic(fmt.Sprintf("%s: %d layers", op, c.Layers))
	}
	if c.Hidden == "" {
		c.Hidden = "64-64"
	}
	if c.LogScaleBound == 0 {
		c.LogScaleBound = 3
	}
	if c.ContextDim < 0 {
		panic(fmt.Sprintf("%s: negative context dimension %d", op, c.ContextDim))
	}
	if c.BaseComponents < 0 {
		panic(fmt.Sprintf("%s: negative number of base components %d", op, c.BaseComponents))
	}
	if c.Src == nil {
		c.Src = rand.NewPCG(1, 2)
	}
	return pbSettings{FlowSettings: c, d: d}
}

func (s *pbSettings) affine() Transformer { return Affine{Bound: s.LogScaleBound} }

func (s *pbSettings) spline() Transformer {
	return NewSpline(&SplineSettings{Bins: s.Bins, Bound: s.Bound})
}

// pbBuilder collects the members of a prebuilt flow.
type pbBuilder struct {
	s       pbSettings
	p       *nn.Params
	members []odeflow.Conditional
}

func (b *pbBuilder) add(t odeflow.Transform) {
	if c, ok := t.(odeflow.Conditional); ok {
		b.members = append(b.members, c)
		return
	}
	b.members = append(b.members, odeflow.Unconditional(t))
}

// flow assembles the members into a flow on the base that BaseComponents
// asks for; if inverse is true the chain is inverted (IAF).
func (b *pbBuilder) flow(inverse bool) *odeflow.Flow {
	base := pbBase(b.p, b.s.d, b.s.BaseComponents, b.s.Src)
	if b.s.ContextDim > 0 {
		var ct odeflow.Conditional = odeflow.NewConditionalChain(b.members...)
		if inverse {
			ct = odeflow.InverseConditional(ct)
		}
		return odeflow.NewConditionalFlow(base, ct)
	}
	ts := make([]odeflow.Transform, len(b.members))
	for i, m := range b.members {
		ts[i] = m.Given(nil)
	}
	var t odeflow.Transform = odeflow.NewChain(ts...)
	if inverse {
		t = odeflow.Inverse(t)
	}
	return odeflow.NewFlow(base, t)
}

// pbBase returns a standard normal base if k is 0, otherwise a trainable
// k-component mixture reserved in p under "base" and drawn from src.
func pbBase(p *nn.Params, d, k int, src rand.Source) odeflow.Distribution {
	if k == 0 {
		return odeflow.NewStandardNormal(d)
	}
	return odeflow.NewRandomGaussianMixture(p, "base", d, k, src)
}

// coupling builds a coupling flow with transformer tf(), plus the final
// layers given by tail.
func pbCoupling(op string, d int, s *FlowSettings, tf func(*pbSettings) Transformer, tail func(*pbBuilder)) (*odeflow.Flow, error) {
	b := &pbBuilder{s: pbDefaults(op, d, s), p: new(nn.Params)}
	if d == 1 && b.s.ContextDim == 0 {
		panic(op + ": an unconditional coupling flow needs d ≥ 2")
	}
	for k := 0; k < b.s.Layers; k++ {
		if k > 0 {
			b.permute(k)
		}
		c, err := NewCoupling(b.p, fmt.Sprintf("coupling%d", k), d, &CouplingSettings{
			Mask: b.mask(k), Transformer: tf(&b.s), Hidden: b.s.Hidden, Act: b.s.Act, ContextDim: b.s.ContextDim,
		}, b.s.Src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		b.add(c)
	}
	if tail != nil {
		tail(b)
	}
	return b.flow(false), nil
}

// mask returns the mask of coupling layer k.
func (b *pbBuilder) mask(k int) []bool {
	d := b.s.d
	if d == 1 {
		return []bool{true}
	}
	switch b.s.Mask {
	case MaskAlternating:
		return AlternatingMask(d, k%2 == 1)
	case MaskHalf:
		return HalfMask(d, k%2 == 1)
	case MaskRandom:
		return RandomMask(d, b.s.Src)
	}
	panic(fmt.Sprintf("discrete: unknown mask kind %v", b.s.Mask))
}

// permute adds the permutation layer before coupling layer k, if any.
func (b *pbBuilder) permute(k int) {
	switch b.s.Permute {
	case PermuteDefault, PermuteNone:
	case PermuteReverse:
		b.add(NewReversePermutation(b.s.d))
	case PermuteRandom:
		b.add(NewRandomPermutation(b.s.d, b.s.Src))
	default:
		panic(fmt.Sprintf("discrete: unknown permutation kind %v", b.s.Permute))
	}
}

// order returns the variable order of autoregressive layer k.
func (b *pbBuilder) order(k int) []int {
	d := b.s.d
	o := make([]int, d)
	for j := range o {
		o[j] = j
	}
	switch b.s.Permute {
	case PermuteDefault, PermuteReverse:
		if k%2 == 1 {
			for j := range o {
				o[j] = d - 1 - j
			}
		}
	case PermuteNone:
	case PermuteRandom:
		o = rand.New(b.s.Src).Perm(d)
	default:
		panic(fmt.Sprintf("discrete: unknown permutation kind %v", b.s.Permute))
	}
	return o
}

func pbAutoregressive(op string, d int, s *FlowSettings, tf func(*pbSettings) Transformer, inverse bool) (*odeflow.Flow, error) {
	b := &pbBuilder{s: pbDefaults(op, d, s), p: new(nn.Params)}
	for k := 0; k < b.s.Layers; k++ {
		a, err := NewAutoregressive(b.p, fmt.Sprintf("made%d", k), d, &AutoregressiveSettings{
			Order: b.order(k), Transformer: tf(&b.s), Hidden: b.s.Hidden, Act: b.s.Act, ContextDim: b.s.ContextDim,
		}, b.s.Src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		b.add(a)
	}
	return b.flow(inverse), nil
}

// NewNICE returns NICE (Dinh, Krueger and Bengio 2015,
// https://arxiv.org/abs/1410.8516) on R^d: Layers additive coupling layers
// (Coupling with the Shift transformer, volume-preserving) followed by a
// trainable per-dimension affine layer (Elementwise with Affine, NICE's
// diagonal scaling), with a standard normal base by default (see
// FlowSettings.BaseComponents). It returns an error if s.Hidden is invalid;
// it panics if d < 1, if d = 1 without a context, or on a negative setting.
func NewNICE(d int, s *FlowSettings) (*odeflow.Flow, error) {
	return pbCoupling("discrete: NewNICE", d, s,
		func(*pbSettings) Transformer { return Shift{} },
		func(b *pbBuilder) { b.add(NewElementwise(b.p, "scale", d, Affine{})) })
}

// NewRealNVP returns RealNVP (Dinh, Sohl-Dickstein and Bengio 2017,
// https://arxiv.org/abs/1605.08803) on R^d: Layers affine coupling layers
// whose log-scales are soft-clamped to (−L, L), L = LogScaleBound, with a
// standard normal base by default (see FlowSettings.BaseComponents). It
// returns an error and panics as NewNICE does.
func NewRealNVP(d int, s *FlowSettings) (*odeflow.Flow, error) {
	return pbCoupling("discrete: NewRealNVP", d, s, (*pbSettings).affine, nil)
}

// NewNSF returns the coupling neural spline flow (Durkan, Bekasov, Murray
// and Papamakarios 2019, https://arxiv.org/abs/1906.04032, "RQ-NSF (C)") on
// R^d: Layers rational-quadratic spline coupling layers (Bins bins on
// [−Bound, Bound], identity tails), with a standard normal base by default.
// It returns an error and panics as NewNICE does.
func NewNSF(d int, s *FlowSettings) (*odeflow.Flow, error) {
	return pbCoupling("discrete: NewNSF", d, s, (*pbSettings).spline, nil)
}

// NewNSFAutoregressive returns the autoregressive neural spline flow
// ("RQ-NSF (AR)"; zuko's NSF): Layers Autoregressive layers with spline
// transformers. It returns an error if s.Hidden is invalid and panics if
// d < 1 or on a negative setting.
func NewNSFAutoregressive(d int, s *FlowSettings) (*odeflow.Flow, error) {
	return pbAutoregressive("discrete: NewNSFAutoregressive", d, s, (*pbSettings).spline, false)
}

// NewMAF returns a masked autoregressive flow (Papamakarios, Pavlakou and
// Murray 2017, https://arxiv.org/abs/1705.07057) on R^d: Layers
// Autoregressive layers with affine transformers (soft-clamped log-scale),
// the variable order reversed between layers by default. Density
// evaluation costs one network pass per layer, sampling d. It returns an
// error and panics as NewNSFAutoregressive does.
func NewMAF(d int, s *FlowSettings) (*odeflow.Flow, error) {
	return pbAutoregressive("discrete: NewMAF", d, s, (*pbSettings).affine, false)
}

// NewIAF returns an inverse autoregressive flow (Kingma et al. 2016,
// https://arxiv.org/abs/1606.04934): the inverse of the chain NewMAF
// builds, so that sampling (and SampleAndLogProb, reverse-KL training) costs
// one network pass per layer and density evaluation of given data d. It
// returns an error and panics as NewMAF does.
func NewIAF(d int, s *FlowSettings) (*odeflow.Flow, error) {
	return pbAutoregressive("discrete: NewIAF", d, s, (*pbSettings).affine, true)
}

// NewGlow returns a Glow-style flow (Kingma and Dhariwal 2018,
// https://arxiv.org/abs/1807.03039) for vectors: Layers steps of ActNorm
// (data-dependent initialization on the first training batch), an LU
// invertible linear layer (Glow's 1×1 convolution; a random rotation at
// the start) and an affine coupling layer on half the coordinates,
// alternating halves. With d = 1 the coupling layers need a context and are
// left out of an unconditional flow. It returns an error if s.Hidden is
// invalid and panics if d < 1 or on a negative setting.
func NewGlow(d int, s *FlowSettings) (*odeflow.Flow, error) {
	const op = "discrete: NewGlow"
	b := &pbBuilder{s: pbDefaults(op, d, s), p: new(nn.Params)}
	for k := 0; k < b.s.Layers; k++ {
		b.add(NewActNorm(b.p, fmt.Sprintf("actnorm%d", k), d))
		b.add(NewLU(b.p, fmt.Sprintf("lu%d", k), d, b.s.Src))
		if d == 1 && b.s.ContextDim == 0 {
			continue
		}
		c, err := NewCoupling(b.p, fmt.Sprintf("coupling%d", k), d, &CouplingSettings{
			Mask: HalfMask(d, k%2 == 1), Transformer: b.s.affine(), Hidden: b.s.Hidden, Act: b.s.Act, ContextDim: b.s.ContextDim,
		}, b.s.Src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		b.add(c)
	}
	return b.flow(false), nil
}

// NewPlanarFlow returns a planar flow (Rezende and Mohamed 2015): Layers
// Planar layers with a standard normal base by default. Planar layers
// sample in closed form and evaluate densities of given data by a root find
// per row (see Planar). Only Layers, BaseComponents and Src apply. It
// panics if d < 1, on a negative setting, or if s.ContextDim > 0 (a planar
// layer takes no context).
func NewPlanarFlow(d int, s *FlowSettings) *odeflow.Flow {
	const op = "discrete: NewPlanarFlow"
	b := &pbBuilder{s: pbDefaults(op, d, s), p: new(nn.Params)}
	if b.s.ContextDim > 0 {
		panic(op + ": planar layers take no context")
	}
	for k := 0; k < b.s.Layers; k++ {
		b.add(NewPlanar(b.p, fmt.Sprintf("planar%d", k), d, b.s.Src))
	}
	return b.flow(false)
}
