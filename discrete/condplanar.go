package discrete

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// ConditionalPlanar is the amortized planar flow: the planar map of Planar
// whose parameters are computed per sample from a context c by a
// hypernetwork (an nn.MLP),
//
//	f(z; c) = z + û(c) tanh(w(c)ᵀz + b(c)),   (u, w, b)(c) = MLP(c)
//
// The MLP has ContextDim inputs, tanh hidden layers and 2d+1 outputs (raw
// u, then w, then b); û(c) is u(c) reparameterized per row exactly as in
// Planar, so that w(c)ᵀû(c) > −1 and f(·; c) is invertible for every
// context and every parameter value. The directions are Planar's: Inverse
// (base → data) is the closed form and Forward (data → base) the
// safeguarded 1-D root find, row by row (the per-row maths is Planar's own,
// run on a one-row Planar that holds each row's u, w, b, including its
// safeguarded root find).
//
// Backward differentiates the input and, through the MLP, its parameters
// (the context is not differentiated). Parameter blocks are those of the
// MLP, name+"/net/0", name+"/net/1", … (see nn.NewMLP).
//
// It implements odeflow.Conditional: Given binds an n×ContextDim context
// and returns the receiver, whose mapping methods then take batches of n
// rows (they panic if no context is bound or the row counts differ). It
// holds workspace and a recording: it is not safe for concurrent use.
// After the first call with a given batch size it allocates nothing (except
// when it returns an error).
type ConditionalPlanar struct {
	d, m int
	p    *nn.Params
	net  *nn.MLP
	ws   nn.Workspace
	nmax int
	row  *Planar // one row's parameters, in a private nn.Params
	ctx  *mat.Dense

	cb  []float64 // n×m context copy, the MLP input
	o   []float64 // n×(2d+1) MLP output
	og  []float64 // n×(2d+1) cotangent of the MLP output
	a   []float64 // n: a_i = wᵀz_i + b of the last call
	guh []float64
	gwd []float64
	rec linRec
}

// NewConditionalPlanar returns a conditional planar layer of dimension d
// with a context of contextDim columns, whose hypernetwork has the given
// hidden widths (none means affine in the context) and tanh activations,
// with parameters reserved in p under name+"/net" and drawn from src
// (Glorot-uniform weights; the last layer's weights are scaled by 0.1 and
// its biases for u and w drawn from N(0, 1/d), so that the layer starts
// close to a planar layer with NewPlanar's initialization). It panics if
// p or src is nil, d < 1, contextDim < 1 or a hidden width is not
// positive.
func NewConditionalPlanar(p *nn.Params, name string, d, contextDim int, hidden []int, src rand.Source) *ConditionalPlanar {
	const op = "discrete: NewConditionalPlanar"
	linCheckDim(op, d)
	if p == nil {
		panic(op + ": nil *nn.Params")
	}
	if src == nil {
		panic(op + ": nil rand.Source")
	}
	if contextDim < 1 {
		panic(fmt.Sprintf("%s: context dimension %d, want at least 1 (use NewPlanar)", op, contextDim))
	}
	spec := make([]string, len(hidden))
	for i, h := range hidden {
		if h < 1 {
			panic(fmt.Sprintf("%s: hidden width %d", op, h))
		}
		spec[i] = strconv.Itoa(h)
	}
	k := 2*d + 1
	net, err := nn.NewMLP(p, name+"/net", nn.MLPConfig{In: contextDim, Out: k, Hidden: strings.Join(spec, "-"), Act: nn.Tanh}, src)
	if err != nil {
		panic(fmt.Sprintf("%s: %v", op, err))
	}
	ls := net.Layers()
	lastL := ls[len(ls)-1]
	w, b := lastL.Weight().Of(p.Data), lastL.Bias().Of(p.Data)
	for i := range w {
		w[i] *= 0.1
	}
	rnd := rand.New(src)
	sd := 1 / math.Sqrt(float64(d))
	for j := 0; j < 2*d; j++ {
		b[j] = sd * rnd.NormFloat64()
	}
	b[2*d] = 0
	return &ConditionalPlanar{
		d: d, m: contextDim, p: p, net: net,
		row: NewPlanar(new(nn.Params), "row", d, rand.NewPCG(0, 0)),
		guh: make([]float64, d), gwd: make([]float64, d),
	}
}

// Dim returns d.
func (t *ConditionalPlanar) Dim() int { return t.d }

// ContextDim returns the number of context columns.
func (t *ConditionalPlanar) ContextDim() int { return t.m }

// Params returns the shared parameter vector.
func (t *ConditionalPlanar) Params() *nn.Params { return t.p }

// Net returns the hypernetwork.
func (t *ConditionalPlanar) Net() *nn.MLP { return t.net }

// Given binds the n×ContextDim context c and returns t. c is read at call
// time and copied by each call. It panics if c is nil or does not have
// ContextDim columns.
func (t *ConditionalPlanar) Given(c *mat.Dense) odeflow.Transform {
	if c == nil {
		panic("discrete: ConditionalPlanar.Given: nil context")
	}
	if _, cc := c.Dims(); cc != t.m {
		panic(fmt.Sprintf("discrete: ConditionalPlanar.Given: context has %d columns, want %d", cc, t.m))
	}
	t.ctx = c
	return t
}

// Forward maps data to the base by inverting each row's planar map with a
// safeguarded Newton root find, adding −log D to ldj[i]. dst may be x. Rows whose
// root find fails give a *odeflow.RowError wrapping odeflow.ErrNotConverged.
func (t *ConditionalPlanar) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return t.apply("discrete: ConditionalPlanar.Forward", dst, ldj, x, false, true)
}

