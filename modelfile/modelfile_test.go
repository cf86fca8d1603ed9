package modelfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/odeflow/odeflow/internal/testrand"
)

var update = flag.Bool("update", false, "rewrite testdata/golden_v1.odfl and the named fuzz seeds")

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ptr(v float64) *float64 { return &v }

// specialParams are values whose bits a careless round trip would change.
var specialParams = []uint64{
	0x7FF00000DEADBEEF, // NaN with a payload (signalling)
	0xFFF8000000000001, // negative quiet NaN with a payload
	0x8000000000000000, // -0
	0x7FF0000000000000, // +Inf
	0xFFF0000000000000, // -Inf
	0x0000000000000001, // smallest subnormal
	0x7FEFFFFFFFFFFFFF, // largest finite
}

// sampleModel has every field set, random parameters and special values,
// and a section of every kind including one this build does not know.
func sampleModel(t testing.TB) *Model {
	rnd := testrand.New(t)
	params := make([]float64, 1000)
	for i := range params {
		params[i] = rnd.NormFloat64()
	}
	for i, b := range specialParams {
		params[10*i] = math.Float64frombits(b)
	}
	return &Model{
		Kind:   "cnf",
		Config: json.RawMessage(`{"dim": 2, "hidden": [64, 64], "solver": "dopri5", "note": "<a & b>"}`),
		Params: params,
		Meta: Meta{
			Created:    time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("X", 3600)),
			Version:    "v0.1.0-test",
			DataShape:  []int{5000, 2},
			Iterations: 12345,
			Seed:       math.MaxUint64,
			TrainNLL:   ptr(2.8512345678901234),
			ValidNLL:   ptr(math.NaN()),
			Extra:      map[string]string{"solver": "dopri5", "lr": "0.001", "ünïcode": "✓"},
		},
		Sections: []Section{
			Float64Section("norm", []float64{1.5, math.Copysign(0, -1), math.Inf(1)}),
			{Name: "optimizer", Kind: SectionBytes, Data: []byte{0, 1, 2, 255}},
			{Name: "schedule", Kind: SectionJSON, Data: []byte(`{"warmup": 100}`)},
			{Name: "empty", Kind: SectionBytes},
			{Name: "future", Kind: "zstd-tensor", Data: []byte("opaque")},
		},
	}
}

// equalModels compares two models field by field, bit for bit; it
// returns a description of the first difference, or "".
func equalModels(a, b *Model) string {
	if a.Kind != b.Kind {
		return fmt.Sprintf("Kind %q vs %q", a.Kind, b.Kind)
	}
	// A nil Config is stored as null.
	orNull := func(c json.RawMessage) []byte {
		if len(c) == 0 {
			return []byte("null")
		}
		return c
	}
	var ca, cb bytes.Buffer
	if json.Compact(&ca, orNull(a.Config)) != nil || json.Compact(&cb, orNull(b.Config)) != nil || ca.String() != cb.String() {
		return fmt.Sprintf("Config %s vs %s", a.Config, b.Config)
	}
	if len(a.Params) != len(b.Params) {
		return fmt.Sprintf("%d vs %d params", len(a.Params), len(b.Params))
	}
	for i := range a.Params {
		if math.Float64bits(a.Params[i]) != math.Float64bits(b.Params[i]) {
			return fmt.Sprintf("param %d: %#x vs %#x", i, math.Float64bits(a.Params[i]), math.Float64bits(b.Params[i]))
		}
	}
	ma, mb := a.Meta, b.Meta
	floatEq := func(x, y *float64) bool {
		return (x == nil) == (y == nil) && (x == nil || math.Float64bits(*x) == math.Float64bits(*y))
	}
	switch {
	case !ma.Created.Equal(mb.Created):
		return fmt.Sprintf("Created %v vs %v", ma.Created, mb.Created)
	case ma.Version != mb.Version, !slices.Equal(ma.DataShape, mb.DataShape), ma.Iterations != mb.Iterations, ma.Seed != mb.Seed:
		return fmt.Sprintf("Meta %+v vs %+v", ma, mb)
	case !floatEq(ma.TrainNLL, mb.TrainNLL), !floatEq(ma.ValidNLL, mb.ValidNLL):
		return "NLL differs"
	case fmt.Sprint(ma.Extra) != fmt.Sprint(mb.Extra):
		return fmt.Sprintf("Extra %v vs %v", ma.Extra, mb.Extra)
	}
	if len(a.Sections) != len(b.Sections) {
		return fmt.Sprintf("%d vs %d sections", len(a.Sections), len(b.Sections))
	}
	for i, sa := range a.Sections {
		sb := b.Sections[i]
		if sa.Name != sb.Name || sa.Kind != sb.Kind || sa.Critical != sb.Critical || !bytes.Equal(sa.Data, sb.Data) {
			return fmt.Sprintf("section %d: %+v vs %+v", i, sa, sb)
		}
	}
	return ""
}

