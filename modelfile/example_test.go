package modelfile_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/odeflow/odeflow/modelfile"
)

func Example() {
	dir, err := os.MkdirTemp("", "modelfile-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	nll := 2.91
	m := &modelfile.Model{
		Kind:   "cnf",
		Config: json.RawMessage(`{"dim":2,"hidden":[64,64]}`),
		Params: []float64{0.5, -1.25, math.Copysign(0, -1)},
		Meta: modelfile.Meta{
			Created:    time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
			Version:    "v0.1.0",
			DataShape:  []int{1000, 2},
			Iterations: 500,
			Seed:       1,
			ValidNLL:   &nll,
		},
		Sections: []modelfile.Section{modelfile.Float64Section("mean", []float64{0.1, -0.2})},
	}
	path := filepath.Join(dir, "model.odfl")
	if err := modelfile.WriteFile(path, m); err != nil {
		log.Fatal(err)
	}

	got, err := modelfile.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	mean, err := got.Section("mean").Float64s()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s params=%v signbit=%v\n", got.Kind, got.Config, got.Params, math.Signbit(got.Params[2]))
	fmt.Printf("valid NLL %.4g after %d iterations; mean %v\n", *got.Meta.ValidNLL, got.Meta.Iterations, mean)

	// A truncated file is reported as such.
	var buf bytes.Buffer
	if err := modelfile.Write(&buf, m); err != nil {
		log.Fatal(err)
	}
	_, err = modelfile.Read(bytes.NewReader(buf.Bytes()[:buf.Len()-10]))
	fmt.Println(errors.Is(err, modelfile.ErrTruncated))

	// Output:
	// cnf {"dim":2,"hidden":[64,64]} params=[0.5 -1.25 -0] signbit=true
	// valid NLL 2.91 after 500 iterations; mean [0.1 -0.2]
	// true
}
