package discrete_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/discrete"
	"github.com/odeflow/odeflow/nn"
)

// A Glow-style step (ActNorm, LU linear, reversal) initialized from data:
// the first ForwardRecord normalizes its batch, and the log-determinant of
// the chain is that of the layers together.
func ExampleActNorm() {
	p := new(nn.Params)
	an := discrete.NewActNorm(p, "actnorm", 2)
	step := odeflow.NewChain(an, discrete.NewLU(p, "lu", 2, nil), discrete.NewReversePermutation(2))

	x := mat.NewDense(4, 2, []float64{
		1, 10,
		3, 14,
		5, 10,
		7, 14,
	})
	var z mat.Dense
	ldj := make([]float64, 4)
	if err := step.ForwardRecord(&z, ldj, x); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("initialized:", an.Initialized())
	for i := 0; i < 4; i++ {
		fmt.Printf("z = [%5.2f %5.2f]  ldj = %.4f\n", z.At(i, 0), z.At(i, 1), ldj[i])
	}
	// Output:
	// initialized: true
	// z = [-1.00 -1.34]  ldj = -1.4979
	// z = [ 1.00 -0.45]  ldj = -1.4979
	// z = [-1.00  0.45]  ldj = -1.4979
	// z = [ 1.00  1.34]  ldj = -1.4979
}

// A planar flow samples in closed form (Inverse) and evaluates the density
// of data by a root find (Forward); both directions agree.
func ExamplePlanar() {
	p := new(nn.Params)
	pl := discrete.NewPlanar(p, "planar", 2, rand.NewPCG(1, 2))
	copy(p.Data, []float64{1.5, 0.5, 2, -1, 0.25}) // u, w, b

	z := mat.NewDense(2, 2, []float64{0.1, 0.2, -1, 0.5})
	var x, back mat.Dense
	ldjInv, ldjFwd := make([]float64, 2), make([]float64, 2)
	if err := pl.Inverse(&x, ldjInv, z); err != nil {
		fmt.Println(err)
		return
	}
	if err := pl.Forward(&back, ldjFwd, &x); err != nil {
		fmt.Println(err)
		return
	}
	uh := pl.Uhat(nil)
	fmt.Printf("wᵀû = %.4f (≥ −1)\n", 2*uh[0]-uh[1])
	for i := 0; i < 2; i++ {
		fmt.Printf("z = [%.4f %.4f] -> x = [%.4f %.4f] -> z = [%.4f %.4f], ldj %.4f / %.4f\n",
			z.At(i, 0), z.At(i, 1), x.At(i, 0), x.At(i, 1), back.At(i, 0), back.At(i, 1), ldjInv[i], ldjFwd[i])
	}
	// Output:
	// wᵀû = 1.5789 (≥ −1)
	// z = [0.1000 0.2000] -> x = [0.3771 0.3676] -> z = [0.1000 0.2000], ldj 0.9099 / -0.9099
	// z = [-1.0000 0.5000] -> x = [-2.1067 -0.1692] -> z = [-1.0000 0.5000], ldj 0.0664 / -0.0664
}

// A rotation is orthogonal whatever its parameters.
func ExampleRotation() {
	p := new(nn.Params)
	r := discrete.NewRotation(p, "rot", 3, rand.NewPCG(3, 4))
	m := r.Matrix(nil)
	var rtr mat.Dense
	rtr.Mul(m.T(), m)
	dev := 0.0
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			want := 0.0
			if i == j {
				want = 1
			}
			dev = max(dev, math.Abs(rtr.At(i, j)-want))
		}
	}
	fmt.Printf("det R = %.4f\n", mat.Det(m))
	fmt.Println("max |RᵀR − I| < 1e-12:", dev < 1e-12)
	// Output:
	// det R = 1.0000
	// max |RᵀR − I| < 1e-12: true
}

// The radial flow: inverse in closed form, with α > 0 and β ≥ −α enforced.
func ExampleRadial() {
	p := new(nn.Params)
	ra := discrete.NewRadial(p, "radial", 2, nil)
	copy(p.Data, []float64{0, 0, 0.5, -3}) // z0, α̂, β̂
	fmt.Printf("α = %.4f, β = %.4f\n", ra.Alpha(), ra.Beta())
	z := mat.NewDense(1, 2, []float64{3, 4})
	var x, back mat.Dense
	if err := ra.Inverse(&x, nil, z); err != nil {
		fmt.Println(err)
		return
	}
	if err := ra.Forward(&back, nil, &x); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("x = [%.4f %.4f], back to z = [%.4f %.4f]\n", x.At(0, 0), x.At(0, 1), back.At(0, 0), back.At(0, 1))
	// Output:
	// α = 0.9741, β = -0.9255
	// x = [2.5352 3.3803], back to z = [3.0000 4.0000]
}

// The LU layer's log-determinant is Σ log|s|, which equals log|det W|.
func ExampleLU() {
	p := new(nn.Params)
	l := discrete.NewLU(p, "lu", 3, rand.NewPCG(5, 6))
	logs, _ := p.Lookup("lu/logs")
	copy(logs.Of(p.Data), []float64{0.5, -0.25, 1})

	x := mat.NewDense(1, 3, []float64{1, 2, 3})
	var z mat.Dense
	ldj := make([]float64, 1)
	if err := l.Forward(&z, ldj, x); err != nil {
		fmt.Println(err)
		return
	}
	var lu mat.LU
	lu.Factorize(l.Matrix(nil))
	logdet, _ := lu.LogDet()
	fmt.Printf("ldj = %.4f, log|det W| = %.4f\n", ldj[0], logdet)
	// Output:
	// ldj = 1.2500, log|det W| = 1.2500
}

// Permutations reorder coordinates and have log-determinant 0.
func ExamplePermutation() {
	x := mat.NewDense(1, 4, []float64{10, 20, 30, 40})
	for _, p := range []*discrete.Permutation{
		discrete.NewPermutation([]int{1, 2, 3, 0}),
		discrete.NewReversePermutation(4),
	} {
		var z mat.Dense
		if err := p.Forward(&z, nil, x); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(p.Perm(), z.RawRowView(0))
	}
	// Output:
	// [1 2 3 0] [20 30 40 10]
	// [3 2 1 0] [40 30 20 10]
}
