package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/model"
	"github.com/odeflow/odeflow/modelfile"
	"github.com/odeflow/odeflow/npy"
	"github.com/odeflow/odeflow/train/toy"
)

// bin is the odeflow binary built by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "odeflow-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "odeflow")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building odeflow: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// runBin runs the binary in dir with args.
func runBin(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running odeflow %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{so.String(), se.String(), code}
}

// ok runs the binary and fails the test unless it succeeds.
func ok(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := runBin(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("odeflow %s: exit %d\nstderr: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

func readNpy(t *testing.T, path string) *mat.Dense {
	t.Helper()
	x, _, err := npy.ReadFile(path, &npy.ReadSettings{AllowNonFinite: true})
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return x
}

func writeNpy(t *testing.T, path string, x *mat.Dense) {
	t.Helper()
	if err := npy.WriteFile(path, x); err != nil {
		t.Fatal(err)
	}
}

// rawNpy writes a .npy file with the given dtype descriptor, order and
// shape, and data bytes, as NumPy would.
func rawNpy(t *testing.T, path, descr string, fortran bool, shape string, data []byte) {
	t.Helper()
	order := "False"
	if fortran {
		order = "True"
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, order, shape)
	pad := 64 - (10+len(h)+1)%64
	h += strings.Repeat(" ", pad%64) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	b.Write(data)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func hashFile(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// toyData writes n points of a toy set and returns its path.
func toyData(t *testing.T, dir, name string, n int, seed uint64) string {
	t.Helper()
	x, err := toy.Generate(name, n, rand.NewPCG(seed, 7))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, fmt.Sprintf("%s-%d-%d.npy", name, n, seed))
	writeNpy(t, p, x)
	return p
}

func gaussData(t *testing.T, dir, name string, n, d int, seed uint64) (string, *mat.Dense) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 11))
	x := mat.NewDense(n, d, nil)
	for i := range n {
		for j := range d {
			x.Set(i, j, r.NormFloat64()+0.5*float64(j))
		}
	}
	p := filepath.Join(dir, name)
	writeNpy(t, p, x)
	return p, x
}

// tinyFlags are small architectures for every kind, to keep the tests fast.
var tinyFlags = map[string][]string{
	"cnf":     {"--hidden", "8-8"},
	"nice":    {"--hidden", "8", "--layers", "2"},
	"realnvp": {"--hidden", "8", "--layers", "2"},
	"maf":     {"--hidden", "8", "--layers", "2"},
	"iaf":     {"--hidden", "8", "--layers", "2"},
	"nsf":     {"--hidden", "8", "--layers", "2", "--bins", "4"},
	"glow":    {"--hidden", "8", "--layers", "2"},
	"bnaf":    {"--hidden-factor", "4"},
	"planar":  {"--layers", "3"},
}

func TestHelpAndUsage(t *testing.T) {
	dir := t.TempDir()
	r := ok(t, dir, "--help")
	for _, c := range commands {
		if !strings.Contains(r.stdout, c.name) {
			t.Errorf("odeflow --help does not list %s", c.name)
		}
		h := ok(t, dir, c.name, "--help")
		if !strings.Contains(h.stdout, "Usage: odeflow "+c.name) || !strings.Contains(h.stdout, "Example") || !strings.Contains(h.stdout, "Flags:") {
			t.Errorf("odeflow %s --help:\n%s", c.name, h.stdout)
		}
		u := runBin(t, dir, c.name, "--no-such-flag")
		if u.code != exitUsage || !strings.HasPrefix(u.stderr, "odeflow "+c.name+": ") || strings.Count(u.stderr, "\n") != 1 {
			t.Errorf("odeflow %s --no-such-flag: exit %d, stderr %q", c.name, u.code, u.stderr)
		}
	}
	if r := runBin(t, dir); r.code != exitUsage {
		t.Errorf("no command: exit %d", r.code)
	}
	if r := runBin(t, dir, "frobnicate"); r.code != exitUsage || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, %q", r.code, r.stderr)
	}
}

