package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"

	"gonum.org/v1/gonum/mat"
)

// magic starts every .npy file.
const magic = "\x93NUMPY"

// MaxHeaderLen is the longest header Read accepts, in bytes. NumPy's own
// limit (numpy.load's max_header_size) is 10000; headers of 1-D and 2-D
// float arrays are under 200 bytes.
const MaxHeaderLen = 1 << 16

// ReadSettings controls Read and ReadFile. A nil *ReadSettings means the
// zero value: non-empty arrays without NaN or Inf, any number of rows and
// columns.
type ReadSettings struct {
	// AllowEmpty accepts arrays with zero rows or zero columns; they are
	// returned as an empty (zero-value) *mat.Dense, whose IsEmpty method
	// reports true, and their shape is in the returned Header. When false,
	// such arrays are an error wrapping ErrEmpty.
	AllowEmpty bool
	// AllowNonFinite accepts NaN and ±Inf values. When false, rows
	// holding them are an error of type *NonFiniteError that lists them.
	AllowNonFinite bool
	// Rows and Cols, when positive, are the required number of rows and
	// columns; another count is an error wrapping ErrShape. Zero accepts
	// any count.
	Rows, Cols int
}

// Read reads a 1-D or 2-D float32 or float64 array in .npy format from r
// and returns it as a float64 matrix, with the file's header. A 1-D array
// of length n becomes an n×1 matrix. C (row-major) and Fortran
// (column-major) order and both byte orders are accepted; float32 values
// are converted exactly. Read consumes exactly the bytes of one array.
//
// A data condition (wrong dtype or shape, empty array, NaN or Inf rows,
// malformed header, data shorter than the header declares) gives an error
// wrapping one of the Err* classes; Read never panics on bad input, and
// the memory it allocates is bounded by the bytes r actually delivers
// (plus 64 KiB), whatever the header claims. When the header could be
// parsed, it is returned with the error too.
func Read(r io.Reader, s *ReadSettings) (*mat.Dense, *Header, error) {
	return read(r, s, -1)
}

// ReadFile reads the .npy file at path, as Read does. It also reports a
// file whose size does not match its header (truncated, or with bytes after
// the data) before allocating room for the data. Errors name the path; a
// missing file gives an error for which errors.Is(err, fs.ErrNotExist)
// holds.
func ReadFile(path string, s *ReadSettings) (*mat.Dense, *Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, errorsWrapOS(err)
	}
	defer f.Close()
	size := int64(-1)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	m, h, err := read(f, s, size)
	if err != nil {
		return nil, h, withPath(err, path)
	}
	return m, h, nil
}

// ReadHeader reads the header of a .npy file from r and returns it,
// leaving r at the first byte of the data. It accepts any dtype and shape
// that the header syntax allows; it checks only the format.
func ReadHeader(r io.Reader) (*Header, error) {
	h, _, err := readHeader(r)
	return h, err
}

// errorsWrapOS prefixes an error from the os package with the package
// name; the *fs.PathError stays reachable through errors.Is and errors.As.
func errorsWrapOS(err error) error {
	return &osError{err}
}

type osError struct{ err error }

func (e *osError) Error() string { return "npy: " + e.err.Error() }
func (e *osError) Unwrap() error { return e.err }

// readHeader reads the magic string, version, length and header dict. It
// returns the header and the offset of the data.
func readHeader(r io.Reader) (*Header, int64, error) {
	var pre [10]byte
	n, err := io.ReadFull(r, pre[:8])
	if err != nil {
		switch {
		case n == 0 && errors.Is(err, io.EOF):
			return nil, 0, newError(ErrFormat, "empty file: not a .npy file")
		case bytes.HasPrefix([]byte(magic), pre[:min(n, len(magic))]):
			return nil, 0, newError(ErrTruncated, "file ends after %d bytes, inside the .npy preamble (truncated)", n)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, 0, notNpy(pre[:n])
		}
		return nil, 0, err
	}
	if string(pre[:6]) != magic {
		return nil, 0, notNpy(pre[:8])
	}
	h := &Header{Major: int(pre[6]), Minor: int(pre[7])}
	var hlen int
	switch {
	case h.Minor != 0 || h.Major < 1 || h.Major > 3:
		return nil, 0, newError(ErrFormat, "unsupported .npy format version %d.%d (this reader knows 1.0, 2.0 and 3.0)", h.Major, h.Minor)
	case h.Major == 1:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return nil, 0, truncatedHeader(err)
		}
		hlen = int(binary.LittleEndian.Uint16(pre[8:10]))
	default:
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return nil, 0, truncatedHeader(err)
		}
		n := binary.LittleEndian.Uint32(l[:])
		if n > MaxHeaderLen {
			return nil, 0, newError(ErrFormat, "header length %d exceeds the %d-byte limit (corrupt file?)", n, MaxHeaderLen)
		}
		hlen = int(n)
	}
	text := make([]byte, hlen)
	if _, err := io.ReadFull(r, text); err != nil {
		return nil, 0, truncatedHeader(err)
	}
	if err := parseHeaderDict(string(text), h); err != nil {
		return nil, 0, err
	}
	off := int64(len(magic) + 2 + 2 + hlen)
	if h.Major > 1 {
		off += 2
	}
	return h, off, nil
}

func truncatedHeader(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return newError(ErrTruncated, "file ends inside the header (truncated)")
	}
	return err
}

