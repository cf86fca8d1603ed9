package discrete

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// BNAFActivation is the activation between the block layers of a BNAF.
type BNAFActivation int

const (
	// BNAFLeakyTanh, the default, is σ(h) = tanh(h) + εh with ε = 0.01: a
	// smooth version of flowjax's LeakyTanh(3) (tanh on [−3, 3], linear
	// with slope sech²(3) ≈ 0.0099 beyond). Its range is all of R, so that
	// a BNAF maps R^d onto R^d and its inverse is defined everywhere; and
	// σ' = sech²(h) + ε is smooth, so the log-determinant and its
	// gradients have no kinks.
	BNAFLeakyTanh BNAFActivation = iota
	// BNAFTanh is tanh, as in the paper. Without the gated residual the
	// network's range is then a bounded set: the inverse fails
	// (odeflow.ErrNotConverged) for base points outside it, and a flow's
	// density integrates to the base mass of that set, less than 1.
	BNAFTanh
)

// String returns "leakytanh" or "tanh".
func (a BNAFActivation) String() string {
	switch a {
	case BNAFLeakyTanh:
		return "leakytanh"
	case BNAFTanh:
		return "tanh"
	}
	return fmt.Sprintf("BNAFActivation(%d)", int(a))
}

// BNAFResidual selects the residual connection around a BNAF network.
type BNAFResidual int

const (
	// BNAFNoResidual, the default, uses the network's output as it is.
	BNAFNoResidual BNAFResidual = iota
	// BNAFGated is the paper's gated residual connection
	//	y = σ(α) f(x) + (1 − σ(α)) x
	// with one trainable gate α (parameter block name+"/gate", starting at
	// 0). Its log-determinant is Σ_k softplus(G_k + α) − softplus(α),
	// where G_k = log ∂f_k/∂x_k.
	BNAFGated
)

// String returns "none" or "gated".
func (r BNAFResidual) String() string {
	switch r {
	case BNAFNoResidual:
		return "none"
	case BNAFGated:
		return "gated"
	}
	return fmt.Sprintf("BNAFResidual(%d)", int(r))
}

// BNAFSettings configures NewBNAF. Dim is required; every other zero field
// means the default given beside it.
type BNAFSettings struct {
	// Dim is the dimension d of the data (at least 1).
	Dim int
	// Layers is the number of hidden block layers (flowjax's nn_depth);
	// default 1. The network has Layers + 1 masked linear maps.
	Layers int
	// HiddenFactor is the number a of hidden units per dimension in each
	// hidden layer (flowjax's nn_block_dim), so that a hidden layer has
	// d·a units; default 8.
	HiddenFactor int
	// Act is the activation after every linear map but the last; the
	// default is BNAFLeakyTanh.
	Act BNAFActivation
	// Residual is BNAFNoResidual (default) or BNAFGated.
	Residual BNAFResidual
	// ContextDim > 0 makes the BNAF conditional: a context of that many
	// columns is appended to the input of the first layer, whose weights
	// for it are unconstrained (they shift the first pre-activations and
	// leave the Jacobian triangular). 0 means unconditional.
	ContextDim int
	// Src draws the initial parameters; nil means rand.NewPCG(1, 2).
	Src rand.Source
}

const (
	// bnafLeak is the slope ε of the leaky tanh.
	bnafLeak = 0.01
	// bnafMaxIter bounds the safeguarded Newton iterations per dimension
	// of the inverse (bisection steps included).
	bnafMaxIter = 2000
	// bnafMaxStep bounds the bracket expansion of the inverse.
	bnafMaxStep = 0x1p1000
	// bnafTiny is the smallest sum of scaled terms for which the fast
	// log-sum-exp is used; below it the exact one is.
	bnafTiny = 0x1p-900
	bnafLn4  = 1.3862943611198906 // log 4
)

// bnafAct returns σ(h) and σ'(h).
func bnafAct(leaky bool, h float64) (s, d float64) {
	em := math.Expm1(-2 * math.Abs(h))
	s = -em / (2 + em)
	d = 4 * (1 + em) / ((2 + em) * (2 + em))
	if h < 0 {
		s = -s
	}
	if leaky {
		s += bnafLeak * h
		d += bnafLeak
	}
	return s, d
}

// bnafActLog returns σ(h), σ'(h), log σ'(h) and d log σ'(h)/dh.
func bnafActLog(leaky bool, h float64) (s, d, ld, dld float64) {
	a := math.Abs(h)
	em := math.Expm1(-2 * a)
	th := -em / (2 + em)
	s2 := 4 * (1 + em) / ((2 + em) * (2 + em))
	if h < 0 {
		th = -th
	}
	if !leaky {
		return th, s2, bnafLn4 - 2*a - 2*math.Log1p(1+em), -2 * th
	}
	d = s2 + bnafLeak
	return th + bnafLeak*h, d, math.Log(d), -2 * th * s2 / d
}

// bnafLayer is one masked linear map of a BNAF: out = d·aout units from
// in = d·ain inputs (plus m context inputs for the first layer).
type bnafLayer struct {
	in, out   int
	ain, aout int
	m, cols   int // context inputs; cols = in + m, the row length of w
	act       bool
	v, s, b   nn.Slot
	off       []int // off[r]: start of row r's raw weights within v

	// Refreshed from the parameters at each call.
	w    []float64 // out×cols effective weights, zero above the block diagonal
	u    []float64 // out×cols unit rows: w = e^{s_r} u
	es   []float64 // e^{s_r}
	invN []float64 // 1/‖ṽ_r‖ (see refresh)
	logW []float64 // out×ain: log of the diagonal-block weights
	beta []float64 // max of each row of logW
	bhat []float64 // out×ain: exp(logW − beta)

	// Backward accumulators.
	gw    []float64 // out×cols
	glogW []float64 // out×ain

	// Batch states, n×out: activation output (the network output for the
	// last layer), σ', d log σ'/dh, the log-diagonal Jacobian entries of
	// the pre-activation (q) and of the output (p = q + log σ').
	s_, dd, dl, pl, ql []float64
	gh, ghl, td        []float64 // Backward and JVP buffers, n×out
}

