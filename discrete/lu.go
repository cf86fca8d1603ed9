package discrete

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// LU is the invertible linear map of Glow's 1×1 convolution (Kingma &
// Dhariwal 2018, https://arxiv.org/abs/1807.03039), applied to vectors, in
// LU-decomposed form:
//
//	Forward:  z = W x + b,      W = P L (U + diag(s)),  s_j = σ_j exp(ℓ_j)
//	Inverse:  x = W⁻¹ (z − b)   (two triangular solves)
//
//	log|det ∂z/∂x| = Σ_j ℓ_j
//
// P is a fixed permutation ((P v)_i = v_{π(i)}), L is unit lower
// triangular, U strictly upper triangular, σ_j = ±1 are fixed signs and ℓ =
// log|s|. The trainable blocks are name+"/L" (the d(d−1)/2 strictly lower
// entries of L, row by row), name+"/U" (the strictly upper entries of U, row
// by row), name+"/logs" (ℓ, length d) and name+"/bias" (b, length d). Since
// s_j ≠ 0 for every finite ℓ, W is invertible for all parameter values. The
// log-determinant costs O(d) and each direction O(d²) per row.
//
// P and σ are structure, not parameters: they are fixed at construction
// from src (Glow's initialization, see NewLU), so a model restored from
// saved parameters must be built with the same source. A LU holds row
// buffers and a recording: it is not safe for concurrent use. It allocates
// nothing after construction.
//
// It takes no context: in a conditional chain, lift it with
// odeflow.Unconditional.
type LU struct {
	d                 int
	p                 *nn.Params
	l, u, logs, bias  nn.Slot
	perm              []int
	sign              []float64
	s                 []float64 // σ ⊙ exp(ℓ), refreshed by every call
	t1, t2, g1, g2, v []float64 // row buffers
	rec               linRec
}

// NewLU returns a d-dimensional LU linear layer whose parameters are
// reserved in p under name+"/L", "/U", "/logs" and "/bias". With a non-nil
// src it follows Glow: W starts as a random rotation Q (the Q factor of a
// d×d matrix of N(0, 1) draws), factorized with partial pivoting as Q =
// P L (U + diag(s)), which fixes P and the signs σ = sign(s); b = 0. With a
// nil src, P = I, σ = +1 and W = I. It panics if d < 1 or p is nil.
func NewLU(p *nn.Params, name string, d int, src rand.Source) *LU {
	linCheckDim("discrete: NewLU", d)
	if p == nil {
		panic("discrete: NewLU: nil *nn.Params")
	}
	m := d * (d - 1) / 2
	t := &LU{d: d, p: p}
	t.l = p.Reserve(name+"/L", m)
	t.u = p.Reserve(name+"/U", m)
	t.logs = p.Reserve(name+"/logs", d)
	t.bias = p.Reserve(name+"/bias", d)
	t.perm = make([]int, d)
	t.sign = make([]float64, d)
	for _, s := range []*[]float64{&t.s, &t.t1, &t.t2, &t.g1, &t.g2, &t.v} {
		*s = make([]float64, d)
	}
	for j := range t.perm {
		t.perm[j], t.sign[j] = j, 1
	}
	if src == nil {
		return t
	}
	rnd := rand.New(src)
	g := mat.NewDense(d, d, nil)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			g.Set(i, j, rnd.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q mat.Dense
	qr.QTo(&q)
	a := mat.DenseCopyOf(&q)
	// Partial pivoting: rows of a are swapped so that a = L U in the end,
	// with a's row i being q's row order[i].
	order := make([]int, d)
	for i := range order {
		order[i] = i
	}
	for k := 0; k < d; k++ {
		piv := k
		for i := k + 1; i < d; i++ {
			if math.Abs(a.At(i, k)) > math.Abs(a.At(piv, k)) {
				piv = i
			}
		}
		if piv != k {
			rk, rp := a.RawRowView(k), a.RawRowView(piv)
			for j := range rk {
				rk[j], rp[j] = rp[j], rk[j]
			}
			order[k], order[piv] = order[piv], order[k]
		}
		for i := k + 1; i < d; i++ {
			f := a.At(i, k) / a.At(k, k)
			a.Set(i, k, f)
			for j := k + 1; j < d; j++ {
				a.Set(i, j, a.At(i, j)-f*a.At(k, j))
			}
		}
	}
	// Q_m = (LŨ)_i with m = order[i]: so π = order⁻¹.
	for i, m := range order {
		t.perm[m] = i
	}
	l, u, ls := t.l.Of(p.Data), t.u.Of(p.Data), t.logs.Of(p.Data)
	kl, ku := 0, 0
	for i := 0; i < d; i++ {
		for j := 0; j < i; j++ {
			l[kl] = a.At(i, j)
			kl++
		}
		s := a.At(i, i)
		t.sign[i] = math.Copysign(1, s)
		ls[i] = math.Log(math.Abs(s))
		for j := i + 1; j < d; j++ {
			u[ku] = a.At(i, j)
			ku++
		}
	}
	return t
}

// Dim returns d.
func (t *LU) Dim() int { return t.d }

// Params returns the shared parameter vector.
func (t *LU) Params() *nn.Params { return t.p }

// Perm returns a copy of the fixed permutation π of P ((P v)_i = v_{π(i)}).
func (t *LU) Perm() []int { return append([]int(nil), t.perm...) }

// Signs returns a copy of the fixed signs σ of the diagonal s.
func (t *LU) Signs() []float64 { return append([]float64(nil), t.sign...) }

// Matrix writes W = P L (U + diag(s)) into dst (allocated when nil;
// otherwise it must be d×d) and returns it. It panics if a non-nil dst has
// the wrong shape.
func (t *LU) Matrix(dst *mat.Dense) *mat.Dense {
	if dst == nil {
		dst = mat.NewDense(t.d, t.d, nil)
	}
	if r, c := dst.Dims(); r != t.d || c != t.d {
		panic(fmt.Sprintf("discrete: LU.Matrix: dst is %d×%d, want %d×%d", r, c, t.d, t.d))
	}
	t.refresh()
	l, u := t.l.Of(t.p.Data), t.u.Of(t.p.Data)
	col := make([]float64, t.d)
	for j := 0; j < t.d; j++ { // column j of W = P L Ũ e_j
		for i := range col {
			col[i] = 0
		}
		col[j] = 1
		t.mulRow(t.t2, t.t1, col, l, u)
		for i := 0; i < t.d; i++ {
			dst.Set(i, j, t.t2[t.perm[i]])
		}
	}
	return dst
}

// refresh sets s = σ ⊙ exp(ℓ) and returns Σ ℓ.
func (t *LU) refresh() float64 {
	ls := t.logs.Of(t.p.Data)
	sum := 0.0
	for j, v := range ls {
		t.s[j] = t.sign[j] * math.Exp(v)
		sum += v
	}
	return sum
}

// mulRow sets t1 = Ũ x and t2 = L t1 (before the permutation).
func (t *LU) mulRow(t2, t1, x, l, u []float64) {
	d := t.d
	ku := 0
	for i := 0; i < d; i++ {
		v := t.s[i] * x[i]
		for j := i + 1; j < d; j++ {
			v += u[ku] * x[j]
			ku++
		}
		t1[i] = v
	}
	kl := 0
	for i := 0; i < d; i++ {
		v := t1[i]
		for j := 0; j < i; j++ {
			v += l[kl] * t1[j]
			kl++
		}
		t2[i] = v
	}
}

// Forward sets z_i = W x_i + b and adds Σ ℓ to ldj[i]. dst may be x. It
// returns a *odeflow.RowError for non-finite input rows, or (wrapping
// odeflow.ErrNumerical) for rows that overflow.
func (t *LU) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return t.apply("discrete: LU.Forward", dst, ldj, x, false, true)
}

