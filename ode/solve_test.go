package ode

import (
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/floats"
)

func harmonic(omega float64) Func {
	return func(dst []float64, _ float64, y []float64) {
		dst[0] = y[1]
		dst[1] = -omega * omega * y[0]
	}
}

// kepler is the two-body problem d²q/dt² = −q/|q|³ with state (q1, q2, p1, p2).
func kepler(dst []float64, _ float64, y []float64) {
	r3 := math.Pow(y[0]*y[0]+y[1]*y[1], 1.5)
	dst[0] = y[2]
	dst[1] = y[3]
	dst[2] = -y[0] / r3
	dst[3] = -y[1] / r3
}

func keplerEnergy(y []float64) float64 {
	return (y[2]*y[2]+y[3]*y[3])/2 - 1/math.Hypot(y[0], y[1])
}

// keplerY0 starts an orbit of eccentricity 0.5 at its pericentre; its
// energy is −1/2 and its period 2π.
var keplerY0 = []float64{0.5, 0, 0, math.Sqrt(3)}

// TestAdaptiveClosedForm solves y' = Ay and the harmonic oscillator with
// every adaptive method and checks the global error against the closed
// form, and that the solve lands exactly on T1.
//
// Bounds: each accepted step has a local error of RMS norm ≤ 1, so at most
// sqrt(n)·tol·(1+max|y|) per component; these problems do not amplify
// errors by more than κ = ω = 3 (the oscillator's scaling), so the global
// error is at most N·sqrt(n)·tol·(1+max|y|)·κ after N steps. Methods with
// local extrapolation (Order > EmbOrder) propagate a solution far more
// accurate than their estimate and must also be within 100·tol.
func TestAdaptiveClosedForm(t *testing.T) {
	const T = 5.0
	omega := 3.0
	for _, tab := range adaptiveTableaux {
		for _, tol := range []float64{1e-5, 1e-8} {
			if tab.Order <= 2 && tol < 1e-6 {
				continue // a 2nd-order method needs ~10⁶ steps here
			}
			set := &Settings{Method: tab, RTol: tol, ATol: tol, SaveSteps: true}
			res, err := Solve(Problem{F: linearF, T0: 0, T1: T, Y0: linearY0}, set)
			if err != nil {
				t.Fatalf("%s: %v", tab.Name, err)
			}
			if res.T != T || res.StepT[len(res.StepT)-1] != T {
				t.Errorf("%s: ended at %v (last step %v), want exactly %v", tab.Name, res.T, res.StepT[len(res.StepT)-1], T)
			}
			bound := func(n int, ymax float64) float64 {
				b := float64(res.Stats.Accepted) * math.Sqrt(float64(n)) * tol * (1 + ymax) * omega
				if tab.Order > tab.EmbOrder {
					b = math.Min(b, 100*tol)
				}
				return b
			}
			if e, b := maxAbsDiff(res.Y, linearExact(T, 0, linearY0)), bound(3, 1.32); !(e <= b) {
				t.Errorf("%s tol %g: linear error %.3g > %.3g", tab.Name, tol, e, b)
			}
			res, err = Solve(Problem{F: harmonic(omega), T0: 0, T1: T, Y0: []float64{1, 0}}, set)
			if err != nil {
				t.Fatalf("%s: %v", tab.Name, err)
			}
			want := []float64{math.Cos(omega * T), -omega * math.Sin(omega*T)}
			if e, b := maxAbsDiff(res.Y, want), bound(2, omega); !(e <= b) {
				t.Errorf("%s tol %g: oscillator error %.3g > %.3g", tab.Name, tol, e, b)
			}
		}
	}
}

