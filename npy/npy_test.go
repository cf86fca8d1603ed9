package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/sbinet/npyio"
	"gonum.org/v1/gonum/mat"
)

// build assembles a .npy file by hand: magic, version major.0, the header
// length field (2 bytes for version 1, 4 otherwise), the header text and
// the data. It does not pad, which readers must accept.
func build(major int, dict string, data []byte) []byte {
	b := []byte("\x93NUMPY")
	b = append(b, byte(major), 0)
	text := dict + "\n"
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(text)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(text)))
	}
	b = append(b, text...)
	return append(b, data...)
}

func dict(descr string, fortran bool, shape string) string {
	f := "False"
	if fortran {
		f = "True"
	}
	return fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, f, shape)
}

// encodeData lays out m's elements as a file would: float32 or float64,
// little- or big-endian, row- or column-major.
func encodeData(m *mat.Dense, size int, big, fortran bool) []byte {
	var order binary.AppendByteOrder = binary.LittleEndian
	if big {
		order = binary.BigEndian
	}
	r, c := m.Dims()
	var b []byte
	put := func(v float64) {
		if size == 4 {
			b = order.AppendUint32(b, math.Float32bits(float32(v)))
		} else {
			b = order.AppendUint64(b, math.Float64bits(v))
		}
	}
	if fortran {
		for j := range c {
			for i := range r {
				put(m.At(i, j))
			}
		}
	} else {
		for i := range r {
			for j := range c {
				put(m.At(i, j))
			}
		}
	}
	return b
}

func randDense(t *testing.T, r, c int) *mat.Dense {
	rnd := testrand.New(t)
	m := mat.NewDense(r, c, nil)
	for i := range r {
		for j := range c {
			m.Set(i, j, rnd.NormFloat64()*math.Pow(10, float64(rnd.IntN(20)-10)))
		}
	}
	return m
}

