package vectorfield_test

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/vectorfield"
)

// A linear field f(z) = A z: its Jacobian is A, so the JVP with e_1 is A's
// first column and the VJP with a = e_1 is A's first row.
func ExampleLinear() {
	A := mat.NewDense(2, 2, []float64{1, 2, 3, 4})
	f := vectorfield.NewLinear(A, nil, nil, "")
	z := []float64{1, 1}
	out, jv := make([]float64, 2), make([]float64, 2)
	f.JVP(out, jv, 0, z, nil, []float64{1, 0})
	gz := make([]float64, 2)
	gθ := make([]float64, f.Params().Len())
	f.VJP(vectorfield.Grads{Z: gz, Theta: gθ}, 0, z, nil, []float64{1, 0})
	fmt.Println("f   =", out)
	fmt.Println("J e1 =", jv)
	fmt.Println("e1ᵀJ =", gz)
	fmt.Println("∂(e1ᵀf)/∂A =", gθ)
	// Output:
	// f   = [3 7]
	// J e1 = [1 3]
	// e1ᵀJ = [1 2]
	// ∂(e1ᵀf)/∂A = [1 1 0 0]
}

// FFJORD's toy field, 2 → 64-64-64 → 2 with ConcatSquash layers and tanh:
// its divergence from both basis vectors pushed through the network in one
// batched JVP, next to a central finite difference.
func ExampleNewMLP() {
	f, err := vectorfield.NewMLP(2, "64-64-64", nn.Tanh, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	const t = 0.5
	z := []float64{0.5, -1}
	v := []float64{1, 0, 0, 1} // k = 2 tangents: e_1, e_2
	jv := make([]float64, 4)
	f.JVP(nil, jv, t, z, nil, v)

	const h = 1e-5
	fd := 0.0
	for j := range 2 {
		zp, zm := append([]float64(nil), z...), append([]float64(nil), z...)
		zp[j] += h
		zm[j] -= h
		fp, fm := make([]float64, 2), make([]float64, 2)
		f.Eval(fp, t, zp, nil)
		f.Eval(fm, t, zm, nil)
		fd += (fp[j] - fm[j]) / (2 * h)
	}
	fmt.Printf("parameters: %d\n", f.Params().Len())
	fmt.Printf("divergence (JVP) = %.6f\n", jv[0]+jv[3])
	fmt.Printf("divergence (fd)  = %.6f\n", fd)
	// Output:
	// parameters: 9224
	// divergence (JVP) = 0.003073
	// divergence (fd)  = 0.003073
}