// rowLen returns the number of raw weights of row r: the blocks up to and
// including its diagonal block, and the context.
func (L *bnafLayer) rowLen(r int) int { return (r/L.aout+1)*L.ain + L.m }

// BNAF is the block neural autoregressive flow of De Cao, Titov & Aziz
// (2020, https://arxiv.org/abs/1904.04676): one monotone autoregressive
// network x ↦ f(x) of R^d whose weight matrices are made of d×d blocks,
// block-lower-triangular with positive diagonal blocks.
//
// # The network
//
// Layer l maps d·a_{l−1} units to d·a_l units (a_0 = a_{L} = 1, a_l = a
// between), h^l = W^l s^{l−1} + b^l, with s^0 = x, s^l = σ(h^l) for the
// hidden layers and f = h^L. Block (k, j) of W^l (a_l × a_{l−1}) is zero for
// j > k; the raw parameters V give the blocks j < k as they are and the
// diagonal blocks as exp(V), so these are positive; then each row r is
// weight-normalized:
//
//	W_rc = e^{s_r} ṽ_rc / ‖ṽ_r‖,   ṽ_rc = exp(V_rc) (diagonal block), V_rc (below)
//
// (computed with the row's largest term factored out, so that no parameter
// value overflows). Then f_k depends on x_1..x_k only and ∂f_k/∂x_k > 0: f
// is triangular and strictly increasing in each x_k, so invertible.
// Parameter blocks: name+"/<l>/V" (the used entries of W^l only, row by
// row), name+"/<l>/s", name+"/<l>/b" for l = 0, 1, …, and name+"/gate" with
// the gated residual.
//
// # Log-determinant
//
// The Jacobian is triangular, so log|det| = Σ_k G_k with G_k = log ∂f_k/∂x_k,
// the product of the diagonal blocks of the layer Jacobians. It is
// accumulated in log space, one vector per dimension: q^1_r = log W^1_{rk},
// p^l_r = q^l_r + log σ'(h^l_r) and
//
//	q^l_r = log Σ_c exp(log W^l_{rc} + p^{l−1}_c)   (c in the diagonal block)
//
// so that G_k = q^L_k never underflows. The log-sum-exp factors out the
// largest terms and runs as a dot product of positive numbers, falling back
// to the exact form when that would underflow.
//
// # Directions
//
// Forward (data → base) is the network: z = f(x) and its density in one
// pass. Inverse (base → data) solves f(x) = z one dimension at a time, in
// order: given x_1..x_{k−1}, z_k = f_k(x_{<k}, x_k) is a strictly increasing
// scalar equation, bracketed by steps doubling from x_k = z_k, then solved
// by Newton's method safeguarded with bisection (a step leaving the bracket,
// or not halving it fast enough, is replaced by bisection) until a step is
// within 2 ulp of max(|x_k|, 1). Rows that cannot be bracketed (a tanh
// network's bounded range) or do not converge give a *odeflow.RowError
// wrapping odeflow.ErrNotConverged.
//
// # Gradients
//
// Backward of a ForwardRecord is hand-written reverse mode through the
// network and the log-space log-determinant. Backward of an InverseRecord
// uses the implicit function theorem: with x = f⁻¹(z), Δ = −G(x), the
// cotangent ḡ = ∂L/∂x − (∂L/∂Δ) ∂G/∂x is mapped to the input by
// λ = J⁻ᵀ ḡ (J, the triangular Jacobian of f at x, from d forward-mode
// products), and the parameters receive −λᵀ ∂f/∂θ − (∂L/∂Δ) ∂G/∂θ. The
// context is not differentiated.
//
// A BNAF holds workspace and a recording: it is not safe for concurrent
// use. After the first call with a given batch size it allocates nothing
// (except when it returns an error).
//
// With ContextDim > 0 a BNAF is an odeflow.Conditional: Given binds a
// context and returns the BNAF itself, whose mapping methods then use it
// (they panic if no context is bound or its number of rows differs from the
// batch's). With ContextDim 0 Given ignores its argument.
type BNAF struct {
	d, m   int
	leaky  bool
	gated  bool
	p      *nn.Params
	layers []*bnafLayer
	gate   nn.Slot
	sa     float64 // σ(α)
	sna    float64 // σ(−α)
	alpha  float64

	ctx *mat.Dense

	// Batch workspace (capacity for nmax rows).
	nmax                            int
	xin                             []float64 // n×(d+m): layer-1 input with a context
	gyb, gxb, gbar, lam, a1, xd, yd []float64 // n×d
	neg                             []float64 // n
	jac                             []float64 // n×d×d

	// Row workspace of the inverse and of Backward's log path.
	xr, yr, cr []float64
	rsv        [][]float64 // per layer: the row's outputs
	tan, fix   [][]float64 // per layer: block tangents and fixed parts
	gsc        []float64   // scaled exponentials, max ain
	gq, gp     []float64   // log-path cotangents, max width

	rec bnafRec
}

