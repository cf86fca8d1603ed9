package discrete

import (
	"fmt"
	"math/rand/v2"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// ConditionalPlanarFlowSettings configures NewConditionalPlanarFlow. Dim
// and ContextDim are required; every other zero field means the default
// given beside it.
type ConditionalPlanarFlowSettings struct {
	// Dim is the dimension d of the data, ContextDim that of the context
	// (both at least 1).
	Dim, ContextDim int
	// Layers is the number of conditional planar layers (default 8).
	Layers int
	// Hidden lists the hidden widths of each layer's hypernetwork; nil
	// means {32}. An empty non-nil slice makes the hypernetworks affine.
	Hidden []int
	// Src draws the initial parameters; nil means rand.NewPCG(1, 2).
	Src rand.Source
}

// NewConditionalPlanarFlow returns a conditional flow with a d-dimensional
// standard normal base and a transform of s.Layers ConditionalPlanar layers
// (reserved in p under name+"/<i>"), the amortized planar flow of
// variational inference: sampling and its density (Inverse) are closed
// form, the density of given data (Forward) takes a scalar root find per
// row and layer. It panics as NewConditionalPlanar does, or if s.Layers is
// negative.
func NewConditionalPlanarFlow(p *nn.Params, name string, s ConditionalPlanarFlowSettings) *odeflow.Flow {
	if s.Layers < 0 {
		panic(fmt.Sprintf("discrete: NewConditionalPlanarFlow: %d layers", s.Layers))
	}
	k := s.Layers
	if k == 0 {
		k = 8
	}
	hidden := s.Hidden
	if hidden == nil {
		hidden = []int{32}
	}
	src := s.Src
	if src == nil {
		src = rand.NewPCG(1, 2)
	}
	members := make([]odeflow.Conditional, k)
	for i := range members {
		members[i] = NewConditionalPlanar(p, fmt.Sprintf("%s/%d", name, i), s.Dim, s.ContextDim, hidden, src)
	}
	return odeflow.NewConditionalFlow(odeflow.NewStandardNormal(max(s.Dim, 1)), odeflow.NewConditionalChain(members...))
}