func encode(t testing.TB, m *Model) []byte {
	t.Helper()
	var b bytes.Buffer
	must(t, Write(&b, m))
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		m    *Model
	}{
		{"full", sampleModel(t)},
		{"minimal", &Model{Kind: "planar"}},
		{"critical known section", &Model{Kind: "x", Config: json.RawMessage(`null`), Sections: []Section{{Name: "s", Kind: SectionBytes, Critical: true, Data: []byte("d")}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := encode(t, tc.m)
			got, err := Read(bytes.NewReader(orig))
			must(t, err)
			if d := equalModels(tc.m, got); d != "" {
				t.Errorf("Read: %s", d)
			}
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".odfl")
			must(t, WriteFile(path, tc.m))
			got, err = ReadFile(path)
			must(t, err)
			if d := equalModels(tc.m, got); d != "" {
				t.Errorf("ReadFile: %s", d)
			}
			// Writing what was read gives the same bytes.
			if again := encode(t, got); !bytes.Equal(again, orig) {
				t.Errorf("rewrite differs from the original file")
			}
		})
	}
	m, err := Read(bytes.NewReader(encode(t, &Model{Kind: "planar"})))
	must(t, err)
	if m.Config != nil || len(m.Params) != 0 || m.Sections != nil || m.Meta.TrainNLL != nil || !m.Meta.Created.IsZero() {
		t.Errorf("minimal model read back as %+v", m)
	}
	if loc := mustRead(t, encode(t, sampleModel(t))).Meta.Created.Location(); loc != time.UTC {
		t.Errorf("Created read back in %v, want UTC", loc)
	}
}

func mustRead(t *testing.T, b []byte) *Model {
	t.Helper()
	m, err := Read(bytes.NewReader(b))
	must(t, err)
	return m
}