type bnafRec struct {
	dir int // linNone, linForward, linInverse
	n   int
	ldj bool
	x   *mat.Dense // the network input: Forward's x or Inverse's dst
	out *mat.Dense
}

// NewBNAF returns a BNAF with parameters reserved in p under name (see the
// type's documentation) and drawn from s.Src as in the paper: V uniform
// with Glorot's bound for each block row, s_r = log U with U uniform on
// (0, 1], biases uniform on ±1/√(fan-in), gate 0. It panics if p is nil,
// s.Dim < 1, a count is negative, or Act or Residual is invalid.
func NewBNAF(p *nn.Params, name string, s BNAFSettings) *BNAF {
	const op = "discrete: NewBNAF"
	if p == nil {
		panic(op + ": nil *nn.Params")
	}
	linCheckDim(op, s.Dim)
	if s.Layers < 0 || s.HiddenFactor < 0 || s.ContextDim < 0 {
		panic(fmt.Sprintf("%s: negative Layers (%d), HiddenFactor (%d) or ContextDim (%d)", op, s.Layers, s.HiddenFactor, s.ContextDim))
	}
	if s.Act != BNAFLeakyTanh && s.Act != BNAFTanh {
		panic(fmt.Sprintf("%s: invalid activation %v", op, s.Act))
	}
	if s.Residual != BNAFNoResidual && s.Residual != BNAFGated {
		panic(fmt.Sprintf("%s: invalid residual %v", op, s.Residual))
	}
	nh := s.Layers
	if nh == 0 {
		nh = 1
	}
	a := s.HiddenFactor
	if a == 0 {
		a = 8
	}
	src := s.Src
	if src == nil {
		src = rand.NewPCG(1, 2)
	}
	rnd := rand.New(src)
	d := s.Dim
	t := &BNAF{d: d, m: s.ContextDim, leaky: s.Act == BNAFLeakyTanh, gated: s.Residual == BNAFGated, p: p}
	maxW, maxA := d, 1
	for l := 0; l <= nh; l++ {
		ain, aout := a, a
		if l == 0 {
			ain = 1
		}
		if l == nh {
			aout = 1
		}
		L := &bnafLayer{in: d * ain, out: d * aout, ain: ain, aout: aout, act: l < nh}
		if l == 0 {
			L.m = t.m
		}
		L.cols = L.in + L.m
		L.off = make([]int, L.out)
		nv := 0
		for r := 0; r < L.out; r++ {
			L.off[r] = nv
			nv += L.rowLen(r)
		}
		pre := fmt.Sprintf("%s/%d", name, l)
		L.v = p.Reserve(pre+"/V", nv)
		L.s = p.Reserve(pre+"/s", L.out)
		L.b = p.Reserve(pre+"/b", L.out)
		v, sv, bv := L.v.Of(p.Data), L.s.Of(p.Data), L.b.Of(p.Data)
		for r := 0; r < L.out; r++ {
			n := L.rowLen(r)
			bound := math.Sqrt(6 / float64(n+aout))
			for j := 0; j < n; j++ {
				v[L.off[r]+j] = bound * (2*rnd.Float64() - 1)
			}
			sv[r] = math.Log(1 - rnd.Float64())
			bv[r] = (2*rnd.Float64() - 1) / math.Sqrt(float64(n))
		}
		L.w = make([]float64, L.out*L.cols)
		L.u = make([]float64, L.out*L.cols)
		L.gw = make([]float64, L.out*L.cols)
		L.es = make([]float64, L.out)
		L.invN = make([]float64, L.out)
		L.beta = make([]float64, L.out)
		L.logW = make([]float64, L.out*ain)
		L.bhat = make([]float64, L.out*ain)
		L.glogW = make([]float64, L.out*ain)
		t.layers = append(t.layers, L)
		t.rsv = append(t.rsv, make([]float64, L.out))
		t.tan = append(t.tan, make([]float64, aout))
		t.fix = append(t.fix, make([]float64, aout))
		maxW = max(maxW, L.out)
		maxA = max(maxA, ain)
	}
	if t.gated {
		t.gate = p.Reserve(name+"/gate", 1)
	}
	t.xr, t.yr, t.cr = make([]float64, d), make([]float64, d), make([]float64, t.m)
	t.gsc = make([]float64, maxA)
	t.gq, t.gp = make([]float64, maxW), make([]float64, maxW)
	return t
}

// Dim returns d.
func (t *BNAF) Dim() int { return t.d }

// ContextDim returns the number of context columns (0 if unconditional).
func (t *BNAF) ContextDim() int { return t.m }

// Params returns the shared parameter vector.
func (t *BNAF) Params() *nn.Params { return t.p }

// Given binds the n×ContextDim context c and returns t, whose mapping
// methods then take batches of n rows, row i with context row i. c is read
// at call time (and copied by record calls). With ContextDim 0 the context
// is ignored (c may be nil). It panics if ContextDim > 0 and c is nil or
// has the wrong number of columns.
func (t *BNAF) Given(c *mat.Dense) odeflow.Transform {
	if t.m == 0 {
		return t
	}
	if c == nil {
		panic("discrete: BNAF.Given: nil context")
	}
	if _, cc := c.Dims(); cc != t.m {
		panic(fmt.Sprintf("discrete: BNAF.Given: context has %d columns, want %d", cc, t.m))
	}
	t.ctx = c
	return t
}

