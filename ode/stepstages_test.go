package ode

import (
	"math"
	"testing"

	"github.com/odeflow/odeflow/internal/check"
)

// TestStepStages checks that StepStages with k stages reproduces, bit for
// bit, the stage inputs Stage[0..min(k, s−1)] and derivatives K[0..k−1] of
// a complete Step, evaluates f exactly k times (k−1 with f0) for the stages
// in increasing order at t + C[i] h, leaves the later entries alone, and is
// Step itself for k = Stages().
func TestStepStages(t *testing.T) {
	const t0, h, n = 0.2, -0.15, 3
	y := []float64{0.3, -1, 2}
	for _, tab := range allTableaux {
		s := tab.Stages()
		ref := NewStepper(tab, n)
		ref.Step(linearF, t0, y, h, nil)
		f0 := make([]float64, n)
		linearF(f0, t0, y)
		for k := 0; k <= s; k++ {
			for _, withF0 := range []bool{false, true} {
				st := NewStepper(tab, n)
				for _, v := range append(append([][]float64{st.Y1}, st.K...), st.Stage...) {
					for m := range v {
						v[m] = math.NaN()
					}
				}
				var times []float64
				f := func(dst []float64, t float64, y []float64) {
					times = append(times, t)
					linearF(dst, t, y)
				}
				var g []float64
				wantEvals := k
				if withF0 {
					g = f0
					if k > 0 {
						wantEvals--
					}
				}
				nfe := st.StepStages(f, t0, y, h, g, k)
				if nfe != wantEvals || len(times) != wantEvals {
					t.Errorf("%s k=%d f0=%v: %d evaluations reported, %d made, want %d", tab.Name, k, withF0, nfe, len(times), wantEvals)
					continue
				}
				first := k - wantEvals // the first evaluated stage
				for j, tt := range times {
					if i := first + j; tt != t0+tab.C[i]*h {
						t.Errorf("%s k=%d: evaluation %d at t=%v, want stage %d at %v", tab.Name, k, j, tt, i, t0+tab.C[i]*h)
					}
				}
				for i := 0; i < s; i++ {
					if i <= k {
						if !check.SameBits(st.Stage[i], ref.Stage[i]) {
							t.Errorf("%s k=%d f0=%v: Stage[%d] differs from Step's", tab.Name, k, withF0, i)
						}
					} else if !allNaN(st.Stage[i]) {
						t.Errorf("%s k=%d: Stage[%d] written", tab.Name, k, i)
					}
					if i < k {
						if !check.SameBits(st.K[i], ref.K[i]) {
							t.Errorf("%s k=%d f0=%v: K[%d] differs from Step's", tab.Name, k, withF0, i)
						}
					} else if !allNaN(st.K[i]) {
						t.Errorf("%s k=%d: K[%d] written", tab.Name, k, i)
					}
				}
				if k == s {
					if !check.SameBits(st.Y1, ref.Y1) || (ref.Err != nil && !check.SameBits(st.Err, ref.Err)) {
						t.Errorf("%s: StepStages with all stages differs from Step in Y1 or Err", tab.Name)
					}
				} else if !allNaN(st.Y1) {
					t.Errorf("%s k=%d: Y1 written by an incomplete step", tab.Name, k)
				}
			}
		}
	}
}

// TestStepStagesPanics: an incomplete step has no end derivative or
// interpolant, a complete one after it does, and bad arguments panic.
func TestStepStagesPanics(t *testing.T) {
	panics := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	st := NewStepper(Dopri5, 3)
	y := []float64{1, 2, 3}
	q := make([]float64, st.Degree()*3)
	st.StepStages(linearF, 0, y, 0.1, nil, Dopri5.Stages()-1)
	panics("EndDeriv after incomplete step", func() { st.EndDeriv(linearF) })
	panics("Interp after incomplete step", func() { st.Interp(q, linearF) })
	st.StepStages(linearF, 0, y, 0.1, nil, Dopri5.Stages())
	if _, k := st.EndDeriv(linearF); k != 0 {
		t.Errorf("Dopri5 is FSAL: EndDeriv evaluated %d times after a complete StepStages", k)
	}
	st.StepStages(linearF, 0, y, 0.1, nil, 2)
	st.Step(linearF, 0, y, 0.1, nil)
	st.Interp(q, linearF) // a complete step restores them
	panics("negative k", func() { st.StepStages(linearF, 0, y, 0.1, nil, -1) })
	panics("k too large", func() { st.StepStages(linearF, 0, y, 0.1, nil, Dopri5.Stages()+1) })
	panics("length", func() { st.StepStages(linearF, 0, y[:2], 0.1, nil, 1) })
	panics("f0 length", func() { st.StepStages(linearF, 0, y, 0.1, y[:2], 1) })
}

// TestStepStagesAllocs: StepStages allocates nothing.
func TestStepStagesAllocs(t *testing.T) {
	st := NewStepper(Dopri5, 3)
	y := []float64{1, 2, 3}
	if a := testing.AllocsPerRun(100, func() {
		st.StepStages(linearFNoAlloc, 0, y, 0.1, nil, 6)
	}); a != 0 {
		t.Errorf("StepStages allocates %v per call", a)
	}
}

func allNaN(v []float64) bool {
	for _, x := range v {
		if !math.IsNaN(x) {
			return false
		}
	}
	return true
}
