package discrete

import (
	"math/rand/v2"
	"testing"
)

// benchSplineData returns 10⁴ inputs spread over [−1.2B, 1.2B] (some in the
// tails) with one block of raw parameters per element, as a coupling or
// autoregressive layer passes them.
func benchSplineData(s *Spline, m int) (x, φ []float64) {
	r := rand.New(rand.NewPCG(1, 2))
	x = make([]float64, m)
	for i := range x {
		x[i] = s.Bound() * (2.4*r.Float64() - 1.2)
	}
	φ = make([]float64, m*s.NumParams())
	for i := range φ {
		φ[i] = r.NormFloat64()
	}
	return x, φ
}

func BenchmarkSpline(b *testing.B) {
	const m = 10000
	s := NewSpline(&SplineSettings{Bins: 8})
	x, φ := benchSplineData(s, m)
	y, ldj, gx, g := make([]float64, m), make([]float64, m), make([]float64, m), make([]float64, m)
	gφ := make([]float64, len(φ))
	for i := range g {
		g[i] = 1
	}
	if err := s.Forward(y, ldj, x, φ); err != nil {
		b.Fatal(err)
	}
	b.Run("Forward", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = s.Forward(y, ldj, x, φ)
		}
	})
	b.Run("Inverse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = s.Inverse(gx, ldj, y, φ)
		}
	})
	b.Run("ForwardVJP", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.ForwardVJP(gx, gφ, x, φ, g, g)
		}
	})
	b.Run("InverseVJP", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.InverseVJP(gx, gφ, y, φ, g, g)
		}
	})
}
