package cnf_test

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/cnf"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/vectorfield"
)

// linearA is a non-normal matrix with complex eigenvalues and a nonzero
// trace, so that the flow rotates, shears and changes volume.
func linearA(d int) *mat.Dense {
	a := mat.NewDense(d, d, nil)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			a.Set(i, j, 0.3*math.Sin(float64(3*i+5*j+1)))
		}
		a.Set(i, i, a.At(i, i)-0.2+0.15*float64(i))
	}
	if d >= 2 {
		a.Set(0, 1, a.At(0, 1)+0.9)
		a.Set(1, 0, a.At(1, 0)-0.7)
	}
	return a
}

// closedForm returns log p(x) for the linear flow f = A z over [0, T] with a
// standard normal base: the forward map is z = exp(TA) x, so
//
//	log p(x) = log N(exp(TA) x; 0, I) + T tr A,
//
// that is, x ~ N(0, Σ) with Σ = exp(−TA) exp(−TA)ᵀ; computed here as the
// Gaussian density of x with covariance Σ (Cholesky), independently of the
// change-of-variables bookkeeping.
func closedForm(a *mat.Dense, T float64, x *mat.Dense) []float64 {
	d, _ := a.Dims()
	var mta, e mat.Dense
	mta.Scale(-T, a)
	e.Exp(&mta)
	var sigma mat.SymDense
	sigma.SymOuterK(1, &e)
	var ch mat.Cholesky
	if !ch.Factorize(&sigma) {
		panic("covariance not positive definite")
	}
	logdet := ch.LogDet()
	n, _ := x.Dims()
	out := make([]float64, n)
	for i := 0; i < n; i++ {
		xi := mat.NewVecDense(d, mat.Row(nil, i, x))
		var s mat.VecDense
		if err := ch.SolveVecTo(&s, xi); err != nil {
			panic(err)
		}
		out[i] = -0.5*mat.Dot(xi, &s) - 0.5*logdet - 0.5*float64(d)*math.Log(2*math.Pi)
	}
	return out
}

func TestLinearClosedForm(t *testing.T) {
	for _, d := range []int{1, 2, 3} {
		for _, T := range []float64{0.5, 1.3} {
			a := linearA(d)
			p := new(nn.Params)
			f := vectorfield.NewLinear(a, nil, p, "A")
			// Default (evaluation) settings: the 1e-6 requirement must hold
			// with what users get.
			blk := cnf.New(f, &cnf.Settings{T: T})
			if got := blk.T(); math.Abs(got-T) > 1e-14 {
				t.Fatalf("T() = %v, want %v", got, T)
			}
			flow := odeflow.NewFlow(odeflow.NewStandardNormal(d), blk)
			rnd := testrand.New(t)
			x := flowtest.RandDense(rnd, 7, d, 1.5)
			want := closedForm(a, T, x)
			got, err := flow.LogProb(nil, x, nil)
			if err != nil {
				t.Fatal(err)
			}
			check.CloseEach(t, "LogProb vs closed form", want, got, 1e-6)

			// Forward: z = exp(TA) x and ldj = T tr A for every row.
			var z mat.Dense
			ldj := make([]float64, 7)
			if err := blk.Forward(&z, ldj, x); err != nil {
				t.Fatal(err)
			}
			var ta, e, wantZ mat.Dense
			ta.Scale(T, a)
			e.Exp(&ta)
			wantZ.Mul(x, e.T())
			check.CloseEach(t, "Forward vs exp(TA)x", flowtest.Flat(&wantZ), flowtest.Flat(&z), 1e-6)
			for i := range ldj {
				check.CloseEach(t, "ldj vs T tr A", []float64{T * mat.Trace(a)}, ldj[i:i+1], 1e-6)
			}

			// Inverse: SampleAndLogProb gives x = exp(−TA) z with the
			// closed-form density, and LogProb of those samples agrees.
			xs := mat.NewDense(9, d, nil)
			lp, err := flow.SampleAndLogProb(xs, nil, nil, rand.NewPCG(testrand.Seed(t), 3))
			if err != nil {
				t.Fatal(err)
			}
			check.CloseEach(t, "SampleAndLogProb vs closed form", closedForm(a, T, xs), lp, 1e-6)
			lp2, err := flow.LogProb(nil, xs, nil)
			if err != nil {
				t.Fatal(err)
			}
			check.CloseEach(t, "SampleAndLogProb vs LogProb", lp2, lp, 1e-6)
			zs := mat.NewDense(9, d, nil)
			zs.Mul(xs, e.T())
			zs2 := mat.NewDense(9, d, nil)
			odeflow.NewStandardNormal(d).Sample(zs2, rand.NewPCG(testrand.Seed(t), 3))
			check.CloseEach(t, "samples are exp(−TA) z", flowtest.Flat(zs2), flowtest.Flat(zs), 1e-6)
		}
	}
}

