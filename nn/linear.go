package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/odeflow/odeflow/internal/kernel"
)

// Linear is an affine layer followed by an elementwise activation,
//
//	h = x Wᵀ + b,   y = σ(h),
//
// with W (Out×In, row-major) and b (Out) in two blocks of a Params named
// name+"/W" and name+"/b". Pass Identity for a plain linear layer; fusing the
// activation saves a pass over memory and lets the reverse pass through a
// tangent computation use σ” directly.
//
// A masked layer (NewMaskedLinear) uses W ⊙ M for a fixed 0/1 matrix M, as
// MADE does; entries of W where M is 0 receive no gradient and have no
// effect.
//
// Products run through internal/kernel's assembly Gemm where the CPU has
// AVX2+FMA, and through gonum's BLAS (blas64) otherwise: when Out > In a
// transposed copy of W is kept in the workspace so that every product runs
// along the longer dimension (a square layer does without: the copy would
// cost a pass over W in Forward and one over its gradient in VJP, for
// nothing).
type Linear struct {
	p       *Params
	in, out int
	act     Activation
	w, b    Slot
	mask    []float64 // the mask the products apply: nil if dense or all ones
	given   []float64 // the mask as given (Mask), nil for a dense layer
	wide    bool
}

// NewLinear reserves the parameters of an In→Out affine layer followed by
// act in p, under name+"/W" and name+"/b", and returns the layer. The
// parameters start at zero: call Init. It panics if in or out is not
// positive, act is not Valid, or a name is taken.
func NewLinear(p *Params, name string, in, out int, act Activation) *Linear {
	if in <= 0 || out <= 0 {
		panic(fmt.Sprintf("nn: Linear %q needs positive widths, got %d→%d", name, in, out))
	}
	if !act.Valid() {
		panic("nn: invalid activation " + act.String())
	}
	l := &Linear{p: p, in: in, out: out, act: act, wide: out > in}
	l.w = p.Reserve(name+"/W", out*in)
	l.b = p.Reserve(name+"/b", out)
	return l
}

// NewMaskedLinear is NewLinear with a fixed Out×In row-major 0/1 mask on W
// (copied). It panics if the mask has the wrong length or an entry other
// than 0 or 1, and in the cases NewLinear does.
func NewMaskedLinear(p *Params, name string, in, out int, act Activation, mask []float64) *Linear {
	if len(mask) != in*out {
		panic(fmt.Sprintf("nn: MaskedLinear %q: mask has length %d, want %d×%d", name, len(mask), out, in))
	}
	for _, v := range mask {
		if v != 0 && v != 1 {
			panic(fmt.Sprintf("nn: MaskedLinear %q: mask entry %v is not 0 or 1", name, v))
		}
	}
	l := NewLinear(p, name, in, out, act)
	l.given = append([]float64(nil), mask...)
	// A mask of ones (MADE's hidden-to-hidden masks when every hidden unit
	// has the same degree, as for d = 2) changes nothing: skip its products.
	for _, v := range mask {
		if v == 0 {
			l.mask = l.given
			break
		}
	}
	return l
}

// In returns the input width.
func (l *Linear) In() int { return l.in }

// Out returns the output width.
func (l *Linear) Out() int { return l.out }

// Activation returns the activation applied after the affine map.
func (l *Linear) Activation() Activation { return l.act }

// Params returns the parameter store the layer's blocks live in.
func (l *Linear) Params() *Params { return l.p }

// Weight returns the slot of W (Out×In, row-major) in Params.
func (l *Linear) Weight() Slot { return l.w }

// Bias returns the slot of b in Params.
func (l *Linear) Bias() Slot { return l.b }

// Mask returns a copy of the mask, or nil for a dense layer.
func (l *Linear) Mask() []float64 {
	if l.given == nil {
		return nil
	}
	return append([]float64(nil), l.given...)
}

// Init fills W by init (fan-in In, fan-out Out) from src, zeroes the masked
// entries of W, and sets b to zero.
func (l *Linear) Init(init Init, src rand.Source) {
	w := l.w.Of(l.p.Data)
	init.Fill(w, l.in, l.out, src)
	if l.mask != nil {
		for i, m := range l.mask {
			w[i] *= m
		}
	}
	clear(l.b.Of(l.p.Data))
}

