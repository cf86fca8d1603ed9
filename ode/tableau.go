package ode

import (
	"errors"
	"fmt"
	"math"
)

// Tableau is an explicit Runge–Kutta method given as data: its Butcher
// tableau, the weights of its embedded error estimate and the coefficients
// of its continuous (dense) output.
//
// A step of size h from (t, y) evaluates s = len(C) stages
//
//	Y_i = y + h Σ_{j<i} A[i][j] k_j,   k_i = f(t + C[i] h, Y_i),
//
// and propagates y1 = y + h Σ_i B[i] k_i. The error estimate is
//
//	e = h Σ_i BErr[i] k_i        (BErr = b − b̂ for an embedded pair b̂)
//
// and, when BErr2 is not nil, a second estimate e2 = h Σ_i BErr2[i] k_i is
// combined with the first (see ErrMix).
//
// Extended stages. After an accepted step the dense output may use more
// derivatives than the s stages. They are numbered after the stages:
//
//	index s−1 is f(t+h, y1) when FSAL is true (the last stage);
//	index s   is f(t+h, y1) when FSAL is false;
//	then one index for each extra stage of DenseC / DenseA.
//
// The interpolant on the step is
//
//	y(t + θh) = y + h Σ_i k_i Σ_{j=0}^{deg−1} DenseP[i][j] θ^{j+1},   θ ∈ [0, 1],
//
// with i running over the extended stages. When DenseP is nil the solver uses
// the cubic Hermite interpolant through y, y1, f(t, y) and f(t+h, y1).
type Tableau struct {
	// Name is a short human-readable name, e.g. "dopri5".
	Name string

	// Order is the order of the propagated solution B.
	Order int

	// ErrOrder is the order q used by step-size control: the error estimate
	// behaves like h^(q+1) and the controllers use exponents in 1/(q+1).
	// For an ordinary embedded pair it is min(Order, EmbOrder); for DOP853
	// it is 7, as in Hairer's dop853 and scipy. It is 0 when the method has
	// no error estimate.
	ErrOrder int

	// EmbOrder is the order of the embedded solution B − BErr (0 if none),
	// and EmbOrder2 that of B − BErr2 (0 if BErr2 is nil).
	EmbOrder, EmbOrder2 int

	// C holds the nodes c_i; C[0] is 0.
	C []float64
	// A holds the strictly lower triangular coefficients: len(A[i]) == i.
	A [][]float64
	// B holds the weights of the propagated solution.
	B []float64
	// BErr holds b − b̂, the weights of the error estimate; nil for methods
	// that can only be used with a fixed step.
	BErr []float64
	// BErr2, if not nil, holds the weights of a second error estimate, and
	// the error norm used by the controller is the combination
	//
	//	err = e1² / sqrt(e1² + ErrMix·e2²)
	//
	// of the norms e1 and e2 of the two scaled estimates (Hairer's dop853
	// rule with e1 the 5th- and e2 the 3rd-order estimate, ErrMix = 0.01).
	// When both are zero the combined error is zero.
	BErr2  []float64
	ErrMix float64

	// FSAL is true when the last stage is evaluated at (t+h, y1), that is
	// C[s−1] == 1 and A[s−1] == B (with B[s−1] == 0), so the next step can
	// reuse it as its first stage.
	FSAL bool

	// DenseC and DenseA define extra stages for the dense output, evaluated
	// only when an interpolant is needed: extra stage m has node DenseC[m]
	// and coefficients DenseA[m] over the extended stages before it.
	DenseC []float64
	DenseA [][]float64
	// DenseP holds the interpolation coefficients (see the type comment):
	// one row per extended stage, each of length deg. Nil means Hermite.
	DenseP [][]float64
	// DenseOrder is the order of the interpolant: its local error on one step
	// behaves like h^(DenseOrder+1).
	DenseOrder int
}

// Adaptive reports whether t has an error estimate, so it can be used with
// adaptive step-size control.
func (t *Tableau) Adaptive() bool { return t.BErr != nil }

// Stages returns the number of stages evaluated by one step.
func (t *Tableau) Stages() int { return len(t.C) }

// endIndex is the extended-stage index of f(t+h, y1).
func (t *Tableau) endIndex() int {
	if t.FSAL {
		return len(t.C) - 1
	}
	return len(t.C)
}

// extStages is the number of extended stages.
func (t *Tableau) extStages() int { return t.endIndex() + 1 + len(t.DenseC) }

// consistencyTol is the tolerance on the row-sum and weight-sum identities.
// The coefficients are rounded to float64, and some (Tsit5, DOP853) are
// published with about 16 significant digits.
const consistencyTol = 1e-13

