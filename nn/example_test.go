package nn_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/odeflow/odeflow/nn"
)

// Example computes the exact divergence tr(∂f/∂x) of a small tanh MLP for
// each row of a batch with one batched JVP pass (k = d unit tangents), then
// its gradient with respect to the parameters with TangentVJP.
func Example() {
	var p nn.Params
	const d, n = 2, 3
	m, err := nn.NewMLP(&p, "f", nn.MLPConfig{In: d, Out: d, Hidden: "16-16", Act: nn.Tanh}, rand.NewPCG(1, 2))
	if err != nil {
		panic(err)
	}
	x := []float64{0.5, -1, 0, 0, -2, 1.5}
	ws := m.NewWorkspace(n, d)

	y := make([]float64, n*d)
	m.Forward(ws, y, x)

	// Tangents e_1, e_2 for every row: ẏ row i·d+j is column j of J_i.
	xd := make([]float64, n*d*d)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			xd[(i*d+j)*d+j] = 1
		}
	}
	yd := make([]float64, n*d*d)
	m.JVP(ws, yd, xd)
	div := make([]float64, n)
	for i := range div {
		for j := 0; j < d; j++ {
			div[i] += yd[(i*d+j)*d+j]
		}
		fmt.Printf("row %d: f = (%.4f, %.4f), div f = %.4f\n", i, y[i*d], y[i*d+1], div[i])
	}

	// ∂(Σ_i div_i)/∂θ: the cotangent on ẏ picks out the diagonal entries.
	gyd := make([]float64, len(yd))
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			gyd[(i*d+j)*d+j] = 1
		}
	}
	m.TangentVJP(ws, nil, nil, p.Grad, nil, gyd)
	norm := 0.0
	for _, g := range p.Grad {
		norm += g * g
	}
	fmt.Printf("%d parameters, |∂Σdiv/∂θ| = %.4f\n", p.Len(), math.Sqrt(norm))
	// Output:
	// row 0: f = (0.3912, 0.1189), div f = 0.4524
	// row 1: f = (0.0000, 0.0000), div f = 0.7270
	// row 2: f = (-0.6012, -0.5913), div f = 0.2563
	// 354 parameters, |∂Σdiv/∂θ| = 6.7238
}

// ExampleAdam fits y = sin(3x) with a small MLP, Adam, a warmed-up cosine
// schedule and gradient clipping.
func ExampleAdam() {
	var p nn.Params
	m, err := nn.NewMLP(&p, "net", nn.MLPConfig{In: 1, Out: 1, Hidden: "32-32", Act: nn.Tanh}, rand.NewPCG(7, 7))
	if err != nil {
		panic(err)
	}
	const n = 64
	x, target := make([]float64, n), make([]float64, n)
	for i := range x {
		x[i] = -1 + 2*float64(i)/(n-1)
		target[i] = math.Sin(3 * x[i])
	}
	ws := m.NewWorkspace(n, 0)
	y, gy := make([]float64, n), make([]float64, n)
	opt := nn.NewAdam(p.Len(), p.Trainable(nil), nil)
	sched := nn.Warmup{Steps: 20, Then: nn.Cosine{Base: 0.01, Floor: 1e-4, Steps: 980}}
	loss := func() float64 {
		m.Forward(ws, y, x)
		l := 0.0
		for i := range y {
			r := y[i] - target[i]
			l += r * r / n
			gy[i] = 2 * r / n
		}
		return l
	}
	fmt.Printf("initial loss %.2g\n", loss())
	for it := 0; it < 1000; it++ {
		loss()
		p.ZeroGrad()
		m.VJP(ws, nil, p.Grad, gy)
		nn.ClipGradNorm(p.Grad, nil, 1)
		opt.Step(p.Data, p.Grad, sched.LR(opt.Steps()))
	}
	fmt.Printf("final loss below 1e-3: %v\n", loss() < 1e-3)
	// Output:
	// initial loss 0.73
	// final loss below 1e-3: true
}
