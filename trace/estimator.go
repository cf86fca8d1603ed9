package trace

import (
	"fmt"
	"math/rand/v2"

	"github.com/odeflow/odeflow/vectorfield"
)

// Values are the per-batch quantities an estimator produces from one pass,
// and, in VJP, the cotangents on them. For a batch of n samples of dimension
// d:
//
//	F    n×d  the field f(t, z)
//	Div  n    the divergence tr(∂f_i/∂z_i), exact or estimated
//	Kin  n    the kinetic energy ‖f_i‖²
//	Frob n    ‖∂f_i/∂z_i‖²_F, exact or estimated from the same tangents
//
// In EvalDiv, F and Div are required and Kin and Frob are computed when not
// nil. In VJP every nil cotangent stands for zeros.
type Values struct {
	F, Div, Kin, Frob []float64
}

// Estimator evaluates a field together with its divergence (and the
// regularizer quantities) on a batch, and differentiates them. An Estimator
// is bound to one Field and owns scratch memory: it must not be used by
// several goroutines at once (build one per goroutine on Field.Clone). The
// first call for a batch size may allocate; later calls allocate nothing.
type Estimator interface {
	// Field returns the field the estimator differentiates.
	Field() vectorfield.Field

	// Resample draws the probe noise for batches of n samples from src and
	// holds it fixed until the next Resample, so that an ODE solver sees one
	// deterministic function across its steps. Call it once per solve.
	// Estimators without noise (Exact) ignore src, which may be nil.
	Resample(n int, src rand.Source)

	// EvalDiv sets dst.F and dst.Div, and dst.Kin and dst.Frob when not nil,
	// at (t, z, c) for the batch z (n×d) with context c (n×ContextDim).
	// It panics if the shapes are wrong or, for a noisy estimator, if n is
	// not the n of the last Resample.
	EvalDiv(dst Values, t float64, z, c []float64)

	// VJP differentiates, with the probe noise held fixed,
	//	L = Σ_i a.F_iᵀ f_i + a.Div_i div_i + a.Kin_i kin_i + a.Frob_i frob_i
	// with respect to z, θ, t and c: it sets g.Z and g.C, adds into
	// g.Theta (see vectorfield.Grads) and returns ∂L/∂t. g.V must be nil.
	VJP(g vectorfield.Grads, t float64, z, c []float64, a Values) (gt float64)
}

// Probe is the distribution of Hutchinson probe vectors: each has
// independent entries of mean 0 and variance 1, so E[εεᵀ] = I.
type Probe int

const (
	// Rademacher probes have entries ±1 with equal probability; their
	// estimate of tr A has variance 2 Σ_{i≠j} A_ij² (symmetrized), the
	// smallest possible, and is exact for a diagonal A. The zero value.
	Rademacher Probe = iota
	// Gaussian probes have standard normal entries (variance 2‖A‖²_F for
	// symmetric A).
	Gaussian
)

// String returns "rademacher" or "gaussian".
func (p Probe) String() string {
	switch p {
	case Rademacher:
		return "rademacher"
	case Gaussian:
		return "gaussian"
	}
	return fmt.Sprintf("Probe(%d)", int(p))
}

// draw fills dst with probe entries from rng.
func (p Probe) draw(dst []float64, rng *rand.Rand) {
	switch p {
	case Gaussian:
		for i := range dst {
			dst[i] = rng.NormFloat64()
		}
	case Rademacher:
		var bits uint64
		for i := range dst {
			if i%64 == 0 {
				bits = rng.Uint64()
			}
			dst[i] = float64(int64(bits&1)*2 - 1)
			bits >>= 1
		}
	default:
		panic("trace: invalid probe " + p.String())
	}
}

// quad is the machinery shared by every estimator: given, per sample i, K
// tangents u_ij (rows i·K+j of U) and weights w_j, it computes
//
//	div_i  = Σ_j w_j u_ijᵀ J_i u_ij
//	frob_i = Σ_j w_j ‖J_i u_ij‖²
//
// from one batched JVP, and their VJP from one VJP2 with U held fixed.
type quad struct {
	f    vectorfield.Field
	d    int
	fbuf []float64 // n×d
	jv   []float64 // (n·K)×d
	aeff []float64 // n×d
	b    []float64 // (n·K)×d
}

