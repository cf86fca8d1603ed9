package vectorfield

import (
	"runtime"

	"gonum.org/v1/gonum/blas"
)

// task is one call of an MLP method, split by sample rows across workers.
type task struct {
	t    float64
	n, k int
	z, c []float64
	v    []float64 // (n·k)×d tangents, nil when k = 0
	f    []float64 // n×d output, may be nil
	jv   []float64 // (n·k)×d output
	a, b []float64 // cotangents on f and jv (nil = 0)
	g    Grads

	needD1, needD2, reverse bool
}

// engine is the mutable state of one MLP value: the effective (t-dependent)
// layer weights, one workspace per worker and the worker goroutines. Worker
// goroutines refer to the engine, never to the MLP, so that a cleanup on the
// MLP can stop them.
type engine struct {
	s     *mlpShared
	we    [][]float64 // per layer: W_eff(t), out×in
	wt    [][]float64 // per layer: W_eff(t)ᵀ, in×out
	be    [][]float64 // per layer: b_eff(t)
	gate  [][]float64 // per layer: σ(w_g t + b_g) (Squash kinds)
	works []*work
	cur   task
	pool  *pool
}

// work is one worker's scratch, sized for up to capN stacked rows and capn
// samples. The stacked layout of every layer's rows is: n primal rows, then
// n·k tangent rows, row n+i·k+j holding tangent j of sample i.
type work struct {
	capN, capn int
	lo, hi     int         // sample range of the current task
	x0         []float64   // N×in₀: [z, c] rows, then [v, 0] rows
	h          [][]float64 // per layer N×out: pre-activations (tangent rows: ḣ)
	y          [][]float64 // per hidden layer N×out: activations (tangent rows: ẏ)
	d1, d2     [][]float64 // per hidden layer n×out: σ'(h), σ''(h)
	g0, g1     []float64   // N×maxWidth reverse buffers
	gw, gb     [][]float64 // per layer: ∂L/∂W_eff (out×in), ∂L/∂b_eff (out)
	gwT        []float64   // in×out scratch for ∂L/∂W_effᵀ
}

func newEngine(m *MLP) *engine {
	s := m.s
	e := &engine{s: s}
	for _, ly := range s.layers {
		e.we = append(e.we, make([]float64, ly.out*ly.in))
		e.wt = append(e.wt, make([]float64, ly.out*ly.in))
		e.be = append(e.be, make([]float64, ly.out))
		e.gate = append(e.gate, make([]float64, ly.out))
	}
	for range s.workers {
		w := &work{}
		maxWW := 0
		for _, ly := range s.layers {
			w.gw = append(w.gw, make([]float64, ly.out*ly.in))
			w.gb = append(w.gb, make([]float64, ly.out))
			maxWW = max(maxWW, ly.out*ly.in)
		}
		w.gwT = make([]float64, maxWW)
		e.works = append(e.works, w)
	}
	if s.workers > 1 {
		e.pool = newPool(e, s.workers)
		runtime.AddCleanup(m, func(p *pool) { p.close() }, e.pool)
	}
	return e
}

// grow makes w hold a task of n samples with k tangents each.
func (w *work) grow(s *mlpShared, n, k int) {
	N := n * (1 + k)
	if N <= w.capN && n <= w.capn {
		return
	}
	N, n = max(N, w.capN), max(n, w.capn)
	w.capN, w.capn = N, n
	L := len(s.layers)
	maxW := 0
	for _, ly := range s.layers {
		maxW = max(maxW, ly.in, ly.out)
	}
	w.x0 = make([]float64, N*s.layers[0].in)
	w.h = make([][]float64, L)
	w.y = make([][]float64, L-1)
	w.d1 = make([][]float64, L-1)
	w.d2 = make([][]float64, L-1)
	for l, ly := range s.layers {
		w.h[l] = make([]float64, N*ly.out)
		if l < L-1 {
			w.y[l] = make([]float64, N*ly.out)
			w.d1[l] = make([]float64, n*ly.out)
			w.d2[l] = make([]float64, n*ly.out)
		}
	}
	w.g0 = make([]float64, N*maxW)
	w.g1 = make([]float64, N*maxW)
}