// TestReadLiteralBytes reads two files whose every byte is spelled out.
func TestReadLiteralBytes(t *testing.T) {
	// '<f4', C order, [[1, 2], [-0.5, 3]].
	f4 := build(1, dict("<f4", false, "(2, 2)"), []byte{
		0, 0, 0x80, 0x3f, 0, 0, 0, 0x40,
		0, 0, 0, 0xbf, 0, 0, 0x40, 0x40,
	})
	// '>f8', Fortran order, [[1, 2], [3, 4]]: stored 1, 3, 2, 4.
	f8 := build(1, dict(">f8", true, "(2, 2)"), []byte{
		0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
		0x40, 0x08, 0, 0, 0, 0, 0, 0,
		0x40, 0x00, 0, 0, 0, 0, 0, 0,
		0x40, 0x10, 0, 0, 0, 0, 0, 0,
	})
	for _, tc := range []struct {
		name string
		file []byte
		want []float64
	}{
		{"f4 C little-endian", f4, []float64{1, 2, -0.5, 3}},
		{"f8 Fortran big-endian", f8, []float64{1, 2, 3, 4}},
	} {
		m, _, err := Read(bytes.NewReader(tc.file), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !mat.Equal(m, mat.NewDense(2, 2, tc.want)) {
			t.Errorf("%s: got %v, want %v", tc.name, mat.Formatted(m), tc.want)
		}
	}
}

// TestReadAllKinds reads every accepted combination of element size, byte
// order, memory order, dimensionality and format version.
func TestReadAllKinds(t *testing.T) {
	m2 := randDense(t, 7, 3)
	m1 := randDense(t, 9, 1)
	for _, size := range []int{4, 8} {
		for _, big := range []bool{false, true} {
			for _, fortran := range []bool{false, true} {
				for _, oneD := range []bool{false, true} {
					for _, major := range []int{1, 2, 3} {
						m, shape := m2, "(7, 3)"
						if oneD {
							m, shape = m1, "(9,)"
						}
						descr := fmt.Sprintf("<f%d", size)
						if big {
							descr = fmt.Sprintf(">f%d", size)
						}
						name := fmt.Sprintf("%s fortran=%v shape=%s v%d", descr, fortran, shape, major)
						file := build(major, dict(descr, fortran, shape), encodeData(m, size, big, fortran))
						got, h, err := Read(bytes.NewReader(file), nil)
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						want := m
						if size == 4 {
							want = toFloat32(m)
						}
						if !sameBits(got, want) {
							t.Errorf("%s: data mismatch", name)
						}
						if h.Descr != descr || h.Fortran != fortran || h.Major != major {
							t.Errorf("%s: header %+v", name, h)
						}
					}
				}
			}
		}
	}
}

// TestReadHeaderSyntax checks header spellings that NumPy versions and
// other writers produce.
func TestReadHeaderSyntax(t *testing.T) {
	data := encodeData(fixtureX(), 8, false, false)
	for _, d := range []string{
		`{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2)}`,
		`{'descr': '<f8', 'fortran_order': False, 'shape': (3L, 2L), }`,
		`{"descr": "<f8", "fortran_order": False, "shape": (3, 2), }`,
		`{'shape': (3, 2), 'fortran_order': False, 'descr': '<f8'}`,
		`  {'descr':'<f8','fortran_order':False,'shape':(3,2,)}   `,
	} {
		m, _, err := Read(bytes.NewReader(build(1, d, data)), nil)
		if err != nil {
			t.Errorf("%s: %v", d, err)
			continue
		}
		if !sameBits(m, fixtureX()) {
			t.Errorf("%s: data mismatch", d)
		}
	}
}

func TestReadBadHeaders(t *testing.T) {
	data := encodeData(fixtureX(), 8, false, false)
	ok := dict("<f8", false, "(3, 2)")
	v2huge := []byte("\x93NUMPY\x02\x00\xff\xff\xff\xff{")
	v1long := []byte("\x93NUMPY\x01\x00\xff\xff{'descr'")
	for _, tc := range []struct {
		name  string
		file  []byte
		class error
		msg   string
	}{
		{"empty file", nil, ErrFormat, "empty file"},
		{"text file", []byte("hello, world\n"), ErrFormat, "not a .npy file"},
		{"short text", []byte("hi"), ErrFormat, "not a .npy file"},
		{"partial magic", []byte("\x93NUM"), ErrTruncated, "preamble"},
		{"bad magic", append([]byte("\x93NUMPX"), build(1, ok, data)[6:]...), ErrFormat, "not a .npy file"},
		{"model file", []byte("ODFLMODL\x01\x00\x00\x00"), ErrFormat, "odeflow model"},
		{"version 4.0", build(4, ok, data), ErrFormat, "version 4.0"},
		{"version 0.0", build(0, ok, data), ErrFormat, "version 0.0"},
		{"version 1.1", append([]byte("\x93NUMPY\x01\x01"), build(1, ok, data)[8:]...), ErrFormat, "version 1.1"},
		{"no length", []byte("\x93NUMPY\x01\x00"), ErrTruncated, "inside the header"},
		{"header longer than file", v1long, ErrTruncated, "inside the header"},
		{"v2 header length 4 GiB", v2huge, ErrFormat, "exceeds"},
		{"no closing brace", build(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), ", data), ErrFormat, "malformed header"},
		{"not a dict", build(1, "['<f8', False, (3, 2)]", data), ErrFormat, "not a Python dict"},
		{"missing shape", build(1, "{'descr': '<f8', 'fortran_order': False}", data), ErrFormat, `missing key "shape"`},
		{"extra key", build(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), 'x': 1}", data), ErrFormat, `unexpected key "x"`},
		{"duplicate key", build(1, "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (3, 2)}", data), ErrFormat, "duplicate key"},
		{"shape not a tuple", build(1, dict("<f8", false, "(6)"), data), ErrFormat, "'shape' is an integer"},
		{"shape is a list", build(1, dict("<f8", false, "[3, 2]"), data), ErrFormat, "'shape' is a list"},
		{"negative dimension", build(1, dict("<f8", false, "(-3, 2)"), data), ErrFormat, "unexpected character '-'"},
		{"string dimension", build(1, dict("<f8", false, "(3, '2')"), data), ErrFormat, "shape element 1 is a string"},
		{"huge dimension", build(1, dict("<f8", false, "(99999999999999999999, 2)"), data), ErrFormat, "too large"},
		{"overflowing shape", build(1, dict("<f8", false, "(4611686018427387904, 4)"), data), ErrFormat, "impossibly large"},
		{"leading zero", build(1, dict("<f8", false, "(03, 2)"), data), ErrFormat, "leading zero"},
		{"fortran_order not bool", build(1, "{'descr': '<f8', 'fortran_order': 0, 'shape': (3, 2)}", data), ErrFormat, "'fortran_order' is an integer"},
		{"descr not a string", build(1, "{'descr': 8, 'fortran_order': False, 'shape': (3, 2)}", data), ErrFormat, "'descr' is an integer"},
		{"descr without byte order", build(1, dict("f8", false, "(3, 2)"), data), ErrFormat, "byte order"},
		{"descr with | order", build(1, dict("|f8", false, "(3, 2)"), data), ErrFormat, "byte order"},
		{"empty descr", build(1, dict("", false, "(3, 2)"), data), ErrFormat, "empty dtype"},
		{"unknown descr", build(1, dict("<z8", false, "(3, 2)"), data), ErrDtype, `unknown dtype "<z8"`},
		{"text after dict", build(1, ok+" junk", data), ErrFormat, "after the header dict"},
		{"unterminated string", build(1, "{'descr: '<f8'", data), ErrFormat, "malformed header"},
		{"unterminated dict", build(1, "{'descr': ", data), ErrFormat, "end of header"},
		{"deep nesting", build(1, "{'descr': "+strings.Repeat("(", 100)+strings.Repeat(")", 100)+"}", data), ErrFormat, "nesting deeper"},
		{"missing comma", build(1, dict("<f8", false, "(3 2)"), data), ErrFormat, "expected ','"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _, err := Read(bytes.NewReader(tc.file), nil)
			if err == nil {
				t.Fatalf("no error; got %v", mat.Formatted(m))
			}
			if !errors.Is(err, tc.class) {
				t.Errorf("error %q does not wrap %v", err, tc.class)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "npy: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestReadTruncated cuts a valid file at every length: each prefix is an
// error of class ErrTruncated (ErrFormat for the empty file), from Read and
// from ReadFile.
func TestReadTruncated(t *testing.T) {
	full, err := os.ReadFile(filepath.Join("testdata", "f8_c.npy"))
	must(t, err)
	dir := t.TempDir()
	path := filepath.Join(dir, "cut.npy")
	for n := range len(full) {
		want := ErrTruncated
		if n == 0 {
			want = ErrFormat
		}
		_, _, err := Read(bytes.NewReader(full[:n]), nil)
		if !errors.Is(err, want) {
			t.Fatalf("Read of %d/%d bytes: error %v, want class %v", n, len(full), err, want)
		}
		must(t, os.WriteFile(path, full[:n], 0o644))
		_, _, err = ReadFile(path, nil)
		if !errors.Is(err, want) {
			t.Fatalf("ReadFile of %d/%d bytes: error %v, want class %v", n, len(full), err, want)
		}
	}
	_, _, err = ReadFile(path, nil) // last: all but one byte
	if !strings.Contains(err.Error(), "file ends after 47 of the 48 data bytes that shape (3, 2) of dtype \"<f8\" declares") {
		t.Errorf("message %q", err)
	}
}

func TestReadTrailingBytes(t *testing.T) {
	full, err := os.ReadFile(filepath.Join("testdata", "f8_c.npy"))
	must(t, err)
	path := filepath.Join(t.TempDir(), "long.npy")
	must(t, os.WriteFile(path, append(full, 1, 2, 3), 0o644))
	_, _, err = ReadFile(path, nil)
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "3 bytes follow the 48 data bytes") {
		t.Errorf("ReadFile with trailing bytes: %v", err)
	}
	// Read consumes exactly one array, so arrays can be concatenated.
	var stream bytes.Buffer
	must(t, Write(&stream, fixtureX()))
	must(t, WriteVector(&stream, []float64{1, 2}))
	a, _, err := Read(&stream, nil)
	must(t, err)
	b, _, err := Read(&stream, nil)
	must(t, err)
	if !sameBits(a, fixtureX()) || !mat.Equal(b, mat.NewDense(2, 1, []float64{1, 2})) || stream.Len() != 0 {
		t.Errorf("concatenated arrays read back wrong: %v %v, %d bytes left", a, b, stream.Len())
	}
}

// TestReadHugeShapeAllocation checks that a header declaring a huge array
// does not make Read or ReadFile allocate for it.
func TestReadHugeShapeAllocation(t *testing.T) {
	// 2^28 × 2^5 float64 = 64 GiB declared, 64 bytes present.
	file := build(1, dict("<f8", false, "(268435456, 32)"), make([]byte, 64))
	path := filepath.Join(t.TempDir(), "huge.npy")
	must(t, os.WriteFile(path, file, 0o644))
	for _, tc := range []struct {
		name string
		read func() error
	}{
		{"Read", func() error { _, _, err := Read(bytes.NewReader(file), nil); return err }},
		{"ReadFile", func() error { _, _, err := ReadFile(path, nil); return err }},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := tc.read()
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("%s: error %v, want ErrTruncated", tc.name, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
			t.Errorf("%s allocated %d bytes for a 64-byte file", tc.name, alloc)
		}
	}
}

func TestReadRowsCols(t *testing.T) {
	path := filepath.Join("testdata", "f8_c.npy")
	if _, _, err := ReadFile(path, &ReadSettings{Rows: 3, Cols: 2}); err != nil {
		t.Errorf("matching Rows and Cols: %v", err)
	}
	_, _, err := ReadFile(path, &ReadSettings{Cols: 3})
	if !errors.Is(err, ErrShape) || !strings.Contains(err.Error(), "has 2 columns, want 3") {
		t.Errorf("Cols mismatch: %v", err)
	}
	_, _, err = ReadFile(path, &ReadSettings{Rows: 4})
	if !errors.Is(err, ErrShape) || !strings.Contains(err.Error(), "has 3 rows, want 4") {
		t.Errorf("Rows mismatch: %v", err)
	}
}

func TestReadHeaderOnly(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "i8.npy"))
	must(t, err)
	defer f.Close()
	h, err := ReadHeader(f)
	must(t, err)
	if h.Descr != "<i8" || shapeString(h.Shape) != "(2, 2)" {
		t.Errorf("header %+v", h)
	}
	// The reader is left at the data: four little-endian int64 0..3.
	var data [4]int64
	must(t, binary.Read(f, binary.LittleEndian, &data))
	if data != [4]int64{0, 1, 2, 3} {
		t.Errorf("data after header = %v", data)
	}
}

// TestWriteBytes checks Write's output against the format specification
// and against the committed files that numpy.save wrote.
func TestWriteBytes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		write   func(*bytes.Buffer) error
		shape   string
		numpy   string // committed file with the same array, or ""
		content []float64
	}{
		{"3x2", func(b *bytes.Buffer) error { return Write(b, fixtureX()) }, "(3, 2)", "f8_c.npy", fixtureX().RawMatrix().Data},
		{"vector", func(b *bytes.Buffer) error { return WriteVector(b, fixtureV().RawMatrix().Data) }, "(5,)", "f8_1d.npy", fixtureV().RawMatrix().Data},
		{"empty vector", func(b *bytes.Buffer) error { return WriteVector(b, nil) }, "(0,)", "empty_1d.npy", nil},
		{"empty matrix", func(b *bytes.Buffer) error { return Write(b, &mat.Dense{}) }, "(0, 0)", "", nil},
		{"1x1", func(b *bytes.Buffer) error { return Write(b, mat.NewDense(1, 1, []float64{-7})) }, "(1, 1)", "", []float64{-7}},
		{"12345x1", func(b *bytes.Buffer) error { return Write(b, mat.NewDense(12345, 1, nil)) }, "(12345, 1)", "", make([]float64, 12345)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			must(t, tc.write(&buf))
			b := buf.Bytes()
			if string(b[:8]) != "\x93NUMPY\x01\x00" {
				t.Fatalf("preamble %q", b[:8])
			}
			hlen := int(binary.LittleEndian.Uint16(b[8:10]))
			off := 10 + hlen
			if off%64 != 0 {
				t.Errorf("data offset %d is not a multiple of 64", off)
			}
			text := string(b[10:off])
			wantDict := "{'descr': '<f8', 'fortran_order': False, 'shape': " + tc.shape + ", }"
			if !strings.HasPrefix(text, wantDict) || !strings.HasSuffix(text, "\n") ||
				strings.TrimLeft(text[len(wantDict):], " ") != "\n" {
				t.Errorf("header text %q, want %q padded with spaces and a newline", text, wantDict)
			}
			if got, want := len(b)-off, 8*len(tc.content); got != want {
				t.Fatalf("%d data bytes, want %d", got, want)
			}
			for k, v := range tc.content {
				if binary.LittleEndian.Uint64(b[off+8*k:]) != math.Float64bits(v) {
					t.Fatalf("element %d differs", k)
				}
			}
			if tc.numpy != "" {
				want, err := os.ReadFile(filepath.Join("testdata", tc.numpy))
				must(t, err)
				if !bytes.Equal(b, want) {
					t.Errorf("bytes differ from numpy.save's %s:\ngot  %q\nwant %q", tc.numpy, b, want)
				}
			}
		})
	}
}

