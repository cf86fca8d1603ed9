package cnf

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/vectorfield"
)

// ConditionalBlock is a CNF block whose field takes a context, one row per
// sample: dz/dt = f(t, z; θ, c_i) for row i. It implements
// odeflow.Conditional: Given binds a context and returns the block for it,
// a *Block (an odeflow.Differentiable) that is rebound, not rebuilt, by
// every call of Given. The context enters the field only (vectorfield.MLP
// concatenates it to z at the first layer); it is not differentiated.
type ConditionalBlock struct {
	b *Block
}

// NewConditional returns a conditional block on f, whose ContextDim must be
// positive. Settings are those of New. It panics as New does, or if f has
// no context.
func NewConditional(f vectorfield.Field, s *Settings) *ConditionalBlock {
	if f != nil && f.ContextDim() == 0 {
		panic("cnf: NewConditional: the field takes no context; use New")
	}
	return &ConditionalBlock{b: newBlock("cnf: NewConditional", f, s)}
}

// Dim returns d.
func (c *ConditionalBlock) Dim() int { return c.b.d }

// ContextDim returns the field's context dimension.
func (c *ConditionalBlock) ContextDim() int { return c.b.dc }

// Params returns the shared parameters (the field's, holding τ too).
func (c *ConditionalBlock) Params() *nn.Params { return c.b.p }

// Block returns the underlying block, for its statistics, T and penalty.
// Its mapping methods need a context bound by Given.
func (c *ConditionalBlock) Block() *Block { return c.b }

// Given binds the n×ContextDim context ctx and returns the block for it
// (always the same *Block): batches passed to it must have n rows, and row
// i is mapped with context row i. ctx is read at call time and, by a
// record call's Backward, again then: it must not change in between. It
// panics if ctx is nil or has the wrong number of columns.
func (c *ConditionalBlock) Given(ctx *mat.Dense) odeflow.Transform {
	if ctx == nil {
		panic("cnf: ConditionalBlock.Given: nil context")
	}
	if _, m := ctx.Dims(); m != c.b.dc {
		panic(fmt.Sprintf("cnf: ConditionalBlock.Given: context has %d columns, want %d", m, c.b.dc))
	}
	c.b.ctxM = ctx
	return c.b
}
