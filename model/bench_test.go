package model

import (
	"path/filepath"
	"testing"
)

// BenchmarkSaveLoad saves and loads FFJORD's default toy model (one block,
// a 64-64-64 field).
func BenchmarkSaveLoad(b *testing.B) {
	m, err := New(Spec{Kind: CNF, Dim: 2})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "m.odfl")
	b.ReportAllocs()
	for b.Loop() {
		if err := Save(path, m); err != nil {
			b.Fatal(err)
		}
		if _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
}