func TestData(t *testing.T) {
	dir := t.TempDir()
	r := ok(t, dir, "data", "--list")
	if got := strings.Fields(r.stdout); strings.Join(got, ",") != strings.Join(toy.Names(), ",") {
		t.Errorf("--list = %v, want %v", got, toy.Names())
	}
	ok(t, dir, "data", "--name", "moons", "--n", "300", "--seed", "4", "--out", "a.npy")
	ok(t, dir, "data", "--name", "moons", "--n", "300", "--seed", "4", "--out", "b.npy")
	ok(t, dir, "data", "--name", "moons", "--n", "300", "--seed", "5", "--out", "c.npy")
	a := readNpy(t, filepath.Join(dir, "a.npy"))
	if r, c := a.Dims(); r != 300 || c != 2 {
		t.Fatalf("data: %d×%d, want 300×2", r, c)
	}
	if hashFile(t, filepath.Join(dir, "a.npy")) != hashFile(t, filepath.Join(dir, "b.npy")) {
		t.Errorf("the same seed wrote different files")
	}
	if mat.Equal(a, readNpy(t, filepath.Join(dir, "c.npy"))) {
		t.Errorf("another seed wrote the same data")
	}
	for _, args := range [][]string{
		{"data", "--name", "spirals3", "--out", "x.npy"},
		{"data", "--name", "moons", "--n", "0", "--out", "x.npy"},
		{"data", "--name", "moons"},
		{"data", "--name", "moons", "--out", "x.npy", "extra"},
	} {
		r := runBin(t, dir, args...)
		if r.code != exitUsage || exists(filepath.Join(dir, "x.npy")) {
			t.Errorf("odeflow %v: exit %d (want 2), stderr %q", args, r.code, r.stderr)
		}
	}
}

// TestEveryKind trains every kind briefly and runs logprob, sample, encode,
// decode and info on it, checking the outputs against the library.
func TestEveryKind(t *testing.T) {
	dir := t.TempDir()
	data := toyData(t, dir, "8gaussians", 200, 1)
	x := readNpy(t, data)
	for kind, extra := range tinyFlags {
		t.Run(kind, func(t *testing.T) {
			mp := filepath.Join(dir, kind+".odfl")
			args := append([]string{"train", "--model", kind, "--data", data, "--out", mp, "--iterations", "4", "--batch-size", "50"}, extra...)
			r := ok(t, dir, args...)
			if !strings.Contains(r.stdout, "wrote "+mp) || r.stderr != "" {
				t.Errorf("train: stdout %q, stderr %q (want a summary and no progress off a terminal)", r.stdout, r.stderr)
			}
			m, err := model.Load(mp)
			if err != nil {
				t.Fatalf("the written model does not load: %v", err)
			}
			if m.Spec.Kind != kind || m.Meta.Iterations != 4 || m.Meta.ValidNLL == nil || m.Meta.TrainNLL == nil {
				t.Errorf("model: kind %s, meta %+v", m.Spec.Kind, m.Meta)
			}

			lpPath := filepath.Join(dir, kind+"-lp.npy")
			ok(t, dir, "logprob", "--model", mp, "--in", data, "--out", lpPath)
			lp := readNpy(t, lpPath)
			want, err := m.Flow.LogProb(nil, x, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r, c := lp.Dims(); r != 200 || c != 1 {
				t.Fatalf("logprob: %d×%d, want 200×1", r, c)
			}
			for i, w := range want {
				if math.Float64bits(lp.At(i, 0)) != math.Float64bits(w) {
					t.Fatalf("logprob row %d: %v, library %v", i, lp.At(i, 0), w)
				}
			}

			sp := filepath.Join(dir, kind+"-s.npy")
			ok(t, dir, "sample", "--model", mp, "--n", "30", "--seed", "3", "--out", sp)
			ok(t, dir, "sample", "--model", mp, "--n", "30", "--seed", "3", "--out", sp+"2")
			ok(t, dir, "sample", "--model", mp, "--n", "30", "--seed", "3", "--temperature", "0.5", "--out", sp+"3")
			s := readNpy(t, sp)
			if r, c := s.Dims(); r != 30 || c != 2 {
				t.Fatalf("sample: %d×%d, want 30×2", r, c)
			}
			if !mat.Equal(s, readNpy(t, sp+"2")) {
				t.Errorf("sample: the same seed gave different samples")
			}
			if mat.Equal(s, readNpy(t, sp+"3")) {
				t.Errorf("sample: temperature 0.5 gave the samples of temperature 1")
			}

			zp, xp := filepath.Join(dir, kind+"-z.npy"), filepath.Join(dir, kind+"-x.npy")
			ok(t, dir, "encode", "--model", mp, "--in", data, "--out", zp)
			ok(t, dir, "decode", "--model", mp, "--in", zp, "--out", xp)
			if back := readNpy(t, xp); !mat.EqualApprox(back, x, 1e-4) {
				t.Errorf("decode(encode(x)) differs from x by more than 1e-4")
			}
			z := readNpy(t, zp)
			if mat.EqualApprox(z, x, 1e-12) && kind != "planar" {
				t.Errorf("encode is the identity after training")
			}
			checkStates(t, dir, mp, data, x, z, false)
			checkStates(t, dir, mp, zp, z, readNpy(t, xp), true)

			info := ok(t, dir, "info", "--model", mp)
			for _, w := range []string{"kind         " + kind, "params", "held-out NLL", "iterations   4"} {
				if !strings.Contains(info.stdout, w) {
					t.Errorf("info lacks %q:\n%s", w, info.stdout)
				}
			}
		})
	}
}

func TestConditional(t *testing.T) {
	dir := t.TempDir()
	xp, x := gaussData(t, dir, "x.npy", 120, 2, 1)
	cp, c := gaussData(t, dir, "c.npy", 120, 1, 2)
	mp := filepath.Join(dir, "m.odfl")
	ok(t, dir, "train", "--model", "realnvp", "--hidden", "8", "--layers", "2", "--data", xp, "--context", cp,
		"--out", mp, "--iterations", "3", "--batch-size", "40")
	m, err := model.Load(mp)
	if err != nil || m.Spec.ContextDim != 1 {
		t.Fatalf("model: %v, %+v", err, m)
	}
	ok(t, dir, "logprob", "--model", mp, "--in", xp, "--context", cp, "--out", "lp.npy")
	want, err := m.Flow.LogProb(nil, x, c)
	if err != nil {
		t.Fatal(err)
	}
	lp := readNpy(t, filepath.Join(dir, "lp.npy"))
	for i := range want {
		if lp.At(i, 0) != want[i] {
			t.Fatalf("row %d: %v, library %v", i, lp.At(i, 0), want[i])
		}
	}
	// Three samples per context row.
	c4 := mat.NewDense(4, 1, []float64{-2, -1, 1, 2})
	writeNpy(t, filepath.Join(dir, "c4.npy"), c4)
	ok(t, dir, "sample", "--model", mp, "--context", "c4.npy", "--n", "3", "--out", "s.npy")
	if r, _ := readNpy(t, filepath.Join(dir, "s.npy")).Dims(); r != 12 {
		t.Errorf("sample with 4 context rows and --n 3: %d rows, want 12", r)
	}
	ok(t, dir, "sample", "--model", mp, "--context", "c4.npy", "--out", "s1.npy")
	if r, _ := readNpy(t, filepath.Join(dir, "s1.npy")).Dims(); r != 4 {
		t.Errorf("sample with 4 context rows: %d rows, want 4", r)
	}
	ok(t, dir, "encode", "--model", mp, "--in", xp, "--context", cp, "--out", "z.npy")
	ok(t, dir, "decode", "--model", mp, "--in", "z.npy", "--context", cp, "--out", "xx.npy")
	if !mat.EqualApprox(readNpy(t, filepath.Join(dir, "xx.npy")), x, 1e-9) {
		t.Errorf("conditional decode(encode(x)) differs from x")
	}
	// A conditional model without its context, and a context of the
	// wrong length.
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"logprob", "--model", mp, "--in", xp, "--out", "bad.npy"}, exitUsage, "give --context"},
		{[]string{"logprob", "--model", mp, "--in", xp, "--context", "c4.npy", "--out", "bad.npy"}, exitError, "has 4 rows but --in has 120"},
		{[]string{"train", "--model", "realnvp", "--data", xp, "--context", "c4.npy", "--out", "bad.npy"}, exitError, "has 4 rows but --data has 120"},
		{[]string{"encode", "--model", mp, "--in", xp, "--context", xp, "--out", "bad.npy"}, exitError, "has 2 columns, want 1"},
	} {
		r := runBin(t, dir, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) || exists(filepath.Join(dir, "bad.npy")) {
			t.Errorf("odeflow %v: exit %d, stderr %q; want exit %d and %q", tc.args, r.code, r.stderr, tc.code, tc.msg)
		}
	}
}

