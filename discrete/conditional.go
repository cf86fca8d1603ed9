package discrete

// Shared plumbing of the layers driven by a conditioner network (Coupling,
// Autoregressive): the network and its workspace, the bound context, the
// identity initialization of the network's last layer, and the mapping of a
// Transformer's element errors to the rows of a batch.
//
// Both layer kinds are conditional in zuko's lazy sense: they implement
// odeflow.Conditional, and Given binds an n×ContextDim context to the layer
// itself and returns it. With ContextDim 0 Given ignores its argument, so an
// unconditional layer can sit in an odeflow.ConditionalChain without
// odeflow.Unconditional.

import (
	"errors"
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// condNet is a conditioner network with a workspace grown to the largest
// batch seen.
type condNet struct {
	net *nn.MLP
	ws  nn.Workspace
	cap int
}

// forward sets out = net(in) for n rows, recording in the workspace.
func (c *condNet) forward(out, in []float64, n int) {
	if c.ws == nil || n > c.cap {
		c.ws = c.net.NewParallelWorkspace(n)
		c.cap = n
	}
	c.net.Forward(c.ws, out, in)
}

// vjp propagates gout through the last forward (gin and gθ may be nil).
func (c *condNet) vjp(gin, gθ, gout []float64) { c.net.VJP(c.ws, gin, gθ, gout) }

// condCtx is the context bound by Given.
type condCtx struct {
	m int        // context dimension (0: unconditional)
	c *mat.Dense // the bound context, read at call time
}

// bind binds c; it panics if the layer is conditional and c is nil or does
// not have m columns.
func (b *condCtx) bind(op string, c *mat.Dense) {
	if b.m == 0 {
		return
	}
	if c == nil {
		panic(op + ": nil context")
	}
	if _, cc := c.Dims(); cc != b.m {
		panic(fmt.Sprintf("%s: context has %d columns, want %d", op, cc, b.m))
	}
	b.c = c
}

// check panics unless a conditional layer has a context of n rows bound.
func (b *condCtx) check(op string, n int) {
	if b.m == 0 {
		return
	}
	if b.c == nil {
		panic(op + ": conditional layer without a context (call Given first)")
	}
	if r, _ := b.c.Dims(); r != n {
		panic(fmt.Sprintf("%s: context has %d rows, batch has %d", op, r, n))
	}
}

// row returns row i of the bound context.
func (b *condCtx) row(i int) []float64 { return condRow(b.c, i) }

// condRow returns row i of m as a slice of length Cols.
func condRow(m *mat.Dense, i int) []float64 {
	raw := m.RawMatrix()
	return raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols]
}

// condGrow returns s with length n, reallocating only when its capacity is
// too small.
func condGrow(s []float64, n int) []float64 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float64, n)
}

// identityParamser is implemented by transformers whose identity map is not
// given by all-zero raw parameters (Spline).
type identityParamser interface {
	IdentityParams(dst []float64) []float64
}

// condIdentityBias sets the bias of net's last layer to the transformer's
// identity parameters, repeated for every block of the output, when t has
// them (IdentityParams); otherwise it leaves the bias alone. With a zero last
// weight matrix the layer then starts as the identity map.
func condIdentityBias(net *nn.MLP, t Transformer) {
	ip, ok := t.(identityParamser)
	if !ok {
		return
	}
	ls := net.Layers()
	b := ls[len(ls)-1].Bias().Of(net.Params().Data)
	np := t.NumParams()
	blk := ip.IdentityParams(nil)
	for i := 0; i+np <= len(b); i += np {
		copy(b[i:i+np], blk)
	}
}

// condRowErr maps an error of a Transformer call over a batch whose rows hold
// width elements each to a *odeflow.RowError naming the row of the first
// offending element; the transformer's *ElementError is its cause (so
// errors.Is finds ErrDomain, odeflow.ErrNumerical or odeflow.ErrNonFinite
// through it). A non-finite conditioner output, which means parameters that
// overflowed, is reported as an *ElementError about a "parameter".
func condRowErr(op string, err error, width int) error {
	var ee *ElementError
	if errors.As(err, &ee) {
		return &odeflow.RowError{Op: op, Rows: []int{ee.Index / width}, Err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// condSum adds the sum of each w-element group of l to dst[i].
func condSum(dst, l []float64, w int) {
	for i := range dst {
		s := 0.0
		for _, v := range l[i*w : i*w+w] {
			s += v
		}
		dst[i] += s
	}
}

// Directions of a recording of a conditioned layer.
const (
	condNone = iota
	condForward
	condInverse
)

// condRec is what a conditioned layer keeps between a record call and
// Backward, beside its own buffers.
type condRec struct {
	dir int
	n   int
	ldj bool
}

// check panics without a recording compatible with gldj and checks
// Backward's arguments.
func (r *condRec) check(op string, d, nparams int, gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) {
	if r.dir == condNone {
		panic(op + " without a recording")
	}
	odeflow.PrepareBackward(op, d, r.n, nparams, gin, gparams, gout, gldj)
	if gldj != nil && !r.ldj {
		panic(op + ": gldj given but the recording has no ldj")
	}
}

// condHidden parses a hidden-layer spec for a conditioner.
func condHidden(op, spec string) ([]int, error) {
	ws, err := nn.ParseHidden(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return ws, nil
}

// condAct returns the conditioner activation for a setting: the zero value
// (nn.Identity) means nn.ReLU.
func condAct(a nn.Activation) nn.Activation {
	if a == nn.Identity {
		return nn.ReLU
	}
	return a
}