// TestWriteReadRoundTrip writes and reads back bit-identical values,
// including NaN payloads, signed zeros, infinities and subnormals, from a
// matrix view with a stride larger than its width.
func TestWriteReadRoundTrip(t *testing.T) {
	big := randDense(t, 40, 9)
	vals := []uint64{0x7FF00000DEADBEEF, 0xFFF8000000000001, 0x8000000000000000, 0x7FF0000000000000, 0xFFF0000000000000, 1}
	for k, b := range vals {
		big.Set(k, k%9, math.Float64frombits(b))
	}
	view := big.Slice(3, 37, 2, 7).(*mat.Dense)
	orig := mat.DenseCopyOf(big)
	for _, m := range []mat.Matrix{big, view, view.T()} {
		var buf bytes.Buffer
		must(t, Write(&buf, m))
		got, _, err := Read(&buf, &ReadSettings{AllowNonFinite: true})
		must(t, err)
		if !sameBits(got, mat.DenseCopyOf(m)) {
			t.Errorf("round trip of %T %v: bits differ", m, dims(m))
		}
	}
	if !sameBits(big, orig) {
		t.Errorf("Write modified its input")
	}
}

func dims(m mat.Matrix) [2]int { r, c := m.Dims(); return [2]int{r, c} }

// TestNpyioInterop reads files written by npyio (format 2.0, unaligned
// headers, 1-D slices) and has npyio read files written by Write.
func TestNpyioInterop(t *testing.T) {
	m := randDense(t, 6, 4)
	var buf bytes.Buffer
	must(t, npyio.Write(&buf, m))
	got, h, err := Read(&buf, nil)
	must(t, err)
	if !sameBits(got, m) || h.Major != 2 {
		t.Errorf("npyio matrix: got %v (version %d)", mat.Formatted(got), h.Major)
	}

	f32 := []float32{1.5, -2.25, 3e-7}
	buf.Reset()
	must(t, npyio.Write(&buf, f32))
	got, _, err = Read(&buf, nil)
	must(t, err)
	if !mat.Equal(got, mat.NewDense(3, 1, []float64{1.5, -2.25, float64(float32(3e-7))})) {
		t.Errorf("npyio float32 slice: got %v", mat.Formatted(got))
	}

	buf.Reset()
	must(t, Write(&buf, m))
	var back mat.Dense
	must(t, npyio.Read(&buf, &back))
	if !sameBits(&back, m) {
		t.Errorf("npyio read of Write's output differs")
	}
}