// ZeroInit sets W and b to zero, so that the layer outputs σ(0) for every
// input: the usual start for the last layer of a flow's conditioner, whose
// transform is then the identity.
func (l *Linear) ZeroInit() {
	clear(l.w.Of(l.p.Data))
	clear(l.b.Of(l.p.Data))
}

type linearWS struct {
	owner      *Linear
	maxN, maxK int
	n, k       int
	state      int // 0: empty, 1: after Forward, 2: after Forward and JVP

	x, xd  []float64 // references to the inputs of Forward and JVP
	weff   []float64 // (W⊙M)ᵀ In×Out if wide; W⊙M Out×In if narrow and masked
	d1, d2 []float64 // σ'(h), σ”(h): n×Out
	hd     []float64 // ḣ: nk×Out (curved activations only)
	gh     []float64 // ∂L/∂h: n×Out
	ghd    []float64 // ∂L/∂ḣ: nk×Out (non-identity activations)
	gw     []float64 // weight-gradient scratch (wide or masked)
}

func (w *linearWS) Cap() (int, int) { return w.maxN, w.maxK }

// NewWorkspace returns a workspace for up to maxN rows and maxK tangents
// per row. It panics if either is negative.
func (l *Linear) NewWorkspace(maxN, maxK int) Workspace {
	if maxN < 0 || maxK < 0 {
		panic("nn: negative workspace capacity")
	}
	nk := maxN * maxK
	w := &linearWS{owner: l, maxN: maxN, maxK: maxK, gh: make([]float64, maxN*l.out)}
	if l.wide || l.mask != nil {
		w.weff = make([]float64, l.in*l.out)
		w.gw = make([]float64, l.in*l.out)
	}
	if l.act != Identity {
		w.d1 = make([]float64, maxN*l.out)
		w.ghd = make([]float64, nk*l.out)
	}
	if l.act.curved() {
		w.d2 = make([]float64, maxN*l.out)
		w.hd = make([]float64, nk*l.out)
	}
	return w
}

func (l *Linear) ws(w Workspace, minState int) *linearWS {
	ws, ok := w.(*linearWS)
	if !ok || ws.owner != l {
		panic("nn: workspace does not belong to this Linear layer")
	}
	if ws.state < minState {
		if minState == 1 {
			panic("nn: Linear pass called before Forward on this workspace")
		}
		panic("nn: Linear TangentVJP called before JVP on this workspace")
	}
	return ws
}

// weights returns the matrix the products use and whether it is Wᵀ.
func (l *Linear) weights(ws *linearWS) []float64 {
	if l.wide || l.mask != nil {
		return ws.weff
	}
	return l.w.Of(l.p.Data)
}

// fwdProd sets c (rows×Out) = a (rows×In) · (W⊙M)ᵀ + beta·c.
func (l *Linear) fwdProd(ws *linearWS, c, a []float64, rows int, beta float64) {
	w := l.weights(ws)
	if l.wide {
		gemm(false, false, rows, l.out, l.in, a, l.in, w, l.out, beta, c, l.out)
	} else {
		gemm(false, true, rows, l.out, l.in, a, l.in, w, l.in, beta, c, l.out)
	}
}

// backProd sets c (rows×In) = g (rows×Out) · (W⊙M).
func (l *Linear) backProd(ws *linearWS, c, g []float64, rows int) {
	w := l.weights(ws)
	if l.wide {
		gemm(false, true, rows, l.in, l.out, g, l.out, w, l.out, 0, c, l.in)
	} else {
		gemm(false, false, rows, l.in, l.out, g, l.out, w, l.in, 0, c, l.in)
	}
}

