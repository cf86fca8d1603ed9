package odeflow

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unsafe"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/nn"
)

// Sentinel errors. Errors returned by transforms, flows and distributions wrap
// one of these (test with errors.Is) when the cause is one of them.
var (
	// ErrNonFinite reports input rows holding NaN or ±Inf.
	ErrNonFinite = errors.New("non-finite input")
	// ErrNumerical reports rows whose result is not finite where it must be
	// (a NaN log-density, a transform that overflowed to ±Inf).
	ErrNumerical = errors.New("non-finite result")
	// ErrNotConverged reports rows for which a numerical inverse (root find,
	// bisection, fixed-point iteration) did not converge.
	ErrNotConverged = errors.New("numerical inverse did not converge")
)

// RowError is a data error that concerns some rows of a batch. Implementations
// of Transform and Flow return it for non-finite inputs (Err = ErrNonFinite),
// non-finite results (ErrNumerical) and failed numerical inverses
// (ErrNotConverged), so that a caller can drop or inspect the offending rows.
type RowError struct {
	Op   string // the operation, with its package: "odeflow: Flow.LogProb"
	Rows []int  // the offending rows, in increasing order
	Err  error  // the cause
}

// Error lists the first few offending rows.
func (e *RowError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v in %d row", e.Op, e.Err, len(e.Rows))
	if len(e.Rows) != 1 {
		b.WriteByte('s')
	}
	b.WriteString(" [")
	const show = 8
	for i, r := range e.Rows {
		if i == show {
			b.WriteString(" ...")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, r)
	}
	b.WriteByte(']')
	return b.String()
}

// Unwrap returns the cause.
func (e *RowError) Unwrap() error { return e.Err }

// Parameterized is implemented by transforms and distributions with
// parameters. Params returns the shared parameter vector the receiver reads
// its parameters from at call time (see nn.Params), or nil when it has none.
//
// Composition (Chain, Flow, ConditionalChain) requires every member with
// parameters to return the same *nn.Params: build all layers of one model on
// one *nn.Params, so that an optimizer sees a single flat vector and a
// gradient vector aligned with Params().Data collects every member's part.
type Parameterized interface {
	Params() *nn.Params
}

// paramsOf returns v's parameter vector, or nil if v has none.
func paramsOf(v any) *nn.Params {
	if p, ok := v.(Parameterized); ok {
		return p.Params()
	}
	return nil
}

// sharedParams merges a parameter vector into the one collected so far: the
// result is the common non-nil vector. It panics naming op and what if two
// different non-nil vectors meet.
func sharedParams(op string, acc, p *nn.Params, what string) *nn.Params {
	switch {
	case p == nil:
		return acc
	case acc == nil || acc == p:
		return p
	default:
		panic(fmt.Sprintf("odeflow: %s: %s uses a different *nn.Params; build every member on one shared *nn.Params", op, what))
	}
}

// CheckFinite returns a *RowError wrapping ErrNonFinite that lists the rows of
// x holding NaN or ±Inf, or nil if every element is finite. op names the
// caller for the message ("discrete: Coupling.Forward"). It allocates only
// when it returns an error.
func CheckFinite(op string, x *mat.Dense) error {
	rows := badRows(nil, x)
	if rows == nil {
		return nil
	}
	return &RowError{Op: op, Rows: rows, Err: ErrNonFinite}
}

// badRows appends to dst the rows of x holding a non-finite element.
func badRows(dst []int, x *mat.Dense) []int {
	raw := x.RawMatrix()
	for i := 0; i < raw.Rows; i++ {
		for _, v := range raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				dst = append(dst, i)
				break
			}
		}
	}
	return dst
}

// PrepareCall checks the arguments of a Transform method (Forward, Inverse
// and their Record variants) for a transform of dimension d, sizes dst, and
// reports non-finite input rows. Implementations call it first, so that every
// transform enforces the same contract with the same messages:
//
//   - x must be non-nil with d columns;
//   - dst must be non-nil; an empty dst is resized to n×d, a non-empty one
//     must be n×d;
//   - ldj must be nil or have length n;
//   - dst may be x itself (same storage, same shape) only if inPlace is true
//     (Forward and Inverse); any other overlap of dst and x is not allowed.
//
// It panics, naming op, if one of these is violated (programmer errors). It
// returns n = x.Rows() and the error of CheckFinite(op, x).
func PrepareCall(op string, d int, dst *mat.Dense, ldj []float64, x *mat.Dense, inPlace bool) (int, error) {
	if x == nil || dst == nil {
		panic(op + ": nil matrix")
	}
	n, c := x.Dims()
	if c != d {
		panic(fmt.Sprintf("%s: input has %d columns, want %d", op, c, d))
	}
	if ldj != nil && len(ldj) != n {
		panic(fmt.Sprintf("%s: len(ldj) = %d, want %d", op, len(ldj), n))
	}
	if dst.IsEmpty() {
		dst.ReuseAs(n, d)
	} else {
		if r, c := dst.Dims(); r != n || c != d {
			panic(fmt.Sprintf("%s: dst is %d×%d, want %d×%d", op, r, c, n, d))
		}
		same, overlap := overlaps(dst, x)
		if overlap && !(same && inPlace) {
			if inPlace {
				panic(op + ": dst partially overlaps the input")
			}
			panic(op + ": dst overlaps the input")
		}
	}
	return n, CheckFinite(op, x)
}

