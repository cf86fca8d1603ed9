package train

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

// The test transform's parameter gradients, through Flow.LogProbGrad (the
// ML loss) and SampleRecord/SampleBackward (the KL loss), against finite
// differences.
func TestAffineGradients(t *testing.T) {
	r := testrand.New(t)
	for _, m := range []int{0, 2} {
		p := new(nn.Params)
		tr := newAffine(p, "a", 3, m)
		base := odeflow.NewDiagNormal(p, "base", []float64{0.1, -0.2, 0.3}, []float64{1.2, 0.8, 1.1})
		for i := range p.Data {
			p.Data[i] += 0.3 * r.NormFloat64()
		}
		var flow *odeflow.Flow
		var c *mat.Dense
		n := 5
		if m == 0 {
			flow = odeflow.NewFlow(base, tr.bound())
		} else {
			flow = odeflow.NewConditionalFlow(base, tr)
			c = mat.NewDense(n, m, nil)
			for i := 0; i < n; i++ {
				for k := 0; k < m; k++ {
					c.Set(i, k, r.NormFloat64())
				}
			}
		}
		x := mat.NewDense(n, 3, nil)
		for i := 0; i < n; i++ {
			for j := 0; j < 3; j++ {
				x.Set(i, j, r.NormFloat64())
			}
		}
		w := []float64{0.3, -1, 0.5, 2, -0.7}
		p0 := clone(p.Data)
		mlLoss := func(th []float64) float64 {
			copy(p.Data, th)
			lp, err := flow.LogProb(nil, x, c)
			if err != nil {
				t.Fatal(err)
			}
			s := 0.0
			for i, v := range lp {
				s += w[i] * v
			}
			return s
		}
		want := check.GradRef(mlLoss, p0)
		copy(p.Data, p0)
		got := make([]float64, p.Len())
		if _, err := flow.LogProbGrad(nil, got, nil, w, x, c); err != nil {
			t.Fatal(err)
		}
		check.Close(t, "ML gradient", want, got, check.Tol)

		// KL-type loss Σ_i a_i·x_i + b_i log q(x_i) over samples with fixed noise.
		a := mat.NewDense(n, 3, nil)
		b := make([]float64, n)
		for i := 0; i < n; i++ {
			b[i] = r.NormFloat64()
			for j := 0; j < 3; j++ {
				a.Set(i, j, r.NormFloat64())
			}
		}
		seed := r.Uint64()
		klLoss := func(th []float64) float64 {
			copy(p.Data, th)
			xs := mat.NewDense(n, 3, nil)
			lq, err := flow.SampleAndLogProb(xs, nil, c, rand.NewPCG(seed, 1))
			if err != nil {
				t.Fatal(err)
			}
			s := 0.0
			for i := 0; i < n; i++ {
				s += b[i] * lq[i]
				for j := 0; j < 3; j++ {
					s += a.At(i, j) * xs.At(i, j)
				}
			}
			return s
		}
		want = check.GradRef(klLoss, p0)
		copy(p.Data, p0)
		xs := mat.NewDense(n, 3, nil)
		if _, err := flow.SampleRecord(xs, nil, c, rand.NewPCG(seed, 1)); err != nil {
			t.Fatal(err)
		}
		got = make([]float64, p.Len())
		if err := flow.SampleBackward(got, a, b); err != nil {
			t.Fatal(err)
		}
		check.Close(t, "KL gradient", want, got, check.Tol)
	}
}