// TestConservedQuantities checks the Lotka–Volterra invariant and the
// Kepler energy at the end of adaptive solves, for tolerances from 1e-6 to
// 1e-12: the drift stays within 100·tol.
func TestConservedQuantities(t *testing.T) {
	for _, tab := range []*Tableau{Dopri5, Tsit5, DOP853} {
		for _, tol := range []float64{1e-6, 1e-9, 1e-12} {
			set := &Settings{Method: tab, RTol: tol, ATol: tol}
			res, err := Solve(Problem{F: lotkaVolterra, T0: 0, T1: lvT, Y0: lvY0}, set)
			if err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(lvInvariant(res.Y) - lvInvariant(lvY0)); !(d <= 100*tol) {
				t.Errorf("%s tol %g: Lotka–Volterra invariant drift %.3g", tab.Name, tol, d)
			}
			res, err = Solve(Problem{F: kepler, T0: 0, T1: 3 * 2 * math.Pi, Y0: keplerY0}, set)
			if err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(keplerEnergy(res.Y) + 0.5); !(d <= 100*tol) {
				t.Errorf("%s tol %g: Kepler energy drift %.3g", tab.Name, tol, d)
			}
			// After three periods the orbit is back at its pericentre.
			if d := maxAbsDiff(res.Y, keplerY0); !(d <= 1e4*tol) {
				t.Errorf("%s tol %g: Kepler orbit misses its start by %.3g", tab.Name, tol, d)
			}
		}
	}
}

// TestArenstorf integrates the Arenstorf orbit over one period at rtol =
// atol = 1e-6 … 1e-12: the orbit must return to its start, and the error
// must fall as the tolerance falls (tolerance proportionality: over six
// decades of tolerance the error falls by at least four decades, and each
// decade of tolerance reduces it).
func TestArenstorf(t *testing.T) {
	for _, tab := range []*Tableau{Dopri5, Tsit5, DOP853} {
		var errs []float64
		tols := []float64{1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12}
		for _, tol := range tols {
			res, err := Solve(Problem{F: arenstorf, T0: 0, T1: arenstorfT, Y0: arenstorfY0}, &Settings{Method: tab, RTol: tol, ATol: tol})
			if err != nil {
				t.Fatal(err)
			}
			errs = append(errs, arenstorfErr(res.Y))
			t.Logf("%s tol %g: error %.3g, nfe %d", tab.Name, tol, errs[len(errs)-1], res.Stats.NFE)
		}
		if errs[0] > 0.1 {
			t.Errorf("%s: the orbit at tol 1e-6 misses its start by %.3g", tab.Name, errs[0])
		}
		for i := 1; i < len(errs); i++ {
			if !(errs[i] < errs[i-1]) {
				t.Errorf("%s: error %.3g at tol %g is not below %.3g at tol %g", tab.Name, errs[i], tols[i], errs[i-1], tols[i-1])
			}
		}
		if !(errs[len(errs)-1] < 1e-4*errs[0]) {
			t.Errorf("%s: error fell only from %.3g to %.3g over six decades of tolerance", tab.Name, errs[0], errs[len(errs)-1])
		}
	}
}

// TestScipyStepSequence checks that the default settings reproduce
// scipy.integrate.solve_ivp(method="RK45", rtol=atol=1e-9) on the Arenstorf
// orbit, which uses 3056 evaluations (figure from the issue, measured with
// scipy).
func TestScipyStepSequence(t *testing.T) {
	res, err := Solve(Problem{F: arenstorf, T0: 0, T1: arenstorfT, Y0: arenstorfY0}, &Settings{RTol: 1e-9, ATol: 1e-9})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.NFE != 3056 {
		t.Errorf("NFE = %d, scipy's RK45 uses 3056", res.Stats.NFE)
	}
}

