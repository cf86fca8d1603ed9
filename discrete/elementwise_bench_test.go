package discrete

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkElementwise times Forward with log-derivatives and ForwardVJP on
// 10⁴ elements for each elementwise transformer (Affine with one raw block
// per element).
func BenchmarkElementwise(b *testing.B) {
	const m = 10000
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float64, m)
	for i := range x {
		x[i] = 0.98*r.Float64() + 0.01 // in (0, 1): inside every domain
	}
	y, ldj, gx, g := make([]float64, m), make([]float64, m), make([]float64, m), make([]float64, m)
	for i := range g {
		g[i] = 1
	}
	for _, c := range []struct {
		name string
		t    Transformer
	}{
		{"Affine", Affine{Bound: 2}}, {"Exp", Exp{}}, {"Sigmoid", Sigmoid{Alpha: 0.05}},
		{"Tanh", Tanh{}}, {"Softplus", Softplus{}}, {"LeakyReLU", LeakyReLU{}},
		{"SignedPower", SignedPower{Power: 3}}, {"SoftClip", SoftClip{Bound: 2}},
	} {
		φ := make([]float64, m*c.t.NumParams())
		for i := range φ {
			φ[i] = 0.1 * r.NormFloat64()
		}
		gφ := make([]float64, len(φ))
		b.Run(c.name+"/Forward", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = c.t.Forward(y, ldj, x, φ)
			}
		})
		b.Run(c.name+"/ForwardVJP", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.t.ForwardVJP(gx, gφ, x, φ, g, g)
			}
		})
	}
}
