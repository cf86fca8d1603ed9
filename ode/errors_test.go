package ode

import (
	"errors"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats"
)

// checkFailure checks the common contract of a failed solve: an *Error with
// the wanted Status, wrapping the status sentinel, a Result with the same
// Status, and a message that says where the solve stopped.
func checkFailure(t *testing.T, name string, res *Result, err error, want Status) *Error {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %v", name, want)
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("%s: error %T is not *Error", name, err)
		return nil
	}
	if e.Status != want || res == nil || res.Status != want {
		t.Errorf("%s: status %v (result %v), want %v", name, e.Status, res.Status, want)
	}
	if !errors.Is(err, want.Err()) {
		t.Errorf("%s: error does not wrap %v", name, want.Err())
	}
	if want != InvalidSettings && !strings.Contains(err.Error(), "t=") {
		t.Errorf("%s: message %q does not say where it stopped", name, err.Error())
	}
	return e
}

// TestMaxSteps stops Arenstorf after 50 attempts and checks that the partial
// result is the exact prefix of the full solve.
func TestMaxSteps(t *testing.T) {
	p := Problem{F: arenstorf, T0: 0, T1: arenstorfT, Y0: arenstorfY0}
	save := []float64{0, 0.5, 1, 2, 5, 10}
	full, err := Solve(p, &Settings{SaveAt: save, SaveSteps: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Solve(p, &Settings{MaxSteps: 50, SaveAt: save, SaveSteps: true, Dense: true})
	e := checkFailure(t, "MaxSteps", res, err, MaxStepsReached)
	if e == nil {
		return
	}
	if !strings.Contains(err.Error(), "MaxSteps") {
		t.Errorf("message %q does not name MaxSteps", err.Error())
	}
	st := res.Stats
	if st.Accepted+st.Rejected != 50 {
		t.Errorf("%d attempts, want 50", st.Accepted+st.Rejected)
	}
	k := st.Accepted
	if res.T != full.StepT[k] || e.T != res.T || !floats.Equal(res.Y, full.StepState(k)) {
		t.Errorf("partial result at t=%v is not the full solve's step %d at %v", res.T, k, full.StepT[k])
	}
	if !floats.Equal(res.StepT, full.StepT[:k+1]) || !floats.Equal(res.StepY, full.StepY[:(k+1)*4]) {
		t.Errorf("partial steps differ from the full solve's")
	}
	m := len(res.Ts)
	if m == 0 || m == len(save) || !floats.Equal(res.Ys, full.Ys[:m*4]) || res.Ts[m-1] > res.T {
		t.Errorf("partial SaveAt outputs %v", res.Ts)
	}
	if res.Dense.T1() != res.T {
		t.Errorf("dense output ends at %v, want %v", res.Dense.T1(), res.T)
	}
}

// TestStepSizeUnderflow integrates y' = y², which blows up at t = 1.
func TestStepSizeUnderflow(t *testing.T) {
	f := func(dst []float64, _ float64, y []float64) { dst[0] = y[0] * y[0] }
	p := Problem{F: f, T0: 0, T1: 2, Y0: []float64{1}}
	res, err := Solve(p, &Settings{MinStep: 1e-4})
	e := checkFailure(t, "MinStep", res, err, StepSizeUnderflow)
	// Near the blow-up the global error is amplified like y itself, so the
	// partial state matches 1/(1−t) only to about 1e-3 relative.
	if e != nil && !(res.T < 1 && res.T > 0.9 && math.Abs(res.Y[0]-1/(1-res.T)) < 1e-2*res.Y[0]) {
		t.Errorf("stopped at t=%v y=%v, want just before the blow-up on y = 1/(1−t)", res.T, res.Y)
	}
	// Without MinStep the step shrinks until 10 ulp of t, or the state
	// overflows: either failure is reported, never a panic or success.
	// The numerical blow-up time differs from 1 by about the tolerance.
	res, err = Solve(p, nil)
	if err == nil || (res.Status != StepSizeUnderflow && res.Status != NonFinite) || !(res.T < 1+1e-5) {
		t.Errorf("blow-up: status %v at t=%v, err %v", res.Status, res.T, err)
	}
}

// TestNonFinite checks NaN and Inf in the initial state, the initial
// derivative, and the vector field during adaptive and fixed-step solves.
func TestNonFinite(t *testing.T) {
	nanAfter := func(tc float64) Func {
		return func(dst []float64, t float64, y []float64) {
			linearFNoAlloc(dst, t, y)
			if t > tc {
				dst[1] = math.NaN()
			}
		}
	}
	p := Problem{F: linearF, T0: 0, T1: 1, Y0: []float64{1, math.Inf(1), 0}}
	res, err := Solve(p, nil)
	checkFailure(t, "Y0", res, err, NonFinite)

	p = Problem{F: nanAfter(-1), T0: 0, T1: 1, Y0: linearY0}
	res, err = Solve(p, nil)
	checkFailure(t, "F(T0)", res, err, NonFinite)

	for _, set := range []*Settings{{}, {Method: DOP853}, {Method: RK4, Step: 0.01}, {Method: Tsit5, Step: 0.01}} {
		p = Problem{F: nanAfter(0.5), T0: 0, T1: 1, Y0: linearY0}
		res, err = Solve(p, &Settings{Method: set.Method, Step: set.Step, SaveSteps: true})
		e := checkFailure(t, "NaN at t>0.5", res, err, NonFinite)
		if e == nil {
			continue
		}
		if !(res.T <= 0.5 && res.T > 0.4) || !allFinite(res.Y) {
			t.Errorf("NaN at t>0.5: stopped at t=%v with y=%v", res.T, res.Y)
		}
		// The partial result is the solution up to res.T.
		if d := maxAbsDiff(res.Y, linearExact(res.T, 0, linearY0)); d > 1e-4 {
			t.Errorf("partial state off by %.3g", d)
		}
		if res.StepT[len(res.StepT)-1] != res.T {
			t.Errorf("last recorded step %v, result at %v", res.StepT[len(res.StepT)-1], res.T)
		}
	}
}

// TestInvalidSettings checks every invalid input: an InvalidSettings error,
// no panic, and a Result holding the initial state.
func TestInvalidSettings(t *testing.T) {
	y0 := []float64{1, 2, 3}
	good := Problem{F: linearF, T0: 0, T1: 1, Y0: y0}
	badTab := &Tableau{Name: "bad", Order: 1, C: []float64{0, 1}, A: [][]float64{{}, {0.5}}, B: []float64{0.5, 0.5}}
	cases := []struct {
		name string
		p    Problem
		s    *Settings
	}{
		{"nil F", Problem{T0: 0, T1: 1, Y0: y0}, nil},
		{"NaN T0", Problem{F: linearF, T0: math.NaN(), T1: 1, Y0: y0}, nil},
		{"Inf T1", Problem{F: linearF, T0: 0, T1: math.Inf(1), Y0: y0}, nil},
		{"negative RTol", good, &Settings{RTol: -1e-6}},
		{"NaN ATol", good, &Settings{ATol: math.NaN()}},
		{"RTolVec length", good, &Settings{RTolVec: []float64{1e-6}}},
		{"ATolVec length", good, &Settings{ATolVec: []float64{1e-6, 1e-6, 1e-6, 1e-6}}},
		{"ATolVec negative", good, &Settings{ATolVec: []float64{1e-6, -1e-6, 1e-6}}},
		{"negative FirstStep", good, &Settings{FirstStep: -0.1}},
		{"negative MinStep", good, &Settings{MinStep: -0.1}},
		{"NaN MaxStep", good, &Settings{MaxStep: math.NaN()}},
		{"MinStep > MaxStep", good, &Settings{MinStep: 0.5, MaxStep: 0.1}},
		{"negative MaxSteps", good, &Settings{MaxSteps: -1}},
		{"negative Step", good, &Settings{Step: -0.1}},
		{"Step and Grid", good, &Settings{Step: 0.1, Grid: []float64{0, 1}}},
		{"Grid start", good, &Settings{Grid: []float64{0.1, 1}}},
		{"Grid end", good, &Settings{Grid: []float64{0, 0.9}}},
		{"Grid short", Problem{F: linearF, T0: 0, T1: 0, Y0: y0}, &Settings{Grid: []float64{0}}},
		{"Grid not monotone", good, &Settings{Grid: []float64{0, 0.5, 0.4, 1}}},
		{"Grid backward order", Problem{F: linearF, T0: 1, T1: 0, Y0: y0}, &Settings{Grid: []float64{1, 0.2, 0.5, 0}}},
		{"fixed-step method adaptive", good, &Settings{Method: RK4}},
		{"invalid tableau", good, &Settings{Method: badTab, Step: 0.1}},
		{"SaveAt outside", good, &Settings{SaveAt: []float64{0, 1.5}}},
		{"SaveAt before", good, &Settings{SaveAt: []float64{-0.1, 0.5}}},
		{"SaveAt not monotone", good, &Settings{SaveAt: []float64{0.2, 0.1}}},
		{"SaveAt backward order", Problem{F: linearF, T0: 1, T1: 0, Y0: y0}, &Settings{SaveAt: []float64{0.1, 0.2}}},
		{"SaveAt NaN", good, &Settings{SaveAt: []float64{math.NaN()}}},
		{"event nil G", good, &Settings{Events: []Event{{}}}},
		{"event direction", good, &Settings{Events: []Event{{G: gY0, Direction: 2}}}},
		{"event tolerance", good, &Settings{Events: []Event{{G: gY0, Tol: -1}}}},
	}
	for _, c := range cases {
		res, err := Solve(c.p, c.s)
		checkFailure(t, c.name, res, err, InvalidSettings)
		if res != nil && len(c.p.Y0) == 3 && !floats.Equal(res.Y, c.p.Y0) {
			t.Errorf("%s: result state %v, want the initial state", c.name, res.Y)
		}
	}
	// A Solver of the wrong length.
	res, err := NewSolver(2).Solve(nil, good, nil)
	checkFailure(t, "solver length", res, err, InvalidSettings)
}

func TestStatusStrings(t *testing.T) {
	for s := Success; s <= InvalidSettings; s++ {
		if s.String() == "" {
			t.Errorf("status %d has no description", s)
		}
		if (s.Err() == nil) != (s == Success || s == EventStop) {
			t.Errorf("status %v: Err() = %v", s, s.Err())
		}
	}
	if Status(99).String() != "Status(99)" || Status(99).Err() != nil {
		t.Errorf("unknown status")
	}
}

func TestPanics(t *testing.T) {
	panics := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	panics("NewStepper invalid", func() { NewStepper(&Tableau{}, 3) })
	panics("NewStepper negative", func() { NewStepper(RK4, -1) })
	panics("NewSolver negative", func() { NewSolver(-1) })
	panics("Step length", func() { NewStepper(RK4, 3).Step(linearF, 0, []float64{1}, 0.1, nil) })
	panics("SemiNorm range", func() { SemiNorm(3, 1) })
	res, _ := Solve(Problem{F: linearF, T0: 0, T1: 1, Y0: linearY0}, &Settings{Dense: true})
	panics("Dense outside", func() { res.Dense.Eval(nil, 1.5) })
	panics("Dense dst", func() { res.Dense.Eval(make([]float64, 2), 0.5) })
}

// TestZeroLengthInterval checks T0 == T1: no steps, outputs at T0.
func TestZeroLengthInterval(t *testing.T) {
	res, err := Solve(Problem{F: linearF, T0: 1, T1: 1, Y0: linearY0}, &Settings{SaveAt: []float64{1, 1}, Dense: true})
	if err != nil || res.T != 1 || !floats.Equal(res.Y, linearY0) || len(res.Ts) != 2 || res.Stats.Accepted != 0 {
		t.Errorf("zero-length solve: %v %+v", err, res)
	}
	if !floats.Equal(res.Dense.Eval(nil, 1), linearY0) {
		t.Errorf("zero-length dense output")
	}
}

// TestResultReuse checks that a reused Result carries nothing over from an
// earlier solve with different outputs.
func TestResultReuse(t *testing.T) {
	s := NewSolver(3)
	var res Result
	p := Problem{F: linearF, T0: 0, T1: 2, Y0: linearY0}
	if _, err := s.Solve(&res, p, &Settings{Dense: true, SaveAt: []float64{0, 1}, SaveSteps: true, Events: []Event{{G: gY0}}}); err != nil {
		t.Fatal(err)
	}
	if res.Dense == nil || len(res.Ts) != 2 || len(res.StepT) == 0 {
		t.Fatalf("first solve produced no outputs")
	}
	if _, err := s.Solve(&res, p, &Settings{Method: DOP853}); err != nil {
		t.Fatal(err)
	}
	if res.Dense != nil || len(res.Ts) != 0 || len(res.Ys) != 0 || len(res.StepT) != 0 || len(res.Events) != 0 {
		t.Errorf("stale outputs after reuse: dense %v, %d saved, %d steps, %d events", res.Dense != nil, len(res.Ts), len(res.StepT), len(res.Events))
	}
	fresh, _ := Solve(p, &Settings{Method: DOP853})
	if !floats.Equal(fresh.Y, res.Y) || fresh.Stats != res.Stats {
		t.Errorf("reused solve differs from a fresh one")
	}
}

// TestEmptyState solves a system with no components: no panic, lands on T1.
func TestEmptyState(t *testing.T) {
	f := func(dst []float64, _ float64, _ []float64) {}
	for _, set := range []*Settings{nil, {Method: DOP853, Dense: true, SaveAt: []float64{0.5}}, {Method: RK4, Step: 0.1}} {
		res, err := Solve(Problem{F: f, T0: 0, T1: 1, Y0: nil}, set)
		if err != nil || res.T != 1 || len(res.Y) != 0 {
			t.Errorf("empty state: %v, T=%v", err, res.T)
		}
	}
}
