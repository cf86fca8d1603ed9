package vectorfield

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/odeflow/odeflow/nn"
)

// toyField is FFJORD's toy field: 2 → 64-64-64 concatsquash tanh → 2.
func toyField(b *testing.B, workers int) *MLP {
	m, err := NewMLP(2, "64-64-64", nn.Tanh, &Settings{Workers: workers})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func BenchmarkToyField(b *testing.B) {
	for _, workers := range []int{1, 2} {
		for _, n := range []int{100, 1000} {
			m := toyField(b, workers)
			rng := rand.New(rand.NewPCG(1, 1))
			z := randn(rng, n*2)
			const k = 2
			v := make([]float64, n*k*2)
			for i := range n {
				v[(i*k)*2] = 1
				v[(i*k+1)*2+1] = 1
			}
			f, jv := make([]float64, n*2), make([]float64, n*k*2)
			a, bb := randn(rng, n*2), randn(rng, n*k*2)
			gθ := make([]float64, m.Params().Len())
			gz := make([]float64, n*2)
			name := fmt.Sprintf("w%d/n%d", workers, n)
			b.Run("Eval/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					m.Eval(f, 0.5, z, nil)
				}
			})
			b.Run("JVP2/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					m.JVP(f, jv, 0.5, z, nil, v)
				}
			})
			b.Run("VJP2/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					m.VJP2(Grads{Z: gz, Theta: gθ}, 0.5, z, nil, v, a, bb)
				}
			})
		}
	}
}
