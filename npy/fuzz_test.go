package npy

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

var update = flag.Bool("update", false, "rewrite the named seed files in testdata/fuzz/FuzzRead")

// FuzzRead feeds arbitrary bytes to Read. Read must not panic; every error
// must belong to one of the documented classes; an accepted array must
// match its header and survive a Write/Read round trip bit for bit.
// Allocation is bounded by construction (see readFull) and checked by
// TestReadHugeShapeAllocation; the fuzzer's own memory limit catches
// regressions.
func FuzzRead(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.np[yz]"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &ReadSettings{AllowEmpty: true, AllowNonFinite: true}
		m, h, err := Read(bytes.NewReader(data), s)
		if err != nil {
			if m != nil {
				t.Fatalf("matrix returned with error %v", err)
			}
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrDtype) && !errors.Is(err, ErrShape) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		rows, cols := h.Shape[0], 1
		if len(h.Shape) == 2 {
			cols = h.Shape[1]
		}
		if rows == 0 || cols == 0 {
			if !m.IsEmpty() {
				t.Fatalf("shape %v but matrix not empty", h.Shape)
			}
			return
		}
		if r, c := m.Dims(); r != rows || c != cols {
			t.Fatalf("matrix %d×%d for shape %v", r, c, h.Shape)
		}
		var buf bytes.Buffer
		if err := Write(&buf, m); err != nil {
			t.Fatal(err)
		}
		back, _, err := Read(&buf, s)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if !sameBits(back, m) {
			t.Fatalf("round trip changed the data")
		}
	})
}

// fuzzSeeds are the named seeds of testdata/fuzz/FuzzRead: valid files of
// several kinds, and truncated and corrupted ones.
func fuzzSeeds(t *testing.T) map[string][]byte {
	x := fixtureX()
	c8 := build(1, dict("<f8", false, "(3, 2)"), encodeData(x, 8, false, false))
	f4 := build(1, dict(">f4", true, "(3, 2)"), encodeData(x, 4, true, true))
	np, err := os.ReadFile(filepath.Join("testdata", "f8_c.npy"))
	must(t, err)
	flip := func(b []byte, at ...int) []byte {
		b = bytes.Clone(b)
		for _, i := range at {
			b[i] ^= 0x5a
		}
		return b
	}
	return map[string][]byte{
		"good_f8_c":          c8,
		"good_f4_be_fortran": f4,
		"good_1d_v2":         build(2, dict("<f8", false, "(2,)"), encodeData(mat.NewDense(2, 1, []float64{1.5, -2}), 8, false, false)),
		"good_empty":         build(3, dict("<f4", false, "(0, 4)"), nil),
		"good_numpy_padded":  np,
		"trunc_magic":        np[:4],
		"trunc_length":       np[:9],
		"trunc_header":       np[:40],
		"trunc_data":         np[:len(np)-5],
		"corrupt_no_brace":   build(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), ", encodeData(x, 8, false, false)),
		"corrupt_no_newline": append(bytes.Clone(np[:10]), bytes.Repeat([]byte{' '}, 118)...),
		"corrupt_hlen":       append([]byte("\x93NUMPY\x01\x00\xff\xff"), np[10:]...),
		"corrupt_v2_hlen":    []byte("\x93NUMPY\x02\x00\xff\xff\xff\x7f{'descr'"),
		"corrupt_huge_shape": build(1, dict("<f8", false, "(268435456, 32)"), make([]byte, 16)),
		"corrupt_overflow":   build(1, dict("<f8", false, "(4611686018427387904, 4)"), nil),
		"corrupt_int_dtype":  build(1, dict("<i8", false, "(3, 2)"), make([]byte, 48)),
		"corrupt_3d":         build(1, dict("<f8", false, "(1, 1, 1)"), make([]byte, 8)),
		"corrupt_nesting":    build(1, "{'descr': "+strings.Repeat("[", 40), nil),
		"corrupt_version":    flip(np, 6),
		"corrupt_bitflips":   flip(np, 20, 61, 140),
	}
}

// TestFuzzCorpus checks that the named seed files in
// testdata/fuzz/FuzzRead hold the seeds fuzzSeeds builds; with -update it
// writes them.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzRead")
	for name, b := range fuzzSeeds(t) {
		path := filepath.Join(dir, name)
		want := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if *update {
			must(t, os.MkdirAll(dir, 0o755))
			must(t, os.WriteFile(path, []byte(want), 0o644))
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is missing or stale (err %v); run go test -run TestFuzzCorpus -update", path, err)
		}
	}
}
