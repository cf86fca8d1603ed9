package odeflow

import (
	"fmt"
	"reflect"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/nn"
)

// Chain composes transforms: with members f_1, …, f_k,
//
//	Forward  = f_k ∘ … ∘ f_1     (data → base: f_1 is applied first)
//	Inverse  = f_1⁻¹ ∘ … ∘ f_k⁻¹ (base → data)
//
// and the log-determinants of the members add up. Members with parameters
// must share one *nn.Params (see Parameterized), which is then the chain's
// Params: one optimizer sees the whole model as one vector, and Backward
// passes the same full-length gparams to every member, each adding into its
// own slots.
//
// Chain implements Differentiable; its Record methods and Backward panic if
// a member is not Differentiable. Since each transform object holds one
// recording, an object may appear only once in a chain that is
// differentiated, also not as the inner transform of an Inverse member: the
// Record methods panic if a pointer member appears twice (for plain Forward
// and Inverse repeats are fine). It holds workspace (two ping-pong buffers,
// and k−1 recorded intermediate states of a record call), so it is not safe
// for concurrent use. After the first call with a given batch size, Forward,
// Inverse, the record calls and Backward allocate nothing.
type Chain struct {
	members []Transform
	dim     int
	params  *nn.Params

	buf  [2]mat.Dense // Forward/Inverse intermediates
	rec  []mat.Dense  // recorded intermediate states, rec[j] after the j-th applied member
	grad [2]mat.Dense // Backward intermediates

	dup int // index of a repeated pointer member, or −1

	recDir int // 0: no recording, recForward, recInverse
	recN   int
	recLDJ bool
}

const (
	recForward = 1 + iota
	recInverse
)

// NewChain returns the composition of members, applied in order by Forward.
// It panics if there are no members, a member is nil, the dimensions differ,
// or members with parameters do not share one *nn.Params.
func NewChain(members ...Transform) *Chain {
	if len(members) == 0 {
		panic("odeflow: NewChain: no members")
	}
	c := &Chain{members: append([]Transform(nil), members...)}
	for i, m := range c.members {
		if m == nil {
			panic(fmt.Sprintf("odeflow: NewChain: member %d is nil", i))
		}
		if i == 0 {
			c.dim = m.Dim()
		} else if m.Dim() != c.dim {
			panic(fmt.Sprintf("odeflow: NewChain: member %d has dimension %d, want %d", i, m.Dim(), c.dim))
		}
		c.params = sharedParams("NewChain", c.params, paramsOf(m), fmt.Sprintf("member %d", i))
	}
	c.rec = make([]mat.Dense, len(c.members)-1)
	c.dup = repeated(c.members)
	return c
}

// repeated returns the index of the first member whose underlying pointer
// (through Inverted wrappers) appeared earlier, or −1. It allocates nothing.
func repeated(members []Transform) int {
	for i := range members {
		pi := pointerOf(members[i])
		if pi == 0 {
			continue
		}
		for j := 0; j < i; j++ {
			if pointerOf(members[j]) == pi {
				return i
			}
		}
	}
	return -1
}

// pointerOf returns the address behind t (unwrapping Inverted), or 0 if t is
// not a pointer.
func pointerOf(t Transform) uintptr {
	for {
		v, ok := t.(*Inverted)
		if !ok {
			break
		}
		t = v.t
	}
	rv := reflect.ValueOf(t)
	if rv.Kind() != reflect.Pointer {
		return 0
	}
	return rv.Pointer()
}

// Len returns the number of members.
func (c *Chain) Len() int { return len(c.members) }

// Member returns the i-th member (0 is applied first by Forward).
func (c *Chain) Member(i int) Transform { return c.members[i] }

// Dim returns the dimension of the members.
func (c *Chain) Dim() int { return c.dim }

// Params returns the members' shared parameters, or nil if no member has any.
func (c *Chain) Params() *nn.Params { return c.params }

// Forward applies the members in order and sums their log-determinants.
// dst may be x. It follows the Transform contract; a member's error is
// returned wrapped with the member's index.
func (c *Chain) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	c.recDir = 0
	n, err := PrepareCall("odeflow: Chain.Forward", c.dim, dst, ldj, x, true)
	if err != nil {
		return err
	}
	return c.run(dst, ldj, x, n, false)
}

