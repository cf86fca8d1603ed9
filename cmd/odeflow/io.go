package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/model"
	"github.com/odeflow/odeflow/npy"
)

// chunk is the number of rows evaluated per call, which bounds the memory
// of a CNF's solves on large files.
const chunk = 2048

// readMatrix reads the .npy file named by flag --name. cols > 0 requires
// that many columns, naming why (e.g. "the model's dimension").
func readMatrix(name, path string, cols int, why string) (*mat.Dense, error) {
	x, _, err := npy.ReadFile(path, nil)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", name, err)
	}
	if _, c := x.Dims(); cols > 0 && c != cols {
		return nil, fmt.Errorf("--%s: %s has %d columns, want %d (%s)", name, path, c, cols, why)
	}
	return x, nil
}

// readContext reads the context file for a model: required for a
// conditional model (one row per data row when rows > 0), refused for an
// unconditional one.
func readContext(m *model.Model, path string, rows int, rowsOf string) (*mat.Dense, error) {
	cd := m.Spec.ContextDim
	switch {
	case cd == 0 && path != "":
		return nil, usagef("the model is unconditional: --context does not apply")
	case cd > 0 && path == "":
		return nil, usagef("the model is conditional on a %d-column context: give --context", cd)
	case path == "":
		return nil, nil
	}
	c, err := readMatrix("context", path, cd, "the model's context dimension")
	if err != nil {
		return nil, err
	}
	if r, _ := c.Dims(); rows > 0 && r != rows {
		return nil, fmt.Errorf("--context: %s has %d rows but %s has %d (one context row per data row)", path, r, rowsOf, rows)
	}
	return c, nil
}

// loadModel reads the model file named by --model.
func loadModel(path string) (*model.Model, error) {
	m, err := model.Load(path)
	if err != nil {
		return nil, fmt.Errorf("--model: %w", err)
	}
	return m, nil
}

// loadWithInput loads the model of --model, then the rows of --in (the
// model's dimension) and the context of --context for them.
func loadWithInput(modelPath, inPath, contextPath string) (m *model.Model, x, c *mat.Dense, err error) {
	if m, err = loadModel(modelPath); err != nil {
		return nil, nil, nil, err
	}
	if x, err = readMatrix("in", inPath, m.Spec.Dim, "the model's dimension"); err != nil {
		return nil, nil, nil, err
	}
	n, _ := x.Dims()
	if c, err = readContext(m, contextPath, n, "--in"); err != nil {
		return nil, nil, nil, err
	}
	return m, x, c, nil
}

// checkOutput refuses an output path that names one of the inputs or
// whose directory does not exist, before any work is done.
func checkOutput(name, out string, inputs ...string) error {
	if err := npy.CheckOutput(out, inputs...); err != nil {
		return usagef("--%s: %v", name, err)
	}
	dir := filepath.Dir(out)
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--%s: directory %s does not exist", name, dir)
		}
		return fmt.Errorf("--%s: %w", name, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--%s: %s is not a directory", name, dir)
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return fmt.Errorf("--%s: %s is a directory", name, out)
	}
	return nil
}

// shiftRows moves the row indices of a *odeflow.RowError by off, for
// errors of a chunk starting at row off.
func shiftRows(err error, off int) error {
	var re *odeflow.RowError
	if off == 0 || !errors.As(err, &re) {
		return err
	}
	rows := make([]int, len(re.Rows))
	for i, r := range re.Rows {
		rows[i] = r + off
	}
	return &odeflow.RowError{Op: re.Op, Rows: rows, Err: re.Err}
}

func rowsOf(m *mat.Dense, i, j int) *mat.Dense {
	if m == nil {
		return nil
	}
	_, c := m.Dims()
	return m.Slice(i, j, 0, c).(*mat.Dense)
}

// logProb returns log p(x_i | c_i) for every row, chunk by chunk.
func logProb(m *model.Model, x, c *mat.Dense) ([]float64, error) {
	n, _ := x.Dims()
	out := make([]float64, n)
	for i := 0; i < n; i += chunk {
		j := min(i+chunk, n)
		if _, err := m.Flow.LogProb(out[i:j], rowsOf(x, i, j), rowsOf(c, i, j)); err != nil {
			return nil, shiftRows(err, i)
		}
	}
	return out, nil
}

// transform applies the model's transform to every row: forward (data →
// base) or inverse (base → data).
func transform(m *model.Model, x, c *mat.Dense, inverse bool) (*mat.Dense, error) {
	n, d := x.Dims()
	out := mat.NewDense(n, d, nil)
	for i := 0; i < n; i += chunk {
		j := min(i+chunk, n)
		var t odeflow.Transform
		if m.Flow.Conditional() {
			t = m.Flow.ConditionalTransform().Given(rowsOf(c, i, j))
		} else {
			t = m.Flow.Transform()
		}
		var err error
		if inverse {
			err = t.Inverse(rowsOf(out, i, j), nil, rowsOf(x, i, j))
		} else {
			err = t.Forward(rowsOf(out, i, j), nil, rowsOf(x, i, j))
		}
		if err != nil {
			return nil, shiftRows(err, i)
		}
	}
	return out, nil
}

// transformStates returns the states of x through the model's transform
// (its inverse when inverse is set) layer by layer, stacked: rows k·n …
// k·n+n−1 hold the n points after k layers, from x itself (k = 0) to the
// output (k = L).
func transformStates(m *model.Model, x, c *mat.Dense, inverse bool) (*mat.Dense, error) {
	var t odeflow.Transform
	if m.Flow.Conditional() {
		t = m.Flow.ConditionalTransform().Given(c)
	} else {
		t = m.Flow.Transform()
	}
	var states []*mat.Dense
	var err error
	if inverse {
		states, err = odeflow.InverseStates(t, x)
	} else {
		states, err = odeflow.ForwardStates(t, x)
	}
	if err != nil {
		return nil, err
	}
	n, d := x.Dims()
	out := mat.NewDense(len(states)*n, d, nil)
	for k, s := range states {
		out.Slice(k*n, (k+1)*n, 0, d).(*mat.Dense).Copy(s)
	}
	return out, nil
}

// sample draws n samples at temperature temp; a conditional model takes n
// context rows in c.
func sample(m *model.Model, n int, c *mat.Dense, temp float64, src rand.Source) (*mat.Dense, error) {
	out := mat.NewDense(n, m.Spec.Dim, nil)
	for i := 0; i < n; i += chunk {
		j := min(i+chunk, n)
		if err := m.Flow.SampleTemp(rowsOf(out, i, j), temp, rowsOf(c, i, j), src); err != nil {
			return nil, shiftRows(err, i)
		}
	}
	return out, nil
}
