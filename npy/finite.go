package npy

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// NonFiniteRows returns the 0-based indices, ascending, of the rows of m
// that hold at least one NaN or ±Inf, or nil if there are none.
func NonFiniteRows(m mat.Matrix) []int {
	if d, ok := m.(*mat.Dense); ok && d.IsEmpty() {
		return nil
	}
	rows, cols := m.Dims()
	var bad []int
	raw, isRaw := m.(mat.RawMatrixer)
	for i := range rows {
		if isRaw {
			rm := raw.RawMatrix()
			for _, v := range rm.Data[i*rm.Stride : i*rm.Stride+cols] {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					bad = append(bad, i)
					break
				}
			}
			continue
		}
		for j := range cols {
			if v := m.At(i, j); math.IsNaN(v) || math.IsInf(v, 0) {
				bad = append(bad, i)
				break
			}
		}
	}
	return bad
}

// CheckFinite returns a *NonFiniteError listing the rows of m that hold
// NaN or ±Inf, or nil if every value is finite. The error's message lists
// the first few indices and the count.
func CheckFinite(m mat.Matrix) error {
	if bad := NonFiniteRows(m); bad != nil {
		return &NonFiniteError{Rows: bad}
	}
	return nil
}
