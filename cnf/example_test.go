package cnf_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/cnf"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/vectorfield"
)

// A CNF with the linear field f = A z maps x to exp(TA) x, with
// log-determinant T·tr A: compare the flow's log-density with the closed form.
func Example_linear() {
	A := mat.NewDense(2, 2, []float64{-0.5, 1, -1, 0.2})
	f := vectorfield.NewLinear(A, nil, nil, "A")
	blk := cnf.New(f, &cnf.Settings{T: 1})
	flow := odeflow.NewFlow(odeflow.NewStandardNormal(2), blk)

	x := mat.NewDense(1, 2, []float64{0.3, -0.8})
	lp, err := flow.LogProb(nil, x, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	var TA, E, z mat.Dense
	TA.Scale(blk.T(), A)
	E.Exp(&TA)
	z.Mul(x, E.T())
	want := -0.5*mat.Dot(z.RowView(0), z.RowView(0)) - math.Log(2*math.Pi) + blk.T()*mat.Trace(A)
	fmt.Printf("log p(x) = %.6f, closed form %.6f\n", lp[0], want)
	// Output:
	// log p(x) = -2.621990, closed form -2.621990
}

// Build FFJORD's toy model (a small field here) and take a few Adam steps of
// maximum likelihood on 8gaussians; the penalty of a kinetic-energy
// regularizer is part of the reported loss.
func Example_train() {
	p := new(nn.Params)
	f, err := vectorfield.NewMLP(2, "16-16", nn.Tanh, &vectorfield.Settings{Params: p, Workers: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	blk := cnf.New(f, &cnf.Settings{Kinetic: 0.01})
	flow := odeflow.NewFlow(odeflow.NewStandardNormal(2), blk)
	opt := nn.NewAdam(p.Len(), p.Trainable(nil), nil)

	const n = 200
	src := rand.NewPCG(1, 2)
	w := make([]float64, n)
	for i := range w {
		w[i] = -1.0 / n
	}
	lp := make([]float64, n)
	for it := 0; it <= 100; it++ {
		x := gaussians8(n, src)
		p.ZeroGrad()
		if _, err := flow.LogProbGrad(lp, p.Grad, nil, w, x, nil); err != nil {
			fmt.Println(err)
			return
		}
		loss := cnf.Penalty(flow.Transform())
		for _, v := range lp {
			loss -= v / n
		}
		if it%50 == 0 {
			fmt.Printf("iteration %3d: loss %.2f\n", it, loss)
		}
		opt.Step(p.Data, p.Grad, 1e-2)
	}
	fmt.Printf("T = %.2f\n", blk.T())
	// Output:
	// iteration   0: loss 6.00
	// iteration  50: loss 3.67
	// iteration 100: loss 3.30
	// T = 0.64
}
