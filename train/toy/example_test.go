package toy_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/odeflow/odeflow/train/toy"
)

func ExampleGenerate() {
	x, err := toy.Generate(toy.Gaussians8, 1000, rand.NewPCG(1, 2))
	if err != nil {
		fmt.Println(err)
		return
	}
	n, d := x.Dims()
	fmt.Println(n, d)
	fmt.Println(toy.Names())
	// Output:
	// 1000 2
	// [2spirals 8gaussians checkerboard circles moons pinwheel ringgaussians rings swissroll]
}