// TestBadInputs: every bad input gives the documented exit status, one
// informative line on stderr, no output file, and an untouched input.
func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	data := toyData(t, dir, "moons", 100, 1)
	mp := filepath.Join(dir, "m.odfl")
	ok(t, dir, "train", "--model", "realnvp", "--hidden", "4", "--layers", "2", "--data", data, "--out", mp, "--iterations", "2")
	m3, _ := gaussData(t, dir, "three.npy", 10, 3, 1)
	ok(t, dir, "train", "--model", "maf", "--hidden", "4", "--layers", "1", "--data", m3, "--out", "m3.odfl", "--iterations", "2")

	// Bad .npy files.
	ints := make([]byte, 8*6)
	for i := range 6 {
		binary.LittleEndian.PutUint64(ints[8*i:], uint64(i))
	}
	rawNpy(t, filepath.Join(dir, "int.npy"), "<i8", false, "(3, 2)", ints)
	nan := mat.NewDense(6, 2, nil)
	nan.Set(2, 0, math.NaN())
	nan.Set(4, 1, math.Inf(-1))
	writeNpy(t, filepath.Join(dir, "nan.npy"), nan)
	rawNpy(t, filepath.Join(dir, "empty.npy"), "<f8", false, "(0, 2)", nil)
	rawNpy(t, filepath.Join(dir, "short.npy"), "<f8", false, "(3, 2)", make([]byte, 40))
	if err := os.WriteFile(filepath.Join(dir, "text.npy"), []byte("1,2\n3,4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Bad model files.
	good, err := os.ReadFile(mp)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("trunc.odfl", good[:len(good)-100])
	flip := bytes.Clone(good)
	flip[len(flip)/2] ^= 0x10
	write("corrupt.odfl", flip)
	newer := bytes.Clone(good)
	binary.LittleEndian.PutUint32(newer[8:], 7)
	write("newer.odfl", newer)
	write("empty.odfl", nil)

	lp := []string{"logprob", "--model", mp, "--out", "out.npy", "--in"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"dtype", append(lp, "int.npy"), exitError, "int64"},
		{"nan rows", append(lp, "nan.npy"), exitError, "row indices 2, 4"},
		{"empty", append(lp, "empty.npy"), exitError, "empty"},
		{"truncated npy", append(lp, "short.npy"), exitError, "short.npy"},
		{"not npy", append(lp, "text.npy"), exitError, "text.npy"},
		{"missing", append(lp, "nothere.npy"), exitError, "nothere.npy"},
		{"columns", append(lp, "three.npy"), exitError, "3 columns, want 2"},
		{"columns encode", []string{"encode", "--model", "m3.odfl", "--in", data, "--out", "out.npy"}, exitError, "2 columns, want 3"},
		{"columns decode", []string{"decode", "--model", mp, "--in", "three.npy", "--out", "out.npy"}, exitError, "3 columns, want 2"},
		{"train nan", []string{"train", "--model", "cnf", "--data", "nan.npy", "--out", "out.npy"}, exitError, "row indices 2, 4"},
		{"train int", []string{"train", "--model", "nice", "--data", "int.npy", "--out", "out.npy"}, exitError, "int64"},
		{"train empty", []string{"train", "--model", "nice", "--data", "empty.npy", "--out", "out.npy"}, exitError, "empty"},
		{"train missing", []string{"train", "--model", "nice", "--data", "nothere.npy", "--out", "out.npy"}, exitError, "nothere.npy"},
		{"valid columns", []string{"train", "--model", "nice", "--data", data, "--valid", "three.npy", "--out", "out.npy"}, exitError, "3 columns, want 2"},
		{"model truncated", []string{"logprob", "--model", "trunc.odfl", "--in", data, "--out", "out.npy"}, exitError, "truncated"},
		{"model corrupt", []string{"sample", "--model", "corrupt.odfl", "--out", "out.npy"}, exitError, "checksum"},
		{"model newer", []string{"encode", "--model", "newer.odfl", "--in", data, "--out", "out.npy"}, exitError, "newer"},
		{"model empty", []string{"info", "--model", "empty.odfl"}, exitError, "empty.odfl"},
		{"model is npy", []string{"decode", "--model", data, "--in", data, "--out", "out.npy"}, exitError, ".npy array"},
		{"model missing", []string{"plot", "--model", "nothere.odfl", "--out", "out.npy"}, exitError, "nothere.odfl"},
		{"overwrite input", []string{"logprob", "--model", mp, "--in", data, "--out", data}, exitUsage, "input"},
		{"overwrite model", []string{"encode", "--model", mp, "--in", data, "--out", "./m.odfl"}, exitUsage, "input"},
		{"overwrite data", []string{"train", "--model", "nice", "--data", data, "--out", data}, exitUsage, "input"},
		{"no out dir", []string{"logprob", "--model", mp, "--in", data, "--out", "nodir/out.npy"}, exitError, "does not exist"},
		{"unknown kind", []string{"train", "--model", "resnet", "--data", data, "--out", "out.npy"}, exitUsage, `unknown model kind "resnet"`},
		{"flag for other kind", []string{"train", "--model", "nice", "--solver", "rk4", "--data", data, "--out", "out.npy"}, exitUsage, "solver does not apply"},
		{"1-D coupling", []string{"train", "--model", "realnvp", "--data", "lp1.npy", "--out", "out.npy"}, exitUsage, "at least 2 dimensions"},
		{"valid and frac", []string{"train", "--model", "nice", "--data", data, "--valid", data, "--valid-frac", "0.2", "--out", "out.npy"}, exitUsage, "exclude"},
		{"bad frac", []string{"train", "--model", "nice", "--data", data, "--valid-frac", "1.5", "--out", "out.npy"}, exitUsage, "valid-frac"},
		{"negative lr", []string{"train", "--model", "nice", "--data", data, "--lr", "-1", "--out", "out.npy"}, exitUsage, "--lr"},
		{"negative input noise", []string{"train", "--model", "nice", "--data", data, "--input-noise", "-0.1", "--out", "out.npy"}, exitUsage, "--input-noise"},
		{"negative base components", []string{"train", "--model", "maf", "--data", data, "--base-components", "-2", "--out", "out.npy"}, exitUsage, "base_components = -2"},
		{"plot 3-D", []string{"plot", "--model", "m3.odfl", "--out", "out.png"}, exitError, "2-D models only"},
		{"temperature", []string{"sample", "--model", mp, "--temperature", "-1", "--out", "out.npy"}, exitUsage, "temperature"},
		{"context for unconditional", []string{"sample", "--model", mp, "--context", data, "--out", "out.npy"}, exitUsage, "unconditional"},
		{"resume not trained", []string{"train", "--resume", "empty.odfl", "--data", data, "--out", "out.npy"}, exitError, "empty.odfl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A 1-D data file for the coupling case.
			writeNpy(t, filepath.Join(dir, "lp1.npy"), mat.NewDense(4, 1, []float64{1, 2, 3, 4}))
			before := map[string][32]byte{}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				before[e.Name()] = hashFile(t, filepath.Join(dir, e.Name()))
			}
			r := runBin(t, dir, tc.args...)
			cmd := tc.args[0]
			if r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", r.code, tc.code, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "odeflow "+cmd+": ") || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tc.msg) {
				t.Errorf("stderr %q: want one line \"odeflow %s: ...\" mentioning %q", r.stderr, cmd, tc.msg)
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine") {
				t.Errorf("panic: %s", r.stderr)
			}
			entries, _ = os.ReadDir(dir)
			for _, e := range entries {
				h, ok := before[e.Name()]
				if !ok {
					t.Errorf("new file %s left behind", e.Name())
				} else if h != hashFile(t, filepath.Join(dir, e.Name())) {
					t.Errorf("file %s modified", e.Name())
				}
			}
		})
	}
}