// Inverse maps base points to data by each row's closed-form planar map,
// adding log D to ldj[i]. dst may be z.
func (t *ConditionalPlanar) Inverse(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	return t.apply("discrete: ConditionalPlanar.Inverse", dst, ldj, z, true, true)
}

// ForwardRecord is Forward, recording for Backward.
func (t *ConditionalPlanar) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	if err := t.apply("discrete: ConditionalPlanar.ForwardRecord", dst, ldj, x, false, false); err != nil {
		return err
	}
	t.rec.set(linForward, x, dst, ldj)
	return nil
}

// InverseRecord is Inverse, recording for Backward.
func (t *ConditionalPlanar) InverseRecord(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	if err := t.apply("discrete: ConditionalPlanar.InverseRecord", dst, ldj, z, true, false); err != nil {
		return err
	}
	t.rec.set(linInverse, z, dst, ldj)
	return nil
}

// loadRow sets the one-row planar layer to row i's raw u, w, b and
// refreshes its û, c and 1 + c.
func (t *ConditionalPlanar) loadRow(i int) {
	k := 2*t.d + 1
	oi := t.o[i*k : (i+1)*k]
	copy(t.row.p.Data, oi) // the row layer's blocks are u, w, b in this order
	t.row.refresh()
}

func (t *ConditionalPlanar) apply(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse, inPlace bool) error {
	t.rec.dir = linNone
	n, err := odeflow.PrepareCall(op, t.d, dst, ldj, x, inPlace)
	if err != nil {
		return err
	}
	if t.ctx == nil {
		panic(op + ": no context bound (call Given)")
	}
	if r, _ := t.ctx.Dims(); r != n {
		panic(fmt.Sprintf("%s: context has %d rows, batch has %d", op, r, n))
	}
	k := 2*t.d + 1
	if n > t.nmax {
		t.ws = t.net.NewWorkspace(n, 0)
		t.cb = make([]float64, n*t.m)
		t.o = make([]float64, n*k)
		t.og = make([]float64, n*k)
		t.a = make([]float64, n)
		t.nmax = n
	}
	for i := 0; i < n; i++ {
		copy(t.cb[i*t.m:(i+1)*t.m], linRow(t.ctx, i))
	}
	t.net.Forward(t.ws, t.o[:n*k], t.cb[:n*t.m])
	pl := t.row
	var failed []int
	for i := 0; i < n; i++ {
		t.loadRow(i)
		a, l, ok := pl.applyRow(linRow(dst, i), linRow(x, i), inverse, ldj != nil)
		if !ok {
			failed = append(failed, i)
		}
		t.a[i] = a
		if ldj != nil {
			ldj[i] += l
		}
	}
	if failed != nil {
		return &odeflow.RowError{Op: op, Rows: failed, Err: odeflow.ErrNotConverged}
	}
	return linNumerical(op, dst)
}

// Backward propagates derivatives through the recorded call (see
// odeflow.Differentiable), into the input and, through the hypernetwork,
// its parameters; through the root find of Forward by the implicit
// function theorem, as Planar does. It panics without a recording.
func (t *ConditionalPlanar) Backward(gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) error {
	t.rec.check("discrete: ConditionalPlanar.Backward", t.d, t.p.Len(), gin, gparams, gout, gldj)
	inv := t.rec.dir == linInverse
	pl := t.row
	k := 2*t.d + 1
	for i := 0; i < t.rec.n; i++ {
		t.loadRow(i)
		u, w := pl.u.Of(pl.p.Data), pl.w.Of(pl.p.Data)
		g, in := linRow(gout, i), linRow(t.rec.in, i)
		gl := 0.0
		if gldj != nil {
			gl = gldj[i]
		}
		c := pl.c
		a := t.a[i]
		th, s2 := math.Tanh(a), planarSech2(a)
		dd := pl.det(th, s2)
		gu := 0.0 // g·û
		for j, v := range g {
			gu += v * pl.uh[j]
		}
		var ga, gc, sgn float64 // ga: ∂L/∂a (inverse) or ∂L/∂r (forward)
		if inv {
			// x = z + û t(a), a = wᵀz + b, Δ = log D(a).
			ga = gu*s2 - gl*2*c*th*s2/dd
			gc = gl * s2 / dd
			sgn = 1
		} else {
			// z = x − û t(a), φ(a) = wᵀx + b, Δ = −log D(a).
			gt := -gu + gl*2*c*th/dd
			gat := gt * s2
			ga = gat / dd
			gc = -gl*s2/dd - gat*th/dd
			sgn = -1
		}
		if gin != nil {
			gi := linRow(gin, i)
			for j, v := range g {
				gi[j] = v + ga*w[j]
			}
		}
		if gparams == nil {
			continue
		}
		og := t.og[i*k : (i+1)*k]
		gU, gW := og[:t.d], og[t.d:2*t.d]
		og[2*t.d] = ga
		for j, v := range g {
			t.guh[j] = sgn * v * th
			t.gwd[j] = ga * in[j]
		}
		if pl.zeroW {
			copy(gU, t.guh)
			copy(gW, t.gwd)
			continue
		}
		// û = u + k w, k = (softplus(−v) − 1)/q, c = softplus(v) − 1, with
		// v = wᵀu and q = ‖w‖².
		gk := 0.0
		for j, v := range t.guh {
			gk += v * w[j]
		}
		gv := -gk*linSigmoid(-pl.v)/pl.q + gc*linSigmoid(pl.v)
		gq := -gk * pl.k / pl.q
		for j := range gU {
			gU[j] = t.guh[j] + gv*w[j]
			gW[j] = pl.k*t.guh[j] + gv*u[j] + 2*gq*w[j] + t.gwd[j]
		}
	}
	if gparams != nil {
		t.net.VJP(t.ws, nil, gparams, t.og[:t.rec.n*k])
	}
	return nil
}
