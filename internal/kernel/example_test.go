package kernel_test

import (
	"fmt"

	"github.com/odeflow/odeflow/internal/kernel"
)

// ExampleGemm multiplies a batch of two rows by the transpose of a 3×2
// weight matrix, as a linear layer does: C = X·Wᵀ.
func ExampleGemm() {
	x := []float64{
		1, 2,
		3, 4,
	}
	w := []float64{ // 3 outputs × 2 inputs
		1, 0,
		0, 1,
		1, 1,
	}
	c := make([]float64, 2*3)
	kernel.Gemm(false, true, 2, 3, 2, 1, x, 2, w, 2, 0, c, 3)
	fmt.Println(c)
	// Output:
	// [1 2 3 3 4 7]
}

// ExampleTanhBias runs a tanh layer's activation with its first two
// derivatives.
func ExampleTanhBias() {
	h := []float64{-1, 0, 0.5}
	b := []float64{0.5, 0, 0.5}
	y, d1, d2 := make([]float64, 3), make([]float64, 3), make([]float64, 3)
	kernel.TanhBias(y, d1, d2, h, b)
	for i := range y {
		fmt.Printf("tanh(%g) = %.4f, σ' = %.4f, σ'' = %.4f\n", h[i]+b[i], y[i], d1[i], d2[i])
	}
	// Output:
	// tanh(-0.5) = -0.4621, σ' = 0.7864, σ'' = 0.7269
	// tanh(0) = 0.0000, σ' = 1.0000, σ'' = -0.0000
	// tanh(1) = 0.7616, σ' = 0.4200, σ'' = -0.6397
}