// wgrad adds (g1ᵀ x1 + g2ᵀ x2) ⊙ M to the W block of gθ (g2 may be empty).
//
// gθ holds the parameters from index off on (see vjpAt).
func (l *Linear) wgrad(ws *linearWS, gθ []float64, off int, g1, x1 []float64, n1 int, g2, x2 []float64, n2 int) {
	gW := l.w.at(gθ, off)
	in, out := l.in, l.out
	switch {
	case l.wide:
		// Accumulate Xᵀ G (In×Out) in scratch, then add its transpose.
		gemm(true, false, in, out, n1, x1, in, g1, out, 0, ws.gw, out)
		if n2 > 0 {
			gemm(true, false, in, out, n2, x2, in, g2, out, 1, ws.gw, out)
		}
		for o := 0; o < out; o++ {
			row := gW[o*in : o*in+in]
			if l.mask == nil {
				for i := range row {
					row[i] += ws.gw[i*out+o]
				}
			} else {
				m := l.mask[o*in : o*in+in]
				for i := range row {
					row[i] += ws.gw[i*out+o] * m[i]
				}
			}
		}
	case l.mask == nil:
		gemm(true, false, out, in, n1, g1, out, x1, in, 1, gW, in)
		if n2 > 0 {
			gemm(true, false, out, in, n2, g2, out, x2, in, 1, gW, in)
		}
	default:
		gemm(true, false, out, in, n1, g1, out, x1, in, 0, ws.gw, in)
		if n2 > 0 {
			gemm(true, false, out, in, n2, g2, out, x2, in, 1, ws.gw, in)
		}
		kernel.MulAdd(gW, ws.gw, l.mask)
	}
}

// bgrad adds the column sums of g (n×Out) to the b block of gθ, which
// holds the parameters from index off on.
func (l *Linear) bgrad(gθ []float64, off int, g []float64, n int) {
	gb := l.b.at(gθ, off)
	for i := 0; i < n; i++ {
		add(gb, g[i*l.out:(i+1)*l.out])
	}
}

// Forward sets y = σ(x Wᵀ + b) for the n = len(x)/In rows of x and records
// x (by reference), σ' and σ”. See Layer for the protocol.
func (l *Linear) Forward(w Workspace, y, x []float64) {
	ws := l.ws(w, 0)
	n := rowsOf(x, l.in, ws.maxN, "Linear x")
	checkLen(y, n*l.out, "Linear y")
	ws.n, ws.k, ws.x, ws.xd, ws.state = n, 0, x, nil, 1
	if l.wide || l.mask != nil {
		W := l.w.Of(l.p.Data)
		if l.wide {
			for o := 0; o < l.out; o++ {
				for i := 0; i < l.in; i++ {
					v := W[o*l.in+i]
					if l.mask != nil {
						v *= l.mask[o*l.in+i]
					}
					ws.weff[i*l.out+o] = v
				}
			}
		} else {
			kernel.Mul(ws.weff, W, l.mask)
		}
	}
	if n == 0 {
		return
	}
	b := l.b.Of(l.p.Data)
	for i := 0; i < n; i++ {
		copy(y[i*l.out:(i+1)*l.out], b)
	}
	l.fwdProd(ws, y, x, n, 1)
	m := n * l.out
	switch {
	case l.act == Identity:
	case l.act.curved():
		l.act.ApplyD2(y, ws.d1[:m], ws.d2[:m], y)
	default:
		l.act.ApplyD(y, ws.d1[:m], y)
	}
}

// VJP sets gx = gyᵀ ∂y/∂x (if gx is not nil) and adds the gradients of
// gy·y with respect to W and b to gθ (if not nil). See Layer.
func (l *Linear) VJP(w Workspace, gx, gθ, gy []float64) {
	checkLenOrNil(gθ, len(l.p.Data), "Linear gθ")
	l.vjpAt(l.ws(w, 1), gx, gθ, 0, gy)
}

// vjpAt is VJP with gθ holding the parameters from index off on: gθ[i]
// is the gradient of parameter off+i (the caller checks that gθ covers
// the layer's blocks).
func (l *Linear) vjpAt(ws *linearWS, gx, gθ []float64, off int, gy []float64) {
	n := ws.n
	checkLen(gy, n*l.out, "Linear gy")
	checkLenOrNil(gx, n*l.in, "Linear gx")
	if n == 0 {
		return
	}
	gh := gy
	if l.act != Identity {
		gh = ws.gh[:n*l.out]
		kernel.Mul(gh, gy, ws.d1[:n*l.out])
	}
	if gθ != nil {
		l.bgrad(gθ, off, gh, n)
		l.wgrad(ws, gθ, off, gh, ws.x, n, nil, nil, 0)
	}
	if gx != nil {
		l.backProd(ws, gx, gh, n)
	}
}