// call runs a task and returns ∂L/∂t for reverse tasks.
func (e *engine) call(tk task) float64 {
	if tk.n == 0 {
		return 0
	}
	e.effective(tk.t)
	e.cur = tk
	nw := min(len(e.works), max(1, tk.n/e.s.minRows))
	per, extra := tk.n/nw, tk.n%nw
	lo := 0
	for i := range nw {
		w := e.works[i]
		hi := lo + per
		if i < extra {
			hi++
		}
		w.lo, w.hi = lo, hi
		w.grow(e.s, hi-lo, tk.k)
		lo = hi
	}
	if nw > 1 {
		e.pool.run(e, nw)
	} else {
		e.runWorker(0)
	}
	e.cur = task{}
	if !tk.reverse {
		return 0
	}
	// Reduce the per-worker gradients of the effective weights into
	// worker 0's, then map them onto θ and t.
	w0 := e.works[0]
	for i := 1; i < nw; i++ {
		wi := e.works[i]
		for l := range e.s.layers {
			addTo(w0.gw[l], wi.gw[l])
			addTo(w0.gb[l], wi.gb[l])
		}
	}
	gt := 0.0
	for l := range e.s.layers {
		gt += e.backEffective(l, tk.t, w0.gw[l], w0.gb[l], tk.g.Theta)
	}
	return gt
}

func addTo(dst, s []float64) {
	for i, v := range s {
		dst[i] += v
	}
}

// runWorker does worker i's share of the current task.
func (e *engine) runWorker(i int) {
	tk := &e.cur
	w := e.works[i]
	lo, hi := w.lo, w.hi
	n, k := hi-lo, tk.k
	d, dc := e.s.d, e.s.dc
	rows := func(s []float64, width int) []float64 {
		if s == nil {
			return nil
		}
		return s[lo*width : hi*width]
	}
	e.forward(w, n, k, rows(tk.z, d), rows(tk.c, dc), rows(tk.v, k*d), rows(tk.f, d), rows(tk.jv, k*d), tk.needD1, tk.needD2)
	if tk.reverse {
		e.backward(w, n, k, rows(tk.a, d), rows(tk.b, k*d), rows(tk.g.Z, d), rows(tk.g.C, dc), rows(tk.g.V, k*d))
	}
}

// effective computes every layer's W_eff(t), its transpose, and b_eff(t).
func (e *engine) effective(t float64) {
	e.effectiveW(t)
	for l, ly := range e.s.layers {
		we, wt := e.we[l], e.wt[l]
		for o := range ly.out {
			for i, v := range we[o*ly.in : (o+1)*ly.in] {
				wt[i*ly.out+o] = v
			}
		}
	}
}

func (e *engine) effectiveW(t float64) {
	P := e.s.params.Data
	for l, ly := range e.s.layers {
		we, be := e.we[l], e.be[l]
		W, b := ly.w.Of(P), ly.b.Of(P)
		switch e.s.kind {
		case Ignore:
			copy(we, W)
			copy(be, b)
		case Concat:
			copy(we, W)
			wt := ly.wt.Of(P)
			for o := range be {
				be[o] = b[o] + wt[o]*t
			}
		case Squash, ConcatSquash:
			wg, bg, g := ly.wg.Of(P), ly.bg.Of(P), e.gate[l]
			for o := range be {
				g[o] = sigmoid(wg[o]*t + bg[o])
				be[o] = b[o] * g[o]
				row, wrow := we[o*ly.in:(o+1)*ly.in], W[o*ly.in:(o+1)*ly.in]
				for i, v := range wrow {
					row[i] = v * g[o]
				}
			}
			if e.s.kind == ConcatSquash {
				wb := ly.wb.Of(P)
				for o := range be {
					be[o] += wb[o] * t
				}
			}
		case Blend:
			W1, b1 := ly.w1.Of(P), ly.b1.Of(P)
			for i := range we {
				we[i] = W[i] + (W1[i]-W[i])*t
			}
			for o := range be {
				be[o] = b[o] + (b1[o]-b[o])*t
			}
		}
	}
}

