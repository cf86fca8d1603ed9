package odeflow

import (
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/nn"
)

// Small analytic transforms that exercise Chain, Inverse, ConditionalChain
// and Flow. Each implements the Differentiable contract by hand.

// recording is the state a test transform keeps between a record call and
// Backward.
type recording struct {
	dir     int // 0 none, recForward, recInverse
	in, out *mat.Dense
	n       int
	ldj     bool
}

func (r *recording) set(dir int, in, out *mat.Dense, ldj []float64) {
	n, _ := in.Dims()
	*r = recording{dir: dir, in: in, out: out, n: n, ldj: ldj != nil}
}

// affineT is the elementwise map y = (x − μ) ⊙ exp(−s), log|det| = −Σ s.
type affineT struct {
	d     int
	p     *nn.Params
	mu, s nn.Slot
	rec   recording
}

func newAffineT(p *nn.Params, name string, mu, s []float64) *affineT {
	a := &affineT{d: len(mu), p: p}
	a.mu = p.Reserve(name+"/mu", a.d)
	a.s = p.Reserve(name+"/s", a.d)
	copy(a.mu.Of(p.Data), mu)
	copy(a.s.Of(p.Data), s)
	return a
}

func (a *affineT) Dim() int           { return a.d }
func (a *affineT) Params() *nn.Params { return a.p }

func (a *affineT) apply(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse, inPlace bool) error {
	a.rec.dir = 0
	n, err := PrepareCall(op, a.d, dst, ldj, x, inPlace)
	if err != nil {
		return err
	}
	mu, s := a.mu.Of(a.p.Data), a.s.Of(a.p.Data)
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	for i := 0; i < n; i++ {
		xi, yi := row(x, i), row(dst, i)
		for j := range xi {
			if inverse {
				yi[j] = mu[j] + xi[j]*math.Exp(s[j])
			} else {
				yi[j] = (xi[j] - mu[j]) * math.Exp(-s[j])
			}
		}
		if ldj != nil {
			if inverse {
				ldj[i] += sum
			} else {
				ldj[i] -= sum
			}
		}
	}
	return nil
}

func (a *affineT) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return a.apply("affineT.Forward", dst, ldj, x, false, true)
}

func (a *affineT) Inverse(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	return a.apply("affineT.Inverse", dst, ldj, y, true, true)
}

func (a *affineT) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	if err := a.apply("affineT.ForwardRecord", dst, ldj, x, false, false); err != nil {
		return err
	}
	a.rec.set(recForward, x, dst, ldj)
	return nil
}

func (a *affineT) InverseRecord(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	if err := a.apply("affineT.InverseRecord", dst, ldj, y, true, false); err != nil {
		return err
	}
	a.rec.set(recInverse, y, dst, ldj)
	return nil
}

func (a *affineT) Backward(gin *mat.Dense, gp []float64, gout *mat.Dense, gldj []float64) error {
	if a.rec.dir == 0 {
		panic("affineT: no recording")
	}
	PrepareBackward("affineT.Backward", a.d, a.rec.n, a.p.Len(), gin, gp, gout, gldj)
	mu, s := a.mu.Of(a.p.Data), a.s.Of(a.p.Data)
	var gmu, gs []float64
	if gp != nil {
		gmu, gs = a.mu.Of(gp), a.s.Of(gp)
	}
	inv := a.rec.dir == recInverse
	for i := 0; i < a.rec.n; i++ {
		go_, out := row(gout, i), row(a.rec.out, i)
		gl := 0.0
		if gldj != nil {
			gl = gldj[i]
		}
		for j := range go_ {
			if inv { // x = μ + y e^s
				if gin != nil {
					row(gin, i)[j] = go_[j] * math.Exp(s[j])
				}
				if gp != nil {
					gmu[j] += go_[j]
					gs[j] += go_[j]*(out[j]-mu[j]) + gl
				}
			} else { // y = (x − μ) e^{−s}
				if gin != nil {
					row(gin, i)[j] = go_[j] * math.Exp(-s[j])
				}
				if gp != nil {
					gmu[j] -= go_[j] * math.Exp(-s[j])
					gs[j] -= go_[j]*out[j] + gl
				}
			}
		}
	}
	return nil
}

// linear2T is the 2-D linear map y = W x, log|det| = log|det W|.
type linear2T struct {
	p   *nn.Params
	w   nn.Slot // w00 w01 w10 w11
	rec recording
}

func newLinear2T(p *nn.Params, name string, w [4]float64) *linear2T {
	l := &linear2T{p: p}
	l.w = p.Reserve(name+"/W", 4)
	copy(l.w.Of(p.Data), w[:])
	return l
}

func (l *linear2T) Dim() int           { return 2 }
func (l *linear2T) Params() *nn.Params { return l.p }