// JVP sets ẏ = σ'(h) ⊙ (ẋ Wᵀ) for every tangent row and records ẋ (by
// reference). See Layer.
func (l *Linear) JVP(w Workspace, yd, xd []float64) {
	ws := l.ws(w, 1)
	n, out := ws.n, l.out
	k := tangentsOf(len(xd), n, l.in, ws.maxK, "Linear ẋ")
	checkLen(yd, n*k*out, "Linear ẏ")
	ws.k, ws.xd, ws.state = k, xd, 2
	if n*k == 0 {
		return
	}
	switch {
	case l.act == Identity:
		l.fwdProd(ws, yd, xd, n*k, 0)
	case l.act.curved():
		hd := ws.hd[:n*k*out]
		l.fwdProd(ws, hd, xd, n*k, 0)
		for i := 0; i < n; i++ {
			d1 := ws.d1[i*out : (i+1)*out]
			for j := 0; j < k; j++ {
				r := (i*k + j) * out
				h, y := hd[r:r+out], yd[r:r+out]
				for o, d := range d1 {
					y[o] = d * h[o]
				}
			}
		}
	default:
		l.fwdProd(ws, yd, xd, n*k, 0)
		for i := 0; i < n; i++ {
			d1 := ws.d1[i*out : (i+1)*out]
			for j := 0; j < k; j++ {
				r := (i*k + j) * out
				y := yd[r : r+out]
				for o, d := range d1 {
					y[o] *= d
				}
			}
		}
	}
}

// TangentVJP is the reverse pass through Forward and JVP; see Layer. With
// ġ = gẏ ⊙ σ'(h) per tangent row and g = gy ⊙ σ'(h) + σ”(h) ⊙ Σ_j gẏ_j ⊙ ḣ_j
// per sample, it sets gx = g W̃, gẋ = ġ W̃ (W̃ = W⊙M) and adds gᵀx + ġᵀẋ to
// the W block of gθ and the column sums of g to the b block.
func (l *Linear) TangentVJP(w Workspace, gx, gxd, gθ, gy, gyd []float64) {
	ws := l.ws(w, 2)
	n, k, out := ws.n, ws.k, l.out
	checkLenOrNil(gy, n*out, "Linear gy")
	checkLen(gyd, n*k*out, "Linear gẏ")
	checkLenOrNil(gx, n*l.in, "Linear gx")
	checkLenOrNil(gxd, n*k*l.in, "Linear gẋ")
	checkLenOrNil(gθ, len(l.p.Data), "Linear gθ")
	if n == 0 {
		return
	}
	gh := ws.gh[:n*out]
	ghd := gyd
	if l.act == Identity {
		if gy != nil {
			copy(gh, gy)
		} else {
			clear(gh)
		}
	} else {
		ghd = ws.ghd[:n*k*out]
		curved := l.act.curved()
		for i := 0; i < n; i++ {
			s := i * out
			d1, g := ws.d1[s:s+out], gh[s:s+out]
			if gy != nil {
				for o, d := range d1 {
					g[o] = gy[s+o] * d
				}
			} else {
				clear(g)
			}
			var d2 []float64
			if curved {
				d2 = ws.d2[s : s+out]
			}
			for j := 0; j < k; j++ {
				r := (i*k + j) * out
				gt, gdo := gyd[r:r+out], ghd[r:r+out]
				for o, d := range d1 {
					gdo[o] = gt[o] * d
				}
				if curved {
					hd := ws.hd[r : r+out]
					for o, c := range d2 {
						g[o] += c * gt[o] * hd[o]
					}
				}
			}
		}
	}
	if gθ != nil {
		l.bgrad(gθ, 0, gh, n)
		l.wgrad(ws, gθ, 0, gh, ws.x, n, ghd, ws.xd, n*k)
	}
	if gx != nil {
		l.backProd(ws, gx, gh, n)
	}
	if gxd != nil {
		l.backProd(ws, gxd, ghd, n*k)
	}
}
