package npy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"gonum.org/v1/gonum/mat"
)

// WriteFile writes m to path as Write does, atomically (see
// WriteFileAtomic).
//
// WriteFile panics if m is nil.
func WriteFile(path string, m mat.Matrix) error {
	if m == nil {
		panic("npy: nil matrix")
	}
	return WriteFileAtomic(path, func(w io.Writer) error { return Write(w, m) })
}

// WriteVectorFile writes v to path as WriteVector does, atomically (see
// WriteFileAtomic).
func WriteVectorFile(path string, v []float64) error {
	return WriteFileAtomic(path, func(w io.Writer) error { return WriteVector(w, v) })
}

// Hooks replaced by tests to simulate failures.
var (
	rename   = os.Rename
	syncFile = (*os.File).Sync
)

// tempSeq makes temporary names unique within the process.
var tempSeq atomic.Uint64

// WriteFileAtomic creates or replaces the file at path with the bytes that
// write produces, so that path holds either its old content or all of the
// new one, never a part. write receives a buffered writer on a temporary
// file in the same directory (named ".NAME.tmp-…"); the file is flushed,
// synced to disk and renamed over path, and the directory is synced (a
// failure of that last sync, which some file systems do not support, is
// ignored). If write returns an error or panics, or any step fails, the
// temporary file is removed and path is left as it was.
//
// If path is a symbolic link, the file it points to is replaced and the
// link is kept. A new file gets mode 0666 less the umask; a replaced file
// keeps its permission bits.
func WriteFileAtomic(path string, write func(w io.Writer) error) (err error) {
	target, err := resolve(path)
	if err != nil {
		return fmt.Errorf("npy: write %s: %w", path, err)
	}
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	var f *os.File
	for range 100 {
		name := filepath.Join(dir, "."+base+".tmp-"+
			strconv.FormatInt(time.Now().UnixNano(), 36)+
			strconv.Itoa(os.Getpid())+"-"+strconv.FormatUint(tempSeq.Add(1), 10))
		f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("npy: write %s: %w", path, err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			if f != nil {
				f.Close()
			}
			os.Remove(tmp)
		}
	}()
	if fi, err := os.Stat(target); err == nil && fi.Mode().IsRegular() {
		if err := f.Chmod(fi.Mode().Perm()); err != nil {
			return fmt.Errorf("npy: write %s: %w", path, err)
		}
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	if err := write(bw); err != nil {
		return fmt.Errorf("npy: write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("npy: write %s: %w", path, err)
	}
	if err := syncFile(f); err != nil {
		return fmt.Errorf("npy: write %s: %w", path, err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return fmt.Errorf("npy: write %s: %w", path, err)
	}
	if err := rename(tmp, target); err != nil {
		return fmt.Errorf("npy: write %s: %w", path, err)
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// maxLinks bounds the symbolic links that resolve follows.
const maxLinks = 40

// resolve follows symbolic links at path (the last element only, as many
// times as needed) and returns the path of the file they end at, which may
// not exist yet.
func resolve(path string) (string, error) {
	for range maxLinks {
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		link, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(path), link)
		}
		path = link
	}
	return "", fmt.Errorf("too many levels of symbolic links")
}

// SameFile reports whether paths a and b name the same file: the same
// inode (os.SameFile) when both exist, which catches different spellings
// (./a.npy and a.npy), symbolic links and hard links; otherwise the same
// absolute path once symbolic links in it are resolved. A path that does
// not exist is not the same file as one that does.
func SameFile(a, b string) (bool, error) {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	switch {
	case errA == nil && errB == nil:
		return os.SameFile(fa, fb), nil
	case errA != nil && !errors.Is(errA, fs.ErrNotExist):
		return false, errA
	case errB != nil && !errors.Is(errB, fs.ErrNotExist):
		return false, errB
	case errA == nil || errB == nil:
		return false, nil
	}
	ra, err := canonical(a)
	if err != nil {
		return false, err
	}
	rb, err := canonical(b)
	if err != nil {
		return false, err
	}
	return ra == rb, nil
}

// canonical returns the absolute form of a path that does not exist, with
// symbolic links resolved in its last element and in its directory.
func canonical(path string) (string, error) {
	p, err := resolve(path)
	if err != nil {
		return "", err
	}
	p, err = filepath.Abs(p)
	if err != nil {
		return "", err
	}
	dir, base := filepath.Split(p)
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	return filepath.Join(dir, base), nil
}

// CheckOutput returns an error wrapping ErrSameFile if out names the same
// file as any of inputs (see SameFile); empty input paths are skipped. A
// command calls it before writing, so that it never overwrites its own
// input.
func CheckOutput(out string, inputs ...string) error {
	for _, in := range inputs {
		if in == "" {
			continue
		}
		same, err := SameFile(out, in)
		if err != nil {
			return fmt.Errorf("npy: compare output %s with input %s: %w", out, in, err)
		}
		if same {
			return fmt.Errorf("%w: refusing to write %s: it is the input file %s", ErrSameFile, out, in)
		}
	}
	return nil
}
