package cnf_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/adjoint"
	"github.com/odeflow/odeflow/cnf"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/trace"
)

var methods = []adjoint.Method{adjoint.Checkpointed, adjoint.Direct, adjoint.Backsolve}

// gradModel is a small FFJORD model (2 → 8-8 concatsquash tanh → 2, one
// block, standard normal base) with tight solver settings for one gradient
// method. Models built with the same arguments are identical.
type gradModel struct {
	p    *nn.Params
	blk  *cnf.Block
	cblk *cnf.ConditionalBlock
	flow *odeflow.Flow
	pcg  *rand.PCG // the block's noise source, reseeded before every solve
}

func newGradModel(t testing.TB, m adjoint.Method, s cnf.Settings, ctx int) *gradModel {
	g := &gradModel{p: new(nn.Params), pcg: rand.NewPCG(5, 6)}
	f := smallField(t, g.p, "f", 2, "8-8", ctx, 3)
	s.T = 0.6
	s.Src = g.pcg
	ss := cnf.SolverSettings{RTol: 1e-12, ATol: 1e-12}
	if s.Train != nil {
		ss = *s.Train
	}
	ss.Gradient = m
	s.Train, s.Eval = &ss, &ss
	if ctx > 0 {
		g.cblk = cnf.NewConditional(f, &s)
		g.blk = g.cblk.Block()
		g.flow = odeflow.NewConditionalFlow(odeflow.NewStandardNormal(2), g.cblk)
	} else {
		g.blk = cnf.New(f, &s)
		g.flow = odeflow.NewFlow(odeflow.NewStandardNormal(2), g.blk)
	}
	return g
}

func (g *gradModel) reseed() { g.pcg.Seed(5, 6) }

// loss is the training objective through a record call:
//
//	L = −mean_i log p(x_i) + Penalty
//
// evaluated from scratch (the fd reference).
func (g *gradModel) loss(t testing.TB, x, c *mat.Dense) float64 {
	n, _ := x.Dims()
	tr := odeflow.Transform(g.blk)
	if g.cblk != nil {
		tr = g.cblk.Given(c)
	}
	var z mat.Dense
	ldj := make([]float64, n)
	g.reseed()
	if err := tr.(odeflow.Differentiable).ForwardRecord(&z, ldj, x); err != nil {
		t.Fatal(err)
	}
	l := 0.0
	for i := 0; i < n; i++ {
		l -= logNormal(z.RawRowView(i)) + ldj[i]
	}
	return l/float64(n) + cnf.Penalty(tr)
}

// grad returns ∂L/∂θ and ∂L/∂x by Flow.LogProbGrad (weights −1/n), which
// runs ForwardRecord and Backward.
func (g *gradModel) grad(t testing.TB, x, c *mat.Dense) (gp, gx []float64) {
	n, _ := x.Dims()
	w := make([]float64, n)
	for i := range w {
		w[i] = -1 / float64(n)
	}
	gp = make([]float64, g.p.Len())
	var gxm mat.Dense
	g.reseed()
	if _, err := g.flow.LogProbGrad(nil, gp, &gxm, w, x, c); err != nil {
		t.Fatal(err)
	}
	return gp, flowtest.Flat(&gxm)
}

// fdRef returns the central-difference gradient of the loss with respect
// to every parameter (τ included) and to x.
func (g *gradModel) fdRef(t testing.TB, x, c *mat.Dense) (gp, gx []float64) {
	theta := check.Clone(g.p.Data)
	gp = check.GradRef(func(th []float64) float64 {
		copy(g.p.Data, th)
		defer copy(g.p.Data, theta)
		return g.loss(t, x, c)
	}, theta)
	n, d := x.Dims()
	gx = check.GradRef(func(u []float64) float64 {
		return g.loss(t, mat.NewDense(n, d, u), c)
	}, flowtest.Flat(x))
	return gp, gx
}