// notNpy explains a file that does not start with the .npy magic string.
func notNpy(start []byte) error {
	hint := ""
	switch {
	case bytes.HasPrefix(start, []byte("PK\x03\x04")):
		hint = ": it is a zip archive, perhaps an .npz file; save one array with np.save instead"
	case bytes.HasPrefix(start, []byte("ODFL")):
		hint = ": it is an odeflow model or checkpoint file"
	}
	return newError(ErrFormat, "not a .npy file (it does not start with \"\\x93NUMPY\")%s", hint)
}

// read reads one array from r. size is the total size of the source in
// bytes, or -1 if unknown.
func read(r io.Reader, s *ReadSettings, size int64) (*mat.Dense, *Header, error) {
	if s == nil {
		s = &ReadSettings{}
	}
	h, off, err := readHeader(r)
	if err != nil {
		return nil, nil, err
	}
	dt, err := parseDescr(h.Descr)
	if err != nil {
		return nil, h, err
	}
	var rows, cols int
	switch len(h.Shape) {
	case 0:
		return nil, h, newError(ErrShape, "0-D array (a scalar): want a 1-D array (read as one column) or a 2-D array (rows × columns)")
	case 1:
		rows, cols = h.Shape[0], 1
	case 2:
		rows, cols = h.Shape[0], h.Shape[1]
	default:
		return nil, h, newError(ErrShape, "%d-D array of shape %s: want a 1-D array (read as one column) or a 2-D array (rows × columns)", len(h.Shape), shapeString(h.Shape))
	}
	if cols > 0 && rows > maxElems/cols {
		return nil, h, newError(ErrFormat, "shape %s is impossibly large (corrupt header?)", shapeString(h.Shape))
	}
	if s.Cols > 0 && cols != s.Cols {
		return nil, h, newError(ErrShape, "array of shape %s has %d columns, want %d", shapeString(h.Shape), cols, s.Cols)
	}
	if s.Rows > 0 && rows != s.Rows {
		return nil, h, newError(ErrShape, "array of shape %s has %d rows, want %d", shapeString(h.Shape), rows, s.Rows)
	}
	nbytes := int64(rows) * int64(cols) * int64(dt.size)
	if size >= 0 {
		switch have := size - off; {
		case have < nbytes:
			return nil, h, truncatedData(h, max(have, 0), nbytes)
		case have > nbytes:
			return nil, h, newError(ErrTruncated, "%d bytes follow the %d data bytes that shape %s of dtype %q declares (corrupt header or not a plain .npy file)", have-nbytes, nbytes, shapeString(h.Shape), h.Descr)
		}
	}
	if rows == 0 || cols == 0 {
		if !s.AllowEmpty {
			what := "no rows"
			if rows != 0 {
				what = "no columns"
			}
			return nil, h, newError(ErrEmpty, "empty array of shape %s: it has %s", shapeString(h.Shape), what)
		}
		return &mat.Dense{}, h, nil
	}
	var raw []byte
	if size >= 0 {
		// The file size matches the header: allocate once.
		raw = make([]byte, nbytes)
		var n int
		n, err = io.ReadFull(r, raw)
		raw = raw[:n]
	} else {
		raw, err = readFull(r, nbytes)
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, h, truncatedData(h, int64(len(raw)), nbytes)
		}
		return nil, h, err
	}
	data := make([]float64, rows*cols)
	decode(data, raw, dt, rows, cols, h.Fortran && len(h.Shape) == 2)
	m := mat.NewDense(rows, cols, data)
	if !s.AllowNonFinite {
		if err := CheckFinite(m); err != nil {
			return nil, h, err
		}
	}
	return m, h, nil
}

func truncatedData(h *Header, have, want int64) error {
	return newError(ErrTruncated, "file ends after %d of the %d data bytes that shape %s of dtype %q declares (truncated)", have, want, shapeString(h.Shape), h.Descr)
}

// maxElems bounds rows×columns so that the byte count and the matrix
// length fit in an int.
const maxElems = math.MaxInt / 8

// readChunk is the first allocation of readFull; later ones at most double
// what has been read.
const readChunk = 64 << 10

// readFull reads exactly n bytes from r, growing its buffer only as data
// arrive, so that a corrupt length cannot make it allocate much more than r
// holds. A short read returns the bytes read and io.ErrUnexpectedEOF.
func readFull(r io.Reader, n int64) ([]byte, error) {
	buf := make([]byte, 0, min(n, readChunk))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			next := make([]byte, len(buf), min(n, 2*int64(cap(buf))))
			copy(next, buf)
			buf = next
		}
		k, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}

// decode converts raw file data to float64 in row-major order.
func decode(dst []float64, raw []byte, dt dtype, rows, cols int, fortran bool) {
	var order binary.ByteOrder = binary.LittleEndian
	if dt.bigEndian {
		order = binary.BigEndian
	}
	at := func(k int) float64 {
		if dt.size == 4 {
			return float64(math.Float32frombits(order.Uint32(raw[4*k:])))
		}
		return math.Float64frombits(order.Uint64(raw[8*k:]))
	}
	if !fortran {
		for k := range dst {
			dst[k] = at(k)
		}
		return
	}
	k := 0
	for j := range cols {
		for i := range rows {
			dst[i*cols+j] = at(k)
			k++
		}
	}
}
