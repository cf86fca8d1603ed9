package modelfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/odeflow/odeflow/npy"
)

const (
	// Magic is the first eight bytes of every model file.
	Magic = "ODFLMODL"
	// FormatVersion is the format version this package writes, and the
	// newest it reads.
	FormatVersion = 1
	// MaxHeaderLen is the longest JSON header Read accepts, in bytes.
	MaxHeaderLen = 16 << 20
)

// preambleLen is the size of the magic, version and header length fields.
const preambleLen = 16

// checksumLen is the size of the SHA-256 checksum that ends a file.
const checksumLen = sha256.Size

// Section kinds known to format version 1.
const (
	// SectionBytes is an opaque byte string owned by its writer.
	SectionBytes = "bytes"
	// SectionFloat64 is a vector of little-endian IEEE 754 float64 values;
	// its length is a multiple of 8.
	SectionFloat64 = "float64"
	// SectionJSON is a UTF-8 JSON value.
	SectionJSON = "json"
)

// Model is the content of a model file.
type Model struct {
	// Kind names the model type, e.g. "cnf" or "realnvp". It is required.
	Kind string
	// Config is the architecture and configuration, as JSON owned by the
	// model's package. It is stored compacted; nil is stored as null, and
	// null is read back as nil.
	Config json.RawMessage
	// Params is the parameter vector, stored bit for bit.
	Params []float64
	// Meta is the training metadata.
	Meta Meta
	// Sections are optional named binary sections, in file order.
	Sections []Section
}

// Meta is training metadata. Every field is optional; zero values (nil for
// the pointers) mean unknown and are omitted from the file.
type Meta struct {
	// Created is when the model was written; it is stored in UTC to the
	// nanosecond and read back in UTC.
	Created time.Time
	// Version is the version of odeflow that wrote the file.
	Version string
	// DataShape is the shape of the training data, usually rows and
	// columns.
	DataShape []int
	// Iterations is the number of training iterations.
	Iterations int
	// Seed is the random seed of the training run.
	Seed uint64
	// TrainNLL and ValidNLL are the final mean negative log-likelihoods on
	// the training and validation data, nil if not known. NaN and ±Inf
	// are kept.
	TrainNLL, ValidNLL *float64
	// Extra holds anything else, as strings.
	Extra map[string]string
}

// Section is an optional named part of a model file, such as optimizer
// state or normalization statistics.
type Section struct {
	// Name identifies the section; names are unique within a file.
	Name string
	// Kind says how Data is encoded: SectionBytes, SectionFloat64,
	// SectionJSON, or a kind introduced by a later odeflow.
	Kind string
	// Critical marks a section that a reader must understand: a reader
	// that does not know Kind rejects the file. A non-critical section of
	// an unknown kind is kept as it is.
	Critical bool
	// Data is the section's content.
	Data []byte
}

// Float64Section returns a SectionFloat64 section holding v bit for bit.
func Float64Section(name string, v []float64) Section {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return Section{Name: name, Kind: SectionFloat64, Data: b}
}

// Float64s decodes a SectionFloat64 section. It returns an error for
// another kind or a length that is not a multiple of 8.
func (s *Section) Float64s() ([]float64, error) {
	if s.Kind != SectionFloat64 {
		return nil, fmt.Errorf("modelfile: section %q has kind %q, not %q", s.Name, s.Kind, SectionFloat64)
	}
	if len(s.Data)%8 != 0 {
		return nil, fmt.Errorf("modelfile: section %q: %d bytes is not a whole number of float64 values", s.Name, len(s.Data))
	}
	return decodeFloats(s.Data), nil
}

// Section returns the section with the given name, or nil.
func (m *Model) Section(name string) *Section {
	for i := range m.Sections {
		if m.Sections[i].Name == name {
			return &m.Sections[i]
		}
	}
	return nil
}

