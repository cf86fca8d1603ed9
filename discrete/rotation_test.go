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

// TestRotationOrthogonal checks RᵀR = I to 1e-12 and det R = +1, also for
// large parameters (many squarings).
func TestRotationOrthogonal(t *testing.T) {
	rnd := testrand.New(t)
	for _, d := range []int{1, 2, 5, 8} {
		for _, scale := range []float64{0.1, 1, 10, 100} {
			p := new(nn.Params)
			r := NewRotation(p, "r", d, nil)
			linRandomize(p, rnd, scale)
			m := r.Matrix(nil)
			var rtr mat.Dense
			rtr.Mul(m.T(), m)
			eye := mat.NewDiagDense(d, nil)
			for i := 0; i < d; i++ {
				eye.SetDiag(i, 1)
			}
			if !mat.EqualApprox(&rtr, eye, 1e-12) {
				t.Errorf("d=%d scale=%g: RᵀR = %v", d, scale, mat.Formatted(&rtr))
			}
			if det := mat.Det(m); math.Abs(det-1) > 1e-12 {
				t.Errorf("d=%d scale=%g: det R = %v", d, scale, det)
			}
		}
	}
}

// TestRotationMatchesGonumExp compares R with gonum's mat.Exp of A − Aᵀ.
func TestRotationMatchesGonumExp(t *testing.T) {
	rnd := testrand.New(t)
	for _, d := range []int{2, 4, 7} {
		p := new(nn.Params)
		r := NewRotation(p, "r", d, rand.NewPCG(rnd.Uint64(), 0))
		linRandomize(p, rnd, 2)
		s := mat.NewDense(d, d, nil)
		a := p.Data
		k := 0
		for i := 0; i < d; i++ {
			for j := i + 1; j < d; j++ {
				s.Set(i, j, a[k])
				s.Set(j, i, -a[k])
				k++
			}
		}
		var want mat.Dense
		want.Exp(s)
		check.Close(t, fmt.Sprintf("d=%d exp", d), flowtest.Flat(&want), flowtest.Flat(r.Matrix(nil)), 1e-12)
	}
}

// TestExpmFrechet checks linExpm against gonum's mat.Exp on general
// (non-skew) matrices: exp(X) directly, and the Fréchet derivative L(X, E)
// as the upper right block of exp([[X, E], [0, X]]).
func TestExpmFrechet(t *testing.T) {
	rnd := testrand.New(t)
	for _, n := range []int{1, 3, 6} {
		for _, scale := range []float64{0.05, 1, 4} {
			x := flowtest.RandDense(rnd, n, n, scale)
			e := flowtest.RandDense(rnd, n, n, 1)
			big := mat.NewDense(2*n, 2*n, nil)
			big.Slice(0, n, 0, n).(*mat.Dense).Copy(x)
			big.Slice(n, 2*n, n, 2*n).(*mat.Dense).Copy(x)
			big.Slice(0, n, n, 2*n).(*mat.Dense).Copy(e)
			var eb mat.Dense
			eb.Exp(big)
			wantR := flowtest.Flat(mat.DenseCopyOf(eb.Slice(0, n, 0, n)))
			wantF := flowtest.Flat(mat.DenseCopyOf(eb.Slice(0, n, n, 2*n)))
			w := newLinExpm(n)
			r := make([]float64, n*n)
			f := make([]float64, n*n)
			xc, ec := flowtest.Flat(x), flowtest.Flat(e)
			w.compute(r, f, xc, ec)
			name := fmt.Sprintf("n=%d scale=%g", n, scale)
			check.Close(t, name+" exp", wantR, r, 1e-12)
			check.Close(t, name+" Fréchet", wantF, f, 1e-11)
			check.Unchanged(t, name+" x", flowtest.Flat(x), xc)
			// Without the derivative, exp is the same.
			r2 := make([]float64, n*n)
			w.compute(r2, nil, xc, nil)
			check.Unchanged(t, name+" exp without Fréchet", r, r2)
		}
	}
}

func TestRotationIdentityInit(t *testing.T) {
	p := new(nn.Params)
	r := NewRotation(p, "r", 3, nil)
	x := flowtest.RandDense(testrand.New(t), 4, 3, 1)
	var z mat.Dense
	if err := r.Forward(&z, nil, x); err != nil {
		t.Fatal(err)
	}
	if !mat.Equal(&z, x) {
		t.Error("rotation with nil source is not the identity")
	}
	if p.Len() != 3 {
		t.Errorf("%d parameters, want d(d−1)/2 = 3", p.Len())
	}
}

// TestRotationCacheFollowsParams checks that a change of the parameters
// between calls is seen (R is cached by parameter value).
func TestRotationCacheFollowsParams(t *testing.T) {
	rnd := testrand.New(t)
	p := new(nn.Params)
	r := NewRotation(p, "r", 3, rand.NewPCG(1, 2))
	x := flowtest.RandDense(rnd, 2, 3, 1)
	var z1, z2 mat.Dense
	if err := r.Forward(&z1, nil, x); err != nil {
		t.Fatal(err)
	}
	p.Data[1] += 0.5
	if err := r.Forward(&z2, nil, x); err != nil {
		t.Fatal(err)
	}
	if mat.EqualApprox(&z1, &z2, 1e-3) {
		t.Error("output did not change with the parameters")
	}
	r2 := NewRotation(new(nn.Params), "r", 3, nil)
	copy(r2.p.Data, p.Data)
	check.Close(t, "fresh rotation", flowtest.Flat(r2.Matrix(nil)), flowtest.Flat(r.Matrix(nil)), 1e-15)
}
