package npy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// entries lists the names in dir, sorted.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	must(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func readBack(t *testing.T, path string) *mat.Dense {
	t.Helper()
	m, _, err := ReadFile(path, nil)
	must(t, err)
	return m
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.npy")
	must(t, WriteFile(path, fixtureX()))
	if !sameBits(readBack(t, path), fixtureX()) {
		t.Errorf("content differs")
	}
	if got := entries(t, dir); !slices.Equal(got, []string{"x.npy"}) {
		t.Errorf("directory holds %v, want only x.npy", got)
	}
	// Replacing keeps the permission bits.
	must(t, os.Chmod(path, 0o600))
	must(t, WriteVectorFile(path, []float64{1, 2, 3}))
	if !mat.Equal(readBack(t, path), mat.NewDense(3, 1, []float64{1, 2, 3})) {
		t.Errorf("replaced content differs")
	}
	fi, err := os.Stat(path)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after replace, want 0600", fi.Mode().Perm())
	}
	if got := entries(t, dir); !slices.Equal(got, []string{"x.npy"}) {
		t.Errorf("directory holds %v, want only x.npy", got)
	}
}

// TestWriteFileAtomicFailures makes every step fail in turn and checks
// that the destination keeps its old content (or stays absent) and that no
// temporary file remains.
func TestWriteFileAtomicFailures(t *testing.T) {
	errBoom := errors.New("boom")
	old := []byte("old content")
	for _, tc := range []struct {
		name  string
		write func(io.Writer) error
		setup func(t *testing.T) // installs hooks
	}{
		{"write error after some bytes", func(w io.Writer) error {
			w.Write(make([]byte, 100<<10)) // more than the buffer: reaches the file
			return errBoom
		}, nil},
		{"sync error", func(w io.Writer) error { return Write(w, fixtureX()) }, func(t *testing.T) {
			syncFile = func(*os.File) error { return errBoom }
			t.Cleanup(func() { syncFile = (*os.File).Sync })
		}},
		{"rename error", func(w io.Writer) error { return Write(w, fixtureX()) }, func(t *testing.T) {
			rename = func(string, string) error { return errBoom }
			t.Cleanup(func() { rename = os.Rename })
		}},
	} {
		for _, exists := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/exists=%v", tc.name, exists), func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "out.npy")
				want := []string(nil)
				if exists {
					must(t, os.WriteFile(path, old, 0o644))
					want = []string{"out.npy"}
				}
				if tc.setup != nil {
					tc.setup(t)
				}
				err := WriteFileAtomic(path, tc.write)
				if !errors.Is(err, errBoom) || !strings.HasPrefix(err.Error(), "npy: write "+path+": ") {
					t.Errorf("error %v, want boom with the path", err)
				}
				if got := entries(t, dir); !slices.Equal(got, want) {
					t.Errorf("directory holds %v, want %v", got, want)
				}
				if exists {
					b, err := os.ReadFile(path)
					must(t, err)
					if !bytes.Equal(b, old) {
						t.Errorf("old content changed to %q", b)
					}
				}
			})
		}
	}
}

func TestWriteFileAtomicPanic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.npy")
	func() {
		defer func() {
			if r := recover(); r != "inner" {
				t.Errorf("recover() = %v, want the writer's panic", r)
			}
		}()
		WriteFileAtomic(path, func(w io.Writer) error {
			w.Write([]byte("partial"))
			panic("inner")
		})
	}()
	if got := entries(t, dir); len(got) != 0 {
		t.Errorf("directory holds %v after a panic", got)
	}
}