// Error classes. Every error that Read and ReadFile return for a bad file
// wraps exactly one of these (errors.Is); an error of the underlying reader
// or of the os package (a missing file: fs.ErrNotExist) is returned
// wrapped instead.
var (
	// ErrNotModel: the file does not start with Magic.
	ErrNotModel = errors.New("modelfile: not an odeflow model file")
	// ErrVersion: the file has a newer format version than this build
	// reads. The error is a *VersionError.
	ErrVersion = errors.New("modelfile: unsupported format version")
	// ErrTruncated: the file ends before its declared end.
	ErrTruncated = errors.New("modelfile: truncated file")
	// ErrChecksum: the checksum does not match the content.
	ErrChecksum = errors.New("modelfile: checksum mismatch")
	// ErrCorrupt: a malformed header, lengths that disagree with the
	// file, or a section whose content does not fit its kind.
	ErrCorrupt = errors.New("modelfile: corrupt file")
	// ErrUnsupported: a critical section of a kind this build does not
	// know.
	ErrUnsupported = errors.New("modelfile: unsupported critical section")
	// ErrInvalid: Write was given a model that cannot be stored.
	ErrInvalid = errors.New("modelfile: invalid model")
)

// Error is an error about the content of a model file.
type Error struct {
	// Path is the file name, empty when reading from an io.Reader.
	Path string
	// Class is one of the Err* classes.
	Class error
	// Msg describes the problem.
	Msg string
}

func newError(class error, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if class == ErrInvalid {
		msg = "invalid model: " + msg
	}
	return &Error{Class: class, Msg: msg}
}

func (e *Error) Error() string {
	if e.Path != "" {
		return "modelfile: " + e.Path + ": " + e.Msg
	}
	return "modelfile: " + e.Msg
}

// Unwrap returns the error class.
func (e *Error) Unwrap() error { return e.Class }

// VersionError reports a file written in a newer format version.
type VersionError struct {
	// Path is the file name, empty when reading from an io.Reader.
	Path string
	// Version is the format version of the file.
	Version uint32
}

func (e *VersionError) Error() string {
	p := ""
	if e.Path != "" {
		p = e.Path + ": "
	}
	return fmt.Sprintf("modelfile: %swritten by a newer odeflow: format v%d, this build reads ≤ v%d", p, e.Version, FormatVersion)
}

// Unwrap returns ErrVersion.
func (e *VersionError) Unwrap() error { return ErrVersion }

// header is the JSON header of format version 1.
type header struct {
	Kind      string          `json:"kind"`
	Config    json.RawMessage `json:"config"`
	NumParams *int64          `json:"num_params"`
	Meta      metaJSON        `json:"meta"`
	Sections  []sectionJSON   `json:"sections"`
}

type metaJSON struct {
	Created    string            `json:"created,omitempty"`
	Version    string            `json:"odeflow_version,omitempty"`
	DataShape  []int             `json:"data_shape,omitempty"`
	Iterations int               `json:"iterations,omitempty"`
	Seed       uint64            `json:"seed,omitempty"`
	TrainNLL   *jsonFloat        `json:"train_nll,omitempty"`
	ValidNLL   *jsonFloat        `json:"valid_nll,omitempty"`
	Extra      map[string]string `json:"extra,omitempty"`
}

type sectionJSON struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Length   *int64 `json:"length"`
	Critical bool   `json:"critical,omitempty"`
}

