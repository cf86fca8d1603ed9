package discrete

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

// TestLULogDetAndMatrix checks ldj = log|det W| (gonum's LU) and z = W x + b
// (gonum's Mul) for random parameters.
func TestLULogDetAndMatrix(t *testing.T) {
	rnd := testrand.New(t)
	for _, d := range []int{1, 2, 4, 8} {
		for trial := 0; trial < 3; trial++ {
			p := new(nn.Params)
			l := NewLU(p, "lu", d, rand.NewPCG(rnd.Uint64(), 7))
			linRandomize(p, rnd, 0.7)
			w := l.Matrix(nil)
			var lu mat.LU
			lu.Factorize(w)
			want, _ := lu.LogDet()
			x := flowtest.RandDense(rnd, 3, d, 1)
			var z mat.Dense
			ldj := make([]float64, 3)
			if err := l.Forward(&z, ldj, x); err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("d=%d trial %d", d, trial)
			for i := range ldj {
				check.Close(t, name+" ldj", []float64{want}, []float64{ldj[i]}, 1e-12)
			}
			var wantZ mat.Dense
			wantZ.Mul(x, w.T())
			b, _ := p.Lookup("lu/bias")
			for i := 0; i < 3; i++ {
				for j := 0; j < d; j++ {
					wantZ.Set(i, j, wantZ.At(i, j)+b.Of(p.Data)[j])
				}
			}
			check.Close(t, name+" z", flowtest.Flat(&wantZ), flowtest.Flat(&z), 1e-12)
		}
	}
}

// TestLUGlowInit checks that W starts as a rotation (Glow) and that a nil
// source gives the identity.
func TestLUGlowInit(t *testing.T) {
	rnd := testrand.New(t)
	for _, d := range []int{1, 3, 6} {
		l := NewLU(new(nn.Params), "lu", d, rand.NewPCG(rnd.Uint64(), 3))
		w := l.Matrix(nil)
		var wtw mat.Dense
		wtw.Mul(w.T(), w)
		for i := 0; i < d; i++ {
			for j := 0; j < d; j++ {
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(wtw.At(i, j)-want) > 1e-12 {
					t.Fatalf("d=%d: WᵀW = %v", d, mat.Formatted(&wtw))
				}
			}
		}
		id := NewLU(new(nn.Params), "lu", d, nil).Matrix(nil)
		for i := 0; i < d; i++ {
			for j := 0; j < d; j++ {
				if want := map[bool]float64{true: 1, false: 0}[i == j]; id.At(i, j) != want {
					t.Fatalf("d=%d: nil source gives W = %v", d, mat.Formatted(id))
				}
			}
		}
	}
	// Same source, same structure.
	a := NewLU(new(nn.Params), "lu", 5, rand.NewPCG(9, 9))
	b := NewLU(new(nn.Params), "lu", 5, rand.NewPCG(9, 9))
	if fmt.Sprint(a.Perm(), a.Signs()) != fmt.Sprint(b.Perm(), b.Signs()) {
		t.Error("same source, different permutation or signs")
	}
}