// TestBackward integrates y' = Ay backward and checks the closed form, then
// integrates forward and back and checks that y0 is recovered.
func TestBackward(t *testing.T) {
	for _, tab := range []*Tableau{BogackiShampine, Dopri5, Tsit5, DOP853} {
		const tol = 1e-9
		set := &Settings{Method: tab, RTol: tol, ATol: tol, SaveSteps: true}
		res, err := Solve(Problem{F: linearF, T0: 3, T1: -1, Y0: linearY0}, set)
		if err != nil {
			t.Fatal(err)
		}
		if res.T != -1 {
			t.Errorf("%s: backward solve ended at %v", tab.Name, res.T)
		}
		for _, h := range res.StepH {
			if !(h < 0) {
				t.Fatalf("%s: backward step h = %v", tab.Name, h)
			}
		}
		if e := maxAbsDiff(res.Y, linearExact(-1, 3, linearY0)); !(e <= 100*tol) {
			t.Errorf("%s: backward error %.3g", tab.Name, e)
		}
		fwd, err := Solve(Problem{F: arenstorf, T0: 0, T1: 5, Y0: arenstorfY0}, set)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Solve(Problem{F: arenstorf, T0: 5, T1: 0, Y0: fwd.Y}, set)
		if err != nil {
			t.Fatal(err)
		}
		if e := maxAbsDiff(back.Y, arenstorfY0); !(e <= 1e4*tol) {
			t.Errorf("%s: round trip misses y0 by %.3g", tab.Name, e)
		}
	}
}