// mats returns W, W⁻¹ and log|det W|.
func (l *linear2T) mats() (w, v [4]float64, logdet float64) {
	copy(w[:], l.w.Of(l.p.Data))
	det := w[0]*w[3] - w[1]*w[2]
	v = [4]float64{w[3] / det, -w[1] / det, -w[2] / det, w[0] / det}
	return w, v, math.Log(math.Abs(det))
}

func (l *linear2T) apply(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse, inPlace bool) error {
	l.rec.dir = 0
	n, err := PrepareCall(op, 2, dst, ldj, x, inPlace)
	if err != nil {
		return err
	}
	w, v, ld := l.mats()
	m := w
	if inverse {
		m, ld = v, -ld
	}
	for i := 0; i < n; i++ {
		xi, yi := row(x, i), row(dst, i)
		a, b := xi[0], xi[1]
		yi[0] = m[0]*a + m[1]*b
		yi[1] = m[2]*a + m[3]*b
		if ldj != nil {
			ldj[i] += ld
		}
	}
	return nil
}

func (l *linear2T) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return l.apply("linear2T.Forward", dst, ldj, x, false, true)
}

func (l *linear2T) Inverse(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	return l.apply("linear2T.Inverse", dst, ldj, y, true, true)
}

func (l *linear2T) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	if err := l.apply("linear2T.ForwardRecord", dst, ldj, x, false, false); err != nil {
		return err
	}
	l.rec.set(recForward, x, dst, ldj)
	return nil
}

func (l *linear2T) InverseRecord(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	if err := l.apply("linear2T.InverseRecord", dst, ldj, y, true, false); err != nil {
		return err
	}
	l.rec.set(recInverse, y, dst, ldj)
	return nil
}

func (l *linear2T) Backward(gin *mat.Dense, gp []float64, gout *mat.Dense, gldj []float64) error {
	if l.rec.dir == 0 {
		panic("linear2T: no recording")
	}
	PrepareBackward("linear2T.Backward", 2, l.rec.n, l.p.Len(), gin, gp, gout, gldj)
	w, v, _ := l.mats()
	inv := l.rec.dir == recInverse
	m := w
	if inv {
		m = v
	}
	var gm [4]float64 // ∂L/∂M for the applied matrix M
	sl := 0.0
	for i := 0; i < l.rec.n; i++ {
		g, u := row(gout, i), row(l.rec.in, i)
		if gin != nil {
			gi := row(gin, i)
			gi[0] = m[0]*g[0] + m[2]*g[1]
			gi[1] = m[1]*g[0] + m[3]*g[1]
		}
		gm[0] += g[0] * u[0]
		gm[1] += g[0] * u[1]
		gm[2] += g[1] * u[0]
		gm[3] += g[1] * u[1]
		if gldj != nil {
			sl += gldj[i]
		}
	}
	if gp == nil {
		return nil
	}
	gw := l.w.Of(gp)
	// ∂log|det W|/∂W = W⁻ᵀ, with W⁻ᵀ[r][c] = V[c][r].
	vt := [4]float64{v[0], v[2], v[1], v[3]}
	if !inv {
		for k := range gw {
			gw[k] += gm[k] + sl*vt[k]
		}
		return nil
	}
	// M = V = W⁻¹: dV = −V dW V, so ∂L/∂W = −Vᵀ G Vᵀ; the log-det is −log|det W|.
	var t [4]float64 // Vᵀ G
	t[0] = v[0]*gm[0] + v[2]*gm[2]
	t[1] = v[0]*gm[1] + v[2]*gm[3]
	t[2] = v[1]*gm[0] + v[3]*gm[2]
	t[3] = v[1]*gm[1] + v[3]*gm[3]
	gw[0] -= t[0]*v[0] + t[1]*v[1] + sl*vt[0]
	gw[1] -= t[0]*v[2] + t[1]*v[3] + sl*vt[1]
	gw[2] -= t[2]*v[0] + t[3]*v[1] + sl*vt[2]
	gw[3] -= t[2]*v[2] + t[3]*v[3] + sl*vt[3]
	return nil
}

// condAffineT is the conditional elementwise map y = (x − A c) ⊙ exp(−s)
// with A d×m.
type condAffineT struct {
	d, m  int
	p     *nn.Params
	a, s  nn.Slot
	bound condAffineBound
}

type condAffineBound struct {
	t   *condAffineT
	c   *mat.Dense
	rec recording
	sh  []float64 // shift of one row
}

func newCondAffineT(p *nn.Params, name string, d, m int, a, s []float64) *condAffineT {
	t := &condAffineT{d: d, m: m, p: p}
	t.a = p.Reserve(name+"/A", d*m)
	t.s = p.Reserve(name+"/s", d)
	copy(t.a.Of(p.Data), a)
	copy(t.s.Of(p.Data), s)
	t.bound.t = t
	t.bound.sh = make([]float64, d)
	return t
}