// backEffective maps ∂L/∂W_eff and ∂L/∂b_eff of layer l onto θ (added into
// gθ unless it is nil) and returns their contribution to ∂L/∂t.
func (e *engine) backEffective(l int, t float64, GW, Gb, gθ []float64) float64 {
	ly := e.s.layers[l]
	P := e.s.params.Data
	W, b := ly.w.Of(P), ly.b.Of(P)
	var gW, gb []float64
	if gθ != nil {
		gW, gb = ly.w.Of(gθ), ly.b.Of(gθ)
	}
	gt := 0.0
	switch e.s.kind {
	case Ignore:
		if gθ != nil {
			addTo(gW, GW)
			addTo(gb, Gb)
		}
	case Concat:
		wt := ly.wt.Of(P)
		for o, v := range Gb {
			gt += wt[o] * v
		}
		if gθ != nil {
			addTo(gW, GW)
			addTo(gb, Gb)
			gwt := ly.wt.Of(gθ)
			for o, v := range Gb {
				gwt[o] += t * v
			}
		}
	case Squash, ConcatSquash:
		wg, g := ly.wg.Of(P), e.gate[l]
		var gwg, gbg []float64
		if gθ != nil {
			gwg, gbg = ly.wg.Of(gθ), ly.bg.Of(gθ)
		}
		for o := range Gb {
			row, grow := W[o*ly.in:(o+1)*ly.in], GW[o*ly.in:(o+1)*ly.in]
			gamma := Gb[o] * b[o] // ∂L/∂g_o
			for i, v := range grow {
				gamma += v * row[i]
			}
			du := gamma * g[o] * (1 - g[o]) // ∂L/∂(w_g t + b_g)_o
			gt += wg[o] * du
			if gθ != nil {
				gr := gW[o*ly.in : (o+1)*ly.in]
				for i, v := range grow {
					gr[i] += g[o] * v
				}
				gb[o] += g[o] * Gb[o]
				gwg[o] += t * du
				gbg[o] += du
			}
		}
		if e.s.kind == ConcatSquash {
			wb := ly.wb.Of(P)
			for o, v := range Gb {
				gt += wb[o] * v
			}
			if gθ != nil {
				gwb := ly.wb.Of(gθ)
				for o, v := range Gb {
					gwb[o] += t * v
				}
			}
		}
	case Blend:
		W1, b1 := ly.w1.Of(P), ly.b1.Of(P)
		for i, v := range GW {
			gt += (W1[i] - W[i]) * v
		}
		for o, v := range Gb {
			gt += (b1[o] - b[o]) * v
		}
		if gθ != nil {
			gW1, gb1 := ly.w1.Of(gθ), ly.b1.Of(gθ)
			for i, v := range GW {
				gW[i] += (1 - t) * v
				gW1[i] += t * v
			}
			for o, v := range Gb {
				gb[o] += (1 - t) * v
				gb1[o] += t * v
			}
		}
	}
	return gt
}