// refresh computes the effective weights from the parameters.
func (t *BNAF) refresh() {
	data := t.p.Data
	for _, L := range t.layers {
		L.refresh(data)
	}
	if t.gated {
		t.alpha = t.gate.Of(data)[0]
		t.sa, t.sna = linSigmoid(t.alpha), linSigmoid(-t.alpha)
	}
}

func (L *bnafLayer) refresh(data []float64) {
	v, sv := L.v.Of(data), L.s.Of(data)
	for r := 0; r < L.out; r++ {
		k := r / L.aout
		c0, c1 := k*L.ain, (k+1)*L.ain // diagonal block columns
		raw := v[L.off[r] : L.off[r]+L.rowLen(r)]
		wr, ur := L.w[r*L.cols:(r+1)*L.cols], L.u[r*L.cols:(r+1)*L.cols]
		// M: the log of the largest |ṽ|, so that every scaled entry is ≤ 1.
		mx := math.Inf(-1)
		for _, x := range raw[c0:c1] {
			mx = math.Max(mx, x)
		}
		amax := 0.0
		for _, x := range raw[:c0] {
			amax = math.Max(amax, math.Abs(x))
		}
		for _, x := range raw[c1:] {
			amax = math.Max(amax, math.Abs(x))
		}
		if amax > 0 {
			mx = math.Max(mx, math.Log(amax))
		}
		em := math.Exp(-mx)
		exact := em == 0 || math.IsInf(em, 0)
		scaled := func(x float64) float64 {
			if !exact {
				return x * em
			}
			if x == 0 {
				return 0
			}
			return math.Copysign(math.Exp(math.Log(math.Abs(x))-mx), x)
		}
		sum := 0.0
		for c := 0; c < c0; c++ {
			x := scaled(raw[c])
			ur[c] = x
			sum += x * x
		}
		for c := c0; c < c1; c++ {
			x := math.Exp(raw[c] - mx)
			ur[c] = x
			sum += x * x
		}
		for c := c1; c < L.in; c++ {
			ur[c] = 0
		}
		for j := 0; j < L.m; j++ {
			x := scaled(raw[c1+j])
			ur[L.in+j] = x
			sum += x * x
		}
		nrm := math.Sqrt(sum)
		lnrm := math.Log(nrm)
		es := math.Exp(sv[r])
		L.es[r] = es
		L.invN[r] = em / nrm
		for c := range ur {
			ur[c] /= nrm
			wr[c] = es * ur[c]
		}
		lw, bh := L.logW[r*L.ain:(r+1)*L.ain], L.bhat[r*L.ain:(r+1)*L.ain]
		beta := math.Inf(-1)
		for c := range lw {
			lw[c] = sv[r] + (raw[c0+c] - mx) - lnrm
			beta = math.Max(beta, lw[c])
		}
		L.beta[r] = beta
		for c := range bh {
			bh[c] = math.Exp(lw[c] - beta)
		}
	}
}

// ensure sizes the batch workspace for n rows.
func (t *BNAF) ensure(n int) {
	if n <= t.nmax {
		return
	}
	d := t.d
	for _, L := range t.layers {
		sz := n * L.out
		L.s_, L.dd, L.dl = make([]float64, sz), make([]float64, sz), make([]float64, sz)
		L.pl, L.ql = make([]float64, sz), make([]float64, sz)
		L.gh, L.ghl, L.td = make([]float64, sz), make([]float64, sz), make([]float64, sz)
	}
	t.xin = make([]float64, n*(d+t.m))
	t.gyb, t.gxb, t.gbar = make([]float64, n*d), make([]float64, n*d), make([]float64, n*d)
	t.lam, t.a1 = make([]float64, n*d), make([]float64, n*d)
	t.xd, t.yd = make([]float64, n*d), make([]float64, n*d)
	t.neg = make([]float64, n)
	t.jac = make([]float64, n*d*d)
	t.nmax = n
}

// context returns the bound context for a batch of n rows (nil without
// one). It panics if a conditional BNAF has no context of n rows bound.
func (t *BNAF) context(op string, n int) *mat.Dense {
	if t.m == 0 {
		return nil
	}
	if t.ctx == nil {
		panic(op + ": no context bound (call Given)")
	}
	if r, _ := t.ctx.Dims(); r != n {
		panic(fmt.Sprintf("%s: context has %d rows, batch has %d", op, r, n))
	}
	return t.ctx
}

// input returns the layer-1 input of the batch x: x itself, or x and the
// context side by side in t.xin.
func (t *BNAF) input(x, ctx *mat.Dense, n int) ([]float64, int) {
	if t.m == 0 {
		raw := x.RawMatrix()
		return raw.Data, raw.Stride
	}
	w := t.d + t.m
	for i := 0; i < n; i++ {
		row := t.xin[i*w : (i+1)*w]
		copy(row, linRow(x, i))
		copy(row[t.d:], linRow(ctx, i))
	}
	return t.xin[:n*w], w
}

