package npy

import (
	"encoding/binary"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// arrayAlign is the alignment of the data offset that NumPy uses.
const arrayAlign = 64

// growthDigits is NumPy's GROWTH_AXIS_MAX_DIGITS: the header keeps room for
// the first dimension to grow to this many digits.
const growthDigits = 21

// Write writes m to w as a 2-D float64 array ('<f8', C order) in .npy
// format 1.0, byte for byte as numpy.save writes it. An empty matrix (the
// zero value of mat.Dense) is written with shape (0, 0). NaN payloads and
// signed zeros are kept.
//
// Write panics if m is nil.
func Write(w io.Writer, m mat.Matrix) error {
	if m == nil {
		panic("npy: nil matrix")
	}
	var rows, cols int
	if d, ok := m.(*mat.Dense); !ok || !d.IsEmpty() {
		rows, cols = m.Dims()
	}
	if _, err := w.Write(header([]int{rows, cols})); err != nil {
		return err
	}
	var buf [4096]byte
	n := 0
	raw, isRaw := m.(mat.RawMatrixer)
	for i := range rows {
		var row []float64
		if isRaw {
			rm := raw.RawMatrix()
			row = rm.Data[i*rm.Stride : i*rm.Stride+cols]
		}
		for j := range cols {
			v := 0.0
			if row != nil {
				v = row[j]
			} else {
				v = m.At(i, j)
			}
			binary.LittleEndian.PutUint64(buf[n:], math.Float64bits(v))
			n += 8
			if n == len(buf) {
				if _, err := w.Write(buf[:]); err != nil {
					return err
				}
				n = 0
			}
		}
	}
	if n > 0 {
		_, err := w.Write(buf[:n])
		return err
	}
	return nil
}

// WriteVector writes v to w as a 1-D float64 array ('<f8', shape (n,)) in
// .npy format 1.0, byte for byte as numpy.save writes it.
func WriteVector(w io.Writer, v []float64) error {
	if _, err := w.Write(header([]int{len(v)})); err != nil {
		return err
	}
	var buf [4096]byte
	for len(v) > 0 {
		k := min(len(v), len(buf)/8)
		for i, x := range v[:k] {
			binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(x))
		}
		if _, err := w.Write(buf[:8*k]); err != nil {
			return err
		}
		v = v[k:]
	}
	return nil
}

// header returns the preamble and header of a little-endian float64 C-order
// array of the given shape, padded as NumPy pads it (numpy/lib/format.py,
// _write_array_header and _wrap_header): room for the first dimension to
// grow to 21 digits, then spaces and a newline so that the data start at a
// multiple of 64 bytes.
func header(shape []int) []byte {
	dict := "{'descr': '<f8', 'fortran_order': False, 'shape': " + shapeString(shape) + ", }" +
		strings.Repeat(" ", max(0, growthDigits-len(strconv.Itoa(shape[0]))))
	const pre = len(magic) + 2 + 2
	hlen := len(dict) + 1
	pad := arrayAlign - (pre+hlen)%arrayAlign
	b := make([]byte, 0, pre+hlen+pad)
	b = append(b, magic...)
	b = append(b, 1, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(hlen+pad))
	b = append(b, dict...)
	for range pad {
		b = append(b, ' ')
	}
	return append(b, '\n')
}
