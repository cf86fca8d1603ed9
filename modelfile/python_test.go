package modelfile

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func python(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("no python3")
	return ""
}

// TestPythonReader runs testdata/read_model.py, a reader written from the
// package documentation with Python's standard library, on files written
// by Write, and compares what it finds with the models.
func TestPythonReader(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	for name, m := range map[string]*Model{"sample": sampleModel(t), "golden": goldenModel(), "minimal": {Kind: "planar"}} {
		path := filepath.Join(dir, name+".odfl")
		must(t, WriteFile(path, m))
		out, err := exec.Command(py, filepath.Join("testdata", "read_model.py"), path).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: python: %v\n%s", name, err, out)
		}
		var got struct {
			Kind     string
			Config   json.RawMessage
			Meta     map[string]any
			Params   []string
			Sections []struct {
				Name, Kind, Hex string
				Critical        bool
			}
		}
		must(t, json.Unmarshal(out, &got))
		if got.Kind != m.Kind || len(got.Params) != len(m.Params) || len(got.Sections) != len(m.Sections) {
			t.Fatalf("%s: python read %s", name, out)
		}
		for i, p := range m.Params {
			if got.Params[i] != fmt.Sprintf("%016x", math.Float64bits(p)) {
				t.Errorf("%s: param %d: python %s", name, i, got.Params[i])
			}
		}
		for i, s := range m.Sections {
			g := got.Sections[i]
			if g.Name != s.Name || g.Kind != s.Kind || g.Critical != s.Critical || g.Hex != hex.EncodeToString(s.Data) {
				t.Errorf("%s: section %d: python %+v", name, i, g)
			}
		}
		if m.Meta.Version != "" && got.Meta["odeflow_version"] != m.Meta.Version {
			t.Errorf("%s: python meta %v", name, got.Meta)
		}
	}
	// The Python reader rejects a tampered file too.
	path := filepath.Join(dir, "golden.odfl")
	b, err := os.ReadFile(path)
	must(t, err)
	b[len(b)-40] ^= 1
	must(t, os.WriteFile(path, b, 0o644))
	out, err := exec.Command(py, filepath.Join("testdata", "read_model.py"), path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "checksum mismatch") {
		t.Errorf("python accepted a tampered file: %v %s", err, out)
	}
}