// TestLayout checks the written bytes against the format as documented,
// without the package's reader.
func TestLayout(t *testing.T) {
	m := sampleModel(t)
	b := encode(t, m)
	if string(b[:8]) != "ODFLMODL" || binary.LittleEndian.Uint32(b[8:]) != 1 {
		t.Fatalf("preamble %q", b[:12])
	}
	H := int(binary.LittleEndian.Uint32(b[12:]))
	if (16+H)%8 != 0 {
		t.Errorf("parameters start at %d, not a multiple of 8", 16+H)
	}
	var hdr struct {
		Kind      string          `json:"kind"`
		Config    json.RawMessage `json:"config"`
		NumParams int             `json:"num_params"`
		Meta      map[string]any  `json:"meta"`
		Sections  []struct {
			Name     string `json:"name"`
			Kind     string `json:"kind"`
			Length   int    `json:"length"`
			Critical bool   `json:"critical"`
		} `json:"sections"`
	}
	must(t, json.Unmarshal(b[16:16+H], &hdr))
	if hdr.Kind != "cnf" || hdr.NumParams != len(m.Params) || string(hdr.Config) != `{"dim":2,"hidden":[64,64],"solver":"dopri5","note":"<a & b>"}` {
		t.Errorf("header %s", b[16:16+H])
	}
	wantMeta := map[string]any{
		"created": "2025-03-04T04:06:07.123456789Z", "odeflow_version": "v0.1.0-test",
		"data_shape": []any{5000.0, 2.0}, "iterations": 12345.0, "seed": float64(math.MaxUint64),
		"train_nll": 2.8512345678901234, "valid_nll": "NaN",
		"extra": map[string]any{"solver": "dopri5", "lr": "0.001", "ünïcode": "✓"},
	}
	if fmt.Sprint(hdr.Meta) != fmt.Sprint(wantMeta) {
		t.Errorf("meta %v\nwant %v", hdr.Meta, wantMeta)
	}
	off := 16 + H
	for i, p := range m.Params {
		if binary.LittleEndian.Uint64(b[off+8*i:]) != math.Float64bits(p) {
			t.Fatalf("parameter %d at offset %d differs", i, off+8*i)
		}
	}
	off += 8 * len(m.Params)
	if len(hdr.Sections) != len(m.Sections) {
		t.Fatalf("%d sections in header", len(hdr.Sections))
	}
	for i, s := range hdr.Sections {
		ms := m.Sections[i]
		if s.Name != ms.Name || s.Kind != ms.Kind || s.Length != len(ms.Data) || s.Critical != ms.Critical || !bytes.Equal(b[off:off+s.Length], ms.Data) {
			t.Errorf("section %d: header %+v", i, s)
		}
		off += s.Length
	}
	if off+32 != len(b) {
		t.Fatalf("file is %d bytes, layout gives %d", len(b), off+32)
	}
	if sum := sha256.Sum256(b[:off]); !bytes.Equal(sum[:], b[off:]) {
		t.Errorf("checksum is not the SHA-256 of the preceding bytes")
	}
}

// goldenModel is the content of testdata/golden_v1.odfl.
func goldenModel() *Model {
	params := make([]float64, 8)
	for i := range params {
		params[i] = float64(i) - 3.25
	}
	params[7] = math.Float64frombits(0x7FF00000DEADBEEF)
	return &Model{
		Kind:   "realnvp",
		Config: json.RawMessage(`{"dim":2,"layers":4}`),
		Params: params,
		Meta: Meta{
			Created: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), Version: "golden",
			DataShape: []int{100, 2}, Iterations: 10, Seed: 42, TrainNLL: ptr(1.25), ValidNLL: ptr(math.Inf(1)),
			Extra: map[string]string{"k": "v"},
		},
		Sections: []Section{
			Float64Section("mean", []float64{0.5, -0.5}),
			{Name: "future", Kind: "unknown-kind", Data: []byte{1, 2, 3}},
		},
	}
}

// TestGolden reads the committed version-1 file, and checks that Write
// still produces it byte for byte. A deliberate format change must bump
// FormatVersion and keep reading this file.
func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "golden_v1.odfl")
	if *update {
		must(t, WriteFile(path, goldenModel()))
	}
	got, err := ReadFile(path)
	must(t, err)
	if d := equalModels(goldenModel(), got); d != "" {
		t.Errorf("golden file: %s", d)
	}
	want, err := os.ReadFile(path)
	must(t, err)
	if !bytes.Equal(encode(t, goldenModel()), want) {
		t.Errorf("Write no longer produces testdata/golden_v1.odfl")
	}
}

// rebuild assembles a file from a header and a payload with a correct
// checksum, to test header/data disagreements that the checksum does not
// catch.
func rebuild(version uint32, hdr string, payload []byte) []byte {
	b := []byte(Magic)
	b = binary.LittleEndian.AppendUint32(b, version)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(hdr)))
	b = append(b, hdr...)
	b = append(b, payload...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

const hdrOK = `{"kind":"x","config":null,"num_params":2,"meta":{},"sections":[{"name":"s","kind":"bytes","length":3}]}`

var payloadOK = []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40, 'a', 'b', 'c'}

func TestRebuildIsValid(t *testing.T) {
	m, err := Read(bytes.NewReader(rebuild(1, hdrOK, payloadOK)))
	must(t, err)
	if !slices.Equal(m.Params, []float64{1, 2}) || string(m.Section("s").Data) != "abc" {
		t.Errorf("rebuilt model %+v", m)
	}
}

