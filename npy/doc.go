// Package npy reads and writes NumPy .npy files as gonum matrices, and
// holds the file-safety helpers that Odeflow's command uses for every
// output: atomic writes and the refusal to overwrite an input.
//
// # Reading
//
// Read and ReadFile accept what Odeflow needs from a NumPy pipeline:
//
//   - element type float32 or float64 ("<f4", ">f4", "<f8", ">f8"), either
//     byte order; float32 values are widened exactly;
//   - a 1-D array of length n, read as an n×1 matrix (one column), or a
//     2-D array of shape (n, d), read as n rows (samples) of d columns;
//   - C (row-major) or Fortran (column-major) order;
//   - .npy format versions 1.0, 2.0 and 3.0.
//
// Everything else is an error, never a panic, and names what was found and
// what is accepted: another dtype (integers, bool, complex, object, strings,
// structured records — the message names it and suggests
// x.astype(np.float64)), 0-D or 3-D and higher arrays, empty arrays (zero
// rows or columns; ReadSettings.AllowEmpty accepts them), rows holding NaN
// or Inf (a *NonFiniteError lists their 0-based indices;
// ReadSettings.AllowNonFinite accepts them), a malformed or truncated
// header, and data shorter or longer than the header declares. Errors wrap
// one of ErrFormat, ErrTruncated, ErrDtype, ErrShape, ErrEmpty or
// ErrNonFinite for errors.Is.
//
// A header is untrusted input: its length is capped at MaxHeaderLen, its
// shape is checked for overflow, ReadFile compares the declared data size
// with the file size before allocating, and Read grows its buffer only as
// bytes arrive, so a header claiming terabytes costs nothing.
//
// # Writing
//
// Write and WriteVector write float64 little-endian C-order arrays, 2-D
// and 1-D, in format 1.0 with the header padded exactly as numpy.save pads
// it (data aligned to 64 bytes), so the files are identical to NumPy's
// own. WriteFile and WriteVectorFile write atomically through
// WriteFileAtomic: a temporary file in the same directory, synced and
// renamed over the destination, removed on any failure, so a reader sees
// the old file or the whole new one. CheckOutput and SameFile let a command
// refuse to overwrite its own input, however the path is spelled.
//
// # Relation to github.com/sbinet/npyio
//
// The design names npyio for .npy files. This package uses it as the
// independent implementation its tests compare against, in both
// directions, but does not route production reads and writes through it:
// npyio v0.6.0 panics on a header without a closing brace or newline
// (slice bounds out of range), allocates whatever a corrupt shape or header
// length asks for (a (100000, 100000) header is a fatal out-of-memory
// error that recover cannot catch), silently fills the missing elements of
// a truncated file with repeated values, cannot read float32 into a matrix,
// and pads its headers so that the data are not 16- or 64-byte aligned.
// The header grammar here is the Python literal subset NumPy writes: a dict
// with exactly the keys 'descr', 'fortran_order' and 'shape', as
// numpy.load requires.
package npy