// Inverse sets x_i = W⁻¹(z_i − b) and adds −Σ ℓ to ldj[i]. dst may be z.
func (t *LU) Inverse(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	return t.apply("discrete: LU.Inverse", dst, ldj, z, true, true)
}

// ForwardRecord is Forward, recording for Backward.
func (t *LU) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	if err := t.apply("discrete: LU.ForwardRecord", dst, ldj, x, false, false); err != nil {
		return err
	}
	t.rec.set(linForward, x, dst, ldj)
	return nil
}

// InverseRecord is Inverse, recording for Backward.
func (t *LU) InverseRecord(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	if err := t.apply("discrete: LU.InverseRecord", dst, ldj, z, true, false); err != nil {
		return err
	}
	t.rec.set(linInverse, z, dst, ldj)
	return nil
}

func (t *LU) apply(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse, inPlace bool) error {
	t.rec.dir = linNone
	n, err := odeflow.PrepareCall(op, t.d, dst, ldj, x, inPlace)
	if err != nil {
		return err
	}
	sum := t.refresh()
	l, u, b := t.l.Of(t.p.Data), t.u.Of(t.p.Data), t.bias.Of(t.p.Data)
	d := t.d
	for i := 0; i < n; i++ {
		xi, yi := linRow(x, i), linRow(dst, i)
		if !inverse {
			t.mulRow(t.t2, t.t1, xi, l, u)
			for j := 0; j < d; j++ {
				yi[j] = t.t2[t.perm[j]] + b[j]
			}
			if ldj != nil {
				ldj[i] += sum
			}
			continue
		}
		for j := 0; j < d; j++ {
			t.t2[t.perm[j]] = xi[j] - b[j]
		}
		t.solveRow(yi, t.t1, t.t2, l, u)
		if ldj != nil {
			ldj[i] -= sum
		}
	}
	return linNumerical(op, dst)
}

// solveRow sets t1 = L⁻¹ t2 and x = Ũ⁻¹ t1.
func (t *LU) solveRow(x, t1, t2, l, u []float64) {
	d := t.d
	kl := 0
	for i := 0; i < d; i++ {
		v := t2[i]
		for j := 0; j < i; j++ {
			v -= l[kl] * t1[j]
			kl++
		}
		t1[i] = v
	}
	// Row i of U starts at offset i·d − i(i+1)/2.
	for i := d - 1; i >= 0; i-- {
		v := t1[i]
		off := i*d - i*(i+1)/2 - i - 1
		for j := i + 1; j < d; j++ {
			v -= u[off+j] * x[j]
		}
		x[i] = v / t.s[i]
	}
}

