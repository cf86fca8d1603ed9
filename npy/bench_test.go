package npy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func BenchmarkWrite(b *testing.B) {
	for _, n := range []int{100, 100000} {
		m := mat.NewDense(n, 2, nil)
		b.Run(fmt.Sprintf("%dx2", n), func(b *testing.B) {
			var buf bytes.Buffer
			b.ReportAllocs()
			b.SetBytes(int64(16 * n))
			for b.Loop() {
				buf.Reset()
				if err := Write(&buf, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRead(b *testing.B) {
	for _, n := range []int{100, 100000} {
		var buf bytes.Buffer
		if err := Write(&buf, mat.NewDense(n, 2, nil)); err != nil {
			b.Fatal(err)
		}
		data := buf.Bytes()
		path := filepath.Join(b.TempDir(), "x.npy")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("stream/%dx2", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(16 * n))
			for b.Loop() {
				if _, _, err := Read(bytes.NewReader(data), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("file/%dx2", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(16 * n))
			for b.Loop() {
				if _, _, err := ReadFile(path, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
