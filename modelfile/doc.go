// Package modelfile reads and writes Odeflow's trained-model files: a
// versioned container holding the model kind, its architecture as JSON,
// training metadata, the parameter vector bit for bit, optional named
// binary sections, and a checksum over everything.
//
// The package knows nothing of flows: the model's own package turns its
// configuration into Config and its parameters into Params, and back.
// Reading a file and rebuilding the model therefore gives bit-identical
// parameters, hence bit-identical log-densities.
//
// # Format version 1, byte by byte
//
// All integers are unsigned little-endian. Offsets are from the start of
// the file; H, P and L_k are defined by the fields themselves.
//
//	offset           size   content
//	0                8      magic: the ASCII bytes "ODFLMODL" (4F 44 46 4C 4D 4F 44 4C)
//	8                4      format version, uint32: 1
//	12               4      H, the header length in bytes, uint32, at most 16 MiB (16777216)
//	16               H      header: a UTF-8 JSON object (below), possibly followed by
//	                        white space; writers pad it with spaces so that 16+H is a
//	                        multiple of 8
//	16+H             8·P    parameters: P IEEE 754 binary64 values, little-endian, where
//	                        P is the header's "num_params"
//	16+H+8·P         L_0    the first section's data, L_0 its header "length"; then the
//	…                …      other sections' data in header order, with no padding
//	end−32           32     SHA-256 of every preceding byte, offset 0 to end−32
//
// The file size is therefore exactly 16 + H + 8·P + Σ L_k + 32 bytes.
//
// The header object has these keys; readers ignore keys they do not know
// (a change that old readers must not ignore gets a new format version):
//
//	"kind"        string, required, non-empty: the model type, e.g. "cnf"
//	"config"      any JSON value, required (null if none): the architecture
//	              and configuration, owned by the model's package
//	"num_params"  integer ≥ 0, required: P
//	"meta"        object, optional, every key optional:
//	    "created"          string, RFC 3339 time in UTC, e.g. "2025-01-02T03:04:05.123456789Z"
//	    "odeflow_version"  string
//	    "data_shape"       array of integers, e.g. [rows, columns] of the training data
//	    "iterations"       integer
//	    "seed"             integer, 0 to 2^64−1
//	    "train_nll", "valid_nll"
//	                       number, or one of the strings "NaN", "+Inf", "-Inf"
//	    "extra"            object of string values
//	"sections"    array, optional (absent means none), one object per section:
//	    "name"      string, non-empty, unique in the file
//	    "kind"      string, non-empty: "bytes", "float64", "json", or a later kind
//	    "length"    integer ≥ 0: L_k, the data length in bytes
//	    "critical"  boolean, optional, default false
//
// Section kinds of version 1: "bytes" is opaque data owned by its writer;
// "float64" is little-endian binary64 values (the length is a multiple of
// 8); "json" is a UTF-8 JSON value.
//
// Unknown section kinds: a reader that does not know a section's kind
// rejects the file if the section is critical (ErrUnsupported) and
// otherwise keeps the section's bytes unchanged, so that a program can
// read and rewrite a file without losing sections a newer odeflow added.
//
// # Reading untrusted files
//
// Read and ReadFile check, in order, the magic bytes (ErrNotModel, with a
// hint when the file is a .npy array, a training checkpoint, a zip
// archive or JSON), the format version (a *VersionError for a newer file:
// "written by a newer odeflow: format v3, this build reads ≤ v1"), the
// header (ErrCorrupt), the length (ErrTruncated if the file is shorter
// than declared; ErrCorrupt from ReadFile if it is longer), the checksum
// (ErrChecksum), and the sections (ErrCorrupt for a float64 or json
// section whose data do not fit its kind, ErrUnsupported as above). No
// length field can make them allocate more than the file holds: ReadFile
// compares the declared size with the file size first, and Read grows its
// buffers only as bytes arrive.
//
// A Python reader needs only the standard library:
//
//	b = open(path, "rb").read()
//	assert b[:8] == b"ODFLMODL" and int.from_bytes(b[8:12], "little") == 1
//	assert hashlib.sha256(b[:-32]).digest() == b[-32:]
//	H = int.from_bytes(b[12:16], "little")
//	hdr = json.loads(b[16:16+H])
//	params = struct.unpack_from("<%dd" % hdr["num_params"], b, 16+H)
//
// testdata/read_model.py is a complete reader, run by the tests.
//
// WriteFile writes atomically (a temporary file in the same directory,
// synced and renamed; see npy.WriteFileAtomic).
package modelfile