func TestWriteFileBadDirectory(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	must(t, os.WriteFile(file, nil, 0o644))
	must(t, os.Mkdir(filepath.Join(dir, "sub.npy"), 0o755))
	for _, path := range []string{
		filepath.Join(dir, "missing", "x.npy"), // no such directory
		filepath.Join(file, "x.npy"),           // parent is a file
		filepath.Join(dir, "sub.npy"),          // destination is a directory
	} {
		err := WriteFile(path, fixtureX())
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("WriteFile(%s) = %v, want an error naming the path", path, err)
		}
	}
	if got := entries(t, dir); !slices.Equal(got, []string{"file", "sub.npy"}) {
		t.Errorf("directory holds %v", got)
	}
	if got := entries(t, filepath.Join(dir, "sub.npy")); len(got) != 0 {
		t.Errorf("sub.npy holds %v", got)
	}
}

func TestWriteFileUnwritableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	must(t, os.Chmod(dir, 0o555))
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if err := WriteFile(filepath.Join(dir, "x.npy"), fixtureX()); err == nil {
		t.Errorf("no error writing into a read-only directory")
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Errorf("directory holds %v", got)
	}
}

func TestWriteFileThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.npy")
	link := filepath.Join(dir, "link.npy")
	must(t, os.WriteFile(real, []byte("old"), 0o644))
	must(t, os.Symlink("real.npy", link))
	must(t, WriteFile(link, fixtureX()))
	fi, err := os.Lstat(link)
	must(t, err)
	if fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced by a file")
	}
	if !sameBits(readBack(t, real), fixtureX()) {
		t.Errorf("the link's target was not written")
	}
	// A dangling link creates its target.
	dangling := filepath.Join(dir, "dangling.npy")
	must(t, os.Symlink("new.npy", dangling))
	must(t, WriteFile(dangling, fixtureX()))
	if !sameBits(readBack(t, filepath.Join(dir, "new.npy")), fixtureX()) {
		t.Errorf("the dangling link's target was not created")
	}
	// A loop is an error.
	must(t, os.Symlink("loop2", filepath.Join(dir, "loop1")))
	must(t, os.Symlink("loop1", filepath.Join(dir, "loop2")))
	if err := WriteFile(filepath.Join(dir, "loop1"), fixtureX()); err == nil {
		t.Errorf("no error for a symbolic link loop")
	}
}

func TestSameFileAndCheckOutput(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	must(t, os.Mkdir("sub", 0o755))
	for _, name := range []string{"a.npy", "b.npy"} {
		must(t, os.WriteFile(name, []byte(name), 0o644))
	}
	must(t, os.Symlink("a.npy", "link.npy"))
	must(t, os.Symlink(filepath.Join(dir, "a.npy"), filepath.Join("sub", "abslink.npy")))
	must(t, os.Link("a.npy", "hard.npy"))
	must(t, os.Symlink(".", "here"))
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"a.npy", "a.npy", true},
		{"a.npy", "./a.npy", true},
		{"a.npy", filepath.Join(dir, "a.npy"), true},
		{"a.npy", "sub/../a.npy", true},
		{"link.npy", "a.npy", true},
		{"a.npy", "sub/abslink.npy", true},
		{"hard.npy", "a.npy", true},
		{"here/a.npy", "a.npy", true},
		{"a.npy", "b.npy", false},
		{"new.npy", "a.npy", false},
		{"a.npy", "new.npy", false},
		{"new.npy", "./new.npy", true},
		{"new.npy", "here/new.npy", true},
		{"new.npy", "other.npy", false},
	} {
		got, err := SameFile(tc.a, tc.b)
		if err != nil || got != tc.same {
			t.Errorf("SameFile(%q, %q) = %v, %v; want %v", tc.a, tc.b, got, err, tc.same)
		}
	}
	err := CheckOutput("./link.npy", "", "b.npy", "a.npy")
	if !errors.Is(err, ErrSameFile) || !strings.Contains(err.Error(), "refusing to write ./link.npy: it is the input file a.npy") {
		t.Errorf("CheckOutput = %v", err)
	}
	if err := CheckOutput("out.npy", "a.npy", "b.npy"); err != nil {
		t.Errorf("CheckOutput of a new file = %v", err)
	}
}