// Inverse applies the members' inverses in reverse order and sums their
// log-determinants. dst may be y.
func (c *Chain) Inverse(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	c.recDir = 0
	n, err := PrepareCall("odeflow: Chain.Inverse", c.dim, dst, ldj, y, true)
	if err != nil {
		return err
	}
	return c.run(dst, ldj, y, n, true)
}

// run applies the members (in reverse and inverted if inverse) through the
// ping-pong buffers; the last one writes dst.
func (c *Chain) run(dst *mat.Dense, ldj []float64, x *mat.Dense, n int, inverse bool) error {
	k := len(c.members)
	in := x
	for j := 0; j < k; j++ {
		i, m := c.order(j, inverse)
		out := dst
		if j < k-1 {
			out = use(&c.buf[j%2], n, c.dim)
		}
		var err error
		if inverse {
			err = m.Inverse(out, ldj, in)
		} else {
			err = m.Forward(out, ldj, in)
		}
		if err != nil {
			return c.memberErr(i, err)
		}
		in = out
	}
	return nil
}

// order returns the index and member applied at step j.
func (c *Chain) order(j int, inverse bool) (int, Transform) {
	if inverse {
		j = len(c.members) - 1 - j
	}
	return j, c.members[j]
}

func (c *Chain) memberErr(i int, err error) error {
	return fmt.Errorf("odeflow: Chain member %d (%T): %w", i, c.members[i], err)
}

func (c *Chain) diff(i int) Differentiable {
	d, ok := c.members[i].(Differentiable)
	if !ok {
		panic(fmt.Sprintf("odeflow: Chain: member %d (%T) is not Differentiable", i, c.members[i]))
	}
	return d
}

// ForwardRecord is Forward, recording every member for Backward. The
// intermediate states are kept by the chain; x and dst must not be modified
// until Backward is done.
func (c *Chain) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return c.record("odeflow: Chain.ForwardRecord", dst, ldj, x, false)
}

// InverseRecord is Inverse, recording every member for Backward.
func (c *Chain) InverseRecord(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	return c.record("odeflow: Chain.InverseRecord", dst, ldj, y, true)
}

func (c *Chain) record(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse bool) error {
	c.recDir = 0
	for i := range c.members {
		c.diff(i)
	}
	if c.dup >= 0 {
		panic(fmt.Sprintf("odeflow: Chain: member %d repeats an earlier member; a differentiated chain needs distinct objects", c.dup))
	}
	n, err := PrepareCall(op, c.dim, dst, ldj, x, false)
	if err != nil {
		return err
	}
	k := len(c.members)
	in := x
	for j := 0; j < k; j++ {
		i, _ := c.order(j, inverse)
		m := c.diff(i)
		out := dst
		if j < k-1 {
			out = use(&c.rec[j], n, c.dim)
		}
		if inverse {
			err = m.InverseRecord(out, ldj, in)
		} else {
			err = m.ForwardRecord(out, ldj, in)
		}
		if err != nil {
			return c.memberErr(i, err)
		}
		in = out
	}
	c.recDir = recForward
	if inverse {
		c.recDir = recInverse
	}
	c.recN = n
	c.recLDJ = ldj != nil
	return nil
}

// Backward propagates derivatives through the last record call, member by
// member in the reverse order of application. Every member receives the same
// gldj (the chain's log-determinant is the sum of the members') and the same
// gparams.
func (c *Chain) Backward(gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) error {
	if c.recDir == 0 {
		panic("odeflow: Chain.Backward without a recording")
	}
	np := 0
	if c.params != nil {
		np = c.params.Len()
	}
	PrepareBackward("odeflow: Chain.Backward", c.dim, c.recN, np, gin, gparams, gout, gldj)
	if gldj != nil && !c.recLDJ {
		panic("odeflow: Chain.Backward: gldj given but the recording has no ldj")
	}
	inverse := c.recDir == recInverse
	k := len(c.members)
	g := gout
	for j := k - 1; j >= 0; j-- {
		i, _ := c.order(j, inverse)
		target := gin
		if j > 0 {
			target = use(&c.grad[j%2], c.recN, c.dim)
		}
		if err := c.diff(i).Backward(target, gparams, g, gldj); err != nil {
			return c.memberErr(i, err)
		}
		if target == nil {
			break
		}
		g = target
	}
	return nil
}

// ForwardStates returns the k+1 states of x through the members: states[0]
// is a copy of x and states[i] is the output of member i−1.
func (c *Chain) ForwardStates(x *mat.Dense) ([]*mat.Dense, error) {
	return c.states(x, false)
}