func TestReadBad(t *testing.T) {
	good := encode(t, sampleModel(t))
	withVersion := func(v uint32) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint32(b[8:], v)
		return b
	}
	hdrWith := func(old, new string) string {
		if !strings.Contains(hdrOK, old) {
			panic(old)
		}
		return strings.Replace(hdrOK, old, new, 1)
	}
	npyFile := []byte("\x93NUMPY\x01\x00v\x00{'descr': '<f8'")
	for _, tc := range []struct {
		name   string
		file   []byte
		class  error  // from ReadFile, and from Read unless sClass is set
		msg    string // in the message of ReadFile, and of Read unless sMsg is set
		sClass error
		sMsg   string
	}{
		{"empty", nil, ErrNotModel, "the file is empty", nil, ""},
		{"text", []byte("hello world, this is text"), ErrNotModel, "not an odeflow model file", nil, ""},
		{"npy", npyFile, ErrNotModel, "it is a NumPy .npy array", nil, ""},
		{"checkpoint", []byte("ODFLCKPT\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), ErrNotModel, "training checkpoint", nil, ""},
		{"json", []byte(`  {"kind": "cnf", "params": [1, 2, 3]}`), ErrNotModel, "looks like JSON", nil, ""},
		{"short magic", []byte("ODFLM"), ErrTruncated, "inside the 16-byte preamble", nil, ""},
		{"version 3", withVersion(3), ErrVersion, "written by a newer odeflow: format v3, this build reads ≤ v1", nil, ""},
		{"version 0", withVersion(0), ErrCorrupt, "format version 0", nil, ""},
		{"header too long", rebuild(1, hdrOK, payloadOK)[:12:12], ErrTruncated, "preamble", nil, ""},
		{"header length limit", append(append([]byte(Magic), 1, 0, 0, 0), 0, 0, 0, 0x7f), ErrCorrupt, "exceeds the 16777216-byte limit", nil, ""},
		{"header beyond file", append(append([]byte(Magic), 1, 0, 0, 0), 0, 1, 0, 0, '{'), ErrTruncated, "truncated", nil, ""},
		{"malformed JSON", rebuild(1, `{"kind": "x", `, nil), ErrCorrupt, "malformed JSON header", nil, ""},
		{"no kind", rebuild(1, hdrWith(`"kind":"x"`, `"kind":""`), payloadOK), ErrCorrupt, "no model kind", nil, ""},
		{"no num_params", rebuild(1, hdrWith(`"num_params":2`, `"n":2`), payloadOK), ErrCorrupt, "no num_params", nil, ""},
		{"no config", rebuild(1, hdrWith(`"config":null`, `"c":null`), payloadOK), ErrCorrupt, "no config", nil, ""},
		{"negative num_params", rebuild(1, hdrWith(`"num_params":2`, `"num_params":-1`), payloadOK), ErrCorrupt, "impossible num_params -1", nil, ""},
		{"absurd num_params", rebuild(1, hdrWith(`"num_params":2`, `"num_params":1000000000000000000`), payloadOK), ErrCorrupt, "impossible num_params", nil, ""},
		{"huge num_params", rebuild(1, hdrWith(`"num_params":2`, `"num_params":100000000000000000`), payloadOK), ErrTruncated, "the header declares 100000000000000000 parameters", nil, "truncated: the file ends after"},
		{"huge section", rebuild(1, hdrWith(`"length":3`, `"length":4000000000000000000`), payloadOK), ErrTruncated, "4000000000000000", nil, "truncated: the file ends after"},
		{"absurd section", rebuild(1, hdrWith(`"length":3`, `"length":9000000000000000000`), payloadOK), ErrCorrupt, "impossible length", nil, ""},
		{"negative section", rebuild(1, hdrWith(`"length":3`, `"length":-3`), payloadOK), ErrCorrupt, "impossible length", nil, ""},
		{"section without length", rebuild(1, hdrWith(`,"length":3`, ``), payloadOK), ErrCorrupt, "missing or impossible length", nil, ""},
		{"nameless section", rebuild(1, hdrWith(`"name":"s"`, `"name":""`), payloadOK), ErrCorrupt, "no name or no kind", nil, ""},
		{"duplicate sections", rebuild(1, hdrWith(`"length":3}`, `"length":3},{"name":"s","kind":"bytes","length":0}`), payloadOK), ErrCorrupt, `two sections named "s"`, nil, ""},
		{"too few params declared", rebuild(1, hdrWith(`"num_params":2`, `"num_params":1`), payloadOK), ErrCorrupt, "header and data lengths disagree", ErrChecksum, "checksum mismatch"},
		{"too many params declared", rebuild(1, hdrWith(`"num_params":2`, `"num_params":3`), payloadOK), ErrTruncated, "the header declares 3 parameters and 1 sections", nil, "truncated: the file ends after"},
		{"bad float64 section", rebuild(1, hdrWith(`"kind":"bytes"`, `"kind":"float64"`), payloadOK), ErrCorrupt, `section "s" of kind "float64" holds 3 bytes`, nil, ""},
		{"bad json section", rebuild(1, hdrWith(`"kind":"bytes"`, `"kind":"json"`), payloadOK), ErrCorrupt, `section "s" of kind "json" does not hold valid JSON`, nil, ""},
		{"unknown critical section", rebuild(1, hdrWith(`"kind":"bytes"`, `"kind":"lz4","critical":true`), payloadOK), ErrUnsupported, `section "s" has kind "lz4", which this build does not know, and is marked critical`, nil, ""},
		{"bad created", rebuild(1, hdrWith(`"meta":{}`, `"meta":{"created":"yesterday"}`), payloadOK), ErrCorrupt, "bad creation time", nil, ""},
		{"created before year 0 in UTC", rebuild(1, hdrWith(`"meta":{}`, `"meta":{"created":"0000-01-01T00:00:00+01:00"}`), payloadOK), ErrCorrupt, "bad creation time", nil, ""},
		{"bad nll", rebuild(1, hdrWith(`"meta":{}`, `"meta":{"train_nll":"lots"}`), payloadOK), ErrCorrupt, "malformed JSON header", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Read(bytes.NewReader(tc.file))
			if err == nil {
				t.Fatalf("Read: no error; got %+v", m)
			}
			class, want := tc.class, tc.msg
			if tc.sClass != nil {
				class = tc.sClass
			}
			if tc.sMsg != "" {
				want = tc.sMsg
			}
			if !errors.Is(err, class) || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "modelfile: ") {
				t.Errorf("Read: error %q, want class %v containing %q", err, class, want)
			}
			path := filepath.Join(t.TempDir(), "bad.odfl")
			must(t, os.WriteFile(path, tc.file, 0o644))
			_, err = ReadFile(path)
			if !errors.Is(err, tc.class) || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "modelfile: "+path+": ") {
				t.Errorf("ReadFile: error %q, want class %v containing %q and the path", err, tc.class, tc.msg)
			}
		})
	}
}