// jsonFloat is a float64 in JSON: a number, or one of the strings "NaN",
// "+Inf" and "-Inf".
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"NaN"`:
		*f = jsonFloat(math.NaN())
		return nil
	case `"+Inf"`:
		*f = jsonFloat(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = jsonFloat(math.Inf(-1))
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

func toJSONFloat(p *float64) *jsonFloat {
	if p == nil {
		return nil
	}
	f := jsonFloat(*p)
	return &f
}

func fromJSONFloat(p *jsonFloat) *float64 {
	if p == nil {
		return nil
	}
	f := float64(*p)
	return &f
}

// knownKind reports whether this build understands a section kind.
func knownKind(kind string) bool {
	return kind == SectionBytes || kind == SectionFloat64 || kind == SectionJSON
}

// Write writes m to w in format version FormatVersion. It returns an error
// wrapping ErrInvalid, before writing anything, if m cannot be stored: an
// empty Kind, Config that is not valid JSON, a section without a name or
// kind, two sections with one name, or a SectionFloat64 or SectionJSON
// section whose data do not fit its kind.
//
// Write panics if m is nil.
func Write(w io.Writer, m *Model) error {
	if m == nil {
		panic("modelfile: nil model")
	}
	hdr, err := encodeHeader(m)
	if err != nil {
		return err
	}
	h := sha256.New()
	bw := &hashWriter{w: w, h: h}
	var pre [preambleLen]byte
	copy(pre[:], Magic)
	binary.LittleEndian.PutUint32(pre[8:], FormatVersion)
	binary.LittleEndian.PutUint32(pre[12:], uint32(len(hdr)))
	bw.write(pre[:])
	bw.write(hdr)
	var buf [4096]byte
	for p := m.Params; len(p) > 0; {
		k := min(len(p), len(buf)/8)
		for i, x := range p[:k] {
			binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(x))
		}
		bw.write(buf[:8*k])
		p = p[k:]
	}
	for _, s := range m.Sections {
		bw.write(s.Data)
	}
	if bw.err != nil {
		return bw.err
	}
	_, err = w.Write(h.Sum(nil))
	return err
}

// hashWriter writes to w and h, remembering the first error.
type hashWriter struct {
	w   io.Writer
	h   io.Writer
	err error
}

func (hw *hashWriter) write(b []byte) {
	if hw.err != nil {
		return
	}
	if _, hw.err = hw.w.Write(b); hw.err == nil {
		hw.h.Write(b)
	}
}

// encodeHeader validates m and returns its JSON header, padded with spaces
// so that the parameters start at a multiple of 8 bytes.
func encodeHeader(m *Model) ([]byte, error) {
	if m.Kind == "" {
		return nil, newError(ErrInvalid, "empty Kind")
	}
	if !utf8.ValidString(m.Kind) {
		return nil, newError(ErrInvalid, "Kind is not valid UTF-8")
	}
	cfg := m.Config
	if len(cfg) == 0 {
		cfg = json.RawMessage("null")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, cfg); err != nil {
		return nil, newError(ErrInvalid, "Config is not valid JSON: %v", err)
	}
	np := int64(len(m.Params))
	h := header{
		Kind:      m.Kind,
		Config:    compact.Bytes(),
		NumParams: &np,
		Meta: metaJSON{
			Version:    m.Meta.Version,
			DataShape:  m.Meta.DataShape,
			Iterations: m.Meta.Iterations,
			Seed:       m.Meta.Seed,
			TrainNLL:   toJSONFloat(m.Meta.TrainNLL),
			ValidNLL:   toJSONFloat(m.Meta.ValidNLL),
			Extra:      m.Meta.Extra,
		},
		Sections: []sectionJSON{},
	}
	if !m.Meta.Created.IsZero() {
		if y := m.Meta.Created.UTC().Year(); y < 0 || y > 9999 {
			return nil, newError(ErrInvalid, "Meta.Created year %d is outside 0–9999", y)
		}
		h.Meta.Created = m.Meta.Created.UTC().Format(time.RFC3339Nano)
	}
	for k, v := range m.Meta.Extra {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, newError(ErrInvalid, "Meta.Extra entry %q is not valid UTF-8", k)
		}
	}
	if !utf8.ValidString(m.Meta.Version) {
		return nil, newError(ErrInvalid, "Meta.Version is not valid UTF-8")
	}
	seen := make(map[string]bool, len(m.Sections))
	for i := range m.Sections {
		s := &m.Sections[i]
		if err := checkSection(s); err != nil {
			return nil, newError(ErrInvalid, "%v", err)
		}
		if seen[s.Name] {
			return nil, newError(ErrInvalid, "two sections named %q", s.Name)
		}
		seen[s.Name] = true
		n := int64(len(s.Data))
		h.Sections = append(h.Sections, sectionJSON{Name: s.Name, Kind: s.Kind, Length: &n, Critical: s.Critical})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(h); err != nil {
		return nil, newError(ErrInvalid, "%v", err)
	}
	for (preambleLen+b.Len())%8 != 0 {
		b.WriteByte(' ')
	}
	if b.Len() > MaxHeaderLen {
		return nil, newError(ErrInvalid, "header of %d bytes exceeds MaxHeaderLen", b.Len())
	}
	return b.Bytes(), nil
}

// checkSection checks a section's name and kind, and the data of the kinds
// this build knows.
func checkSection(s *Section) error {
	switch {
	case s.Name == "" || !utf8.ValidString(s.Name):
		return fmt.Errorf("a section has an empty or non-UTF-8 name")
	case s.Kind == "" || !utf8.ValidString(s.Kind):
		return fmt.Errorf("section %q has an empty or non-UTF-8 kind", s.Name)
	case s.Kind == SectionFloat64 && len(s.Data)%8 != 0:
		return fmt.Errorf("section %q of kind %q holds %d bytes, not a multiple of 8", s.Name, s.Kind, len(s.Data))
	case s.Kind == SectionJSON && !json.Valid(s.Data):
		return fmt.Errorf("section %q of kind %q does not hold valid JSON", s.Name, s.Kind)
	}
	return nil
}

// WriteFile writes m to path atomically: path holds either its old content
// or the complete new file, never a part (see npy.WriteFileAtomic).
//
// WriteFile panics if m is nil.
func WriteFile(path string, m *Model) error {
	if m == nil {
		panic("modelfile: nil model")
	}
	if _, err := encodeHeader(m); err != nil {
		return err
	}
	err := npy.WriteFileAtomic(path, func(w io.Writer) error { return Write(w, m) })
	if err != nil {
		return fmt.Errorf("modelfile: write %s: %w", path, errors.Unwrap(err))
	}
	return nil
}

// layout is what the preamble and header of a file declare.
type layout struct {
	hdr     header
	hlen    int64 // JSON header length
	payload int64 // parameter and section bytes
}

// total is the declared size of the whole file.
func (l *layout) total() int64 { return preambleLen + l.hlen + l.payload + checksumLen }

// maxPayload bounds the declared payload so that sizes fit in an int64.
const maxPayload = math.MaxInt64 / 2

// readPreamble reads and checks the magic, version and header length.
func readPreamble(r io.Reader) (hlen int64, pre []byte, err error) {
	pre = make([]byte, preambleLen)
	n, err := io.ReadFull(r, pre)
	if err != nil {
		switch {
		case n == 0 && errors.Is(err, io.EOF):
			return 0, nil, newError(ErrNotModel, "not an odeflow model file: the file is empty")
		case n < len(Magic) && string(pre[:n]) != Magic[:n], n >= len(Magic) && string(pre[:len(Magic)]) != Magic:
			return 0, nil, notModel(pre[:n])
		case errors.Is(err, io.ErrUnexpectedEOF):
			return 0, nil, newError(ErrTruncated, "truncated: the file ends after %d bytes, inside the %d-byte preamble", n, preambleLen)
		}
		return 0, nil, err
	}
	if string(pre[:8]) != Magic {
		return 0, nil, notModel(pre)
	}
	v := binary.LittleEndian.Uint32(pre[8:])
	switch {
	case v == 0:
		return 0, nil, newError(ErrCorrupt, "corrupt: format version 0 does not exist")
	case v > FormatVersion:
		return 0, nil, &VersionError{Version: v}
	}
	hl := binary.LittleEndian.Uint32(pre[12:])
	if hl > MaxHeaderLen {
		return 0, nil, newError(ErrCorrupt, "corrupt: header length %d exceeds the %d-byte limit", hl, MaxHeaderLen)
	}
	return int64(hl), pre, nil
}

// notModel explains a file that does not start with Magic.
func notModel(start []byte) error {
	hint := ""
	switch {
	case bytes.HasPrefix(start, []byte("\x93NUMPY")):
		hint = " (it is a NumPy .npy array)"
	case bytes.HasPrefix(start, []byte("ODFLCKPT")):
		hint = " (it is a training checkpoint; resume training from it instead)"
	case bytes.HasPrefix(start, []byte("PK\x03\x04")):
		hint = " (it is a zip archive)"
	case bytes.HasPrefix(bytes.TrimLeft(start, " \t\r\n"), []byte("{")):
		hint = " (it looks like JSON, perhaps a configuration file)"
	}
	return newError(ErrNotModel, "not an odeflow model file%s", hint)
}

// parseHeader decodes and checks the JSON header.
func parseHeader(b []byte) (*layout, error) {
	l := &layout{hlen: int64(len(b))}
	if err := json.Unmarshal(b, &l.hdr); err != nil {
		return nil, newError(ErrCorrupt, "corrupt: malformed JSON header: %v", err)
	}
	h := &l.hdr
	switch {
	case h.Kind == "":
		return nil, newError(ErrCorrupt, "corrupt: the header has no model kind")
	case h.NumParams == nil:
		return nil, newError(ErrCorrupt, "corrupt: the header has no num_params")
	case *h.NumParams < 0 || *h.NumParams > maxPayload/8:
		return nil, newError(ErrCorrupt, "corrupt: impossible num_params %d", *h.NumParams)
	case len(h.Config) == 0:
		return nil, newError(ErrCorrupt, "corrupt: the header has no config")
	}
	l.payload = 8 * *h.NumParams
	seen := make(map[string]bool, len(h.Sections))
	for i, s := range h.Sections {
		switch {
		case s.Name == "" || s.Kind == "":
			return nil, newError(ErrCorrupt, "corrupt: section %d has no name or no kind", i)
		case seen[s.Name]:
			return nil, newError(ErrCorrupt, "corrupt: two sections named %q", s.Name)
		case s.Length == nil || *s.Length < 0 || *s.Length > maxPayload-l.payload:
			return nil, newError(ErrCorrupt, "corrupt: section %q has a missing or impossible length", s.Name)
		}
		seen[s.Name] = true
		l.payload += *s.Length
	}
	return l, nil
}

// Read reads one model file from r, consuming exactly its bytes. It checks,
// in order: the magic bytes, the format version, the header, that the file
// is as long as its header declares, the SHA-256 checksum, and the
// sections. A bad file gives an error wrapping one of the Err* classes; Read
// never panics on bad input, and the memory it allocates is bounded by the
// bytes r delivers (plus 64 KiB), whatever the length fields claim.
func Read(r io.Reader) (*Model, error) {
	hlen, pre, err := readPreamble(r)
	if err != nil {
		return nil, err
	}
	hb, err := readFull(r, hlen)
	if err != nil {
		return nil, truncated(err, preambleLen+int64(len(hb)), "inside the header")
	}
	l, err := parseHeader(hb)
	if err != nil {
		return nil, err
	}
	rest, err := readFull(r, l.payload+checksumLen)
	if err != nil {
		return nil, truncated(err, preambleLen+hlen+int64(len(rest)), fmt.Sprintf("of the %d bytes its header declares", l.total()))
	}
	return decode(pre, hb, rest, l)
}

func truncated(err error, n int64, where string) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return newError(ErrTruncated, "truncated: the file ends after %d bytes, %s", n, where)
	}
	return err
}

// decode checks the checksum and builds the model.
func decode(pre, hb, rest []byte, l *layout) (*Model, error) {
	h := sha256.New()
	h.Write(pre)
	h.Write(hb)
	h.Write(rest[:len(rest)-checksumLen])
	if !bytes.Equal(h.Sum(nil), rest[len(rest)-checksumLen:]) {
		return nil, newError(ErrChecksum, "checksum mismatch: the file is corrupt or was modified after it was written")
	}
	hd := &l.hdr
	m := &Model{
		Kind:   hd.Kind,
		Config: hd.Config,
		Params: decodeFloats(rest[:8**hd.NumParams]),
		Meta: Meta{
			Version:    hd.Meta.Version,
			DataShape:  hd.Meta.DataShape,
			Iterations: hd.Meta.Iterations,
			Seed:       hd.Meta.Seed,
			TrainNLL:   fromJSONFloat(hd.Meta.TrainNLL),
			ValidNLL:   fromJSONFloat(hd.Meta.ValidNLL),
			Extra:      hd.Meta.Extra,
		},
	}
	if string(m.Config) == "null" {
		m.Config = nil
	}
	if hd.Meta.Created != "" {
		t, err := time.Parse(time.RFC3339Nano, hd.Meta.Created)
		if y := t.UTC().Year(); err != nil || y < 0 || y > 9999 {
			return nil, newError(ErrCorrupt, "corrupt: bad creation time %q", hd.Meta.Created)
		}
		m.Meta.Created = t.UTC()
	}
	off := 8 * *hd.NumParams
	for _, sj := range hd.Sections {
		s := Section{Name: sj.Name, Kind: sj.Kind, Critical: sj.Critical, Data: rest[off : off+*sj.Length : off+*sj.Length]}
		off += *sj.Length
		if !knownKind(s.Kind) {
			if s.Critical {
				return nil, newError(ErrUnsupported, "section %q has kind %q, which this build does not know, and is marked critical: written by a newer odeflow?", s.Name, s.Kind)
			}
		} else if err := checkSection(&s); err != nil {
			return nil, newError(ErrCorrupt, "corrupt: %v", err)
		}
		m.Sections = append(m.Sections, s)
	}
	return m, nil
}

func decodeFloats(b []byte) []float64 {
	v := make([]float64, len(b)/8)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return v
}

// ReadFile reads the model file at path, as Read does. It also reports a
// file longer than its header declares, and compares the declared length
// with the file size before allocating for the parameters. When the header
// is unreadable it checks the checksum over the whole file, so that a
// tampered header is reported as a checksum mismatch. Errors name the path.
func ReadFile(path string) (*Model, error) {
	m, err := readFile(path)
	if err != nil {
		return nil, withPath(err, path)
	}
	return m, nil
}

func readFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("modelfile: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("modelfile: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Read(f)
	}
	size := fi.Size()
	hlen, pre, err := readPreamble(f)
	if err != nil {
		return nil, err
	}
	if preambleLen+hlen > size {
		return nil, newError(ErrTruncated, "truncated: the header length is %d bytes but only %d bytes follow the preamble", hlen, size-preambleLen)
	}
	hb, err := readFull(f, hlen)
	if err != nil {
		return nil, truncated(err, preambleLen+int64(len(hb)), "inside the header")
	}
	l, err := parseHeader(hb)
	if err != nil {
		if errors.Is(err, ErrCorrupt) && wholeChecksumBad(f, size) {
			return nil, newError(ErrChecksum, "checksum mismatch: the file is corrupt or was modified after it was written (its header is unreadable: %s)", err.(*Error).Msg)
		}
		return nil, err
	}
	switch total := l.total(); {
	case size < total:
		return nil, newError(ErrTruncated, "truncated: the header declares %d parameters and %d sections, %d bytes in all, but the file has %d", *l.hdr.NumParams, len(l.hdr.Sections), total, size)
	case size > total:
		return nil, newError(ErrCorrupt, "corrupt: the header declares %d parameters and %d sections, %d bytes in all, but the file has %d: header and data lengths disagree", *l.hdr.NumParams, len(l.hdr.Sections), total, size)
	}
	rest, err := readFull(f, l.payload+checksumLen)
	if err != nil {
		return nil, truncated(err, preambleLen+hlen+int64(len(rest)), "while reading")
	}
	return decode(pre, hb, rest, l)
}

// wholeChecksumBad reports whether the last 32 bytes of the file fail to
// match the SHA-256 of the bytes before them.
func wholeChecksumBad(f *os.File, size int64) bool {
	if size < preambleLen+checksumLen {
		return true
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size-checksumLen)); err != nil {
		return false
	}
	sum := make([]byte, checksumLen)
	if _, err := f.ReadAt(sum, size-checksumLen); err != nil {
		return false
	}
	return !bytes.Equal(h.Sum(nil), sum)
}

// withPath records the file name in a content error.
func withPath(err error, path string) error {
	var e *Error
	if errors.As(err, &e) {
		e.Path = path
		return e
	}
	var v *VersionError
	if errors.As(err, &v) {
		v.Path = path
		return v
	}
	return err
}

// readChunk is the first allocation of readFull; later ones at most double
// what has been read.
const readChunk = 64 << 10

// readFull reads exactly n bytes, growing its buffer only as data arrive.
// A short read returns the bytes read and io.ErrUnexpectedEOF.
func readFull(r io.Reader, n int64) ([]byte, error) {
	buf := make([]byte, 0, min(n, readChunk))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			next := make([]byte, len(buf), min(n, 2*int64(cap(buf))))
			copy(next, buf)
			buf = next
		}
		k, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}
