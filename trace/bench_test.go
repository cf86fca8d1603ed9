package trace

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/vectorfield"
)

// BenchmarkToy times FFJORD's toy field (2 → 64-64-64 concatsquash tanh → 2)
// with its divergence, exact and Hutchinson (one Rademacher probe), and the
// VJP of (f, div) with respect to z, θ and t, on batches of 100 and 1000.
// Workers is the number of goroutines an evaluation splits its rows across.
//
//	go test ./trace -run '^$' -bench Toy -benchtime 2s
func BenchmarkToy(b *testing.B) {
	for _, workers := range []int{1, 2} {
		for _, n := range []int{100, 1000} {
			f, err := vectorfield.NewMLP(2, "64-64-64", nn.Tanh, &vectorfield.Settings{Workers: workers})
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			z := randn(rng, n*2)
			v := Values{F: make([]float64, n*2), Div: make([]float64, n)}
			a := Values{F: randn(rng, n*2), Div: randn(rng, n)}
			g := vectorfield.Grads{Z: make([]float64, n*2), Theta: make([]float64, f.Params().Len())}
			for _, est := range []struct {
				name string
				e    Estimator
			}{
				{"exact", NewExact(f)},
				{"hutch", NewHutchinson(f, nil)},
			} {
				est.e.Resample(n, rand.NewPCG(3, 4))
				name := fmt.Sprintf("%s/n=%d/workers=%d", est.name, n, workers)
				b.Run("f+div/"+name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						est.e.EvalDiv(v, 0.5, z, nil)
					}
				})
				b.Run("vjp/"+name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						est.e.VJP(g, 0.5, z, nil, a)
					}
				})
			}
		}
	}
}
