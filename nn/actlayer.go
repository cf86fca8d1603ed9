package nn

import (
	"fmt"

	"github.com/odeflow/odeflow/internal/kernel"
)

// ActLayer applies an activation elementwise, y = σ(x), as a Layer of width
// Dim → Dim with no parameters (gθ is ignored by its passes). Linear fuses
// its own activation, so ActLayer is for activations standing alone.
type ActLayer struct {
	dim int
	act Activation
}

// NewActLayer returns the layer y = act(x) on rows of width dim. It panics
// if dim is not positive or act is not Valid.
func NewActLayer(dim int, act Activation) *ActLayer {
	if dim <= 0 {
		panic(fmt.Sprintf("nn: ActLayer needs a positive width, got %d", dim))
	}
	if !act.Valid() {
		panic("nn: invalid activation " + act.String())
	}
	return &ActLayer{dim: dim, act: act}
}

// In returns the width.
func (a *ActLayer) In() int { return a.dim }

// Out returns the width.
func (a *ActLayer) Out() int { return a.dim }

// Activation returns σ.
func (a *ActLayer) Activation() Activation { return a.act }

type actWS struct {
	owner      *ActLayer
	maxN, maxK int
	n, k       int
	state      int
	d1, d2     []float64 // n×dim
	xd         []float64 // reference to ẋ
}

func (w *actWS) Cap() (int, int) { return w.maxN, w.maxK }

// NewWorkspace returns a workspace for up to maxN rows and maxK tangents
// per row. It panics if either is negative.
func (a *ActLayer) NewWorkspace(maxN, maxK int) Workspace {
	if maxN < 0 || maxK < 0 {
		panic("nn: negative workspace capacity")
	}
	return &actWS{owner: a, maxN: maxN, maxK: maxK,
		d1: make([]float64, maxN*a.dim), d2: make([]float64, maxN*a.dim)}
}

func (a *ActLayer) ws(w Workspace, minState int) *actWS {
	ws, ok := w.(*actWS)
	if !ok || ws.owner != a {
		panic("nn: workspace does not belong to this ActLayer")
	}
	if ws.state < minState {
		panic("nn: ActLayer pass called out of order (Forward, then JVP, then TangentVJP)")
	}
	return ws
}

// Forward sets y = σ(x) and records σ' and σ”. y may alias x.
func (a *ActLayer) Forward(w Workspace, y, x []float64) {
	ws := a.ws(w, 0)
	n := rowsOf(x, a.dim, ws.maxN, "ActLayer x")
	checkLen(y, len(x), "ActLayer y")
	ws.n, ws.k, ws.xd, ws.state = n, 0, nil, 1
	a.act.ApplyD2(y, ws.d1[:len(x)], ws.d2[:len(x)], x)
}

// VJP sets gx = gy ⊙ σ'(x) if gx is not nil.
func (a *ActLayer) VJP(w Workspace, gx, _, gy []float64) {
	ws := a.ws(w, 1)
	m := ws.n * a.dim
	checkLen(gy, m, "ActLayer gy")
	checkLenOrNil(gx, m, "ActLayer gx")
	if gx == nil {
		return
	}
	kernel.Mul(gx, gy, ws.d1[:m])
}

// JVP sets ẏ = σ'(x) ⊙ ẋ for every tangent row and records ẋ.
func (a *ActLayer) JVP(w Workspace, yd, xd []float64) {
	ws := a.ws(w, 1)
	n, dim := ws.n, a.dim
	k := tangentsOf(len(xd), n, dim, ws.maxK, "ActLayer ẋ")
	checkLen(yd, len(xd), "ActLayer ẏ")
	ws.k, ws.xd, ws.state = k, xd, 2
	for i := 0; i < n; i++ {
		d1 := ws.d1[i*dim : (i+1)*dim]
		for j := 0; j < k; j++ {
			r := (i*k + j) * dim
			x, y := xd[r:r+dim], yd[r:r+dim]
			for c, d := range d1 {
				y[c] = d * x[c]
			}
		}
	}
}

// TangentVJP sets gẋ = gẏ ⊙ σ'(x) and gx = gy ⊙ σ'(x) + σ”(x) ⊙ Σ_j gẏ_j ⊙ ẋ_j
// (either may be nil to skip it; gy nil means zero). See Layer.
func (a *ActLayer) TangentVJP(w Workspace, gx, gxd, _, gy, gyd []float64) {
	ws := a.ws(w, 2)
	n, k, dim := ws.n, ws.k, a.dim
	checkLenOrNil(gy, n*dim, "ActLayer gy")
	checkLen(gyd, n*k*dim, "ActLayer gẏ")
	checkLenOrNil(gx, n*dim, "ActLayer gx")
	checkLenOrNil(gxd, n*k*dim, "ActLayer gẋ")
	for i := 0; i < n; i++ {
		s := i * dim
		d1, d2 := ws.d1[s:s+dim], ws.d2[s:s+dim]
		if gx != nil {
			g := gx[s : s+dim]
			if gy != nil {
				for c, d := range d1 {
					g[c] = gy[s+c] * d
				}
			} else {
				clear(g)
			}
			for j := 0; j < k; j++ {
				r := (i*k + j) * dim
				gt, x := gyd[r:r+dim], ws.xd[r:r+dim]
				for c, e := range d2 {
					g[c] += e * gt[c] * x[c]
				}
			}
		}
		if gxd != nil {
			for j := 0; j < k; j++ {
				r := (i*k + j) * dim
				gt, g := gyd[r:r+dim], gxd[r:r+dim]
				for c, d := range d1 {
					g[c] = gt[c] * d
				}
			}
		}
	}
}
