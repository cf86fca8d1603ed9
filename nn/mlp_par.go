package nn

import (
	"runtime"

	"github.com/odeflow/odeflow/internal/kernel"
	"github.com/odeflow/odeflow/internal/par"
)

// parMinRows is the least batch a parallel workspace splits: two halves of
// at least 64 rows (smaller halves are done before a helper is worth it).
const parMinRows = 128

// NewParallelWorkspace returns a workspace for Forward and VJP only (no
// tangents: JVP and TangentVJP panic with it) for up to maxN rows. With
// GOMAXPROCS ≥ 2, Forward splits a batch of at least 128 rows in two halves
// run at once, the first on the calling goroutine and the second on a
// helper thread (internal/par; when none is free, after the first), and
// VJP follows the same split, accumulating the second half's parameter
// gradient in the workspace before adding it to gθ. With GOMAXPROCS = 1, or
// fewer rows, it computes as a NewWorkspace workspace does.
//
// The split is the same whether or not a helper takes a half, so for a
// given setting the results do not depend on the load or on the number of
// threads beyond two; split and unsplit results can differ in the last bits
// (the weight gradient of a split batch is the sum of two products). It
// panics if maxN is negative.
//
// The discrete flows' conditioners use it: one training epoch of a
// RealNVP or MAF with 128-128 conditioners runs 1.2–1.6 times as fast on
// two cores as on one at batch 128, 1.4–1.7 times at batch 256 (see
// BENCHMARKS.md).
func (m *MLP) NewParallelWorkspace(maxN int) Workspace {
	if maxN < 0 {
		panic("nn: negative workspace capacity")
	}
	w := &parWS{owner: m, maxN: maxN}
	w.half[0] = m.NewWorkspace(maxN, 0).(*mlpWS)
	w.half[1] = m.NewWorkspace(maxN/2+8, 0).(*mlpWS)
	w.lo, w.hi = len(m.p.Data), 0
	for _, l := range m.layers {
		for _, s := range []Slot{l.w, l.b} {
			w.lo, w.hi = min(w.lo, s.Off), max(w.hi, s.Off+s.Len)
		}
	}
	w.local = make([]float64, w.hi-w.lo)
	w.parts[0] = parPart{w: w, i: 0}
	w.parts[1] = parPart{w: w, i: 1}
	return w
}

// parWS is a parallel workspace: two MLP workspaces, one per half.
type parWS struct {
	owner  *MLP
	maxN   int
	half   [2]*mlpWS
	n, h   int // rows of the last Forward; rows of the first half (h = n: not split)
	state  int
	lo, hi int       // the parameter range of the MLP's layers
	local  []float64 // the second half's gradient of parameters lo…hi−1
	parts  [2]parPart

	// The current call, read by the halves.
	vjp       bool
	x, y      []float64 // Forward
	gx, gθ, g []float64 // VJP: gx, gθ, gy
}

func (w *parWS) Cap() (int, int) { return w.maxN, 0 }

// parPart runs half i of the current call (a par.Task).
type parPart struct {
	w *parWS
	i int
}

func (p *parPart) Run() { p.w.run(p.i) }

// run does half i of the current call.
func (w *parWS) run(i int) {
	m := w.owner
	lo, hi := 0, w.h
	if i == 1 {
		lo, hi = w.h, w.n
	}
	in, out := m.In(), m.Out()
	if !w.vjp {
		m.forward(w.half[i], w.y[lo*out:hi*out], w.x[lo*in:hi*in], hi-lo)
		return
	}
	var gx []float64
	if w.gx != nil {
		gx = w.gx[lo*in : hi*in]
	}
	gy := w.g[lo*out : hi*out]
	switch {
	case w.gθ == nil:
		m.vjp(w.half[i], gx, nil, 0, gy)
	case i == 0:
		m.vjp(w.half[i], gx, w.gθ, 0, gy)
	default:
		clear(w.local)
		m.vjp(w.half[i], gx, w.local, w.lo, gy)
	}
}

// checkPar is ws for a parallel workspace: it panics unless w is m's and
// Forward has come first when minState is 1.
func (m *MLP) checkPar(w *parWS, minState int) {
	if w.owner != m {
		panic("nn: workspace does not belong to this MLP")
	}
	if w.state < minState {
		panic("nn: MLP pass called out of order (Forward, then JVP, then TangentVJP)")
	}
}

// forwardPar is Forward on a parallel workspace.
func (m *MLP) forwardPar(w *parWS, y, x []float64) {
	m.checkPar(w, 0)
	n := rowsOf(x, m.In(), w.maxN, "MLP x")
	checkLen(y, n*m.Out(), "MLP y")
	w.n, w.state, w.vjp, w.x, w.y = n, 1, false, x, y
	defer w.drop()
	if n < parMinRows || runtime.GOMAXPROCS(0) < 2 {
		w.h = n
		w.run(0)
		return
	}
	w.h = (n / 2) &^ 7
	par.Do(&w.parts[0], &w.parts[1])
}

// vjpPar is VJP on a parallel workspace.
func (m *MLP) vjpPar(w *parWS, gx, gθ, gy []float64) {
	m.checkPar(w, 1)
	n := w.n
	checkLen(gy, n*m.Out(), "MLP gy")
	checkLenOrNil(gx, n*m.In(), "MLP gx")
	checkLenOrNil(gθ, len(m.p.Data), "MLP gθ")
	w.vjp, w.gx, w.gθ, w.g = true, gx, gθ, gy
	defer w.drop()
	if w.h == n {
		w.run(0)
		return
	}
	par.Do(&w.parts[0], &w.parts[1])
	if gθ != nil {
		kernel.Add(gθ[w.lo:w.hi], w.local)
	}
}

// drop forgets the caller's slices once a call is done (the halves'
// workspaces keep the references Forward records, as NewWorkspace's do).
func (w *parWS) drop() { w.x, w.y, w.gx, w.gθ, w.g = nil, nil, nil, nil, nil }

// noTangents panics if w is a parallel workspace.
func noTangents(w Workspace, op string) {
	if _, ok := w.(*parWS); ok {
		panic("nn: MLP." + op + ": a parallel workspace (NewParallelWorkspace) supports Forward and VJP only")
	}
}
