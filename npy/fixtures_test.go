package npy

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// fixtureX is x of testdata/gen.py: x[i, j] = (2i + j - 2.5) / 3, 3×2.
func fixtureX() *mat.Dense {
	m := mat.NewDense(3, 2, nil)
	for i := range 3 {
		for j := range 2 {
			m.Set(i, j, (float64(2*i+j)-2.5)/3)
		}
	}
	return m
}

// fixtureV is v of testdata/gen.py as a 5×1 matrix: v[k] = (k - 2.5) / 3.
func fixtureV() *mat.Dense {
	m := mat.NewDense(5, 1, nil)
	for k := range 5 {
		m.Set(k, 0, (float64(k)-2.5)/3)
	}
	return m
}

// toFloat32 rounds every element to float32, as x.astype(np.float32) does.
func toFloat32(m *mat.Dense) *mat.Dense {
	var out mat.Dense
	out.Apply(func(_, _ int, v float64) float64 { return float64(float32(v)) }, m)
	return &out
}

// specialBits are the bits of testdata/special.npy.
var specialBits = [4][2]uint64{
	{0x3FF8000000000000, 0x8000000000000000},
	{0x7FF00000DEADBEEF, 0x4000000000000000},
	{0x0000000000000001, 0x7FEFFFFFFFFFFFFF},
	{0xFFF0000000000000, 0x0000000000000000},
}

// sameBits reports whether a and b have the same shape and bit-identical
// elements (so NaN payloads and signed zeros count).
func sameBits(a, b *mat.Dense) bool {
	ar, ac := a.Dims()
	br, bc := b.Dims()
	if ar != br || ac != bc {
		return false
	}
	for i := range ar {
		for j := range ac {
			if math.Float64bits(a.At(i, j)) != math.Float64bits(b.At(i, j)) {
				return false
			}
		}
	}
	return true
}

func TestReadFixtures(t *testing.T) {
	special := mat.NewDense(4, 2, nil)
	for i, row := range specialBits {
		for j, b := range row {
			special.Set(i, j, math.Float64frombits(b))
		}
	}
	for _, tc := range []struct {
		file    string
		want    *mat.Dense
		descr   string
		fortran bool
		shape   []int
		major   int
		allow   bool // AllowNonFinite
	}{
		{"f8_c.npy", fixtureX(), "<f8", false, []int{3, 2}, 1, false},
		{"f8_f.npy", fixtureX(), "<f8", true, []int{3, 2}, 1, false},
		{"f4_c.npy", toFloat32(fixtureX()), "<f4", false, []int{3, 2}, 1, false},
		{"f4_f.npy", toFloat32(fixtureX()), "<f4", true, []int{3, 2}, 1, false},
		{"f8_be.npy", fixtureX(), ">f8", false, []int{3, 2}, 1, false},
		{"f4_be_f.npy", toFloat32(fixtureX()), ">f4", true, []int{3, 2}, 1, false},
		{"f8_1d.npy", fixtureV(), "<f8", false, []int{5}, 1, false},
		{"f4_be_1d.npy", toFloat32(fixtureV()), ">f4", false, []int{5}, 1, false},
		{"f8_v2.npy", fixtureX(), "<f8", false, []int{3, 2}, 2, false},
		{"f8_v3.npy", fixtureX(), "<f8", false, []int{3, 2}, 3, false},
		{"special.npy", special, "<f8", false, []int{4, 2}, 1, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, h, err := ReadFile(filepath.Join("testdata", tc.file), &ReadSettings{AllowNonFinite: tc.allow})
			if err != nil {
				t.Fatalf("ReadFile: %v", err)
			}
			if !sameBits(got, tc.want) {
				t.Errorf("data mismatch:\ngot  %v\nwant %v", mat.Formatted(got), mat.Formatted(tc.want))
			}
			if h.Descr != tc.descr || h.Fortran != tc.fortran || h.Major != tc.major || h.Minor != 0 || shapeString(h.Shape) != shapeString(tc.shape) {
				t.Errorf("header = %+v, want descr %q fortran %v shape %v version %d.0", h, tc.descr, tc.fortran, tc.shape, tc.major)
			}
		})
	}
}

