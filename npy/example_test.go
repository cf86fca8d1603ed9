package npy_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"

	"github.com/odeflow/odeflow/npy"
	"gonum.org/v1/gonum/mat"
)

func Example() {
	dir, err := os.MkdirTemp("", "npy-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Write atomically, read back.
	path := filepath.Join(dir, "x.npy")
	x := mat.NewDense(2, 3, []float64{1, 2, 3, 4, 5, 6})
	if err := npy.WriteFile(path, x); err != nil {
		log.Fatal(err)
	}
	m, h, err := npy.ReadFile(path, &npy.ReadSettings{Cols: 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %v\n%.4g\n", h.Descr, h.Shape, mat.Formatted(m))

	// A command refuses to write over its input, however it is spelled.
	err = npy.CheckOutput(filepath.Join(dir, ".", "x.npy"), path)
	fmt.Println(errors.Is(err, npy.ErrSameFile))

	// Rows holding NaN or Inf are reported by index.
	var buf bytes.Buffer
	bad := mat.NewDense(4, 1, []float64{0, math.NaN(), 2, math.Inf(1)})
	if err := npy.Write(&buf, bad); err != nil {
		log.Fatal(err)
	}
	_, _, err = npy.Read(&buf, nil)
	fmt.Println(err)

	// Output:
	// <f8 [2 3]
	// ⎡1  2  3⎤
	// ⎣4  5  6⎦
	// true
	// npy: 2 rows contain NaN or Inf (0-based row indices 1, 3)
}