// pass runs the network on the layer-1 input in (n rows, leading dimension
// ld), storing the states; with logs, the log-diagonal Jacobians too. The
// network output f is left in the last layer's s_.
func (t *BNAF) pass(in []float64, ld, n int, logs bool) {
	data := t.p.Data
	cur, lc := in, ld
	for li, L := range t.layers {
		o := L.out
		bnafGemm(false, true, n, o, L.cols, cur, lc, L.w, L.cols, 0, L.s_, o)
		bias := L.b.Of(data)
		for i := 0; i < n; i++ {
			hs := L.s_[i*o : (i+1)*o]
			if !L.act {
				for r := range hs {
					hs[r] += bias[r]
				}
				if logs {
					L.lse(L.ql[i*o:(i+1)*o], t.layers[li-1].pl[i*L.in:(i+1)*L.in], t.gsc)
				}
				continue
			}
			dd, dl := L.dd[i*o:(i+1)*o], L.dl[i*o:(i+1)*o]
			if !logs {
				for r, h := range hs {
					hs[r], dd[r] = bnafAct(t.leaky, h+bias[r])
				}
				continue
			}
			ql, pl := L.ql[i*o:(i+1)*o], L.pl[i*o:(i+1)*o]
			if li == 0 {
				copy(ql, L.logW) // ain = 1: q_r = log W_{r,k}
			} else {
				L.lse(ql, t.layers[li-1].pl[i*L.in:(i+1)*L.in], t.gsc)
			}
			for r, h := range hs {
				var lsd float64
				hs[r], dd[r], lsd, dl[r] = bnafActLog(t.leaky, h+bias[r])
				pl[r] = ql[r] + lsd
			}
		}
		cur, lc = L.s_, o
	}
}

// lse sets q_r = log Σ_c exp(logW_rc + p_c) over the diagonal block of each
// row r; g is scratch of length ain.
func (L *bnafLayer) lse(q, p, g []float64) {
	ain, aout := L.ain, L.aout
	for k := 0; k*aout < L.out; k++ {
		pk := p[k*ain : (k+1)*ain]
		mx := math.Inf(-1)
		for _, v := range pk {
			mx = math.Max(mx, v)
		}
		gk := g[:ain]
		for c, v := range pk {
			gk[c] = math.Exp(v - mx)
		}
		for r := k * aout; r < (k+1)*aout; r++ {
			bh := L.bhat[r*ain : (r+1)*ain]
			sum := 0.0
			for c, b := range bh {
				sum += b * gk[c]
			}
			if sum > bnafTiny {
				q[r] = L.beta[r] + mx + math.Log(sum)
				continue
			}
			q[r] = lseExact(L.logW[r*ain:(r+1)*ain], pk)
		}
	}
}

// lseExact returns log Σ_c exp(a_c + b_c).
func lseExact(a, b []float64) float64 {
	mx := math.Inf(-1)
	for c := range a {
		mx = math.Max(mx, a[c]+b[c])
	}
	if math.IsInf(mx, 0) {
		return mx
	}
	s := 0.0
	for c := range a {
		s += math.Exp(a[c] + b[c] - mx)
	}
	return mx + math.Log(s)
}

// lseBack adds to gp the cotangents of p given those of q = lse(p) (gq),
// and, if params, adds those of logW to glogW.
func (L *bnafLayer) lseBack(gp, gq, q, p, g []float64, params bool) {
	ain, aout := L.ain, L.aout
	for k := 0; k*aout < L.out; k++ {
		pk := p[k*ain : (k+1)*ain]
		gpk := gp[k*ain : (k+1)*ain]
		mx := math.Inf(-1)
		for _, v := range pk {
			mx = math.Max(mx, v)
		}
		gk := g[:ain]
		for c, v := range pk {
			gk[c] = math.Exp(v - mx)
		}
		for r := k * aout; r < (k+1)*aout; r++ {
			gr := gq[r]
			bh := L.bhat[r*ain : (r+1)*ain]
			glw := L.glogW[r*ain : (r+1)*ain]
			sum := 0.0
			for c, b := range bh {
				sum += b * gk[c]
			}
			if sum > bnafTiny {
				sc := gr / sum
				for c, b := range bh {
					pi := b * gk[c] * sc
					gpk[c] += pi
					if params {
						glw[c] += pi
					}
				}
				continue
			}
			lw := L.logW[r*ain : (r+1)*ain]
			for c := range lw {
				pi := gr * math.Exp(lw[c]+pk[c]-q[r])
				gpk[c] += pi
				if params {
					glw[c] += pi
				}
			}
		}
	}
}

// logdet returns the log-determinant of row i from the stored G.
func (t *BNAF) logdet(i int) float64 {
	d := t.d
	g := t.layers[len(t.layers)-1].ql[i*d : (i+1)*d]
	s := 0.0
	if !t.gated {
		for _, v := range g {
			s += v
		}
		return s
	}
	sp := linSoftplus(t.alpha)
	for _, v := range g {
		s += linSoftplus(v+t.alpha) - sp
	}
	return s
}

// Forward maps data to the base through the network, z = f(x), adding
// log|det ∂f/∂x| to ldj[i]. dst may be x.
func (t *BNAF) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return t.forward("discrete: BNAF.Forward", dst, ldj, x, true, false)
}

// ForwardRecord is Forward, recording for Backward.
func (t *BNAF) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return t.forward("discrete: BNAF.ForwardRecord", dst, ldj, x, false, true)
}

func (t *BNAF) forward(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inPlace, record bool) error {
	t.rec.dir = linNone
	n, err := odeflow.PrepareCall(op, t.d, dst, ldj, x, inPlace)
	if err != nil {
		return err
	}
	ctx := t.context(op, n)
	t.refresh()
	t.ensure(n)
	in, ld := t.input(x, ctx, n)
	t.pass(in, ld, n, ldj != nil)
	d := t.d
	f := t.layers[len(t.layers)-1].s_
	for i := 0; i < n; i++ {
		yi, xi, fi := linRow(dst, i), linRow(x, i), f[i*d:(i+1)*d]
		if t.gated {
			for k := range yi {
				yi[k] = t.sa*fi[k] + t.sna*xi[k]
			}
		} else {
			copy(yi, fi)
		}
		if ldj != nil {
			ldj[i] += t.logdet(i)
		}
	}
	if err := linNumerical(op, dst); err != nil {
		return err
	}
	if record {
		t.rec = bnafRec{dir: linForward, n: n, ldj: ldj != nil, x: x, out: dst}
	}
	return nil
}