// PrepareBackward checks the arguments of Differentiable.Backward for a
// transform of dimension d whose recording holds n rows and which has
// nparams parameters (0 when Params() is nil):
//
//   - gout must be non-nil and n×d;
//   - gin may be nil; an empty gin is resized to n×d, a non-empty one must be
//     n×d and must not overlap gout;
//   - gparams must be nil or, when nparams > 0, have length nparams;
//   - gldj must be nil or have length n.
//
// It panics, naming op, if one of these is violated.
func PrepareBackward(op string, d, n, nparams int, gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) {
	if gout == nil {
		panic(op + ": nil gout")
	}
	if r, c := gout.Dims(); r != n || c != d {
		panic(fmt.Sprintf("%s: gout is %d×%d, want %d×%d", op, r, c, n, d))
	}
	if gldj != nil && len(gldj) != n {
		panic(fmt.Sprintf("%s: len(gldj) = %d, want %d", op, len(gldj), n))
	}
	if gparams != nil && nparams > 0 && len(gparams) != nparams {
		panic(fmt.Sprintf("%s: len(gparams) = %d, want %d", op, len(gparams), nparams))
	}
	if gin == nil {
		return
	}
	if gin.IsEmpty() {
		gin.ReuseAs(n, d)
		return
	}
	if r, c := gin.Dims(); r != n || c != d {
		panic(fmt.Sprintf("%s: gin is %d×%d, want %d×%d", op, r, c, n, d))
	}
	if _, overlap := overlaps(gin, gout); overlap {
		panic(op + ": gin overlaps gout")
	}
}

// overlaps reports whether a and b describe exactly the same elements (same),
// and whether their storage overlaps at all (overlap). The test on storage is
// conservative: interleaved views of one slice count as overlapping.
func overlaps(a, b *mat.Dense) (same, overlap bool) {
	ra, rb := a.RawMatrix(), b.RawMatrix()
	if len(ra.Data) == 0 || len(rb.Data) == 0 {
		return false, false
	}
	pa := uintptr(unsafe.Pointer(unsafe.SliceData(ra.Data)))
	pb := uintptr(unsafe.Pointer(unsafe.SliceData(rb.Data)))
	const w = unsafe.Sizeof(float64(0))
	ea := pa + uintptr((ra.Rows-1)*ra.Stride+ra.Cols)*w
	eb := pb + uintptr((rb.Rows-1)*rb.Stride+rb.Cols)*w
	overlap = pa < eb && pb < ea
	same = pa == pb && ra.Rows == rb.Rows && ra.Cols == rb.Cols && ra.Stride == rb.Stride
	return same, overlap
}

// use makes m an r×c matrix, reusing its storage when it is large enough.
// The contents are unspecified when the shape changes.
func use(m *mat.Dense, r, c int) *mat.Dense {
	if mr, mc := m.Dims(); mr == r && mc == c {
		return m
	}
	m.Reset()
	m.ReuseAs(r, c)
	return m
}

// useSlice returns s resized to length n, reusing its storage when possible.
func useSlice(s []float64, n int) []float64 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float64, n)
}

// zero sets every element of s to 0.
func zero(s []float64) {
	for i := range s {
		s[i] = 0
	}
}

// zeroDense sets every element of m to 0.
func zeroDense(m *mat.Dense) {
	raw := m.RawMatrix()
	for i := 0; i < raw.Rows; i++ {
		zero(raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols])
	}
}

// checkCols panics unless m is non-nil with c columns.
func checkCols(op string, m *mat.Dense, c int) {
	if m == nil {
		panic(op + ": nil matrix")
	}
	if _, mc := m.Dims(); mc != c {
		panic(fmt.Sprintf("%s: matrix has %d columns, want %d", op, mc, c))
	}
}