// TestFloat32Fortran: float32 data in Fortran order is read as NumPy means.
func TestFloat32Fortran(t *testing.T) {
	dir := t.TempDir()
	data := toyData(t, dir, "moons", 60, 1)
	mp := filepath.Join(dir, "m.odfl")
	ok(t, dir, "train", "--model", "nice", "--hidden", "4", "--layers", "2", "--data", data, "--out", mp, "--iterations", "2")
	x := mat.NewDense(3, 2, []float64{0.5, -1, 2, 0.25, -1.5, 3})
	raw := make([]byte, 0, 24)
	for j := range 2 { // column-major
		for i := range 3 {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(x.At(i, j))))
		}
	}
	rawNpy(t, filepath.Join(dir, "f4.npy"), "<f4", true, "(3, 2)", raw)
	writeNpy(t, filepath.Join(dir, "f8.npy"), x)
	ok(t, dir, "logprob", "--model", mp, "--in", "f4.npy", "--out", "a.npy")
	ok(t, dir, "logprob", "--model", mp, "--in", "f8.npy", "--out", "b.npy")
	if hashFile(t, filepath.Join(dir, "a.npy")) != hashFile(t, filepath.Join(dir, "b.npy")) {
		t.Errorf("float32 Fortran-order input gives other log-densities than the same float64 values")
	}
}

