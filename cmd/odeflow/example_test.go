package main

import (
	"context"
	"os"
)

// The data command lists the built-in toy data sets.
func Example() {
	e := &env{stdout: os.Stdout, stderr: os.Stdout}
	code := run(context.Background(), e, []string{"data", "--list"})
	if code != exitOK {
		panic(code)
	}
	// Output:
	// 2spirals
	// 8gaussians
	// checkerboard
	// circles
	// moons
	// pinwheel
	// ringgaussians
	// rings
	// swissroll
}
