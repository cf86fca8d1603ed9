package adjoint_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/odeflow/odeflow/adjoint"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
)

// testSys is a System whose parameters the tests can perturb in place.
type testSys interface {
	adjoint.System
	Theta() []float64
}

// linSys is y' = A y with A = θ reshaped row-major (n×n).
type linSys struct {
	n     int
	theta []float64
}

func (s *linSys) Len() int         { return s.n }
func (s *linSys) NumParams() int   { return s.n * s.n }
func (s *linSys) Theta() []float64 { return s.theta }

func (s *linSys) Eval(dst []float64, _ float64, y []float64) {
	n := s.n
	for i := 0; i < n; i++ {
		var v float64
		for j := 0; j < n; j++ {
			v += s.theta[i*n+j] * y[j]
		}
		dst[i] = v
	}
}

func (s *linSys) VJP(ay, ath []float64, _ float64, y, a []float64) float64 {
	n := s.n
	for j := 0; j < n; j++ {
		ay[j] = 0
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			ay[j] += a[i] * s.theta[i*n+j]
			ath[i*n+j] += a[i] * y[j]
		}
	}
	return 0
}

// mlpSys is a batch of rows samples of dimension d, each moved by the
// time-dependent two-layer field
//
//	f(t, z) = W2 tanh(W1 z + b1 + t u) + b2,
//
// with θ = [W1 (h×d) | b1 (h) | u (h) | W2 (d×h) | b2 (d)].
type mlpSys struct {
	rows, d, h int
	theta      []float64
	act, gp    []float64
}

func newMLP(rows, d, h int, rng *rand.Rand) *mlpSys {
	m := &mlpSys{rows: rows, d: d, h: h}
	m.theta = make([]float64, m.NumParams())
	for i := range m.theta {
		m.theta[i] = rng.NormFloat64() * 0.8
	}
	m.act = make([]float64, h)
	m.gp = make([]float64, h)
	return m
}

func (m *mlpSys) Len() int         { return m.rows * m.d }
func (m *mlpSys) NumParams() int   { return 2*m.h*m.d + 2*m.h + m.d }
func (m *mlpSys) Theta() []float64 { return m.theta }

func (m *mlpSys) split(v []float64) (w1, b1, u, w2, b2 []float64) {
	d, h := m.d, m.h
	w1, v = v[:h*d], v[h*d:]
	b1, v = v[:h], v[h:]
	u, v = v[:h], v[h:]
	w2, v = v[:d*h], v[d*h:]
	return w1, b1, u, w2, v[:d]
}

// hidden sets m.act to the hidden activations of sample z.
func (m *mlpSys) hidden(t float64, z []float64) {
	w1, b1, u, _, _ := m.split(m.theta)
	for j := 0; j < m.h; j++ {
		s := b1[j] + t*u[j]
		for k, zk := range z {
			s += w1[j*m.d+k] * zk
		}
		m.act[j] = math.Tanh(s)
	}
}

func (m *mlpSys) Eval(dst []float64, t float64, y []float64) {
	d, h := m.d, m.h
	_, _, _, w2, b2 := m.split(m.theta)
	for r := 0; r < m.rows; r++ {
		m.hidden(t, y[r*d:(r+1)*d])
		f := dst[r*d : (r+1)*d]
		for i := 0; i < d; i++ {
			s := b2[i]
			for j := 0; j < h; j++ {
				s += w2[i*h+j] * m.act[j]
			}
			f[i] = s
		}
	}
}

func (m *mlpSys) VJP(ay, ath []float64, t float64, y, a []float64) float64 {
	d, h := m.d, m.h
	w1, _, u, w2, _ := m.split(m.theta)
	gw1, gb1, gu, gw2, gb2 := m.split(ath)
	var gt float64
	for r := 0; r < m.rows; r++ {
		z := y[r*d : (r+1)*d]
		ar := a[r*d : (r+1)*d]
		m.hidden(t, z)
		for i := 0; i < d; i++ {
			gb2[i] += ar[i]
			for j := 0; j < h; j++ {
				gw2[i*h+j] += ar[i] * m.act[j]
			}
		}
		for j := 0; j < h; j++ {
			var g float64
			for i := 0; i < d; i++ {
				g += ar[i] * w2[i*h+j]
			}
			g *= 1 - m.act[j]*m.act[j]
			m.gp[j] = g
			gb1[j] += g
			gu[j] += g * t
			gt += g * u[j]
			for k := 0; k < d; k++ {
				gw1[j*d+k] += g * z[k]
			}
		}
		az := ay[r*d : (r+1)*d]
		for k := 0; k < d; k++ {
			var s float64
			for j := 0; j < h; j++ {
				s += m.gp[j] * w1[j*d+k]
			}
			az[k] = s
		}
	}
	return gt
}

// lvSys is the Lotka–Volterra system x' = αx − βxy, y' = δxy − γy with
// θ = (α, β, δ, γ).
type lvSys struct{ theta []float64 }

func (s *lvSys) Len() int         { return 2 }
func (s *lvSys) NumParams() int   { return 4 }
func (s *lvSys) Theta() []float64 { return s.theta }

func (s *lvSys) Eval(dst []float64, _ float64, y []float64) {
	al, be, de, ga := s.theta[0], s.theta[1], s.theta[2], s.theta[3]
	x, z := y[0], y[1]
	dst[0] = al*x - be*x*z
	dst[1] = de*x*z - ga*z
}

