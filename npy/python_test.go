package npy

import (
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odeflow/odeflow/internal/testrand"
	"gonum.org/v1/gonum/mat"
)

// pythonWithNumPy returns a Python interpreter that can import numpy, or
// skips the test.
func pythonWithNumPy(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import numpy").Run() == nil {
			return path
		}
	}
	t.Skip("no python3 with numpy")
	return ""
}

// pyCheck loads each file with numpy.load and saves the loaded array again
// with numpy.save; it reports the dtype, shape and contiguity, and whether
// NumPy's bytes equal the file's bytes (which implies the same header and
// bit-identical data).
const pyCheck = `
import io, json, sys
import numpy as np
out = []
for name in sys.argv[1:]:
    a = np.load(name)
    buf = io.BytesIO()
    np.save(buf, a)
    out.append({"dtype": a.dtype.str, "shape": list(a.shape),
                "c": bool(a.flags.c_contiguous),
                "same": buf.getvalue() == open(name, "rb").read(),
                "bits01": int(a.reshape(-1).view(np.uint64)[1]) if a.size > 1 else 0})
print(json.dumps(out))
`

// TestNumPyLoadsWrite has NumPy load what Write and WriteVector produce.
func TestNumPyLoadsWrite(t *testing.T) {
	py := pythonWithNumPy(t)
	dir := t.TempDir()
	special := randDense(t, 4, 3)
	special.Set(0, 1, math.Float64frombits(0x7FF00000DEADBEEF))
	special.Set(1, 0, math.Copysign(0, -1))
	special.Set(2, 2, math.Inf(-1))
	cases := []struct {
		shape []int
		write func(path string) error
	}{
		{[]int{4, 3}, func(p string) error { return WriteFile(p, special) }},
		{[]int{1, 1}, func(p string) error { return WriteFile(p, mat.NewDense(1, 1, []float64{2.5})) }},
		{[]int{3, 2}, func(p string) error { return WriteFile(p, fixtureX()) }},
		{[]int{2, 10}, func(p string) error { return WriteFile(p, randDense(t, 2, 10)) }},
		{[]int{1, 100}, func(p string) error { return WriteFile(p, randDense(t, 1, 100)) }},
		{[]int{1, 1000}, func(p string) error { return WriteFile(p, randDense(t, 1, 1000)) }},
		{[]int{1, 10000}, func(p string) error { return WriteFile(p, randDense(t, 1, 10000)) }},
		{[]int{12345, 1}, func(p string) error { return WriteFile(p, randDense(t, 12345, 1)) }},
		{[]int{0, 0}, func(p string) error { return WriteFile(p, &mat.Dense{}) }},
		{[]int{7}, func(p string) error { return WriteVectorFile(p, randDense(t, 7, 1).RawMatrix().Data) }},
		{[]int{0}, func(p string) error { return WriteVectorFile(p, nil) }},
	}
	var names []string
	for i, c := range cases {
		name := filepath.Join(dir, fmt.Sprintf("%d.npy", i))
		must(t, c.write(name))
		names = append(names, name)
	}
	out, err := exec.Command(py, append([]string{"-c", pyCheck}, names...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	var res []struct {
		Dtype  string
		Shape  []int
		C      bool
		Same   bool
		Bits01 uint64
	}
	must(t, json.Unmarshal(out, &res))
	if len(res) != len(cases) {
		t.Fatalf("%d results for %d files", len(res), len(cases))
	}
	for i, r := range res {
		if r.Dtype != "<f8" || fmt.Sprint(r.Shape) != fmt.Sprint(cases[i].shape) || !r.C || !r.Same {
			t.Errorf("file %d (shape %v): numpy saw %+v", i, cases[i].shape, r)
		}
	}
	if res[0].Bits01 != 0x7FF00000DEADBEEF {
		t.Errorf("NaN payload as loaded by numpy: %#x", res[0].Bits01)
	}
}

// TestReadNumPyRandom has NumPy write random arrays of every accepted
// kind and checks that Read returns NumPy's values bit for bit, as NumPy
// itself reports them (as float64 bit patterns).
func TestReadNumPyRandom(t *testing.T) {
	py := pythonWithNumPy(t)
	dir := t.TempDir()
	script := `
import sys, numpy as np
rng = np.random.default_rng(int(sys.argv[2]))
i = 0
for dt in ["<f4", ">f4", "<f8", ">f8"]:
    for order in ["C", "F"]:
        for shape in [(17, 3), (1, 5), (6,)]:
            a = np.array(rng.standard_normal(shape) * 10.0 ** rng.integers(-30, 30, shape), dtype=dt, order=order)
            np.save("%s/%d.npy" % (sys.argv[1], i), a)
            np.save("%s/%d.want.npy" % (sys.argv[1], i), np.ascontiguousarray(a, dtype="<f8").reshape(a.shape[0], -1))
            i += 1
print(i)
`
	out, err := exec.Command(py, "-c", script, dir, fmt.Sprint(testrand.Seed(t))).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	var n int
	if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &n); err != nil || n != 24 {
		t.Fatalf("python printed %q", out)
	}
	for i := range n {
		got, h, err := ReadFile(filepath.Join(dir, fmt.Sprintf("%d.npy", i)), nil)
		must(t, err)
		want, _, err := ReadFile(filepath.Join(dir, fmt.Sprintf("%d.want.npy", i)), nil)
		must(t, err)
		if !sameBits(got, want) {
			t.Errorf("file %d (%s fortran=%v shape %v): values differ from numpy's float64 conversion", i, h.Descr, h.Fortran, h.Shape)
		}
	}
}
