package discrete_test

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/discrete"
	"github.com/odeflow/odeflow/nn"
)

// A conditional planar layer computes its parameters from the context of
// each row: the same base point is moved differently for each context.
// Inverse (base → data) is closed form; Forward inverts it by a root find.
func ExampleNewConditionalPlanar() {
	p := new(nn.Params)
	cp := discrete.NewConditionalPlanar(p, "cp", 2, 1, []int{8}, rand.NewPCG(1, 2))
	c := mat.NewDense(3, 1, []float64{-2, 0, 2})
	z := mat.NewDense(3, 2, []float64{0.5, -0.5, 0.5, -0.5, 0.5, -0.5})
	tr := cp.Given(c)
	x := mat.NewDense(3, 2, nil)
	ldj := make([]float64, 3)
	if err := tr.Inverse(x, ldj, z); err != nil {
		fmt.Println(err)
		return
	}
	back := mat.NewDense(3, 2, nil)
	if err := tr.Forward(back, nil, x); err != nil {
		fmt.Println(err)
		return
	}
	for i := 0; i < 3; i++ {
		fmt.Printf("c = %2g: x = (%.4f, %.4f), log|det| = %.4f, back to z = (%.4f, %.4f)\n",
			c.At(i, 0), x.At(i, 0), x.At(i, 1), ldj[i], back.At(i, 0), back.At(i, 1))
	}
	// Output:
	// c = -2: x = (0.4162, -0.4021), log|det| = -0.1544, back to z = (0.5000, -0.5000)
	// c =  0: x = (0.4454, -0.4437), log|det| = -0.1081, back to z = (0.5000, -0.5000)
	// c =  2: x = (0.4712, -0.4729), log|det| = -0.0621, back to z = (0.5000, -0.5000)
}
