package discrete

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// Rotation is the orthogonal map
//
//	Forward:  z = R x,   R = exp(S),  S = A − Aᵀ
//	Inverse:  x = Rᵀ z
//
// with A strictly upper triangular and trainable: its d(d−1)/2 entries,
// row by row, are the parameter block name+"/A". S is skew-symmetric, so R
// is a rotation (orthogonal with det R = +1) and log|det J| = 0 in both
// directions; every rotation is reached (exp maps the skew-symmetric
// matrices onto SO(d)).
//
// R is computed by scaling and squaring: with 2^s ≥ 2‖S‖₁,
//
//	exp(S) = T(S/2^s)^(2^s),   T(X) = Σ_{k=0}^{16} X^k/k!
//
// (the Taylor remainder is below 1e-19 for ‖X‖₁ ≤ 1/2). The parameter
// gradient needs the Fréchet derivative L(X, E) = d/dt exp(X + tE) at t = 0:
// with G = ∂L/∂R,
//
//	∂L/∂S = L(Sᵀ, G),   ∂L/∂A_ij = (∂L/∂S)_ij − (∂L/∂S)_ji  (i < j)
//
// since ⟨G, L(S, E)⟩ = ⟨L(Sᵀ, G), E⟩. L is computed alongside exp by the
// same scaling and squaring (Higham, Functions of Matrices, §10.6): the
// Taylor terms T_k = X^k/k! and their derivatives D_k obey
//
//	T_k = T_{k−1} X / k,   D_k = (D_{k−1} X + T_{k−1} E) / k
//
// and each squaring maps (R, L) to (R², R L + L R), with E scaled by 2^−s
// like X. This equals the upper right block of exp([[X, E], [0, X]]), which
// the tests check against gonum's mat.Exp. All of it runs in preallocated
// workspace.
//
// R is cached and recomputed only when the parameters change. A Rotation
// holds workspace and a recording: it is not safe for concurrent use. After
// the first call with a given batch size it allocates nothing for d ≤ 64
// (beyond that gonum's matrix product may start goroutines).
//
// It takes no context: in a conditional chain, lift it with
// odeflow.Unconditional.
type Rotation struct {
	d     int
	p     *nn.Params
	a     nn.Slot
	r     []float64 // cached R, d×d row-major
	key   []float64 // the A that r was computed from
	valid bool
	s, g  []float64 // S (then Sᵀ) and G, d×d
	fr    []float64 // L(Sᵀ, G)
	tmp   []float64 // exp(Sᵀ), unused
	ex    linExpm
	buf   mat.Dense // copy of the input of an in-place call
	rec   linRec
}

// NewRotation returns a d-dimensional rotation whose parameters are
// reserved in p under name+"/A". If src is nil, A = 0 and the rotation
// starts as the identity; otherwise the entries of A are drawn from N(0, 1)
// (a random rotation). It panics if d < 1 or p is nil.
func NewRotation(p *nn.Params, name string, d int, src rand.Source) *Rotation {
	linCheckDim("discrete: NewRotation", d)
	if p == nil {
		panic("discrete: NewRotation: nil *nn.Params")
	}
	m := d * (d - 1) / 2
	r := &Rotation{
		d:   d,
		p:   p,
		a:   p.Reserve(name+"/A", m),
		r:   make([]float64, d*d),
		key: make([]float64, m),
		s:   make([]float64, d*d),
		g:   make([]float64, d*d),
		fr:  make([]float64, d*d),
		tmp: make([]float64, d*d),
		ex:  newLinExpm(d),
	}
	if src != nil {
		rnd := rand.New(src)
		a := r.a.Of(p.Data)
		for k := range a {
			a[k] = rnd.NormFloat64()
		}
	}
	return r
}

// Dim returns d.
func (r *Rotation) Dim() int { return r.d }

// Params returns the shared parameter vector.
func (r *Rotation) Params() *nn.Params { return r.p }

// Matrix writes R into dst (allocated when nil; otherwise it must be d×d)
// and returns it. It panics if a non-nil dst has the wrong shape.
func (r *Rotation) Matrix(dst *mat.Dense) *mat.Dense {
	r.update()
	if dst == nil {
		dst = mat.NewDense(r.d, r.d, nil)
	}
	if rr, c := dst.Dims(); rr != r.d || c != r.d {
		panic(fmt.Sprintf("discrete: Rotation.Matrix: dst is %d×%d, want %d×%d", rr, c, r.d, r.d))
	}
	for i := 0; i < r.d; i++ {
		copy(linRow(dst, i), r.r[i*r.d:(i+1)*r.d])
	}
	return dst
}