func newQuad(f vectorfield.Field) quad {
	if f == nil {
		panic("trace: nil field")
	}
	return quad{f: f, d: f.Dim()}
}

// grow sizes the scratch for n samples with K tangents each.
func (q *quad) grow(n, K int) {
	d := q.d
	if len(q.fbuf) < n*d {
		q.fbuf = make([]float64, n*d)
		q.aeff = make([]float64, n*d)
	}
	if len(q.jv) < n*K*d {
		q.jv = make([]float64, n*K*d)
		q.b = make([]float64, n*K*d)
	}
}

// rows returns n for the batch z and checks the output shapes.
func (q *quad) rows(z []float64) int {
	if len(z)%q.d != 0 {
		panic(fmt.Sprintf("trace: len(z)=%d is not a multiple of d=%d", len(z), q.d))
	}
	return len(z) / q.d
}

func checkLen(name string, s []float64, want int, optional bool) {
	if optional && s == nil {
		return
	}
	if len(s) != want {
		panic(fmt.Sprintf("trace: len(%s)=%d, want %d", name, len(s), want))
	}
}

func checkValues(v Values, n, d int, eval bool) {
	checkLen("F", v.F, n*d, !eval)
	checkLen("Div", v.Div, n, !eval)
	checkLen("Kin", v.Kin, n, true)
	checkLen("Frob", v.Frob, n, true)
}

func (q *quad) eval(dst Values, t float64, z, c, U []float64, K int, w []float64) {
	d := q.d
	n := q.rows(z)
	checkValues(dst, n, d, true)
	if n == 0 {
		return
	}
	q.grow(n, K)
	jv := q.jv[:n*K*d]
	q.f.JVP(dst.F, jv, t, z, c, U[:n*K*d])
	for i := range n {
		div, frob := 0.0, 0.0
		for j := range K {
			r := (i*K + j) * d
			u, y := U[r:r+d], jv[r:r+d]
			s, ss := 0.0, 0.0
			for m, v := range y {
				s += u[m] * v
				ss += v * v
			}
			div += w[j] * s
			frob += w[j] * ss
		}
		dst.Div[i] = div
		if dst.Frob != nil {
			dst.Frob[i] = frob
		}
		if dst.Kin != nil {
			s := 0.0
			for _, v := range dst.F[i*d : (i+1)*d] {
				s += v * v
			}
			dst.Kin[i] = s
		}
	}
}

func (q *quad) vjp(g vectorfield.Grads, t float64, z, c, U []float64, K int, w []float64, a Values) float64 {
	d := q.d
	n := q.rows(z)
	checkValues(a, n, d, false)
	if g.V != nil {
		panic("trace: g.V given to an estimator VJP")
	}
	if n == 0 {
		return 0
	}
	q.grow(n, K)
	U = U[:n*K*d]
	jv := q.jv[:n*K*d]
	f := q.fbuf[:n*d]
	if a.Kin != nil || a.Frob != nil {
		// The regularizer cotangents depend on f and J·U.
		q.f.JVP(f, jv, t, z, c, U)
	}
	aF := a.F
	if a.Kin != nil {
		aF = q.aeff[:n*d]
		for i := range n {
			for m := range d {
				v := 0.0
				if a.F != nil {
					v = a.F[i*d+m]
				}
				aF[i*d+m] = v + 2*a.Kin[i]*f[i*d+m]
			}
		}
	}
	var b []float64
	if a.Div != nil || a.Frob != nil {
		b = q.b[:n*K*d]
		for i := range n {
			ad, af := 0.0, 0.0
			if a.Div != nil {
				ad = a.Div[i]
			}
			if a.Frob != nil {
				af = a.Frob[i]
			}
			for j := range K {
				r := (i*K + j) * d
				for m := range d {
					b[r+m] = w[j] * (ad*U[r+m] + 2*af*jv[r+m])
				}
			}
		}
	}
	if b == nil {
		if aF == nil {
			aF = q.aeff[:n*d]
			for i := range aF {
				aF[i] = 0
			}
		}
		return q.f.VJP(g, t, z, c, aF)
	}
	return q.f.VJP2(g, t, z, c, U, aF, b)
}