// TestNLLGradient checks the gradient of the mean NLL (plus the
// regularization penalty, when enabled) with respect to every parameter,
// T's parameter τ and the input, by the three gradient methods, against
// central finite differences of the whole computation; Checkpointed must
// equal Direct to rounding, Backsolve agree to its tolerance.
func TestNLLGradient(t *testing.T) {
	cases := []struct {
		name string
		s    cnf.Settings
		ctx  int
		// bsTol, if not zero, replaces the tolerances of Backsolve: with L1
		// the adjoint equations have a discontinuous right-hand side
		// (sign f_j flips along the path), which a Runge–Kutta step across
		// the jump integrates only to first order in the step size.
		bsTol float64
	}{
		{"exact", cnf.Settings{}, 0, 0},
		{"hutchinson-gaussian", cnf.Settings{Divergence: cnf.Hutchinson, Probe: trace.Gaussian, Probes: 2}, 0, 0},
		{"hutchinson-rademacher", cnf.Settings{Divergence: cnf.Hutchinson}, 0, 0},
		{"kinetic", cnf.Settings{Kinetic: 0.7}, 0, 0},
		{"frobenius", cnf.Settings{Frobenius: 0.3}, 0, 0},
		{"frobenius-hutchinson", cnf.Settings{Frobenius: 0.3, Divergence: cnf.Hutchinson}, 0, 0},
		// L1's rate |f_j| has kinks, and regularizer states are not under
		// error control, so the computed L1 integral depends on the step
		// sizes at the level of its (first-order) quadrature error; the
		// discrete adjoint holds the steps fixed, so only with fixed steps
		// is it the derivative that finite differences see.
		{"l1-fixed-steps", cnf.Settings{L1: 0.5, Train: &cnf.SolverSettings{Step: 0.6 / 200}}, 0, 1e-4},
		{"l2", cnf.Settings{L2: 0.9}, 0, 0},
		{"smooth-regularizers", cnf.Settings{Kinetic: 0.2, Frobenius: 0.1, L2: 0.4}, 0, 0},
		{"all-regularizers-fixed-steps", cnf.Settings{Kinetic: 0.2, Frobenius: 0.1, L1: 0.3, L2: 0.4, Train: &cnf.SolverSettings{Step: 0.6 / 200}}, 0, 1e-4},
		{"conditional", cnf.Settings{}, 1, 0},
		{"conditional-hutchinson-kinetic", cnf.Settings{Divergence: cnf.Hutchinson, Kinetic: 0.4}, 2, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testrand.New(t)
			x := flowtest.RandDense(rnd, 5, 2, 1)
			var c *mat.Dense
			if tc.ctx > 0 {
				c = flowtest.RandDense(rnd, 5, tc.ctx, 1)
			}
			var ref [2][]float64
			var direct [2][]float64
			for k, m := range methods {
				g := newGradModel(t, m, tc.s, tc.ctx)
				if k == 0 {
					ref[0], ref[1] = g.fdRef(t, x, c)
				}
				gp, gx := g.grad(t, x, c)
				tol := check.Tol
				if m == adjoint.Backsolve && tc.bsTol != 0 {
					tol = tc.bsTol
				}
				check.Close(t, fmt.Sprintf("%v: ∂L/∂θ vs fd", m), ref[0], gp, tol)
				check.Close(t, fmt.Sprintf("%v: ∂L/∂x vs fd", m), ref[1], gx, tol)
				switch m {
				case adjoint.Direct:
					direct[0], direct[1] = gp, gx
				case adjoint.Checkpointed:
					defer func() {
						check.Close(t, "checkpointed vs direct ∂L/∂θ", direct[0], gp, 1e-10)
						check.Close(t, "checkpointed vs direct ∂L/∂x", direct[1], gx, 1e-10)
					}()
				case adjoint.Backsolve:
					// Continuous adjoint at rtol = atol = 1e-12: agrees
					// with the discrete gradient to the solver's accuracy.
					tol := 1e-8
					if tc.bsTol != 0 {
						tol = tc.bsTol
					}
					check.Close(t, "backsolve vs direct ∂L/∂θ", direct[0], gp, tol)
					check.Close(t, "backsolve vs direct ∂L/∂x", direct[1], gx, tol)
				}
			}
		})
	}
}