// Inverse maps base points to data by solving f(x) = z one dimension at a
// time (see the type's documentation), adding −log|det ∂f/∂x| at the
// solution to ldj[i]. dst may be z. Rows whose solve fails give a
// *odeflow.RowError wrapping odeflow.ErrNotConverged.
func (t *BNAF) Inverse(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	return t.inverse("discrete: BNAF.Inverse", dst, ldj, z, true, false)
}

// InverseRecord is Inverse, recording for Backward.
func (t *BNAF) InverseRecord(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	return t.inverse("discrete: BNAF.InverseRecord", dst, ldj, z, false, true)
}

func (t *BNAF) inverse(op string, dst *mat.Dense, ldj []float64, z *mat.Dense, inPlace, record bool) error {
	t.rec.dir = linNone
	n, err := odeflow.PrepareCall(op, t.d, dst, ldj, z, inPlace)
	if err != nil {
		return err
	}
	ctx := t.context(op, n)
	t.refresh()
	t.ensure(n)
	var failed []int
	for i := 0; i < n; i++ {
		copy(t.yr, linRow(z, i))
		if ctx != nil {
			copy(t.cr, linRow(ctx, i))
		}
		for k := 0; k < t.d; k++ {
			if !t.solveDim(k, t.yr[k]) {
				failed = append(failed, i)
				break
			}
		}
		copy(linRow(dst, i), t.xr)
	}
	if failed != nil {
		return &odeflow.RowError{Op: op, Rows: failed, Err: odeflow.ErrNotConverged}
	}
	if err := linNumerical(op, dst); err != nil {
		return err
	}
	if ldj != nil || record {
		in, ld := t.input(dst, ctx, n)
		t.pass(in, ld, n, ldj != nil)
		if ldj != nil {
			for i := 0; i < n; i++ {
				ldj[i] -= t.logdet(i)
			}
		}
	}
	if record {
		t.rec = bnafRec{dir: linInverse, n: n, ldj: ldj != nil, x: dst, out: dst}
	}
	return nil
}

// fixBlock computes, for the row being inverted, the part of the
// pre-activations of block k in every layer that does not depend on x_k:
// bias, lower blocks (already solved) and context.
func (t *BNAF) fixBlock(k int) {
	data := t.p.Data
	prev := t.xr
	for li, L := range t.layers {
		bias := L.b.Of(data)
		fix := t.fix[li]
		c0 := k * L.ain
		for rr := range fix {
			r := k*L.aout + rr
			wr := L.w[r*L.cols : (r+1)*L.cols]
			h := bias[r]
			for c, w := range wr[:c0] {
				h += w * prev[c]
			}
			if li == 0 {
				for j, c := range t.cr {
					h += wr[L.in+j] * c
				}
			}
			fix[rr] = h
		}
		prev = t.rsv[li]
	}
}

// evalBlock sets x_k = v in the row being inverted, updates block k of
// every layer's row state and returns the k-th output and its derivative
// with respect to x_k.
func (t *BNAF) evalBlock(k int, v float64) (float64, float64) {
	t.xr[k] = v
	var prev, ptan []float64
	for li, L := range t.layers {
		cur, tan, fix := t.rsv[li], t.tan[li], t.fix[li]
		c0 := k * L.ain
		for rr := range fix {
			r := k*L.aout + rr
			wr := L.w[r*L.cols+c0 : r*L.cols+c0+L.ain]
			h, hd := fix[rr], 0.0
			if li == 0 {
				h += wr[0] * v
				hd = wr[0]
			} else {
				pv := prev[c0 : c0+L.ain]
				for c, w := range wr {
					h += w * pv[c]
					hd += w * ptan[c]
				}
			}
			if L.act {
				s, dd := bnafAct(t.leaky, h)
				cur[r], tan[rr] = s, dd*hd
			} else {
				cur[r], tan[rr] = h, hd
			}
		}
		prev, ptan = cur, tan
	}
	f, fd := prev[k], ptan[0]
	if t.gated {
		return t.sa*f + t.sna*v, t.sa*fd + t.sna
	}
	return f, fd
}

// solveDim solves f_k(x_{<k}, x_k) = target for x_k in the row being
// inverted, leaving x_k and the row state at the solution. It reports
// whether the solve converged.
func (t *BNAF) solveDim(k int, target float64) bool {
	t.fixBlock(k)
	x0 := target
	f0, _ := t.evalBlock(k, x0)
	if f0 == target {
		return true
	}
	if math.IsNaN(f0) {
		return false
	}
	// Bracket: lo < root < hi with f(lo) < target < f(hi).
	lo, hi := x0, x0
	for step := 1.0; ; step *= 2 {
		if step > bnafMaxStep {
			return false
		}
		x := x0 + step
		if f0 > target {
			x = x0 - step
		}
		f, _ := t.evalBlock(k, x)
		switch {
		case math.IsNaN(f):
			return false
		case f == target:
			return true
		case (f < target) == (f0 < target):
			if f0 < target {
				lo = x
			} else {
				hi = x
			}
			continue
		}
		if f0 < target {
			hi = x
		} else {
			lo = x
		}
		break
	}
	// Newton's method safeguarded by bisection.
	x := lo + 0.5*(hi-lo)
	dxold, dx := hi-lo, hi-lo
	const eps = 0x1p-52
	for it := 0; it < bnafMaxIter; it++ {
		f, df := t.evalBlock(k, x)
		r := f - target
		if r == 0 {
			return true
		}
		if math.IsNaN(r) {
			return false
		}
		if r < 0 {
			lo = x
		} else {
			hi = x
		}
		xn := x - r/df
		if !(xn > lo && xn < hi) || math.Abs(2*r) > math.Abs(dxold*df) {
			dxold, dx = dx, 0.5*(hi-lo)
			xn = lo + dx
			if xn == lo || xn == hi {
				t.evalBlock(k, xn)
				return true // the bracket is two adjacent floats
			}
		} else {
			dxold, dx = dx, r/df
		}
		x = xn
		if math.Abs(dx) <= 2*eps*math.Max(math.Abs(x), 1) {
			t.evalBlock(k, x)
			return true
		}
	}
	return false
}