// TestReadTruncated cuts a valid file at every length.
func TestReadTruncated(t *testing.T) {
	m := sampleModel(t)
	m.Params = m.Params[:40]
	good := encode(t, m)
	path := filepath.Join(t.TempDir(), "cut.odfl")
	for n := range len(good) {
		want := ErrTruncated
		if n == 0 {
			want = ErrNotModel
		}
		if _, err := Read(bytes.NewReader(good[:n])); !errors.Is(err, want) {
			t.Fatalf("Read of %d/%d bytes: %v", n, len(good), err)
		}
		must(t, os.WriteFile(path, good[:n], 0o644))
		if _, err := ReadFile(path); !errors.Is(err, want) {
			t.Fatalf("ReadFile of %d/%d bytes: %v", n, len(good), err)
		}
	}
	_, err := ReadFile(path)
	if !strings.Contains(err.Error(), fmt.Sprintf("the file has %d", len(good)-1)) {
		t.Errorf("message %q", err)
	}
}

// TestReadTampered changes every byte of a file in turn: no change goes
// unnoticed. Changes after the header are checksum mismatches; changes in
// the preamble or header are reported as what they break, and ReadFile
// reports an unreadable header as a checksum mismatch.
func TestReadTampered(t *testing.T) {
	m := sampleModel(t)
	m.Params = m.Params[:40]
	good := encode(t, m)
	H := int(binary.LittleEndian.Uint32(good[12:]))
	path := filepath.Join(t.TempDir(), "tampered.odfl")
	for i := range good {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		_, err := Read(bytes.NewReader(b))
		if err == nil {
			t.Fatalf("byte %d changed: Read accepted the file", i)
		}
		must(t, os.WriteFile(path, b, 0o644))
		_, ferr := ReadFile(path)
		if ferr == nil {
			t.Fatalf("byte %d changed: ReadFile accepted the file", i)
		}
		if i >= 16+H && (!errors.Is(err, ErrChecksum) || !errors.Is(ferr, ErrChecksum)) {
			t.Fatalf("byte %d changed: %v / %v, want checksum mismatches", i, err, ferr)
		}
		if i < 16+H {
			ok := false
			for _, c := range []error{ErrNotModel, ErrVersion, ErrCorrupt, ErrTruncated, ErrChecksum} {
				ok = ok || errors.Is(ferr, c)
			}
			if !ok {
				t.Fatalf("byte %d changed: unclassified error %v", i, ferr)
			}
		}
	}
	// A change that breaks the JSON: Read cannot find the checksum,
	// ReadFile can.
	b := bytes.Clone(good)
	b[16] = '['
	_, err := Read(bytes.NewReader(b))
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("Read of broken header: %v", err)
	}
	must(t, os.WriteFile(path, b, 0o644))
	_, err = ReadFile(path)
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "header is unreadable") {
		t.Errorf("ReadFile of broken header: %v", err)
	}
}

