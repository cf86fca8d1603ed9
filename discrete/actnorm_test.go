package discrete

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

// columnStats returns the mean and biased variance of each column of m.
func columnStats(m *mat.Dense) (mean, variance []float64) {
	n, d := m.Dims()
	mean, variance = make([]float64, d), make([]float64, d)
	for j := 0; j < d; j++ {
		for i := 0; i < n; i++ {
			mean[j] += m.At(i, j)
		}
		mean[j] /= float64(n)
		for i := 0; i < n; i++ {
			e := m.At(i, j) - mean[j]
			variance[j] += e * e
		}
		variance[j] /= float64(n)
	}
	return mean, variance
}

// shiftedBatch returns n×d draws with column j scaled by 0.1·(j+1)·3^j and
// shifted by 5j − 3.
func shiftedBatch(t *testing.T, n, d int) *mat.Dense {
	x := flowtest.RandDense(testrand.New(t), n, d, 1)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			x.Set(i, j, x.At(i, j)*0.1*float64(j+1)*math.Pow(3, float64(j))+5*float64(j)-3)
		}
	}
	return x
}

func TestActNormDataInit(t *testing.T) {
	for _, lazy := range []bool{false, true} {
		t.Run(fmt.Sprintf("lazy=%v", lazy), func(t *testing.T) {
			const n, d = 50, 4
			x := shiftedBatch(t, n, d)
			p := new(nn.Params)
			a := NewActNorm(p, "an", d)
			if a.Initialized() {
				t.Fatal("new ActNorm reports initialized")
			}
			z := mat.NewDense(n, d, nil)
			ldj := make([]float64, n)
			if lazy {
				if err := a.ForwardRecord(z, ldj, x); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := a.Init(x); err != nil {
					t.Fatal(err)
				}
				if err := a.Forward(z, ldj, x); err != nil {
					t.Fatal(err)
				}
			}
			if !a.Initialized() {
				t.Fatal("not initialized")
			}
			mean, variance := columnStats(z)
			check.Close(t, "mean", make([]float64, d), mean, 1e-12)
			check.Close(t, "variance", []float64{1, 1, 1, 1}, variance, 1e-12)
			// ldj = −Σ log std of the batch.
			_, vx := columnStats(x)
			want := 0.0
			for _, v := range vx {
				want -= 0.5 * math.Log(v)
			}
			check.Close(t, "ldj", []float64{want}, ldj[:1], 1e-12)

			// A later record call does not initialize again.
			x2 := flowtest.RandDense(testrand.New(t), 7, d, 1)
			before := check.Clone(p.Data)
			if err := a.ForwardRecord(mat.NewDense(7, d, nil), nil, x2); err != nil {
				t.Fatal(err)
			}
			check.Unchanged(t, "parameters after a second ForwardRecord", before, p.Data)
		})
	}
}

// TestActNormOnlyForwardRecordInitializes checks that plain calls and
// InverseRecord leave an uninitialized layer alone (it is the identity).
func TestActNormOnlyForwardRecordInitializes(t *testing.T) {
	x := shiftedBatch(t, 10, 3)
	a := NewActNorm(new(nn.Params), "an", 3)
	calls := map[string]func(*mat.Dense, []float64, *mat.Dense) error{
		"Forward": a.Forward, "Inverse": a.Inverse, "InverseRecord": a.InverseRecord,
	}
	for name, f := range calls {
		z := mat.NewDense(10, 3, nil)
		if err := f(z, nil, x); err != nil {
			t.Fatal(err)
		}
		if a.Initialized() {
			t.Fatalf("%s initialized the layer", name)
		}
		if !mat.Equal(z, x) {
			t.Errorf("%s of an uninitialized ActNorm is not the identity", name)
		}
	}
}

// TestActNormInitSurvivesRestore checks that the initialized flag lives in
// the parameters: a layer restored from saved parameters is initialized and
// maps like the original; the flag is a frozen block.
func TestActNormInitSurvivesRestore(t *testing.T) {
	x := shiftedBatch(t, 20, 3)
	p1 := new(nn.Params)
	a1 := NewActNorm(p1, "an", 3)
	if err := a1.ForwardRecord(mat.NewDense(20, 3, nil), nil, x); err != nil {
		t.Fatal(err)
	}
	saved := check.Clone(p1.Data)

	p2 := new(nn.Params)
	a2 := NewActNorm(p2, "an", 3)
	copy(p2.Data, saved)
	if !a2.Initialized() {
		t.Fatal("restored ActNorm is not initialized")
	}
	other := flowtest.RandDense(testrand.New(t), 5, 3, 1)
	z1, z2 := mat.NewDense(5, 3, nil), mat.NewDense(5, 3, nil)
	if err := a1.Forward(z1, nil, other); err != nil {
		t.Fatal(err)
	}
	if err := a2.ForwardRecord(z2, nil, other); err != nil { // must not re-initialize
		t.Fatal(err)
	}
	check.Unchanged(t, "restored output", flowtest.Flat(z1), flowtest.Flat(z2))
	tr := p2.Trainable(nil)
	s, _ := p2.Lookup("an/initialized")
	if tr[s.Off] {
		t.Error("the initialized flag is trainable")
	}
}

func TestActNormInitEdgeCases(t *testing.T) {
	// A constant column gets log-scale 0; one row gives zero mean only.
	x := mat.NewDense(3, 2, []float64{1, 7, 2, 7, 3, 7})
	p := new(nn.Params)
	a := NewActNorm(p, "an", 2)
	if err := a.Init(x); err != nil {
		t.Fatal(err)
	}
	ls, _ := p.Lookup("an/logscale")
	if got := ls.Of(p.Data)[1]; got != 0 {
		t.Errorf("constant column: log-scale %v, want 0", got)
	}
	z := mat.NewDense(3, 2, nil)
	if err := a.Forward(z, nil, x); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if z.At(i, 1) != 0 {
			t.Errorf("constant column maps to %v, want 0", z.At(i, 1))
		}
	}
	// Non-finite rows: an error naming them, parameters unchanged.
	before := check.Clone(p.Data)
	bad := mat.NewDense(3, 2, []float64{1, 2, math.NaN(), 3, 4, 5})
	var re *odeflow.RowError
	if err := a.Init(bad); !errors.As(err, &re) || !errors.Is(err, odeflow.ErrNonFinite) || fmt.Sprint(re.Rows) != "[1]" {
		t.Errorf("Init with NaN: %v", err)
	}
	check.Unchanged(t, "parameters after a failed Init", before, p.Data)
	if !panics(func() { _ = a.Init(mat.NewDense(2, 3, nil)) }) {
		t.Error("Init with wrong columns did not panic")
	}
}