// Backward propagates derivatives through the recorded call (see
// odeflow.Differentiable), into the input and every parameter (not the
// context). It panics without a recording.
func (t *BNAF) Backward(gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) error {
	const op = "discrete: BNAF.Backward"
	if t.rec.dir == linNone {
		panic(op + " without a recording")
	}
	odeflow.PrepareBackward(op, t.d, t.rec.n, t.p.Len(), gin, gparams, gout, gldj)
	if gldj != nil && !t.rec.ldj {
		panic(op + ": gldj given but the recording has no ldj")
	}
	t.refresh()
	n, d := t.rec.n, t.d
	gy := t.gyb[:n*d]
	for i := 0; i < n; i++ {
		copy(gy[i*d:(i+1)*d], linRow(gout, i))
	}
	var gx []float64
	if gin != nil {
		gx = t.gxb[:n*d]
	}
	if t.rec.dir == linForward {
		if gx == nil && gparams == nil {
			return nil
		}
		t.vjp(gx, gparams, gy, gldj)
	} else {
		t.inverseBackward(gx, gparams, gy, gldj)
	}
	if gin != nil {
		for i := 0; i < n; i++ {
			copy(linRow(gin, i), gx[i*d:(i+1)*d])
		}
	}
	return nil
}

// inverseBackward is Backward of InverseRecord by the implicit function
// theorem (see the type's documentation).
func (t *BNAF) inverseBackward(gx, gparams, gy, gldj []float64) {
	n, d := t.rec.n, t.d
	gb := t.gbar[:n*d]
	copy(gb, gy)
	var neg []float64
	if gldj != nil {
		neg = t.neg[:n]
		for i, v := range gldj {
			neg[i] = -v
		}
		a1 := t.a1[:n*d]
		t.vjp(a1, nil, nil, neg)
		for e := range gb {
			gb[e] += a1[e]
		}
	}
	// The Jacobian J of f at x, column by column.
	jac := t.jac[:n*d*d]
	xd, yd := t.xd[:n*d], t.yd[:n*d]
	for j := 0; j < d; j++ {
		for e := range xd {
			xd[e] = 0
		}
		for i := 0; i < n; i++ {
			xd[i*d+j] = 1
		}
		t.jvp(yd, xd, n)
		for i := 0; i < n; i++ {
			for k := 0; k < d; k++ {
				jac[i*d*d+k*d+j] = yd[i*d+k]
			}
		}
	}
	// λ = J⁻ᵀ ḡ, by back substitution (J is lower triangular).
	lam := t.lam[:n*d]
	for i := 0; i < n; i++ {
		ji, gi, li := jac[i*d*d:(i+1)*d*d], gb[i*d:(i+1)*d], lam[i*d:(i+1)*d]
		for k := d - 1; k >= 0; k-- {
			s := gi[k]
			for r := k + 1; r < d; r++ {
				s -= ji[r*d+k] * li[r]
			}
			li[k] = s / ji[k*d+k]
		}
	}
	if gx != nil {
		copy(gx, lam)
	}
	if gparams != nil {
		for e := range lam {
			lam[e] = -lam[e]
		}
		t.vjp(nil, gparams, lam, neg)
	}
}

// jvp sets yd = J xd through the recorded network (n×d each).
func (t *BNAF) jvp(yd, xd []float64, n int) {
	d := t.d
	cur, lc := xd, d
	for _, L := range t.layers {
		o := L.out
		bnafGemm(false, true, n, o, L.in, cur, lc, L.w, L.cols, 0, L.td[:n*o], o)
		if L.act {
			td, dd := L.td[:n*o], L.dd[:n*o]
			for e := range td {
				td[e] *= dd[e]
			}
		}
		cur, lc = L.td, o
	}
	for e := range yd {
		if t.gated {
			yd[e] = t.sa*cur[e] + t.sna*xd[e]
		} else {
			yd[e] = cur[e]
		}
	}
}

