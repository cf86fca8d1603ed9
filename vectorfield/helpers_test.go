package vectorfield

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/nn"
)

func mustAct(t testing.TB, name string) nn.Activation {
	a, err := nn.ParseActivation(name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func randMat(rng *rand.Rand, d int) *mat.Dense {
	return mat.NewDense(d, d, randn(rng, d*d))
}

// newTestFunc returns a user field on R² with context width 1 and
// parameters θ = (α, β, γ):
//
//	f₀ = α sin(z₀z₁) + t c z₀
//	f₁ = β z₀² + c tanh(γt + z₁)
//
// with its derivatives written out by hand.
func newTestFunc() *Func {
	p := new(nn.Params)
	sl := p.Reserve("user/theta", 3)
	copy(sl.Of(p.Data), []float64{0.7, -0.4, 1.3})
	type parts struct {
		α, β, γ, S, C, th, sech2       float64
		j00, j01, j10, j11             float64
		dj00z0, dj00z1, dj01z0, dj01z1 float64
		dj11z1                         float64
	}
	eval := func(t float64, z, c []float64) parts {
		θ := sl.Of(p.Data)
		var q parts
		q.α, q.β, q.γ = θ[0], θ[1], θ[2]
		u := z[0] * z[1]
		q.S, q.C = math.Sin(u), math.Cos(u)
		q.th = math.Tanh(q.γ*t + z[1])
		q.sech2 = 1 - q.th*q.th
		q.j00 = q.α*z[1]*q.C + t*c[0]
		q.j01 = q.α * z[0] * q.C
		q.j10 = 2 * q.β * z[0]
		q.j11 = c[0] * q.sech2
		q.dj00z0 = -q.α * z[1] * z[1] * q.S
		q.dj00z1 = q.α*q.C - q.α*z[0]*z[1]*q.S
		q.dj01z0 = q.dj00z1
		q.dj01z1 = -q.α * z[0] * z[0] * q.S
		q.dj11z1 = c[0] * (-2 * q.th * q.sech2)
		return q
	}
	return &Func{
		D: 2, C: 1, P: p,
		Fn: func(f []float64, t float64, z, c []float64) {
			q := eval(t, z, c)
			f[0] = q.α*q.S + t*c[0]*z[0]
			f[1] = q.β*z[0]*z[0] + c[0]*q.th
		},
		JVPFn: func(jv []float64, t float64, z, c, v []float64) {
			q := eval(t, z, c)
			jv[0] = q.j00*v[0] + q.j01*v[1]
			jv[1] = q.j10*v[0] + q.j11*v[1]
		},
		VJPFn: func(gz, gθ, gc []float64, t float64, z, c, a []float64) float64 {
			q := eval(t, z, c)
			gz[0] += a[0]*q.j00 + a[1]*q.j10
			gz[1] += a[0]*q.j01 + a[1]*q.j11
			g := sl.Of(gθ)
			g[0] += a[0] * q.S
			g[1] += a[1] * z[0] * z[0]
			g[2] += a[1] * c[0] * q.sech2 * t
			gc[0] += a[0]*t*z[0] + a[1]*q.th
			return a[0]*c[0]*z[0] + a[1]*c[0]*q.sech2*q.γ
		},
		VJPJVPFn: func(gz, gθ, gc []float64, t float64, z, c, v, b []float64) float64 {
			q := eval(t, z, c)
			gz[0] += b[0]*(v[0]*q.dj00z0+v[1]*q.dj01z0) + b[1]*v[0]*2*q.β
			gz[1] += b[0]*(v[0]*q.dj00z1+v[1]*q.dj01z1) + b[1]*v[1]*q.dj11z1
			g := sl.Of(gθ)
			g[0] += b[0] * (v[0]*z[1]*q.C + v[1]*z[0]*q.C)
			g[1] += b[1] * v[0] * 2 * z[0]
			g[2] += b[1] * v[1] * q.dj11z1 * t
			gc[0] += b[0]*v[0]*t + b[1]*v[1]*q.sech2
			return b[0]*v[0]*c[0] + b[1]*v[1]*q.dj11z1*q.γ
		},
	}
}