// Validate checks the shapes and the consistency conditions of the tableau:
// Σ_j A[i][j] = C[i], Σ B = 1, Σ BErr = 0 and Σ BErr2 = 0 (to a tolerance of
// 1e-13), C[0] = 0, the FSAL property if claimed, and the shapes of the
// dense-output data. It returns nil if the tableau is valid.
func (t *Tableau) Validate() error {
	s := len(t.C)
	if s == 0 {
		return errors.New("ode: tableau has no stages")
	}
	if t.C[0] != 0 {
		return fmt.Errorf("ode: tableau %s: C[0] = %v, want 0", t.Name, t.C[0])
	}
	if len(t.A) != s {
		return fmt.Errorf("ode: tableau %s: len(A) = %d, want %d", t.Name, len(t.A), s)
	}
	if len(t.B) != s {
		return fmt.Errorf("ode: tableau %s: len(B) = %d, want %d", t.Name, len(t.B), s)
	}
	if t.Order < 1 {
		return fmt.Errorf("ode: tableau %s: Order = %d", t.Name, t.Order)
	}
	for i, row := range t.A {
		if len(row) != i {
			return fmt.Errorf("ode: tableau %s: len(A[%d]) = %d, want %d", t.Name, i, len(row), i)
		}
		if i == 0 {
			continue
		}
		if d := math.Abs(sum(row) - t.C[i]); d > consistencyTol {
			return fmt.Errorf("ode: tableau %s: Σ_j A[%d][j] − C[%d] = %.3g", t.Name, i, i, d)
		}
	}
	if d := math.Abs(sum(t.B) - 1); d > consistencyTol {
		return fmt.Errorf("ode: tableau %s: Σ B − 1 = %.3g", t.Name, d)
	}
	if t.BErr != nil {
		if len(t.BErr) != s {
			return fmt.Errorf("ode: tableau %s: len(BErr) = %d, want %d", t.Name, len(t.BErr), s)
		}
		if d := math.Abs(sum(t.BErr)); d > consistencyTol {
			return fmt.Errorf("ode: tableau %s: Σ BErr = %.3g, want 0", t.Name, d)
		}
		if t.ErrOrder < 1 {
			return fmt.Errorf("ode: tableau %s: has BErr but ErrOrder = %d", t.Name, t.ErrOrder)
		}
	}
	if t.BErr2 != nil {
		if t.BErr == nil {
			return fmt.Errorf("ode: tableau %s: BErr2 without BErr", t.Name)
		}
		if len(t.BErr2) != s {
			return fmt.Errorf("ode: tableau %s: len(BErr2) = %d, want %d", t.Name, len(t.BErr2), s)
		}
		if d := math.Abs(sum(t.BErr2)); d > consistencyTol {
			return fmt.Errorf("ode: tableau %s: Σ BErr2 = %.3g, want 0", t.Name, d)
		}
		if !(t.ErrMix > 0) {
			return fmt.Errorf("ode: tableau %s: BErr2 needs ErrMix > 0", t.Name)
		}
	}
	if t.FSAL {
		if t.C[s-1] != 1 || t.B[s-1] != 0 {
			return fmt.Errorf("ode: tableau %s: FSAL needs C[s−1] = 1 and B[s−1] = 0", t.Name)
		}
		for j, a := range t.A[s-1] {
			if a != t.B[j] {
				return fmt.Errorf("ode: tableau %s: FSAL needs A[s−1] == B (differs at %d)", t.Name, j)
			}
		}
	}
	if len(t.DenseA) != len(t.DenseC) {
		return fmt.Errorf("ode: tableau %s: len(DenseA) = %d, len(DenseC) = %d", t.Name, len(t.DenseA), len(t.DenseC))
	}
	base := t.endIndex() + 1
	for m, row := range t.DenseA {
		if len(row) != base+m {
			return fmt.Errorf("ode: tableau %s: len(DenseA[%d]) = %d, want %d", t.Name, m, len(row), base+m)
		}
		if d := math.Abs(sum(row) - t.DenseC[m]); d > consistencyTol {
			return fmt.Errorf("ode: tableau %s: Σ_j DenseA[%d][j] − DenseC[%d] = %.3g", t.Name, m, m, d)
		}
	}
	if t.DenseP != nil {
		if len(t.DenseP) != t.extStages() {
			return fmt.Errorf("ode: tableau %s: len(DenseP) = %d, want %d", t.Name, len(t.DenseP), t.extStages())
		}
		deg := len(t.DenseP[0])
		if deg == 0 {
			return fmt.Errorf("ode: tableau %s: DenseP rows are empty", t.Name)
		}
		for i, row := range t.DenseP {
			if len(row) != deg {
				return fmt.Errorf("ode: tableau %s: len(DenseP[%d]) = %d, want %d", t.Name, i, len(row), deg)
			}
		}
	} else if len(t.DenseC) != 0 {
		return fmt.Errorf("ode: tableau %s: extra dense stages without DenseP", t.Name)
	}
	return nil
}

// denseP returns the interpolation matrix over the extended stages: DenseP,
// or the cubic Hermite interpolant written in the same form,
//
//	y(θ) = y0 + θ h f0 + θ² (3Δ − h(2 f0 + f1)) + θ³ (h(f0 + f1) − 2Δ),
//
// with Δ = y1 − y0 = h Σ b_i k_i, f0 = k_0 and f1 the end derivative.
func (t *Tableau) denseP() [][]float64 {
	if t.DenseP != nil {
		return t.DenseP
	}
	p := make([][]float64, t.extStages())
	for i := range p {
		p[i] = make([]float64, 3)
		if i < len(t.B) {
			p[i][1] = 3 * t.B[i]
			p[i][2] = -2 * t.B[i]
		}
	}
	e := t.endIndex()
	p[0][0] += 1
	p[0][1] -= 2
	p[0][2] += 1
	p[e][1] -= 1
	p[e][2] += 1
	return p
}

func sum(s []float64) float64 {
	var v float64
	for _, x := range s {
		v += x
	}
	return v
}