// skew writes S = A − Aᵀ (or Sᵀ if transpose) into r.s.
func (r *Rotation) skew(transpose bool) {
	a := r.a.Of(r.p.Data)
	d := r.d
	sign := 1.0
	if transpose {
		sign = -1
	}
	k := 0
	for i := 0; i < d; i++ {
		r.s[i*d+i] = 0
		for j := i + 1; j < d; j++ {
			r.s[i*d+j] = sign * a[k]
			r.s[j*d+i] = -sign * a[k]
			k++
		}
	}
}

// update recomputes R if A changed since the last computation.
func (r *Rotation) update() {
	a := r.a.Of(r.p.Data)
	if r.valid {
		same := true
		for k, v := range a {
			if math.Float64bits(v) != math.Float64bits(r.key[k]) {
				same = false
				break
			}
		}
		if same {
			return
		}
	}
	r.skew(false)
	r.ex.compute(r.r, nil, r.s, nil)
	copy(r.key, a)
	r.valid = true
}

// Forward sets z_i = R x_i; ldj is unchanged (log|det R| = 0). dst may be
// x. It returns a *odeflow.RowError for non-finite input rows, or (wrapping
// odeflow.ErrNumerical) for rows that overflow.
func (r *Rotation) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return r.apply("discrete: Rotation.Forward", dst, ldj, x, false, true)
}

// Inverse sets x_i = Rᵀ z_i; ldj is unchanged. dst may be z.
func (r *Rotation) Inverse(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	return r.apply("discrete: Rotation.Inverse", dst, ldj, z, true, true)
}

// ForwardRecord is Forward, recording for Backward.
func (r *Rotation) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	if err := r.apply("discrete: Rotation.ForwardRecord", dst, ldj, x, false, false); err != nil {
		return err
	}
	r.rec.set(linForward, x, dst, ldj)
	return nil
}

// InverseRecord is Inverse, recording for Backward.
func (r *Rotation) InverseRecord(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	if err := r.apply("discrete: Rotation.InverseRecord", dst, ldj, z, true, false); err != nil {
		return err
	}
	r.rec.set(linInverse, z, dst, ldj)
	return nil
}

func (r *Rotation) apply(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse, inPlace bool) error {
	r.rec.dir = linNone
	n, err := odeflow.PrepareCall(op, r.d, dst, ldj, x, inPlace)
	if err != nil {
		return err
	}
	r.update()
	src := x
	if dst == x {
		src = linUse(&r.buf, n, r.d)
		src.Copy(x)
	}
	// Rows: z_iᵀ = x_iᵀ Rᵀ, so Z = X Rᵀ; the inverse is X = Z R.
	t := blas.Trans
	if inverse {
		t = blas.NoTrans
	}
	linGemmRows(t, src.RawMatrix(), r.rmat(), dst.RawMatrix())
	return linNumerical(op, dst)
}

func (r *Rotation) rmat() blas64.General {
	return blas64.General{Rows: r.d, Cols: r.d, Stride: r.d, Data: r.r}
}

// Backward propagates derivatives through the recorded call (see
// odeflow.Differentiable). gldj has no effect (the log-determinant is 0).
// It panics without a recording.
func (r *Rotation) Backward(gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) error {
	r.rec.check("discrete: Rotation.Backward", r.d, r.p.Len(), gin, gparams, gout, gldj)
	r.update()
	inv := r.rec.dir == linInverse
	gm := gout.RawMatrix()
	if gin != nil {
		// Forward: gin_i = Rᵀ gout_i (Gin = Gout R); inverse: Gin = Gout Rᵀ.
		t := blas.NoTrans
		if inv {
			t = blas.Trans
		}
		linGemmRows(t, gm, r.rmat(), gin.RawMatrix())
	}
	if gparams == nil || r.d == 1 {
		return nil
	}
	g := blas64.General{Rows: r.d, Cols: r.d, Stride: r.d, Data: r.g}
	in := r.rec.in.RawMatrix()
	if inv {
		// x = Rᵀ z: ∂L/∂Rᵀ = Goutᵀ Z, so G = Zᵀ Gout.
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, in, gm, 0, g)
	} else {
		// z = R x: G = Goutᵀ X.
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, gm, in, 0, g)
	}
	r.skew(true)
	r.ex.compute(r.tmp, r.fr, r.s, r.g)
	ga := r.a.Of(gparams)
	d := r.d
	k := 0
	for i := 0; i < d; i++ {
		for j := i + 1; j < d; j++ {
			ga[k] += r.fr[i*d+j] - r.fr[j*d+i]
			k++
		}
	}
	return nil
}