// TestResume: 20 iterations, then a resume to 40, give bit for bit the
// model of an uninterrupted 40-iteration run.
func TestResume(t *testing.T) {
	dir := t.TempDir()
	data := toyData(t, dir, "8gaussians", 300, 2)
	common := []string{"--data", data, "--batch-size", "64", "--seed", "5"}
	ok(t, dir, append([]string{"train", "--model", "cnf", "--hidden", "8-8", "--out", "full.odfl", "--iterations", "40"}, common...)...)
	ok(t, dir, append([]string{"train", "--model", "cnf", "--hidden", "8-8", "--out", "half.odfl", "--iterations", "20"}, common...)...)
	r := ok(t, dir, "train", "--resume", "half.odfl", "--data", data, "--iterations", "40")
	if !strings.Contains(r.stdout, "40 iterations") {
		t.Errorf("resume: %q", r.stdout)
	}
	full, err1 := model.Load(filepath.Join(dir, "full.odfl"))
	half, err2 := model.Load(filepath.Join(dir, "half.odfl"))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	a, b := full.Flow.Params().Data, half.Flow.Params().Data
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			t.Fatalf("parameter %d: uninterrupted %v, resumed %v", i, a[i], b[i])
		}
	}
	if *full.Meta.ValidNLL != *half.Meta.ValidNLL || half.Meta.Iterations != 40 {
		t.Errorf("meta: uninterrupted %+v, resumed %+v", full.Meta, half.Meta)
	}
	// Resuming on other data, or changing the architecture, is refused.
	other := toyData(t, dir, "8gaussians", 300, 3)
	if r := runBin(t, dir, "train", "--resume", "half.odfl", "--data", other, "--out", "o.odfl", "--iterations", "60"); r.code != exitError ||
		!strings.Contains(r.stderr, "other training data") || exists(filepath.Join(dir, "o.odfl")) {
		t.Errorf("resume on other data: exit %d, %q", r.code, r.stderr)
	}
	if r := runBin(t, dir, "train", "--resume", "half.odfl", "--data", data, "--hidden", "4", "--iterations", "60"); r.code != exitUsage ||
		!strings.Contains(r.stderr, "cannot change") {
		t.Errorf("resume with another architecture: exit %d, %q", r.code, r.stderr)
	}
}