func TestNonFiniteError(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	m := mat.NewDense(5, 2, []float64{0, 1, nan, 2, 3, 4, 5, -inf, 6, 7})
	if got := NonFiniteRows(m); fmt.Sprint(got) != "[1 3]" {
		t.Errorf("NonFiniteRows = %v, want [1 3]", got)
	}
	if got := NonFiniteRows(m.T()); fmt.Sprint(got) != "[0 1]" {
		t.Errorf("NonFiniteRows of transpose = %v, want [0 1]", got)
	}
	if got := NonFiniteRows(m.Slice(2, 5, 0, 1)); got != nil {
		t.Errorf("NonFiniteRows of finite slice = %v, want nil", got)
	}
	if got := NonFiniteRows(&mat.Dense{}); got != nil {
		t.Errorf("NonFiniteRows of empty = %v", got)
	}
	err := CheckFinite(m)
	if !errors.Is(err, ErrNonFinite) || err.Error() != "npy: 2 rows contain NaN or Inf (0-based row indices 1, 3)" {
		t.Errorf("CheckFinite = %v", err)
	}
	one := &NonFiniteError{Path: "x.npy", Rows: []int{7}}
	if one.Error() != "npy: x.npy: 1 row contains NaN or Inf (0-based row index 7)" {
		t.Errorf("message %q", one)
	}
	if CheckFinite(mat.NewDense(1, 1, []float64{math.MaxFloat64})) != nil {
		t.Errorf("CheckFinite of finite matrix is not nil")
	}
}

func TestWriteNilPanics(t *testing.T) {
	for _, f := range []func(){
		func() { Write(&bytes.Buffer{}, nil) },
		func() { WriteFile(filepath.Join(t.TempDir(), "x.npy"), nil) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "npy: ") {
					t.Errorf("recover() = %v, want a panic with the npy prefix", r)
				}
			}()
			f()
		}()
	}
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	m := randDense(t, 1000, 3)
	for _, n := range []int{0, 50, 128, 5000} {
		if err := Write(&failWriter{n}, m); err == nil || err.Error() != "disk full" {
			t.Errorf("Write failing after %d bytes: %v", n, err)
		}
		if err := WriteVector(&failWriter{n}, m.RawMatrix().Data); err == nil {
			t.Errorf("WriteVector failing after %d bytes: no error", n)
		}
	}
}

// must stops the test on a set-up error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
