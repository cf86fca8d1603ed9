package discrete

import (
	"fmt"
	"math/rand/v2"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// BNAFFlowSettings configures NewBNAFFlow, keyword style: a nil
// *BNAFFlowSettings means every default, and so does the zero value of each
// field.
type BNAFFlowSettings struct {
	// Flows is the number of stacked BNAF transforms (flowjax's
	// flow_layers; default 1), with a reverse permutation between two
	// consecutive ones so that every variable comes first in some stack.
	Flows int
	// Layers, HiddenFactor, Act, Residual and ContextDim configure every
	// BNAF (see BNAFSettings; defaults 1 hidden layer, 8 units per
	// dimension, BNAFLeakyTanh, no residual, unconditional).
	Layers       int
	HiddenFactor int
	Act          BNAFActivation
	Residual     BNAFResidual
	ContextDim   int
	// BaseComponents > 0 gives the flow a trainable Gaussian-mixture base
	// of that many components instead of the standard normal (see
	// FlowSettings.BaseComponents).
	BaseComponents int
	// Src draws the initial parameters; nil means rand.NewPCG(1, 2).
	Src rand.Source
}

// NewBNAFFlow returns a flow on R^d with a standard normal base (or the
// mixture of s.BaseComponents) and a transform of s.Flows BNAFs (their
// parameters named "bnaf/<i>" in the flow's Params) with reverse
// permutations between them: the block neural autoregressive flow of
// flowjax's introduction with the default settings. Forward (density) is
// one pass through each network; sampling inverts them by bisection. With ContextDim > 0 the flow is conditional
// (odeflow.NewConditionalFlow) and every BNAF receives the context. Like
// the other prebuilt flows it takes the dimension and keyword settings; it
// panics as NewBNAF does (d < 1 among others), or if s.Flows or
// s.BaseComponents is negative.
func NewBNAFFlow(d int, s *BNAFFlowSettings) *odeflow.Flow {
	if s == nil {
		s = new(BNAFFlowSettings)
	}
	const name = "bnaf"
	p := new(nn.Params)
	if s.Flows < 0 {
		panic(fmt.Sprintf("discrete: NewBNAFFlow: %d flows", s.Flows))
	}
	k := s.Flows
	if k == 0 {
		k = 1
	}
	src := s.Src
	if src == nil {
		src = rand.NewPCG(1, 2)
	}
	var members []odeflow.Conditional
	var plain []odeflow.Transform
	for i := 0; i < k; i++ {
		if i > 0 {
			perm := NewReversePermutation(d)
			members = append(members, odeflow.Unconditional(perm))
			plain = append(plain, perm)
		}
		b := NewBNAF(p, fmt.Sprintf("%s/%d", name, i), BNAFSettings{
			Dim: d, Layers: s.Layers, HiddenFactor: s.HiddenFactor, Act: s.Act,
			Residual: s.Residual, ContextDim: s.ContextDim, Src: src,
		})
		members = append(members, b)
		plain = append(plain, b)
	}
	if s.BaseComponents < 0 {
		panic(fmt.Sprintf("discrete: NewBNAFFlow: negative number of base components %d", s.BaseComponents))
	}
	base := pbBase(p, d, s.BaseComponents, src)
	if s.ContextDim > 0 {
		if k == 1 {
			return odeflow.NewConditionalFlow(base, members[0])
		}
		return odeflow.NewConditionalFlow(base, odeflow.NewConditionalChain(members...))
	}
	if k == 1 {
		return odeflow.NewFlow(base, plain[0])
	}
	return odeflow.NewFlow(base, odeflow.NewChain(plain...))
}