// TestInputNoise trains with --input-noise: the noise changes the model,
// and a resumed run (the setting is saved with the model) ends where an
// uninterrupted one does.
func TestInputNoise(t *testing.T) {
	dir := t.TempDir()
	data := toyData(t, dir, "8gaussians", 300, 2)
	common := []string{"--model", "realnvp", "--hidden", "8", "--data", data, "--batch-size", "64", "--seed", "5"}
	ok(t, dir, append([]string{"train", "--out", "plain.odfl", "--iterations", "40"}, common...)...)
	ok(t, dir, append([]string{"train", "--out", "noisy.odfl", "--iterations", "40", "--input-noise", "0.1"}, common...)...)
	ok(t, dir, append([]string{"train", "--out", "half.odfl", "--iterations", "20", "--input-noise", "0.1"}, common...)...)
	ok(t, dir, "train", "--resume", "half.odfl", "--data", data, "--iterations", "40")
	load := func(name string) []float64 {
		m, err := model.Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return m.Flow.Params().Data
	}
	plain, noisy, half := load("plain.odfl"), load("noisy.odfl"), load("half.odfl")
	if check.SameBits(plain, noisy) {
		t.Error("--input-noise changed nothing")
	}
	if !check.SameBits(noisy, half) {
		t.Error("a resumed noisy run differs from an uninterrupted one")
	}
}

// TestBaseComponents trains with --base-components: the model file holds
// the mixture base (its spec says so and it loads with that base), info
// shows it, and sampling and densities work on it.
func TestBaseComponents(t *testing.T) {
	dir := t.TempDir()
	data := toyData(t, dir, "8gaussians", 300, 2)
	ok(t, dir, "train", "--model", "realnvp", "--hidden", "8", "--layers", "2", "--data", data,
		"--batch-size", "64", "--iterations", "30", "--base-components", "3", "--out", "mix.odfl")
	m, err := model.Load(filepath.Join(dir, "mix.odfl"))
	if err != nil {
		t.Fatal(err)
	}
	if g, isMix := m.Flow.Base().(*odeflow.GaussianMixture); !isMix || g.Components() != 3 || m.Spec.BaseComponents != 3 {
		t.Fatalf("base %T, spec base_components %d; want a 3-component mixture", m.Flow.Base(), m.Spec.BaseComponents)
	}
	if r := ok(t, dir, "info", "--model", "mix.odfl"); !strings.Contains(r.stdout, "base_components") {
		t.Errorf("info does not show the base:\n%s", r.stdout)
	}
	ok(t, dir, "sample", "--model", "mix.odfl", "--n", "50", "--seed", "2", "--out", "s.npy")
	ok(t, dir, "logprob", "--model", "mix.odfl", "--in", "s.npy", "--out", "lp.npy")
}