// forward runs the stacked primal and tangent rows of n samples through the
// network. f and jv may be nil.
func (e *engine) forward(w *work, n, k int, z, c, v, f, jv []float64, needD1, needD2 bool) {
	s := e.s
	d, dc := s.d, s.dc
	in0 := d + dc
	N := n * (1 + k)
	x := w.x0[:N*in0]
	for i := range n {
		copy(x[i*in0:i*in0+d], z[i*d:(i+1)*d])
		if dc > 0 {
			copy(x[i*in0+d:(i+1)*in0], c[i*dc:(i+1)*dc])
		}
	}
	for r := range n * k {
		row := x[(n+r)*in0 : (n+r+1)*in0]
		copy(row[:d], v[r*d:(r+1)*d])
		zero(row[d:])
	}
	L := len(s.layers)
	for l, ly := range s.layers {
		out := ly.out
		h := w.h[l][:N*out]
		mulRows(N, out, ly.in, x, ly.in, e.we[l], e.wt[l], h, out)
		be := e.be[l]
		if l == L-1 {
			for i := range n {
				hr := h[i*out : (i+1)*out]
				for o, bv := range be {
					hr[o] += bv
				}
			}
			if f != nil {
				copy(f, h[:n*out])
			}
			if jv != nil {
				copy(jv, h[n*out:N*out])
			}
			break
		}
		y := w.y[l][:N*out]
		var d1, d2 []float64
		if needD1 {
			d1 = w.d1[l][:n*out]
		}
		if needD2 {
			d2 = w.d2[l][:n*out]
		}
		activate(s.act, h[:n*out], y[:n*out], d1, d2, be)
		// Tangent rows: ẏ = σ'(h) ⊙ ḣ.
		for i := range n * min(k, 1) {
			dr := d1[i*out : (i+1)*out]
			for j := range k {
				r := (n + i*k + j) * out
				hr, yr := h[r:r+out], y[r:r+out]
				for o, dv := range dr {
					yr[o] = dv * hr[o]
				}
			}
		}
		x = y
	}
}

// backward runs the reverse sweep for the n samples last passed through
// forward, with cotangents a (n×d) and b ((n·k)×d), either nil for zero. It
// sets w.gw, w.gb to the gradients of the effective weights and writes gz,
// gc, gv when they are not nil.
func (e *engine) backward(w *work, n, k int, a, b, gz, gc, gv []float64) {
	s := e.s
	d, dc := s.d, s.dc
	N := n * (1 + k)
	L := len(s.layers)
	g, gNext := w.g0, w.g1
	// Cotangent on the output rows.
	G := g[:N*d]
	if a != nil {
		copy(G[:n*d], a)
	} else {
		zero(G[:n*d])
	}
	if b != nil {
		copy(G[n*d:], b)
	} else {
		zero(G[n*d:])
	}
	needX := gz != nil || gc != nil || gv != nil
	for l := L - 1; l >= 0; l-- {
		ly := s.layers[l]
		out, in := ly.out, ly.in
		G = g[:N*out]
		if l < L-1 {
			activateBack(G, n, k, out, w.d1[l], w.d2[l], w.h[l])
		}
		var x []float64
		if l == 0 {
			x = w.x0[:N*in]
		} else {
			x = w.y[l-1][:N*in]
		}
		// ∂L/∂W_eff = Gᵀ X over all stacked rows; ∂L/∂b_eff over primal rows.
		if in >= out {
			gemm(blas.Trans, blas.NoTrans, out, in, N, G, out, x, in, 0, w.gw[l], in)
		} else {
			gT, gw := w.gwT[:in*out], w.gw[l]
			gemm(blas.Trans, blas.NoTrans, in, out, N, x, in, G, out, 0, gT, out)
			for i := range in {
				for o, v := range gT[i*out : (i+1)*out] {
					gw[o*in+i] = v
				}
			}
		}
		gb := w.gb[l]
		zero(gb)
		for i := range n {
			addTo(gb, G[i*out:(i+1)*out])
		}
		if l == 0 && !needX {
			break
		}
		mulRows(N, in, out, G, out, e.wt[l], e.we[l], gNext[:N*in], in)
		g, gNext = gNext, g
	}
	if !needX {
		return
	}
	in0 := d + dc
	GX := g[:N*in0]
	for i := range n {
		row := GX[i*in0 : (i+1)*in0]
		if gz != nil {
			copy(gz[i*d:(i+1)*d], row[:d])
		}
		if gc != nil {
			copy(gc[i*dc:(i+1)*dc], row[d:])
		}
	}
	if gv != nil {
		for r := range n * k {
			copy(gv[r*d:(r+1)*d], GX[(n+r)*in0:(n+r)*in0+d])
		}
	}
}