func TestReadTrailing(t *testing.T) {
	good := encode(t, sampleModel(t))
	path := filepath.Join(t.TempDir(), "long.odfl")
	must(t, os.WriteFile(path, append(bytes.Clone(good), 0), 0o644))
	if _, err := ReadFile(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "header and data lengths disagree") {
		t.Errorf("ReadFile with a trailing byte: %v", err)
	}
	// Read consumes exactly one model.
	r := bytes.NewReader(append(bytes.Clone(good), good...))
	for range 2 {
		if _, err := Read(r); err != nil {
			t.Fatal(err)
		}
	}
	if r.Len() != 0 {
		t.Errorf("%d bytes left", r.Len())
	}
}

// TestReadAbsurdLengthsAllocation checks that length fields cannot make
// Read or ReadFile allocate for data the file does not hold.
func TestReadAbsurdLengthsAllocation(t *testing.T) {
	file := rebuild(1, strings.Replace(hdrOK, `"num_params":2`, `"num_params":100000000000000000`, 1), payloadOK)
	path := filepath.Join(t.TempDir(), "absurd.odfl")
	must(t, os.WriteFile(path, file, 0o644))
	for _, tc := range []struct {
		name string
		read func() error
	}{
		{"Read", func() error { _, err := Read(bytes.NewReader(file)); return err }},
		{"ReadFile", func() error { _, err := ReadFile(path); return err }},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := tc.read()
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
			t.Errorf("%s allocated %d bytes", tc.name, alloc)
		}
	}
}

func TestReadMissing(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "none.odfl"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "modelfile: open ") {
		t.Errorf("ReadFile of a missing file: %v", err)
	}
}

func TestUnknownSectionKept(t *testing.T) {
	m := mustRead(t, rebuild(1, strings.Replace(hdrOK, `"kind":"bytes"`, `"kind":"lz4"`, 1), payloadOK))
	s := m.Section("s")
	if s == nil || s.Kind != "lz4" || string(s.Data) != "abc" || s.Critical {
		t.Fatalf("section %+v", s)
	}
	if _, err := s.Float64s(); err == nil {
		t.Errorf("Float64s of an lz4 section: no error")
	}
	back := mustRead(t, encode(t, m))
	if d := equalModels(m, back); d != "" {
		t.Errorf("rewrite lost the unknown section: %s", d)
	}
}