// TestInterrupt sends SIGINT to a training run: it exits with status 130
// after writing a valid, resumable model.
func TestInterrupt(t *testing.T) {
	dir := t.TempDir()
	data := toyData(t, dir, "8gaussians", 400, 1)
	cmd := exec.Command(bin, "train", "--model", "cnf", "--hidden", "8-8", "--data", data, "--out", "m.odfl",
		"--iterations", "1000000", "--batch-size", "64", "--verbose")
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for the first progress line: training has started.
	sc := bufio.NewScanner(stderr)
	started := make(chan bool, 1)
	var rest bytes.Buffer
	go func() {
		first := true
		for sc.Scan() {
			if first && strings.HasPrefix(sc.Text(), "iter ") {
				started <- true
				first = false
			}
			rest.WriteString(sc.Text() + "\n")
		}
		close(started)
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("no progress within 30 s")
	}
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("training did not stop within 30 s of SIGINT")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit: %v, want status %d", err, exitInterrupted)
	}
	m, err := model.Load(filepath.Join(dir, "m.odfl"))
	if err != nil {
		t.Fatalf("the interrupted run wrote no valid model: %v", err)
	}
	if m.Meta.Extra["status"] != "canceled" || m.Meta.Iterations < 1 || m.Section(checkpointSection) == nil {
		t.Errorf("meta %+v, checkpoint present %v", m.Meta, m.Section(checkpointSection) != nil)
	}
	if !strings.Contains(rest.String(), "interrupted after iteration") {
		t.Errorf("stderr lacks the interruption message:\n%s", rest.String())
	}
	// No temporary files are left.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	// It resumes.
	n := m.Meta.Iterations
	ok(t, dir, "train", "--resume", "m.odfl", "--data", data, "--iterations", fmt.Sprint(n+3))
	if m2, err := model.Load(filepath.Join(dir, "m.odfl")); err != nil || m2.Meta.Iterations != n+3 {
		t.Errorf("resumed model: %v, iterations %d, want %d", err, m2.Meta.Iterations, n+3)
	}
}

// checkPNG decodes a PNG and checks its size and that it is not blank.
func checkPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() != w || b.Dy() != h {
		t.Errorf("%s: %d×%d pixels, want %d×%d", path, b.Dx(), b.Dy(), w, h)
	}
	colors := map[[3]uint32]bool{}
	dark := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			colors[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if r+g+bl < 3*0xffff*3/4 {
				dark++
			}
		}
	}
	if len(colors) < 20 || dark < b.Dx()*b.Dy()/100 {
		t.Errorf("%s looks blank: %d colours, %d non-light pixels", path, len(colors), dark)
	}
}

func TestPlot(t *testing.T) {
	dir := t.TempDir()
	data := toyData(t, dir, "8gaussians", 300, 1)
	ok(t, dir, "train", "--model", "cnf", "--hidden", "8-8", "--data", data, "--out", "c.odfl", "--iterations", "3")
	ok(t, dir, "train", "--model", "realnvp", "--hidden", "8", "--layers", "2", "--data", data, "--out", "r.odfl", "--iterations", "3")
	// cnf with data: data, samples, density, trajectories.
	ok(t, dir, "plot", "--model", "c.odfl", "--data", data, "--out", "c.png", "--size", "150", "--grid", "30", "--n", "300", "--paths", "10")
	checkPNG(t, filepath.Join(dir, "c.png"), 4*150, 150)
	// A discrete flow without data: samples and density.
	ok(t, dir, "plot", "--model", "r.odfl", "--out", "r.png", "--size", "150", "--grid", "30", "--n", "300")
	checkPNG(t, filepath.Join(dir, "r.png"), 2*150, 150)
	// A conditional CNF with ActNorm layers, for one context row.
	cp, _ := gaussData(t, dir, "c.npy", 300, 1, 3)
	ok(t, dir, "train", "--model", "cnf", "--hidden", "8", "--blocks", "2", "--actnorm", "--data", data, "--context", cp,
		"--out", "cc.odfl", "--iterations", "2")
	writeNpy(t, filepath.Join(dir, "c1.npy"), mat.NewDense(1, 1, []float64{0.5}))
	ok(t, dir, "plot", "--model", "cc.odfl", "--context", "c1.npy", "--out", "cc.png", "--size", "100", "--grid", "20", "--n", "200", "--paths", "5")
	checkPNG(t, filepath.Join(dir, "cc.png"), 3*100, 100)
	if r := runBin(t, dir, "plot", "--model", "cc.odfl", "--context", cp, "--out", "x.png"); r.code != exitError ||
		!strings.Contains(r.stderr, "one context row") || exists(filepath.Join(dir, "x.png")) {
		t.Errorf("plot with 300 context rows: exit %d, %q", r.code, r.stderr)
	}
	if r := runBin(t, dir, "plot", "--model", "r.odfl", "--out", "r.png", "--grid", "1"); r.code != exitUsage {
		t.Errorf("--grid 1: exit %d", r.code)
	}
}

