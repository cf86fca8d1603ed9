package ode

import (
	"testing"
)

// TestAllocs checks that steps allocate nothing, and that a Solver reused
// with the same Result allocates nothing per solve, with every output on.
func TestAllocs(t *testing.T) {
	for _, tab := range []*Tableau{RK4, Dopri5, Tsit5, DOP853} {
		st := NewStepper(tab, 3)
		q := make([]float64, st.Degree()*3)
		y := []float64{1, 2, 3}
		if a := testing.AllocsPerRun(100, func() {
			st.Step(linearFNoAlloc, 0, y, 0.1, nil)
			st.EndDeriv(linearFNoAlloc)
			st.Interp(q, linearFNoAlloc)
			EvalInterp(y, y, q, 0.5)
		}); a != 0 {
			t.Errorf("%s: Stepper allocates %v per step", tab.Name, a)
		}
	}
	s := NewSolver(3)
	var res Result
	save := []float64{0, 0.3, 1.1, 2.5, 4}
	events := []Event{{G: gY0}, {G: func(_ float64, y []float64) float64 { return y[1] - 0.5 }, Direction: Rising}}
	for _, set := range []*Settings{
		{Method: Dopri5, SaveAt: save, SaveSteps: true, Dense: true, Events: events},
		{Method: DOP853, SaveAt: save, SaveSteps: true, Dense: true, Events: events},
		{Method: Tsit5, Norm: SemiNorm(0, 1), Controller: PI{}},
		{Method: RK4, Step: 0.01, SaveAt: save},
		{Method: BogackiShampine, ATolVec: []float64{1e-8, 1e-8, 1e-8}},
	} {
		p := Problem{F: linearFNoAlloc, T0: 0, T1: 4, Y0: linearY0}
		if _, err := s.Solve(&res, p, set); err != nil {
			t.Fatal(err)
		}
		if set.Events != nil && len(res.Events) == 0 {
			t.Fatalf("no events found: the test would not exercise them")
		}
		if a := testing.AllocsPerRun(20, func() {
			if _, err := s.Solve(&res, p, set); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%s: reused solve allocates %v times", set.Method.Name, a)
		}
	}
}
