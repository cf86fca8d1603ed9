package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchMLP sets up FFJORD's toy network shape 2 → 64-64-64 → 2 with tanh on
// a batch of n rows with k tangents, Forward and JVP already run once.
func benchMLP(b *testing.B, n, k int) (m *MLP, ws Workspace, x, xd, y, yd, gθ []float64) {
	p := &Params{}
	m, err := NewMLP(p, "m", MLPConfig{In: 2, Out: 2, Hidden: "64-64-64", Act: Tanh}, rand.NewPCG(1, 2))
	if err != nil {
		b.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	x, xd = randSlice(rnd, n*2, 1), randSlice(rnd, n*k*2, 1)
	y, yd = make([]float64, n*2), make([]float64, n*k*2)
	gθ = make([]float64, p.Len())
	ws = m.NewWorkspace(n, k)
	m.Forward(ws, y, x)
	m.JVP(ws, yd, xd)
	return m, ws, x, xd, y, yd, gθ
}

func BenchmarkMLP(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("Forward/n=%d", n), func(b *testing.B) {
			m, ws, x, _, y, _, _ := benchMLP(b, n, 2)
			b.ReportAllocs()
			for b.Loop() {
				m.Forward(ws, y, x)
			}
		})
		b.Run(fmt.Sprintf("VJP/n=%d", n), func(b *testing.B) {
			m, ws, x, _, y, _, gθ := benchMLP(b, n, 2)
			gx := make([]float64, len(x))
			b.ReportAllocs()
			for b.Loop() {
				m.VJP(ws, gx, gθ, y)
			}
		})
		b.Run(fmt.Sprintf("JVP-k=2/n=%d", n), func(b *testing.B) {
			m, ws, _, xd, _, yd, _ := benchMLP(b, n, 2)
			b.ReportAllocs()
			for b.Loop() {
				m.JVP(ws, yd, xd)
			}
		})
		b.Run(fmt.Sprintf("TangentVJP-k=2/n=%d", n), func(b *testing.B) {
			m, ws, x, xd, y, yd, gθ := benchMLP(b, n, 2)
			gx, gxd := make([]float64, len(x)), make([]float64, len(xd))
			b.ReportAllocs()
			for b.Loop() {
				m.TangentVJP(ws, gx, gxd, gθ, y, yd)
			}
		})
	}
}

func BenchmarkAdamStep(b *testing.B) {
	const n = 8706 // parameters of 2 → 64-64-64 → 2
	rnd := rand.New(rand.NewPCG(1, 1))
	x, g := randSlice(rnd, n, 1), randSlice(rnd, n, 1)
	o := NewAdam(n, nil, nil)
	b.ReportAllocs()
	for b.Loop() {
		o.Step(x, g, 1e-3)
	}
}