// vjp propagates the cotangents gy of the output (n×d, nil means 0) and gG
// of the log-determinant (n, nil means 0) through the recorded forward pass
// of the network: it writes the input cotangent into gx (n×d, if not nil)
// and adds the parameter cotangent into gp (if not nil).
func (t *BNAF) vjp(gx, gp, gy, gG []float64) {
	n, d := t.rec.n, t.d
	nl := len(t.layers)
	last := t.layers[nl-1]
	data := t.p.Data
	ctx := t.ctx
	if t.m == 0 {
		ctx = nil
	}
	in0, ld0 := t.input(t.rec.x, ctx, n)
	if gp != nil {
		for _, L := range t.layers {
			for e := range L.glogW {
				L.glogW[e] = 0
			}
		}
	}
	galpha := 0.0
	gf := last.gh[:n*d]
	f := last.s_
	for i := 0; i < n; i++ {
		gfi := gf[i*d : (i+1)*d]
		if gy == nil {
			for k := range gfi {
				gfi[k] = 0
			}
			continue
		}
		gyi := gy[i*d : (i+1)*d]
		if !t.gated {
			copy(gfi, gyi)
			continue
		}
		xi := in0[i*ld0 : i*ld0+d]
		for k, g := range gyi {
			gfi[k] = t.sa * g
			galpha += g * (f[i*d+k] - xi[k])
		}
	}
	galpha *= t.sa * t.sna
	if gG != nil {
		for i := 0; i < n; i++ {
			gl := gG[i]
			gq := t.gq[:d]
			G := last.ql[i*d : (i+1)*d]
			sg := 0.0
			for k := range gq {
				if t.gated {
					s := linSigmoid(G[k] + t.alpha)
					gq[k] = gl * s
					sg += s
				} else {
					gq[k] = gl
				}
			}
			if t.gated {
				galpha += gl * (sg - float64(d)*t.sa)
			}
			for li := nl - 1; li >= 1; li-- {
				L, P := t.layers[li], t.layers[li-1]
				po := P.out
				gpn := t.gp[:po]
				for c := range gpn {
					gpn[c] = 0
				}
				L.lseBack(gpn, gq, L.ql[i*L.out:(i+1)*L.out], P.pl[i*po:(i+1)*po], t.gsc, gp != nil)
				ghl, dl := P.ghl[i*po:(i+1)*po], P.dl[i*po:(i+1)*po]
				for c, g := range gpn {
					ghl[c] = g * dl[c]
				}
				gq = t.gq[:po]
				copy(gq, gpn)
			}
			if gp != nil {
				g0 := t.layers[0].glogW
				for r, g := range gq {
					g0[r] += g
				}
			}
		}
	}
	gh := gf
	for li := nl - 1; li >= 0; li-- {
		L := t.layers[li]
		o := L.out
		in, ld := in0, ld0
		if li > 0 {
			in, ld = t.layers[li-1].s_, t.layers[li-1].out
		}
		if gp != nil {
			bnafGemm(true, false, o, L.cols, n, gh, o, in, ld, 0, L.gw, L.cols)
			gb := L.b.Of(gp)
			for i := 0; i < n; i++ {
				for r, g := range gh[i*o : (i+1)*o] {
					gb[r] += g
				}
			}
		}
		if li > 0 {
			P := t.layers[li-1]
			gs := P.gh[:n*P.out]
			bnafGemm(false, false, n, P.out, o, gh, o, L.w, L.cols, 0, gs, P.out)
			dd := P.dd[:n*P.out]
			if gG != nil {
				ghl := P.ghl[:n*P.out]
				for e := range gs {
					gs[e] = gs[e]*dd[e] + ghl[e]
				}
			} else {
				for e := range gs {
					gs[e] *= dd[e]
				}
			}
			gh = gs
		} else if gx != nil {
			bnafGemm(false, false, n, d, o, gh, o, L.w, L.cols, 0, gx, d)
			if t.gated && gy != nil {
				for e := range gx {
					gx[e] += t.sna * gy[e]
				}
			}
		}
	}
	if gp == nil {
		return
	}
	for _, L := range t.layers {
		L.paramGrad(gp, data, gG != nil)
	}
	if t.gated {
		t.gate.Of(gp)[0] += galpha
	}
}

// paramGrad adds to gp the cotangents of V and s given those of the
// effective weights (gw) and, if logs, of the log-diagonal weights (glogW).
func (L *bnafLayer) paramGrad(gp, data []float64, logs bool) {
	gv, gs := L.v.Of(gp), L.s.Of(gp)
	for r := 0; r < L.out; r++ {
		k := r / L.aout
		c0, c1 := k*L.ain, (k+1)*L.ain
		graw := gv[L.off[r] : L.off[r]+L.rowLen(r)]
		es := L.es[r]
		ur, gwr, wr := L.u[r*L.cols:(r+1)*L.cols], L.gw[r*L.cols:(r+1)*L.cols], L.w[r*L.cols:(r+1)*L.cols]
		glw := L.glogW[r*L.ain : (r+1)*L.ain]
		// ∂L/∂s_r and S = Σ_c (∂L/∂u_c) u_c, with ∂L/∂u_c = e^{s_r} ∂L/∂W_rc
		// (+ ∂L/∂logW_rc / u_c on the diagonal block).
		g, sum := 0.0, 0.0
		for c := 0; c < c1; c++ {
			g += gwr[c] * wr[c]
			sum += gwr[c] * es * ur[c]
		}
		for c := L.in; c < L.cols; c++ {
			g += gwr[c] * wr[c]
			sum += gwr[c] * es * ur[c]
		}
		if logs {
			for _, v := range glw {
				g += v
				sum += v
			}
		}
		gs[r] += g
		inv := L.invN[r]
		for c := 0; c < c0; c++ {
			graw[c] += (gwr[c]*es - ur[c]*sum) * inv
		}
		for c := c0; c < c1; c++ {
			v := ur[c] * (gwr[c]*es - ur[c]*sum)
			if logs {
				v += glw[c-c0]
			}
			graw[c] += v
		}
		for j := 0; j < L.m; j++ {
			c := L.in + j
			graw[c1+j] += (gwr[c]*es - ur[c]*sum) * inv
		}
	}
}