// InverseStates returns the k+1 states of y through the inverted members in
// reverse order: states[0] is a copy of y, states[j] the output of the
// inverse of member k−j, and states[k] the data.
func (c *Chain) InverseStates(y *mat.Dense) ([]*mat.Dense, error) {
	return c.states(y, true)
}

func (c *Chain) states(x *mat.Dense, inverse bool) ([]*mat.Dense, error) {
	c.recDir = 0
	checkCols("odeflow: Chain states", x, c.dim)
	out := make([]*mat.Dense, len(c.members)+1)
	out[0] = mat.DenseCopyOf(x)
	for j := range c.members {
		i, m := c.order(j, inverse)
		out[j+1] = new(mat.Dense)
		var err error
		if inverse {
			err = m.Inverse(out[j+1], nil, out[j])
		} else {
			err = m.Forward(out[j+1], nil, out[j])
		}
		if err != nil {
			return nil, c.memberErr(i, err)
		}
	}
	return out, nil
}

// ConditionalChain composes conditional transforms (lift unconditional ones
// with Unconditional): Given(c) is the Chain of the members' Given(c), so
// every conditional member receives the same context rows. All members with
// a context must agree on its dimension, which is the chain's ContextDim (0
// if no member uses a context).
//
// Given rebinds and returns one reused *Chain: the result is valid until the
// next call of Given, and the ConditionalChain is not safe for concurrent
// use. Members with parameters must share one *nn.Params (for a Conditional,
// the one returned by its Params method; its Given results must use the same).
type ConditionalChain struct {
	members []Conditional
	cdim    int
	bound   Chain
}

// NewConditionalChain returns the composition of members. It panics if
// there are no members, a member is nil, the dimensions or the context
// dimensions disagree, or members with parameters do not share one *nn.Params.
func NewConditionalChain(members ...Conditional) *ConditionalChain {
	if len(members) == 0 {
		panic("odeflow: NewConditionalChain: no members")
	}
	c := &ConditionalChain{members: append([]Conditional(nil), members...)}
	for i, m := range c.members {
		if m == nil {
			panic(fmt.Sprintf("odeflow: NewConditionalChain: member %d is nil", i))
		}
		if i == 0 {
			c.bound.dim = m.Dim()
		} else if m.Dim() != c.bound.dim {
			panic(fmt.Sprintf("odeflow: NewConditionalChain: member %d has dimension %d, want %d", i, m.Dim(), c.bound.dim))
		}
		if cd := m.ContextDim(); cd != 0 {
			if c.cdim != 0 && cd != c.cdim {
				panic(fmt.Sprintf("odeflow: NewConditionalChain: member %d has context dimension %d, want %d", i, cd, c.cdim))
			}
			c.cdim = cd
		}
		c.bound.params = sharedParams("NewConditionalChain", c.bound.params, paramsOf(m), fmt.Sprintf("member %d", i))
	}
	c.bound.members = make([]Transform, len(members))
	c.bound.rec = make([]mat.Dense, len(members)-1)
	return c
}

// Dim returns the dimension of the members.
func (c *ConditionalChain) Dim() int { return c.bound.dim }

// ContextDim returns the dimension of the context.
func (c *ConditionalChain) ContextDim() int { return c.cdim }

// Params returns the members' shared parameters, or nil.
func (c *ConditionalChain) Params() *nn.Params { return c.bound.params }

// Len returns the number of members.
func (c *ConditionalChain) Len() int { return len(c.members) }

// Given binds the context c (n×ContextDim) to every member and returns the
// resulting chain. It panics if c does not have ContextDim columns (a nil c
// is accepted only when ContextDim is 0), or if a member's Given returns a
// transform of the wrong dimension or with other parameters.
func (c *ConditionalChain) Given(ctx *mat.Dense) Transform {
	if c.cdim > 0 {
		checkCols("odeflow: ConditionalChain.Given", ctx, c.cdim)
	}
	c.bound.recDir = 0
	for i, m := range c.members {
		t := m.Given(ctx)
		if t == nil || t.Dim() != c.bound.dim {
			panic(fmt.Sprintf("odeflow: ConditionalChain.Given: member %d returned a bad transform", i))
		}
		if p := paramsOf(t); p != nil && p != c.bound.params {
			panic(fmt.Sprintf("odeflow: ConditionalChain.Given: member %d returned a transform with other parameters", i))
		}
		c.bound.members[i] = t
	}
	c.bound.dup = repeated(c.bound.members)
	return &c.bound
}
