package train

import (
	"context"
	"testing"
	"math"

	"gonum.org/v1/gonum/mat"
	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

func TestDbgCond(t *testing.T) {
	r := testrand.New(t)
	n := 2000
	c := mat.NewDense(n, 2, nil)
	x := mat.NewDense(n, 2, nil)
	a := []float64{1.5, -0.5, 0.3, 2}
	for i := 0; i < n; i++ {
		c.Set(i, 0, r.NormFloat64())
		c.Set(i, 1, r.NormFloat64())
		x.Set(i, 0, a[0]*c.At(i, 0)+a[1]*c.At(i, 1)+r.NormFloat64())
		x.Set(i, 1, a[2]*c.At(i, 0)+a[3]*c.At(i, 1)+r.NormFloat64())
	}
	p := new(nn.Params)
	tr := newAffine(p, "c", 2, 2)
	flow := odeflow.NewConditionalFlow(odeflow.NewStandardNormal(2), tr)
	res, err := Fit(context.Background(), flow, x, c, &Settings{LR: 0.05, BatchSize: 200, Epochs: 60, ValFraction: 0.1, Progress: func(p Progress) {
		if p.Evaluated && p.Iteration%45 == 0 { t.Logf("%d %.4f %.3f", p.Iteration, p.EvalLoss, tr.a.Of(flow.Params().Data)) }
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res.BestIter, res.BestLoss, tr.a.Of(p.Data), tr.s.Of(p.Data), tr.mu.Of(p.Data), math.NaN())
	for i := 0; i < 5; i++ { t.Log(c.RawRowView(i), x.RawRowView(i)) }
}
