package discrete

// Shared plumbing of the linear-family layers (Permutation, Rotation, LU,
// ActNorm) and of the planar and radial flows.
//
// None of these layers takes a context. Permutations, rotations, LU linear
// maps and ActNorm are context-free in every reference library (zuko,
// nflows, flowjax, Glow): their role is to mix or normalize coordinates
// between conditioned layers, and a chain lifts them with
// odeflow.Unconditional. Planar and radial flows are conditional only in
// the amortized sense of variational autoencoders, where a hypernetwork
// produces (u, w, b) or (z0, α, β) per sample; that is a different layer (a
// conditioner plus the same row map), not a context argument of these ones.
//
// Every layer follows the odeflow.Transform contract through
// odeflow.PrepareCall and odeflow.PrepareBackward, keeps a recording of the
// last record call (linRec), and after the first call with a given batch
// size allocates nothing.

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
)

// Directions of a recording.
const (
	linNone = iota
	linForward
	linInverse
)

// linRec is what a layer keeps between a record call and Backward.
type linRec struct {
	dir     int        // linNone, linForward or linInverse
	in, out *mat.Dense // the recorded call's input and dst (not copies)
	n       int
	ldj     bool // the record call had a non-nil ldj
}

func (r *linRec) set(dir int, in, out *mat.Dense, ldj []float64) {
	n, _ := in.Dims()
	*r = linRec{dir: dir, in: in, out: out, n: n, ldj: ldj != nil}
}

// check panics unless there is a recording compatible with gldj, and checks
// Backward's arguments; nparams is the length of the model's parameter
// vector (0 if none).
func (r *linRec) check(op string, d, nparams int, gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) {
	if r.dir == linNone {
		panic(op + " without a recording")
	}
	odeflow.PrepareBackward(op, d, r.n, nparams, gin, gparams, gout, gldj)
	if gldj != nil && !r.ldj {
		panic(op + ": gldj given but the recording has no ldj")
	}
}

// linRow returns row i of m as a slice of length Cols.
func linRow(m *mat.Dense, i int) []float64 {
	raw := m.RawMatrix()
	return raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols]
}

// linUse makes m an r×c matrix, reusing its storage when the shape is
// already right. The contents are unspecified.
func linUse(m *mat.Dense, r, c int) *mat.Dense {
	if mr, mc := m.Dims(); mr == r && mc == c {
		return m
	}
	m.Reset()
	m.ReuseAs(r, c)
	return m
}

// linNumerical returns a *odeflow.RowError wrapping odeflow.ErrNumerical
// that lists the rows of dst holding NaN or ±Inf, or nil. It allocates only
// when it returns an error.
func linNumerical(op string, dst *mat.Dense) error {
	raw := dst.RawMatrix()
	var rows []int
	for i := 0; i < raw.Rows; i++ {
		for _, v := range raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				rows = append(rows, i)
				break
			}
		}
	}
	if rows == nil {
		return nil
	}
	return &odeflow.RowError{Op: op, Rows: rows, Err: odeflow.ErrNumerical}
}

// softplus returns log(1 + eˣ) without overflow or loss of precision.
func linSoftplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// linSigmoid returns 1/(1 + e⁻ˣ), the derivative of softplus.
func linSigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// linCheckDim panics unless d ≥ 1.
func linCheckDim(op string, d int) {
	if d < 1 {
		panic(fmt.Sprintf("%s: dimension %d, want at least 1", op, d))
	}
}