func TestInfoJSON(t *testing.T) {
	dir := t.TempDir()
	data := toyData(t, dir, "moons", 100, 1)
	ok(t, dir, "train", "--model", "maf", "--hidden", "4", "--layers", "2", "--data", data, "--out", "m.odfl", "--iterations", "3", "--valid-frac", "0")
	r := ok(t, dir, "info", "--model", "m.odfl", "--json")
	var v struct {
		Spec      model.Spec `json:"spec"`
		Params    int        `json:"params"`
		ValidNLL  any        `json:"valid_nll"`
		TrainNLL  *float64   `json:"train_nll"`
		DataShape []int      `json:"data_shape"`
		Resumable bool       `json:"resumable"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("info --json: %v\n%s", err, r.stdout)
	}
	m, err := model.Load(filepath.Join(dir, "m.odfl"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Spec != m.Spec || v.Params != m.Flow.Params().Len() || v.ValidNLL != nil || v.TrainNLL == nil ||
		len(v.DataShape) != 2 || v.DataShape[0] != 100 || !v.Resumable {
		t.Errorf("info --json: %+v", v)
	}
	text := ok(t, dir, "info", "--model", "m.odfl").stdout
	if !strings.Contains(text, "held-out NLL unknown") {
		t.Errorf("info without validation:\n%s", text)
	}
}

// TestConfigPrecedence: --config overrides the defaults and flags override
// --config.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	data := toyData(t, dir, "moons", 100, 1)
	cfg := `{"kind": "realnvp", "hidden": "6", "layers": 3, "iterations": 7, "batch_size": 20, "seed": 9}`
	if err := os.WriteFile(filepath.Join(dir, "cfg.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ok(t, dir, "train", "--config", "cfg.json", "--data", data, "--out", "a.odfl")
	ok(t, dir, "train", "--config", "cfg.json", "--data", data, "--out", "b.odfl", "--layers", "2", "--iterations", "5", "--seed", "0")
	a, err := model.Load(filepath.Join(dir, "a.odfl"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.Load(filepath.Join(dir, "b.odfl"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Spec.Hidden != "6" || a.Spec.Layers != 3 || a.Meta.Iterations != 7 || a.Spec.Seed != 9 {
		t.Errorf("config not applied: %+v, %d iterations", a.Spec, a.Meta.Iterations)
	}
	if b.Spec.Hidden != "6" || b.Spec.Layers != 2 || b.Meta.Iterations != 5 || b.Spec.Seed != 0 {
		t.Errorf("flags do not override the config: %+v, %d iterations", b.Spec, b.Meta.Iterations)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"kind": "realnvp", "hiden": "6"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runBin(t, dir, "train", "--config", "bad.json", "--data", data, "--out", "c.odfl")
	if r.code != exitError || !strings.Contains(r.stderr, `unknown field "hiden"`) || exists(filepath.Join(dir, "c.odfl")) {
		t.Errorf("misspelt config field: exit %d, %q", r.code, r.stderr)
	}
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "demo")
	r := ok(t, dir, "demo", "--dir", out, "--iterations", "8", "--seed", fmt.Sprint(testrand.Seed(t)))
	for _, f := range []string{"data.npy", "test.npy", "model.odfl", "samples.npy", "demo.png"} {
		if !exists(filepath.Join(out, f)) || !strings.Contains(r.stdout, filepath.Join(out, f)) {
			t.Errorf("demo did not write or report %s:\n%s", f, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "held-out NLL") {
		t.Errorf("demo output lacks the held-out NLL:\n%s", r.stdout)
	}
	if s := readNpy(t, filepath.Join(out, "samples.npy")); s.RawMatrix().Rows != demoTrain {
		t.Errorf("demo samples: %d rows", s.RawMatrix().Rows)
	}
	checkPNG(t, filepath.Join(out, "demo.png"), 4*360, 360)
	if _, err := modelfile.ReadFile(filepath.Join(out, "model.odfl")); err != nil {
		t.Errorf("demo model: %v", err)
	}
}

// checkStates runs encode (decode if inverse) with --states on in and
// checks the stacked states: a whole number of n-row blocks, at least two,
// the first equal to the input and the last to the output of the plain
// call (to 1e-9: the plain call runs the batch in chunks).
func checkStates(t *testing.T, dir, mp, in string, x, want *mat.Dense, inverse bool) {
	t.Helper()
	cmd := "encode"
	if inverse {
		cmd = "decode"
	}
	sp := filepath.Join(dir, filepath.Base(mp)+"-"+cmd+"-states.npy")
	ok(t, dir, cmd, "--model", mp, "--in", in, "--out", sp+".out.npy", "--states", sp)
	st := readNpy(t, sp)
	n, d := x.Dims()
	r, c := st.Dims()
	if c != d || r%n != 0 || r/n < 2 {
		t.Fatalf("%s --states: %d×%d, want a multiple ≥ 2 of %d rows and %d columns", cmd, r, c, n, d)
	}
	L := r/n - 1
	if !mat.Equal(st.Slice(0, n, 0, d), x) {
		t.Errorf("%s --states: the first block is not the input", cmd)
	}
	if !mat.EqualApprox(st.Slice(L*n, r, 0, d), want, 1e-9) {
		t.Errorf("%s --states: the last block is not the output", cmd)
	}
}
