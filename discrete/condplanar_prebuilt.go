package discrete

import (
	"fmt"
	"math/rand/v2"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// ConditionalPlanarFlowSettings configures NewConditionalPlanarFlow,
// keyword style: a nil *ConditionalPlanarFlowSettings means every default,
// and so does the zero value of each field.
type ConditionalPlanarFlowSettings struct {
	// Layers is the number of conditional planar layers (default 8).
	Layers int
	// Hidden lists the hidden widths of each layer's hypernetwork; nil
	// means {32}. An empty non-nil slice makes the hypernetworks affine.
	Hidden []int
	// Src draws the initial parameters; nil means rand.NewPCG(1, 2).
	Src rand.Source
}

// NewConditionalPlanarFlow returns a flow on R^d conditional on a context
// of dimension contextDim, with a standard normal base and a transform of
// s.Layers ConditionalPlanar layers (their parameters named "planar<i>" in
// the flow's Params): the amortized planar flow of variational inference,
// the conditional variant of NewPlanarFlow. Sampling and its density
// (Inverse) are closed form, the density of given data (Forward) takes a
// scalar root find per row and layer. It panics as NewConditionalPlanar
// does (d or contextDim below 1 among others), or if s.Layers is negative.
func NewConditionalPlanarFlow(d, contextDim int, s *ConditionalPlanarFlowSettings) *odeflow.Flow {
	if s == nil {
		s = new(ConditionalPlanarFlowSettings)
	}
	p := new(nn.Params)
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
		members[i] = NewConditionalPlanar(p, fmt.Sprintf("planar%d", i), d, contextDim, hidden, src)
	}
	return odeflow.NewConditionalFlow(odeflow.NewStandardNormal(max(d, 1)), odeflow.NewConditionalChain(members...))
}