func TestReadFixturesRejected(t *testing.T) {
	for _, tc := range []struct {
		file  string
		class error
		msg   []string // substrings of the message
	}{
		{"i8.npy", ErrDtype, []string{"testdata/i8.npy", "int64", `"<i8"`, "only float32 and float64"}},
		{"bool.npy", ErrDtype, []string{"bool", `"|b1"`}},
		{"c16.npy", ErrDtype, []string{"complex128", `"<c16"`}},
		{"obj.npy", ErrDtype, []string{"object", `"|O"`}},
		{"u3.npy", ErrDtype, []string{"str (U3)"}},
		{"s3.npy", ErrDtype, []string{"bytes (S3)"}},
		{"f2.npy", ErrDtype, []string{"float16"}},
		{"m8.npy", ErrDtype, []string{"datetime64[D]"}},
		{"record.npy", ErrDtype, []string{"structured dtype"}},
		{"f8_3d.npy", ErrShape, []string{"3-D array of shape (2, 2, 2)", "want a 1-D array"}},
		{"f8_0d.npy", ErrShape, []string{"0-D array (a scalar)"}},
		{"empty_rows.npy", ErrEmpty, []string{"shape (0, 3)", "no rows"}},
		{"empty_cols.npy", ErrEmpty, []string{"shape (3, 0)", "no columns"}},
		{"empty_1d.npy", ErrEmpty, []string{"shape (0,)", "no rows"}},
		{"nan_rows.npy", ErrNonFinite, []string{"11 rows contain NaN or Inf (0-based row indices 1, 4, 5, 7, 8, 9, 10, 11 and 3 more)"}},
		{"x.npz", ErrFormat, []string{"not a .npy file", "zip archive"}},
		{"missing.npy", nil, []string{"npy: open testdata/missing.npy", "no such file"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m, _, err := ReadFile(filepath.Join("testdata", tc.file), nil)
			if err == nil {
				t.Fatalf("no error; got %v", mat.Formatted(m))
			}
			if m != nil {
				t.Errorf("matrix returned with error")
			}
			if tc.class != nil && !errors.Is(err, tc.class) {
				t.Errorf("error %q does not wrap %v", err, tc.class)
			}
			for _, s := range tc.msg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestReadEmptyAllowed(t *testing.T) {
	for _, tc := range []struct {
		file  string
		shape string
	}{
		{"empty_rows.npy", "(0, 3)"},
		{"empty_cols.npy", "(3, 0)"},
		{"empty_1d.npy", "(0,)"},
	} {
		m, h, err := ReadFile(filepath.Join("testdata", tc.file), &ReadSettings{AllowEmpty: true})
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if !m.IsEmpty() {
			t.Errorf("%s: matrix not empty", tc.file)
		}
		if got := shapeString(h.Shape); got != tc.shape {
			t.Errorf("%s: shape %s, want %s", tc.file, got, tc.shape)
		}
	}
}

func TestReadNonFiniteAllowed(t *testing.T) {
	m, _, err := ReadFile(filepath.Join("testdata", "nan_rows.npy"), &ReadSettings{AllowNonFinite: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []int{1, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14}
	got := NonFiniteRows(m)
	if len(got) != len(want) {
		t.Fatalf("NonFiniteRows = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("NonFiniteRows = %v, want %v", got, want)
		}
	}
	var nf *NonFiniteError
	if err := CheckFinite(m); !errors.As(err, &nf) || len(nf.Rows) != len(want) {
		t.Errorf("CheckFinite = %v, want a *NonFiniteError with %d rows", err, len(want))
	}
}
