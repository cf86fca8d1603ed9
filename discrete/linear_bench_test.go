package discrete

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/nn"
)

// BenchmarkLinear measures Forward and ForwardRecord+Backward (with gin,
// gparams and gldj) of each layer at batch 256, d = 8.
func BenchmarkLinear(b *testing.B) {
	const n, d = 256, 8
	for ci, tc := range linCases() {
		if tc.name == "permutation/fixed" || tc.name == "permutation/reverse" || tc.name == "chain" {
			continue // same code as permutation/random; the chain is the sum
		}
		rnd := rand.New(rand.NewPCG(uint64(ci), 1))
		p := new(nn.Params)
		tr := tc.build(p, d, rnd, 0.5)
		x := flowtest.RandDense(rnd, n, d, 1)
		z := mat.NewDense(n, d, nil)
		ldj := make([]float64, n)
		gout := flowtest.RandDense(rnd, n, d, 1)
		gldj := flowtest.RandSlice(rnd, n, 1)
		gin := mat.NewDense(n, d, nil)
		gp := make([]float64, p.Len())
		b.Run(tc.name+"/Forward", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := tr.Forward(z, ldj, x); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/ForwardRecord+Backward", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchRecordBackward(b, tr, z, ldj, x, gin, gp, gout, gldj)
			}
		})
	}
}

func benchRecordBackward(b *testing.B, tr odeflow.Differentiable, z *mat.Dense, ldj []float64, x, gin *mat.Dense, gp []float64, gout *mat.Dense, gldj []float64) {
	if err := tr.ForwardRecord(z, ldj, x); err != nil {
		b.Fatal(err)
	}
	if err := tr.Backward(gin, gp, gout, gldj); err != nil {
		b.Fatal(err)
	}
}