func (s *lvSys) VJP(ay, ath []float64, _ float64, y, a []float64) float64 {
	al, be, de, ga := s.theta[0], s.theta[1], s.theta[2], s.theta[3]
	x, z := y[0], y[1]
	ay[0] = a[0]*(al-be*z) + a[1]*de*z
	ay[1] = -a[0]*be*x + a[1]*(de*x-ga)
	ath[0] += a[0] * x
	ath[1] -= a[0] * x * z
	ath[2] += a[1] * x * z
	ath[3] -= a[1] * z
	return 0
}

// quadSys is an mlpSys with one passive quadrature state per sample, in the
// manner of a CNF's log-determinant: the state is [z (rows×d) | q (rows)]
// with
//
//	z' = f(t, z),   q_r' = ‖f_r‖² + t Σ_i z_ri,
//
// and F never reads q. It implements adjoint.ActiveEvaler; EvalActive
// fills the passive part of dst with NaN, which the adjoint must not read.
type quadSys struct {
	*mlpSys
	f, aeff []float64
}

func newQuad(rows, d, h int, rng *rand.Rand) *quadSys {
	m := newMLP(rows, d, h, rng)
	return &quadSys{mlpSys: m, f: make([]float64, rows*d), aeff: make([]float64, rows*d)}
}

func (s *quadSys) Len() int    { return s.rows * (s.d + 1) }
func (s *quadSys) Active() int { return s.rows * s.d }

func (s *quadSys) EvalActive(dst []float64, t float64, y []float64) {
	m := s.Active()
	s.mlpSys.Eval(dst[:m], t, y[:m])
	for i := m; i < len(dst); i++ {
		dst[i] = math.NaN()
	}
}

func (s *quadSys) Eval(dst []float64, t float64, y []float64) {
	m, d := s.Active(), s.d
	s.mlpSys.Eval(dst[:m], t, y[:m])
	for r := 0; r < s.rows; r++ {
		var v float64
		for i := r * d; i < (r+1)*d; i++ {
			v += dst[i]*dst[i] + t*y[i]
		}
		dst[m+r] = v
	}
}

func (s *quadSys) VJP(ay, ath []float64, t float64, y, a []float64) float64 {
	m, d := s.Active(), s.d
	z, aq := y[:m], a[m:]
	s.mlpSys.Eval(s.f, t, z)
	for i := range s.aeff {
		s.aeff[i] = a[i] + 2*aq[i/d]*s.f[i]
	}
	gt := s.mlpSys.VJP(ay[:m], ath, t, z, s.aeff)
	for i := 0; i < m; i++ {
		ay[i] += aq[i/d] * t
		gt += aq[i/d] * z[i]
	}
	for i := m; i < len(ay); i++ {
		ay[i] = 0
	}
	return gt
}

// plainSys hides the optional interfaces of a System (ActiveEvaler): the
// adjoint sees Eval and VJP only.
type plainSys struct{ testSys }

// evalVJPSys wraps a System with the optional EvalVJP method, to check that
// Backsolve gives the same result through it.
type evalVJPSys struct{ testSys }

func (s evalVJPSys) EvalVJP(f, ay, ath []float64, t float64, y, a []float64) float64 {
	s.Eval(f, t, y)
	return s.VJP(ay, ath, t, y, a)
}

func randVec(rng *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = scale * rng.NormFloat64()
	}
	return v
}

// TestSystemsVJP checks the hand-written VJPs of the test systems against
// finite differences, with respect to y, θ and t, before they are used as
// references for the adjoint.
func TestSystemsVJP(t *testing.T) {
	rng := testrand.New(t)
	for _, sys := range []testSys{
		&linSys{n: 3, theta: randVec(rng, 9, 1)},
		newMLP(3, 2, 5, rng),
		&lvSys{theta: []float64{1.5, 1, 1, 3}},
		newQuad(3, 2, 4, rng),
	} {
		n, p := sys.Len(), sys.NumParams()
		tt := 0.37
		y := randVec(rng, n, 1)
		a := randVec(rng, n, 1)
		ay := make([]float64, n)
		ath := make([]float64, p)
		check.NaNFill(ay)
		const seed = 0.25
		for i := range ath {
			ath[i] = seed
		}
		yc, ac := check.Clone(y), check.Clone(a)
		at := sys.VJP(ay, ath, tt, y, a)
		check.Unchanged(t, "y", yc, y)
		check.Unchanged(t, "a", ac, a)
		for i := range ath {
			ath[i] -= seed // the VJP accumulates
		}
		check.Close(t, "ay", check.VJPRef(func(dst, x []float64) { sys.Eval(dst, tt, x) }, n, y, a), ay, check.Tol)
		th := sys.Theta()
		th0 := check.Clone(th)
		want := check.VJPRef(func(dst, x []float64) {
			copy(th, x)
			sys.Eval(dst, tt, y)
		}, n, th0, a)
		copy(th, th0)
		check.Close(t, "atheta", want, ath, check.Tol)
		wantT := check.VJPRef(func(dst, x []float64) { sys.Eval(dst, x[0], y) }, n, []float64{tt}, a)
		check.Close(t, "at", wantT, []float64{at}, check.Tol)
	}
}
