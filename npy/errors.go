package npy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Error classes. Every error that Read, ReadFile and the checks return for a
// data condition wraps exactly one of these, so that callers can test the
// class with errors.Is; a missing or unreadable file wraps the *fs.PathError
// of the os package instead (errors.Is(err, fs.ErrNotExist) works).
var (
	// ErrFormat: not a .npy file, an unknown format version, or a
	// malformed header.
	ErrFormat = errors.New("npy: not a valid .npy file")
	// ErrTruncated: the file ends before the data its header declares, or
	// holds bytes after them.
	ErrTruncated = errors.New("npy: data length does not match the header")
	// ErrDtype: an element type other than float32 or float64.
	ErrDtype = errors.New("npy: unsupported dtype")
	// ErrShape: not 1-D or 2-D, or not the number of rows or columns the
	// caller asked for.
	ErrShape = errors.New("npy: unsupported shape")
	// ErrEmpty: zero rows or zero columns.
	ErrEmpty = errors.New("npy: empty array")
	// ErrNonFinite: rows holding NaN or ±Inf.
	ErrNonFinite = errors.New("npy: non-finite values")
	// ErrSameFile: an output path names one of the inputs.
	ErrSameFile = errors.New("npy: output is an input file")
)

// Error is a data error found while reading or checking a .npy file.
type Error struct {
	// Path is the file name, empty when reading from an io.Reader.
	Path string
	// Class is one of ErrFormat, ErrTruncated, ErrDtype, ErrShape or
	// ErrEmpty.
	Class error
	// Msg describes the problem.
	Msg string
}

func newError(class error, format string, args ...any) *Error {
	return &Error{Class: class, Msg: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Path != "" {
		return "npy: " + e.Path + ": " + e.Msg
	}
	return "npy: " + e.Msg
}

// Unwrap returns the error class.
func (e *Error) Unwrap() error { return e.Class }

// NonFiniteError reports the rows of a matrix that hold NaN or ±Inf.
type NonFiniteError struct {
	// Path is the file name, empty if the matrix did not come from a file.
	Path string
	// Rows holds the 0-based indices of all non-finite rows, ascending.
	Rows []int
}

// maxListed is how many row indices a NonFiniteError message lists.
const maxListed = 8

func (e *NonFiniteError) Error() string {
	var b strings.Builder
	b.WriteString("npy: ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	if len(e.Rows) == 1 {
		b.WriteString("1 row contains NaN or Inf (0-based row index ")
	} else {
		fmt.Fprintf(&b, "%d rows contain NaN or Inf (0-based row indices ", len(e.Rows))
	}
	for i, r := range e.Rows[:min(len(e.Rows), maxListed)] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(r))
	}
	if len(e.Rows) > maxListed {
		fmt.Fprintf(&b, " and %d more", len(e.Rows)-maxListed)
	}
	b.WriteString(")")
	return b.String()
}

// Unwrap returns ErrNonFinite.
func (e *NonFiniteError) Unwrap() error { return ErrNonFinite }

// withPath sets the path of a data error; other errors are returned as they
// are.
func withPath(err error, path string) error {
	var e *Error
	if errors.As(err, &e) {
		e.Path = path
		return e
	}
	var nf *NonFiniteError
	if errors.As(err, &nf) {
		nf.Path = path
		return nf
	}
	return err
}