func (t *condAffineT) Dim() int           { return t.d }
func (t *condAffineT) ContextDim() int    { return t.m }
func (t *condAffineT) Params() *nn.Params { return t.p }
func (t *condAffineT) Given(c *mat.Dense) Transform {
	checkCols("condAffineT.Given", c, t.m)
	t.bound.c = c
	t.bound.rec.dir = 0
	return &t.bound
}

func (b *condAffineBound) Dim() int           { return b.t.d }
func (b *condAffineBound) Params() *nn.Params { return b.t.p }

func (b *condAffineBound) shift(i int) []float64 {
	a, c := b.t.a.Of(b.t.p.Data), row(b.c, i)
	for j := 0; j < b.t.d; j++ {
		v := 0.0
		for k := 0; k < b.t.m; k++ {
			v += a[j*b.t.m+k] * c[k]
		}
		b.sh[j] = v
	}
	return b.sh
}

func (b *condAffineBound) apply(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse, inPlace bool) error {
	b.rec.dir = 0
	n, err := PrepareCall(op, b.t.d, dst, ldj, x, inPlace)
	if err != nil {
		return err
	}
	if r, _ := b.c.Dims(); r != n {
		panic(op + ": batch and context rows differ")
	}
	s := b.t.s.Of(b.t.p.Data)
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	for i := 0; i < n; i++ {
		sh := b.shift(i)
		xi, yi := row(x, i), row(dst, i)
		for j := range xi {
			if inverse {
				yi[j] = sh[j] + xi[j]*math.Exp(s[j])
			} else {
				yi[j] = (xi[j] - sh[j]) * math.Exp(-s[j])
			}
		}
		if ldj != nil {
			if inverse {
				ldj[i] += sum
			} else {
				ldj[i] -= sum
			}
		}
	}
	return nil
}

func (b *condAffineBound) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return b.apply("condAffine.Forward", dst, ldj, x, false, true)
}

func (b *condAffineBound) Inverse(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	return b.apply("condAffine.Inverse", dst, ldj, y, true, true)
}

func (b *condAffineBound) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	if err := b.apply("condAffine.ForwardRecord", dst, ldj, x, false, false); err != nil {
		return err
	}
	b.rec.set(recForward, x, dst, ldj)
	return nil
}

func (b *condAffineBound) InverseRecord(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	if err := b.apply("condAffine.InverseRecord", dst, ldj, y, true, false); err != nil {
		return err
	}
	b.rec.set(recInverse, y, dst, ldj)
	return nil
}

func (b *condAffineBound) Backward(gin *mat.Dense, gp []float64, gout *mat.Dense, gldj []float64) error {
	if b.rec.dir == 0 {
		panic("condAffine: no recording")
	}
	t := b.t
	PrepareBackward("condAffine.Backward", t.d, b.rec.n, t.p.Len(), gin, gp, gout, gldj)
	s := t.s.Of(t.p.Data)
	var ga, gs []float64
	if gp != nil {
		ga, gs = t.a.Of(gp), t.s.Of(gp)
	}
	inv := b.rec.dir == recInverse
	for i := 0; i < b.rec.n; i++ {
		sh := b.shift(i)
		c := row(b.c, i)
		g, out := row(gout, i), row(b.rec.out, i)
		gl := 0.0
		if gldj != nil {
			gl = gldj[i]
		}
		for j := range g {
			var gshift float64 // ∂L/∂shift_j
			if inv {           // x = shift + y e^s
				if gin != nil {
					row(gin, i)[j] = g[j] * math.Exp(s[j])
				}
				gshift = g[j]
				if gp != nil {
					gs[j] += g[j]*(out[j]-sh[j]) + gl
				}
			} else { // y = (x − shift) e^{−s}
				if gin != nil {
					row(gin, i)[j] = g[j] * math.Exp(-s[j])
				}
				gshift = -g[j] * math.Exp(-s[j])
				if gp != nil {
					gs[j] -= g[j]*out[j] + gl
				}
			}
			if gp != nil {
				for k := 0; k < t.m; k++ {
					ga[j*t.m+k] += gshift * c[k]
				}
			}
		}
	}
	return nil
}

// nanT is a non-differentiable transform: the identity, except that rows
// whose first coordinate exceeds 10 come out NaN (a transform that fails
// numerically on some rows), with log-det 0.
type nanT struct{ d int }

func (t nanT) Dim() int { return t.d }
func (t nanT) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	n, err := PrepareCall("nanT.Forward", t.d, dst, ldj, x, true)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		xi, yi := row(x, i), row(dst, i)
		bad := xi[0] > 10
		for j := range xi {
			yi[j] = xi[j]
			if bad {
				yi[j] = math.NaN()
			}
		}
	}
	return nil
}
func (t nanT) Inverse(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	return t.Forward(dst, ldj, y)
}