// TestFixedStepModes checks Step and Grid: the step count, landing on T1,
// and that Grid with equal spacing reproduces Step.
func TestFixedStepModes(t *testing.T) {
	for _, dir := range []float64{1, -1} {
		p := Problem{F: linearF, T0: 0, T1: dir * 1, Y0: linearY0}
		res, err := Solve(p, &Settings{Method: RK4, Step: 0.3, SaveSteps: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Stats.Accepted != 4 || res.T != p.T1 {
			t.Errorf("dir %v: %d steps ending at %v, want 4 ending at %v", dir, res.Stats.Accepted, res.T, p.T1)
		}
		wantT := []float64{0, 0.3 * dir, 0.6 * dir, 0.3 * 3 * dir, dir}
		if !floats.EqualApprox(res.StepT, wantT, 1e-15) {
			t.Errorf("dir %v: step times %v, want %v", dir, res.StepT, wantT)
		}
		if res.Stats.NFE != 1+4*4-1 {
			t.Errorf("dir %v: NFE %d, want %d (FSAL-free RK4 reuses f(t1, y1))", dir, res.Stats.NFE, 1+4*4-1)
		}
		grid := []float64{0, 0.3 * dir, 0.6 * dir, 0.3 * 3 * dir, dir}
		res2, err := Solve(p, &Settings{Method: RK4, Grid: grid})
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(res.Y, res2.Y); d > 1e-15 {
			t.Errorf("dir %v: Grid and Step differ by %.3g", dir, d)
		}
	}
	// Uneven grid, adaptive-capable method in fixed mode.
	grid := []float64{0, 0.01, 0.05, 0.2, 0.21, 0.5, 1}
	res, err := Solve(Problem{F: linearF, T0: 0, T1: 1, Y0: linearY0}, &Settings{Method: Dopri5, Grid: grid, SaveSteps: true})
	if err != nil {
		t.Fatal(err)
	}
	if !floats.Equal(res.StepT, grid) {
		t.Errorf("grid steps at %v, want %v", res.StepT, grid)
	}
	st := NewStepper(Dopri5, 3)
	y := append([]float64(nil), linearY0...)
	for i := 1; i < len(grid); i++ {
		st.Step(linearF, grid[i-1], y, grid[i]-grid[i-1], nil)
		copy(y, st.Y1)
	}
	if !floats.Equal(y, res.Y) {
		t.Errorf("grid solve differs from stepping the grid by %.3g", maxAbsDiff(y, res.Y))
	}
}

// TestSaveAtAndDense checks SaveAt outputs and the Dense object against the
// closed form, forward and backward, with exact values at T0 and T1.
func TestSaveAtAndDense(t *testing.T) {
	for _, tab := range []*Tableau{BogackiShampine, CashKarp, Dopri5, Tsit5, DOP853} {
		for _, dir := range []float64{1, -1} {
			const tol = 1e-10
			t1 := dir * 4
			var save []float64
			for i := 0; i <= 40; i++ {
				save = append(save, t1*float64(i)/40)
			}
			save = append(save, t1) // a repeated time is allowed
			set := &Settings{Method: tab, RTol: tol, ATol: tol, SaveAt: save, Dense: true, SaveSteps: true}
			res, err := Solve(Problem{F: linearF, T0: 0, T1: t1, Y0: linearY0}, set)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Ts) != len(save) || len(res.Ys) != len(save)*3 {
				t.Fatalf("%s: %d saved times, want %d", tab.Name, len(res.Ts), len(save))
			}
			// Interpolation accuracy: the interpolants of Dopri5 and
			// Tsit5 are one order lower than the solution, Hermite's
			// order 3; allow 1000·tol.
			worst := 0.0
			for i, ts := range res.Ts {
				if ts != save[i] {
					t.Errorf("%s: Ts[%d] = %v, want %v", tab.Name, i, ts, save[i])
				}
				worst = math.Max(worst, maxAbsDiff(res.SavedY(i), linearExact(ts, 0, linearY0)))
			}
			if !(worst <= 1000*tol) {
				t.Errorf("%s dir %v: SaveAt error %.3g", tab.Name, dir, worst)
			}
			if !floats.Equal(res.SavedY(0), linearY0) || !floats.Equal(res.SavedY(len(save)-1), res.Y) {
				t.Errorf("%s: SaveAt at T0 and T1 are not exact", tab.Name)
			}
			// SaveAt does not force steps.
			res2, _ := Solve(Problem{F: linearF, T0: 0, T1: t1, Y0: linearY0}, &Settings{Method: tab, RTol: tol, ATol: tol})
			if res2.Stats.Accepted != res.Stats.Accepted || !floats.Equal(res2.Y, res.Y) {
				t.Errorf("%s: SaveAt changed the steps (%d vs %d)", tab.Name, res.Stats.Accepted, res2.Stats.Accepted)
			}
			d := res.Dense
			if d.T0() != 0 || d.T1() != t1 || d.Steps() != res.Stats.Accepted {
				t.Errorf("%s: Dense covers [%v, %v] with %d steps", tab.Name, d.T0(), d.T1(), d.Steps())
			}
			y := make([]float64, 3)
			worst = 0
			for i := 0; i <= 397; i++ {
				ts := t1 * float64(i) / 397
				worst = math.Max(worst, maxAbsDiff(d.Eval(y, ts), linearExact(ts, 0, linearY0)))
			}
			if !(worst <= 1000*tol) {
				t.Errorf("%s dir %v: Dense error %.3g", tab.Name, dir, worst)
			}
			// At step boundaries the dense output is the step state.
			for i, ts := range res.StepT {
				if !floats.Equal(d.Eval(y, ts), res.StepState(i)) {
					t.Errorf("%s: Dense at step %d differs from the step state", tab.Name, i)
					break
				}
			}
		}
	}
}

// TestStepsReplay re-runs every recorded step with a Stepper and checks
// that it reproduces the next recorded state bit for bit: what an adjoint
// needs to back-propagate through the exact computation.
func TestStepsReplay(t *testing.T) {
	for _, tab := range []*Tableau{Dopri5, DOP853, CashKarp} {
		for _, t1 := range []float64{arenstorfT / 2, -3} {
			res, err := Solve(Problem{F: arenstorf, T0: 0, T1: t1, Y0: arenstorfY0}, &Settings{Method: tab, RTol: 1e-8, ATol: 1e-8, SaveSteps: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.StepH) != res.Stats.Accepted || len(res.StepT) != res.Stats.Accepted+1 {
				t.Fatalf("%s: %d step sizes, %d times for %d steps", tab.Name, len(res.StepH), len(res.StepT), res.Stats.Accepted)
			}
			st := NewStepper(tab, 4)
			for i, h := range res.StepH {
				st.Step(arenstorf, res.StepT[i], res.StepState(i), h, nil)
				if !floats.Equal(st.Y1, res.StepState(i+1)) {
					t.Fatalf("%s: replay of step %d differs by %.3g", tab.Name, i, maxAbsDiff(st.Y1, res.StepState(i+1)))
				}
			}
		}
	}
}

// TestStepper checks the stage data of a single step against its
// definition, and that passing f0 is equivalent to letting Step evaluate it.
func TestStepper(t *testing.T) {
	for _, tab := range allTableaux {
		st := NewStepper(tab, 3)
		const t0, h = 0.2, 0.1
		y := []float64{0.3, -1, 2}
		yc := append([]float64(nil), y...)
		nfe := st.Step(linearF, t0, y, h, nil)
		if nfe != tab.Stages() {
			t.Errorf("%s: %d evaluations, want %d", tab.Name, nfe, tab.Stages())
		}
		if !floats.Equal(y, yc) {
			t.Errorf("%s: Step modified y", tab.Name)
		}
		f := make([]float64, 3)
		want := make([]float64, 3)
		for i := 0; i < tab.Stages(); i++ {
			copy(want, y)
			for j, a := range tab.A[i] {
				floats.AddScaled(want, h*a, st.K[j])
			}
			if d := maxAbsDiff(st.Stage[i], want); d > 1e-15 {
				t.Errorf("%s: stage %d input off by %.3g", tab.Name, i, d)
			}
			linearF(f, t0+tab.C[i]*h, st.Stage[i])
			if !floats.Equal(f, st.K[i]) {
				t.Errorf("%s: K[%d] is not f at the stage", tab.Name, i)
			}
		}
		copy(want, y)
		for j, b := range tab.B {
			floats.AddScaled(want, h*b, st.K[j])
		}
		if d := maxAbsDiff(st.Y1, want); d > 1e-15 {
			t.Errorf("%s: Y1 off by %.3g", tab.Name, d)
		}
		if tab.BErr != nil {
			var e [3]float64
			for j, b := range tab.BErr {
				floats.AddScaled(e[:], h*b, st.K[j])
			}
			if d := maxAbsDiff(st.Err, e[:]); d > 1e-15 {
				t.Errorf("%s: Err off by %.3g", tab.Name, d)
			}
		}
		f1, k := st.EndDeriv(linearF)
		linearF(f, t0+h, st.Y1)
		if (tab.FSAL && k != 0) || (!tab.FSAL && k != 1) || !floats.Equal(f1, f) {
			t.Errorf("%s: EndDeriv wrong (k = %d)", tab.Name, k)
		}
		y1 := append([]float64(nil), st.Y1...)
		linearF(f, t0, y)
		if nfe := st.Step(linearF, t0, y, h, f); nfe != tab.Stages()-1 {
			t.Errorf("%s: with f0, %d evaluations", tab.Name, nfe)
		}
		if !floats.Equal(y1, st.Y1) {
			t.Errorf("%s: Step with f0 differs", tab.Name)
		}
	}
}

func TestPerComponentTolerance(t *testing.T) {
	// Loose tolerance on the second component only: fewer steps than with
	// the tight scalar tolerance, more than with the loose one.
	p := Problem{F: harmonic(2), T0: 0, T1: 10, Y0: []float64{1, 0}}
	tight, _ := Solve(p, &Settings{RTol: 1e-10, ATol: 1e-10})
	mixed, _ := Solve(p, &Settings{RTolVec: []float64{1e-10, 1e-4}, ATolVec: []float64{1e-10, 1e-4}})
	loose, _ := Solve(p, &Settings{RTol: 1e-4, ATol: 1e-4})
	if !(loose.Stats.NFE < mixed.Stats.NFE && mixed.Stats.NFE <= tight.Stats.NFE) {
		t.Errorf("NFE loose %d, mixed %d, tight %d", loose.Stats.NFE, mixed.Stats.NFE, tight.Stats.NFE)
	}
	// A seminorm that ignores the second component matches MaskNorm.
	a, _ := Solve(p, &Settings{RTol: 1e-8, ATol: 1e-8, Norm: SemiNorm(1, 2)})
	b, _ := Solve(p, &Settings{RTol: 1e-8, ATol: 1e-8, Norm: MaskNorm([]bool{true, false})})
	if a.Stats.NFE != b.Stats.NFE || !floats.Equal(a.Y, b.Y) {
		t.Errorf("SemiNorm and MaskNorm disagree")
	}
}

func TestNorms(t *testing.T) {
	r := []float64{3, -4, 12}
	if got, want := RMSNorm(r), 13/math.Sqrt(3); math.Abs(got-want) > 1e-15 {
		t.Errorf("RMSNorm = %v, want %v", got, want)
	}
	if got := MaxNorm(r); got != 12 {
		t.Errorf("MaxNorm = %v", got)
	}
	if got, want := SemiNorm(2, 3)(r), 5/math.Sqrt(2); math.Abs(got-want) > 1e-15 {
		t.Errorf("SemiNorm = %v, want %v", got, want)
	}
	if got, want := SemiNorm(0, 1)(r), math.Sqrt(160.0/2); math.Abs(got-want) > 1e-14 {
		t.Errorf("SemiNorm = %v, want %v", got, want)
	}
	if got := SemiNorm(0, 3)(r); got != 0 {
		t.Errorf("SemiNorm of nothing = %v", got)
	}
	if got, want := MaskNorm([]bool{false, true, true})(r), math.Sqrt(160.0/2); math.Abs(got-want) > 1e-14 {
		t.Errorf("MaskNorm = %v, want %v", got, want)
	}
	if RMSNorm(nil) != 0 {
		t.Errorf("RMSNorm(nil) != 0")
	}
}

func TestControllers(t *testing.T) {
	for _, c := range []Controller{I{}, PI{}} {
		name := fmt.Sprintf("%T", c)
		var st ControlState
		st.Reset()
		if ok, f := c.Adapt(&st, 2, 4); ok || !(f < 1 && f >= DefaultFacMin) {
			t.Errorf("%s: err 2 gives accept %v factor %v", name, ok, f)
		}
		if ok, f := c.Adapt(&st, 0.01, 4); !ok || f > 1 {
			t.Errorf("%s: after a rejection, factor %v (accept %v)", name, f, ok)
		}
		if ok, f := c.Adapt(&st, 0, 4); !ok || f != DefaultFacMax {
			t.Errorf("%s: zero error gives %v, %v", name, ok, f)
		}
		if ok, f := c.Adapt(&st, math.Inf(1), 4); ok || f != DefaultFacMin {
			t.Errorf("%s: infinite error gives %v, %v", name, ok, f)
		}
	}
	var st ControlState
	st.Reset()
	_, f := I{}.Adapt(&st, 0.5, 4)
	if want := 0.9 * math.Pow(0.5, -0.2); math.Abs(f-want) > 1e-15 {
		t.Errorf("I factor %v, want %v", f, want)
	}
	st.Reset()
	PI{}.Adapt(&st, 0.5, 4)
	_, f = PI{}.Adapt(&st, 0.25, 4)
	if want := 0.9 * math.Pow(0.25, -0.7/5) * math.Pow(0.5, 0.4/5); math.Abs(f-want) > 1e-15 {
		t.Errorf("PI factor %v, want %v", f, want)
	}
	// PI is a working controller: it solves Arenstorf to tolerance.
	res, err := Solve(Problem{F: arenstorf, T0: 0, T1: arenstorfT, Y0: arenstorfY0}, &Settings{RTol: 1e-9, ATol: 1e-9, Controller: PI{}})
	if err != nil || arenstorfErr(res.Y) > 1e-4 {
		t.Errorf("PI: error %.3g, %v", arenstorfErr(res.Y), err)
	}
}