// linExpmDegree is the degree of the Taylor polynomial of linExpm; with
// ‖X‖₁ ≤ 1/2 the remainder is below (1/2)^17/17!·e^{1/2} < 4e-20.
const linExpmDegree = 16

// linExpm computes the matrix exponential and its Fréchet derivative of n×n
// row-major matrices by scaling and squaring (see Rotation) in
// preallocated workspace.
type linExpm struct {
	n                   int
	x, e, t, dt, t1, t2 []float64
}

func newLinExpm(n int) linExpm {
	w := linExpm{n: n}
	for _, s := range []*[]float64{&w.x, &w.e, &w.t, &w.dt, &w.t1, &w.t2} {
		*s = make([]float64, n*n)
	}
	return w
}

func (w *linExpm) gen(s []float64) blas64.General {
	return blas64.General{Rows: w.n, Cols: w.n, Stride: w.n, Data: s}
}

// mul sets c = a b (c must not alias a or b).
func (w *linExpm) mul(c, a, b []float64) {
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, w.gen(a), w.gen(b), 0, w.gen(c))
}

// compute sets r = exp(x) and, if f is not nil, f = L(x, e), the Fréchet
// derivative of exp at x in the direction e. r and f must not alias x, e or
// each other; x and e are not modified.
func (w *linExpm) compute(r, f, x, e []float64) {
	n := w.n
	norm := 0.0
	for j := 0; j < n; j++ {
		c := 0.0
		for i := 0; i < n; i++ {
			c += math.Abs(x[i*n+j])
		}
		norm = math.Max(norm, c)
	}
	s := 0
	for norm > 0.5 && s < 1100 {
		norm /= 2
		s++
	}
	scale := math.Ldexp(1, -s)
	for k := range w.x {
		w.x[k] = scale * x[k]
	}
	for k := range r {
		r[k], w.t[k] = 0, 0
	}
	for i := 0; i < n; i++ {
		r[i*n+i], w.t[i*n+i] = 1, 1
	}
	if f != nil {
		for k := range w.e {
			w.e[k] = scale * e[k]
			f[k], w.dt[k] = 0, 0
		}
	}
	for k := 1; k <= linExpmDegree; k++ {
		inv := 1 / float64(k)
		if f != nil {
			w.mul(w.t1, w.dt, w.x)
			w.mul(w.t2, w.t, w.e)
			for m := range w.dt {
				w.dt[m] = (w.t1[m] + w.t2[m]) * inv
				f[m] += w.dt[m]
			}
		}
		w.mul(w.t1, w.t, w.x)
		for m := range w.t {
			w.t[m] = w.t1[m] * inv
			r[m] += w.t[m]
		}
	}
	for ; s > 0; s-- {
		if f != nil {
			w.mul(w.t1, r, f)
			w.mul(w.t2, f, r)
			for m := range f {
				f[m] = w.t1[m] + w.t2[m]
			}
		}
		w.mul(w.t1, r, r)
		copy(r, w.t1)
	}
}

// linGemmChunk is the row chunk of linGemmRows.
const linGemmChunk = 64

// linGemmRows sets c = a·op(b) for an n×k matrix a and a k×k matrix b, in
// chunks of 64 rows: gonum's dgemm spawns goroutines (which allocate) when c
// has four or more 64×64 blocks, so chunking keeps it serial and
// allocation-free for k ≤ 128.
func linGemmRows(tB blas.Transpose, a, b, c blas64.General) {
	for i := 0; i < a.Rows; i += linGemmChunk {
		m := min(linGemmChunk, a.Rows-i)
		ac := blas64.General{Rows: m, Cols: a.Cols, Stride: a.Stride, Data: a.Data[i*a.Stride:]}
		cc := blas64.General{Rows: m, Cols: c.Cols, Stride: c.Stride, Data: c.Data[i*c.Stride:]}
		blas64.Gemm(blas.NoTrans, tB, 1, ac, b, 0, cc)
	}
}
