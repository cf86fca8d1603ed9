package modelfile

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzRead feeds arbitrary bytes to Read. Read must not panic; every error
// must belong to one of the documented classes; an accepted model must
// survive a Write/Read round trip bit for bit. Allocation is bounded by
// construction (see readFull) and checked by
// TestReadAbsurdLengthsAllocation.
func FuzzRead(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "golden_v1.odfl"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRead(t, data)
		// The same bytes with a valid checksum reach the checks behind it.
		if len(data) >= preambleLen+checksumLen {
			fixed := bytes.Clone(data)
			sum := sha256.Sum256(fixed[:len(fixed)-checksumLen])
			copy(fixed[len(fixed)-checksumLen:], sum[:])
			checkRead(t, fixed)
		}
	})
}

// checkRead reads data and checks the outcome as FuzzRead describes.
func checkRead(t *testing.T, data []byte) {
	m, err := Read(bytes.NewReader(data))
	if err != nil {
		if m != nil {
			t.Fatalf("model returned with error %v", err)
		}
		for _, c := range []error{ErrNotModel, ErrVersion, ErrTruncated, ErrChecksum, ErrCorrupt, ErrUnsupported} {
			if errors.Is(err, c) {
				return
			}
		}
		t.Fatalf("unclassified error %v", err)
	}
	var b bytes.Buffer
	if err := Write(&b, m); err != nil {
		t.Fatalf("Write of a model Read accepted: %v", err)
	}
	back, err := Read(&b)
	if err != nil {
		t.Fatalf("re-read: %v", err)
	}
	if d := equalModels(m, back); d != "" {
		t.Fatalf("round trip: %s", d)
	}
}

// fuzzSeeds are the named seeds of testdata/fuzz/FuzzRead: valid files and
// truncated, corrupted and tampered ones.
func fuzzSeeds(t *testing.T) map[string][]byte {
	g := goldenModel()
	good := encode(t, g)
	flip := func(at ...int) []byte {
		b := bytes.Clone(good)
		for _, i := range at {
			b[i] ^= 0x20
		}
		return b
	}
	minimal := encode(t, &Model{Kind: "planar"})
	return map[string][]byte{
		"good_golden":          good,
		"good_minimal":         minimal,
		"good_rebuilt":         rebuild(1, hdrOK, payloadOK),
		"good_unknown_section": rebuild(1, strings.Replace(hdrOK, `"bytes"`, `"lz4"`, 1), payloadOK),
		"trunc_preamble":       good[:10],
		"trunc_header":         good[:40],
		"trunc_params":         good[:len(good)-60],
		"trunc_checksum":       good[:len(good)-1],
		"corrupt_magic":        flip(0),
		"corrupt_version":      append(append([]byte(Magic), 7, 0, 0, 0), good[12:]...),
		"corrupt_header_len":   append(append([]byte(Magic), 1, 0, 0, 0, 0xff, 0xff, 0xff, 0), good[16:]...),
		"corrupt_json":         flip(20),
		"corrupt_param":        flip(len(good) - 80),
		"corrupt_checksum":     flip(len(good) - 1),
		"corrupt_num_params":   rebuild(1, strings.Replace(hdrOK, `"num_params":2`, `"num_params":100000000000000000`, 1), payloadOK),
		"corrupt_section_len":  rebuild(1, strings.Replace(hdrOK, `"length":3`, `"length":4000000000000000000`, 1), payloadOK),
		"corrupt_critical":     rebuild(1, strings.Replace(hdrOK, `"bytes"`, `"lz4","critical":true`, 1), payloadOK),
		"corrupt_created_tz":   rebuild(1, strings.Replace(hdrOK, `"meta":{}`, `"meta":{"created":"0000-01-01T00:00:00+01:00"}`, 1), payloadOK),
		"corrupt_float_sec":    rebuild(1, strings.Replace(hdrOK, `"bytes"`, `"float64"`, 1), payloadOK),
	}
}

// TestFuzzCorpus checks that the named seed files in
// testdata/fuzz/FuzzRead hold the seeds fuzzSeeds builds; with -update it
// writes them.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzRead")
	for name, b := range fuzzSeeds(t) {
		path := filepath.Join(dir, name)
		want := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if *update {
			must(t, os.MkdirAll(dir, 0o755))
			must(t, os.WriteFile(path, []byte(want), 0o644))
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is missing or stale (err %v); run go test -run TestFuzzCorpus -update", path, err)
		}
	}
}