// TestLinearRegularizers checks the regularizer integrals of a record call
// for f = A z against independent quadratures of the closed-form path
// z(t) = exp(tA) x: ∫‖A z‖², T‖A‖²_F, ∫ mean|A z| and ∫ ‖A z‖/√d.
func TestLinearRegularizers(t *testing.T) {
	const d, T, n = 3, 0.8, 4
	a := linearA(d)
	p := new(nn.Params)
	blk := cnf.New(vectorfield.NewLinear(a, nil, p, "A"), &cnf.Settings{
		T: T, Train: tight(), Kinetic: 1, Frobenius: 2, L1: 3, L2: 4,
	})
	x := flowtest.RandDense(testrand.New(t), n, d, 1)
	var z mat.Dense
	for _, inverse := range []bool{false, true} {
		rec := blk.ForwardRecord
		if inverse {
			rec = blk.InverseRecord
		}
		if err := rec(&z, nil, x); err != nil {
			t.Fatal(err)
		}
		got := blk.Regularizers()
		var want cnf.RegValues
		// Inverse: the path runs from x at t = T back to 0, z(t) = exp((t−T)A) x,
		// and the integrals are still over [0, T] with positive integrands.
		for i := 0; i < n; i++ {
			xi := mat.NewVecDense(d, mat.Row(nil, i, x))
			path := func(s float64) []float64 {
				var m, e mat.Dense
				m.Scale(s, a)
				if inverse {
					m.Scale(s-T, a)
				}
				e.Exp(&m)
				var az, zt mat.VecDense
				zt.MulVec(&e, xi)
				az.MulVec(a, &zt)
				return az.RawVector().Data
			}
			// Break the interval where a component of f crosses zero, so that
			// Gauss–Legendre sees smooth integrands (|·| has kinks there).
			brk := []float64{0, T}
			const grid = 400
			for k := 0; k < grid; k++ {
				lo, hi := T*float64(k)/grid, T*float64(k+1)/grid
				flo, fhi := path(lo), path(hi)
				for j := 0; j < d; j++ {
					if (flo[j] < 0) == (fhi[j] < 0) {
						continue
					}
					a0, b0 := lo, hi
					for it := 0; it < 100; it++ {
						m := (a0 + b0) / 2
						if (path(m)[j] < 0) == (flo[j] < 0) {
							a0 = m
						} else {
							b0 = m
						}
					}
					brk = append(brk, (a0+b0)/2)
				}
			}
			sort.Float64s(brk)
			integ := func(g func(float64) float64) float64 {
				s := 0.0
				for k := 0; k+1 < len(brk); k++ {
					s += quad.Fixed(g, brk[k], brk[k+1], 20, nil, 0)
				}
				return s
			}
			want.Kinetic += integ(func(s float64) float64 { v := path(s); return floats.Dot(v, v) }) / n
			want.L1 += integ(func(s float64) float64 { return floats.Norm(path(s), 1) / d }) / n
			want.L2 += integ(func(s float64) float64 { return floats.Norm(path(s), 2) / math.Sqrt(d) }) / n
		}
		fro := mat.Norm(a, 2)
		want.Frobenius = T * fro * fro
		check.CloseEach(t, "smooth regularizers", []float64{want.Kinetic, want.Frobenius, want.L2},
			[]float64{got.Kinetic, got.Frobenius, got.L2}, 1e-8)
		// The L1 rate has kinks where a component of f changes sign, and the
		// regularizer states are not under error control (by design: they
		// do not change the steps), so its quadrature is only second order
		// across a kink: a looser, still meaningful, tolerance.
		check.CloseEach(t, "L1 regularizer", []float64{want.L1}, []float64{got.L1}, 1e-5)
		wantP := got.Kinetic + 2*got.Frobenius + 3*got.L1 + 4*got.L2
		check.CloseEach(t, "penalty", []float64{wantP}, []float64{blk.Penalty()}, 1e-14)
		if got := cnf.Penalty(odeflow.NewChain(blk)); got != blk.Penalty() {
			t.Errorf("cnf.Penalty of a chain = %v, want %v", got, blk.Penalty())
		}
	}
}
