package modelfile

import (
	"bytes"
	"testing"
)

func BenchmarkWriteRead(b *testing.B) {
	m := &Model{Kind: "cnf", Params: make([]float64, 100000)}
	var buf bytes.Buffer
	if err := Write(&buf, m); err != nil {
		b.Fatal(err)
	}
	data := bytes.Clone(buf.Bytes())
	b.Run("Write/100k", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			buf.Reset()
			if err := Write(&buf, m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Read/100k", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := Read(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