func TestFloat64Section(t *testing.T) {
	v := []float64{1, math.Float64frombits(0x7FF00000DEADBEEF), math.Copysign(0, -1)}
	s := Float64Section("v", v)
	got, err := s.Float64s()
	must(t, err)
	for i := range v {
		if math.Float64bits(got[i]) != math.Float64bits(v[i]) {
			t.Errorf("element %d: %#x", i, math.Float64bits(got[i]))
		}
	}
	bad := Section{Name: "b", Kind: SectionFloat64, Data: []byte{1, 2, 3}}
	if _, err := bad.Float64s(); err == nil {
		t.Errorf("Float64s of 3 bytes: no error")
	}
	if (&Model{}).Section("none") != nil {
		t.Errorf("Section of a missing name is not nil")
	}
}

func TestWriteInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *Model
		msg  string
	}{
		{"no kind", &Model{}, "empty Kind"},
		{"bad config", &Model{Kind: "x", Config: json.RawMessage(`{"a":`)}, "Config is not valid JSON"},
		{"nameless section", &Model{Kind: "x", Sections: []Section{{Kind: SectionBytes}}}, "empty or non-UTF-8 name"},
		{"kindless section", &Model{Kind: "x", Sections: []Section{{Name: "s"}}}, `section "s" has an empty or non-UTF-8 kind`},
		{"duplicate sections", &Model{Kind: "x", Sections: []Section{{Name: "s", Kind: "bytes"}, {Name: "s", Kind: "bytes"}}}, `two sections named "s"`},
		{"bad float64 section", &Model{Kind: "x", Sections: []Section{{Name: "s", Kind: SectionFloat64, Data: make([]byte, 7)}}}, "not a multiple of 8"},
		{"bad json section", &Model{Kind: "x", Sections: []Section{{Name: "s", Kind: SectionJSON, Data: []byte("{")}}}, "valid JSON"},
		{"bad time", &Model{Kind: "x", Meta: Meta{Created: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}, "year 10000"},
		{"bad utf-8", &Model{Kind: "x", Meta: Meta{Extra: map[string]string{"k": "\xff"}}}, "not valid UTF-8"},
	} {
		var b bytes.Buffer
		err := Write(&b, tc.m)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "modelfile: invalid model: ") {
			t.Errorf("%s: %v", tc.name, err)
		}
		if b.Len() != 0 {
			t.Errorf("%s: %d bytes written", tc.name, b.Len())
		}
		path := filepath.Join(t.TempDir(), "m.odfl")
		must(t, os.WriteFile(path, []byte("old"), 0o644))
		if err := WriteFile(path, tc.m); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: WriteFile: %v", tc.name, err)
		}
		if got, _ := os.ReadFile(path); string(got) != "old" {
			t.Errorf("%s: WriteFile changed the file", tc.name)
		}
	}
}

func TestWriteNilPanics(t *testing.T) {
	for _, f := range []func(){
		func() { Write(&bytes.Buffer{}, nil) },
		func() { WriteFile(filepath.Join(t.TempDir(), "m"), nil) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "modelfile: ") {
					t.Errorf("recover() = %v", r)
				}
			}()
			f()
		}()
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	m := sampleModel(t)
	size := len(encode(t, m))
	for _, n := range []int{0, 10, 100, 5000, size - 40, size - 1} {
		if err := Write(&failWriter{n}, m); err == nil || err.Error() != "disk full" {
			t.Errorf("writer failing after %d bytes: %v", n, err)
		}
	}
	// WriteFile to a directory that does not exist leaves nothing behind.
	dir := t.TempDir()
	err := WriteFile(filepath.Join(dir, "missing", "m.odfl"), m)
	if err == nil || !strings.HasPrefix(err.Error(), "modelfile: write ") {
		t.Errorf("WriteFile into a missing directory: %v", err)
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Errorf("directory holds %v", es)
	}
}