// TestTGradient checks ∂L/∂T (from the τ entry, ∂L/∂τ = ∂L/∂T · σ(τ))
// against finite differences in T itself, in both directions.
func TestTGradient(t *testing.T) {
	for _, m := range methods {
		for _, inverse := range []bool{false, true} {
			g := newGradModel(t, m, cnf.Settings{Kinetic: 0.5}, 0)
			rnd := testrand.New(t)
			x := flowtest.RandDense(rnd, 4, 2, 1)
			a := flowtest.RandDense(rnd, 4, 2, 1)
			b := flowtest.RandSlice(rnd, 4, 1)
			rec := g.blk.ForwardRecord
			if inverse {
				rec = g.blk.InverseRecord
			}
			// L = Σ a·v + Σ b·Δ + Penalty
			loss := func() float64 {
				var v mat.Dense
				ldj := make([]float64, 4)
				if err := rec(&v, ldj, x); err != nil {
					t.Fatal(err)
				}
				l := g.blk.Penalty()
				for i := 0; i < 4; i++ {
					l += b[i] * ldj[i]
					for j := 0; j < 2; j++ {
						l += a.At(i, j) * v.At(i, j)
					}
				}
				return l
			}
			T0 := g.blk.T()
			want := check.GradRef(func(T []float64) float64 {
				g.blk.SetT(T[0])
				defer g.blk.SetT(T0)
				return loss()
			}, []float64{T0})
			loss()
			gp := make([]float64, g.p.Len())
			if err := g.blk.Backward(nil, gp, a, b); err != nil {
				t.Fatal(err)
			}
			tau := g.p.Data[len(g.p.Data)-1]
			got := gp[len(gp)-1] / (1 / (1 + math.Exp(-tau)))
			check.Close(t, fmt.Sprintf("%v inverse=%v: ∂L/∂T", m, inverse), want, []float64{got}, check.Tol)
		}
	}
}

// TestInverseGradient checks Backward after InverseRecord (the sampling
// path of reverse-KL training) with regularizers, by every method, for
// L = Σ a·x + Σ b·Δ + Penalty against finite differences.
func TestInverseGradient(t *testing.T) {
	rnd := testrand.New(t)
	y := flowtest.RandDense(rnd, 4, 2, 1)
	a := flowtest.RandDense(rnd, 4, 2, 1)
	b := flowtest.RandSlice(rnd, 4, 1)
	s := cnf.Settings{Kinetic: 0.3, Frobenius: 0.2, L2: 0.5, Divergence: cnf.Hutchinson}
	var wantP, wantY []float64
	for k, m := range methods {
		g := newGradModel(t, m, s, 0)
		loss := func(u *mat.Dense) float64 {
			var v mat.Dense
			ldj := make([]float64, 4)
			g.reseed()
			if err := g.blk.InverseRecord(&v, ldj, u); err != nil {
				t.Fatal(err)
			}
			l := g.blk.Penalty()
			for i := 0; i < 4; i++ {
				l += b[i] * ldj[i]
				for j := 0; j < 2; j++ {
					l += a.At(i, j) * v.At(i, j)
				}
			}
			return l
		}
		if k == 0 {
			theta := check.Clone(g.p.Data)
			wantP = check.GradRef(func(th []float64) float64 {
				copy(g.p.Data, th)
				defer copy(g.p.Data, theta)
				return loss(y)
			}, theta)
			wantY = check.GradRef(func(u []float64) float64 { return loss(mat.NewDense(4, 2, u)) }, flowtest.Flat(y))
		}
		loss(y)
		gp := make([]float64, g.p.Len())
		var gy mat.Dense
		if err := g.blk.Backward(&gy, gp, a, b); err != nil {
			t.Fatal(err)
		}
		check.Close(t, fmt.Sprintf("%v: ∂L/∂θ", m), wantP, gp, check.Tol)
		check.Close(t, fmt.Sprintf("%v: ∂L/∂y", m), wantY, flowtest.Flat(&gy), check.Tol)
	}
}