// Backward propagates derivatives through the recorded call (see
// odeflow.Differentiable), into the input and into L, U, ℓ and b. It panics
// without a recording.
func (t *LU) Backward(gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) error {
	t.rec.check("discrete: LU.Backward", t.d, t.p.Len(), gin, gparams, gout, gldj)
	t.refresh()
	l, u := t.l.Of(t.p.Data), t.u.Of(t.p.Data)
	var gl, gu, gls, gb []float64
	if gparams != nil {
		gl, gu, gls, gb = t.l.Of(gparams), t.u.Of(gparams), t.logs.Of(gparams), t.bias.Of(gparams)
	}
	inv := t.rec.dir == linInverse
	sgn := 1.0 // the sign of ∂Δ/∂ℓ_j
	if inv {
		sgn = -1
	}
	for i := 0; i < t.rec.n; i++ {
		g := linRow(gout, i)
		if gparams != nil {
			if !inv {
				for j, v := range g {
					gb[j] += v // z = … + b
				}
			}
			if gldj != nil {
				for j := range gls {
					gls[j] += sgn * gldj[i]
				}
			}
		}
		if inv {
			t.backInverse(gin, i, g, gl, gu, gls, gb, l, u)
		} else {
			t.backForward(gin, i, g, gl, gu, gls, l, u)
		}
	}
	return nil
}

// backForward handles one row of z = P L Ũ x + b.
func (t *LU) backForward(gin *mat.Dense, i int, g, gl, gu, gls, l, u []float64) {
	d := t.d
	x := linRow(t.rec.in, i)
	for j := 0; j < d; j++ {
		t.g2[t.perm[j]] = g[j] // g2 = Pᵀ g
	}
	t.mulRow(t.t2, t.t1, x, l, u)
	// g1 = Lᵀ g2, and ∂L/∂L_jk = g2_j t1_k.
	copy(t.g1, t.g2)
	kl := 0
	for j := 0; j < d; j++ {
		for k := 0; k < j; k++ {
			t.g1[k] += l[kl] * t.g2[j]
			if gl != nil {
				gl[kl] += t.g2[j] * t.t1[k]
			}
			kl++
		}
	}
	// gin = Ũᵀ g1, and ∂L/∂Ũ_jk = g1_j x_k.
	var gi []float64
	if gin != nil {
		gi = linRow(gin, i)
		for k := 0; k < d; k++ {
			gi[k] = t.s[k] * t.g1[k]
		}
	}
	ku := 0
	for j := 0; j < d; j++ {
		if gls != nil {
			gls[j] += t.g1[j] * x[j] * t.s[j]
		}
		for k := j + 1; k < d; k++ {
			if gi != nil {
				gi[k] += u[ku] * t.g1[j]
			}
			if gu != nil {
				gu[ku] += t.g1[j] * x[k]
			}
			ku++
		}
	}
}

// backInverse handles one row of x = Ũ⁻¹ L⁻¹ Pᵀ (z − b).
func (t *LU) backInverse(gin *mat.Dense, i int, g, gl, gu, gls, gb, l, u []float64) {
	d := t.d
	x := linRow(t.rec.out, i)
	// v = Ũ⁻ᵀ g (Ũᵀ is lower triangular): v_k = (g_k − Σ_{j<k} Ũ_jk v_j)/s_k.
	for k := 0; k < d; k++ {
		v := g[k]
		for j := 0; j < k; j++ {
			v -= u[j*d-j*(j+1)/2+k-j-1] * t.v[j]
		}
		t.v[k] = v / t.s[k]
	}
	// ∂L/∂Ũ = −v xᵀ.
	ku := 0
	for j := 0; j < d; j++ {
		if gls != nil {
			gls[j] -= t.v[j] * x[j] * t.s[j]
		}
		for k := j + 1; k < d; k++ {
			if gu != nil {
				gu[ku] -= t.v[j] * x[k]
			}
			ku++
		}
	}
	// t1 = Ũ x; w = L⁻ᵀ v (Lᵀ is unit upper); ∂L/∂L = −w t1ᵀ.
	t.mulRow(t.t2, t.t1, x, l, u)
	w := t.g1
	for j := d - 1; j >= 0; j-- {
		v := t.v[j]
		for k := j + 1; k < d; k++ {
			v -= l[k*(k-1)/2+j] * w[k]
		}
		w[j] = v
	}
	if gl != nil {
		kl := 0
		for j := 0; j < d; j++ {
			for k := 0; k < j; k++ {
				gl[kl] -= w[j] * t.t1[k]
				kl++
			}
		}
	}
	// gz = P w; ∂L/∂b = −gz.
	for j := 0; j < d; j++ {
		gz := w[t.perm[j]]
		if gin != nil {
			linRow(gin, i)[j] = gz
		}
		if gb != nil {
			gb[j] -= gz
		}
	}
}
