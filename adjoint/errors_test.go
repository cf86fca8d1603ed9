package adjoint_test

import (
	"errors"
	"math"
	"runtime"
	"testing"

	"github.com/odeflow/odeflow/adjoint"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/ode"
)

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

// nanVJPSys is a System whose VJP returns NaN.
type nanVJPSys struct{ testSys }

func (s nanVJPSys) VJP(ay, ath []float64, t float64, y, a []float64) float64 {
	at := s.testSys.VJP(ay, ath, t, y, a)
	ay[0] = math.NaN()
	return at
}

func lvCase(t *testing.T) *gradCase { return gradCases(t)[3] }

// sentinel returns a slice of n copies of 7, to check that outputs are left
// alone on error.
func sentinel(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = 7
	}
	return s
}

func TestForwardFailure(t *testing.T) {
	g := lvCase(t)
	n, p := g.dims()
	s := adjoint.NewSolver(n, p)
	for _, m := range methods {
		set := &adjoint.Settings{Method: m, Forward: &ode.Settings{RTol: 1e-10, ATol: 1e-10, MaxSteps: 5}}
		y1, err := s.Forward(g.sys, g.y0, g.t0, g.t1, set)
		if err == nil || y1 != nil {
			t.Fatalf("%v: Forward with MaxSteps 5 returned %v, %v", m, y1, err)
		}
		var oe *ode.Error
		if !errors.Is(err, ode.MaxStepsReached.Err()) || !errors.As(err, &oe) || oe.Status != ode.MaxStepsReached {
			t.Errorf("%v: error %v does not wrap the ode max-steps error", m, err)
		}
		if st := s.Stats(); st.Forward.Accepted+st.Forward.Rejected != 5 {
			t.Errorf("%v: forward stats %+v after 5 attempts", m, st.Forward)
		}
		if !panics(func() { _, _, _ = s.Backward(nil, nil, make([]float64, n)) }) {
			t.Errorf("%v: Backward after a failed Forward did not panic", m)
		}
		y0 := check.Clone(g.y0)
		y0[1] = math.NaN()
		if _, err := s.Forward(g.sys, y0, g.t0, g.t1, &adjoint.Settings{Method: m}); !errors.Is(err, ode.NonFinite.Err()) {
			t.Errorf("%v: NaN y0: error %v, want ode's NonFinite", m, err)
		}
	}
}

func TestBackwardFailure(t *testing.T) {
	g := lvCase(t)
	n, p := g.dims()
	s := adjoint.NewSolver(n, p)
	set := &adjoint.Settings{Method: adjoint.Backsolve, Backward: &ode.Settings{MaxSteps: 4}}
	y1, err := s.Forward(g.sys, g.y0, g.t0, g.t1, set)
	if err != nil {
		t.Fatal(err)
	}
	a := make([]float64, n)
	g.cot(a, y1)
	gy0, gth := sentinel(n), sentinel(p)
	_, _, err = s.Backward(gy0, gth, a)
	if !errors.Is(err, ode.MaxStepsReached.Err()) {
		t.Errorf("backward MaxSteps 4: error %v, want ode's MaxStepsReached", err)
	}
	check.Unchanged(t, "gy0", sentinel(n), gy0)
	check.Unchanged(t, "gtheta", sentinel(p), gth)
	if st := s.Stats(); st.BackwardSteps+st.BackwardRejected != 4 {
		t.Errorf("backward stats %+v after 4 attempts", st)
	}
}

func TestNonFinite(t *testing.T) {
	g := lvCase(t)
	n, p := g.dims()
	s := adjoint.NewSolver(n, p)
	for _, m := range methods {
		y1, err := s.Forward(g.sys, g.y0, g.t0, g.t1, &adjoint.Settings{Method: m})
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []float64{math.NaN(), math.Inf(1)} {
			a := make([]float64, n)
			g.cot(a, y1)
			a[1] = bad
			gy0, gth := sentinel(n), sentinel(p)
			if _, _, err := s.Backward(gy0, gth, a); !errors.Is(err, adjoint.ErrNonFinite) {
				t.Errorf("%v: cotangent %v: error %v, want ErrNonFinite", m, bad, err)
			}
			check.Unchanged(t, "gy0", sentinel(n), gy0)
			check.Unchanged(t, "gtheta", sentinel(p), gth)
		}
		// A VJP that produces NaN: the discrete methods report the
		// cotangent, Backsolve the non-finite augmented derivative.
		sys := nanVJPSys{g.sys}
		y1, err = s.Forward(sys, g.y0, g.t0, g.t1, &adjoint.Settings{Method: m})
		if err != nil {
			t.Fatal(err)
		}
		a := make([]float64, n)
		g.cot(a, y1)
		_, _, err = s.Backward(nil, nil, a)
		want := adjoint.ErrNonFinite
		if m == adjoint.Backsolve {
			want = ode.NonFinite.Err()
		}
		if !errors.Is(err, want) {
			t.Errorf("%v: NaN VJP: error %v, want %v", m, err, want)
		}
	}
}

func TestSettingsErrors(t *testing.T) {
	g := lvCase(t)
	n, p := g.dims()
	s := adjoint.NewSolver(n, p)
	for _, set := range []*adjoint.Settings{
		{Forward: &ode.Settings{SaveAt: []float64{1}}},
		{Method: adjoint.Direct, Forward: &ode.Settings{Dense: true}},
		{Method: adjoint.Backsolve, Backward: &ode.Settings{Events: []ode.Event{{G: func(float64, []float64) float64 { return 1 }}}}},
	} {
		if _, err := s.Forward(g.sys, g.y0, g.t0, g.t1, set); !errors.Is(err, adjoint.ErrSettings) {
			t.Errorf("%+v: error %v, want ErrSettings", set, err)
		}
	}
	if _, err := s.Forward(g.sys, g.y0, g.t0, g.t1, &adjoint.Settings{Forward: &ode.Settings{RTol: -1}}); !errors.Is(err, ode.InvalidSettings.Err()) {
		t.Errorf("negative RTol: error %v, want ode's InvalidSettings", err)
	}
}

func TestPanics(t *testing.T) {
	g := lvCase(t)
	n, p := g.dims()
	s := adjoint.NewSolver(n, p)
	for name, f := range map[string]func(){
		"negative size":    func() { adjoint.NewSolver(-1, 0) },
		"no Forward":       func() { _, _, _ = adjoint.NewSolver(n, p).Backward(nil, nil, make([]float64, n)) },
		"system size":      func() { _, _ = adjoint.NewSolver(n+1, p).Forward(g.sys, g.y0, 0, 1, nil) },
		"y0 length":        func() { _, _ = s.Forward(g.sys, g.y0[:1], 0, 1, nil) },
		"unknown method":   func() { _, _ = s.Forward(g.sys, g.y0, 0, 1, &adjoint.Settings{Method: 7}) },
		"cotangent length": func() { _, _ = s.Forward(g.sys, g.y0, 0, 1, nil); _, _, _ = s.Backward(nil, nil, make([]float64, n+1)) },
		"gtheta length": func() {
			_, _ = s.Forward(g.sys, g.y0, 0, 1, nil)
			_, _, _ = s.Backward(nil, make([]float64, p+1), make([]float64, n))
		},
		"gy0 length": func() {
			_, _ = s.Forward(g.sys, g.y0, 0, 1, nil)
			_, _, _ = s.Backward(make([]float64, 1), nil, make([]float64, n))
		},
		"negative # params": func() { adjoint.NewSolver(1, -1) },
	} {
		if !panics(f) {
			t.Errorf("%s: no panic", name)
		}
	}
}

// TestAllocs: a reused Solver allocates nothing in steady state, for every
// method, with FSAL and non-FSAL tableaux.
func TestAllocs(t *testing.T) {
	g := gradCases(t)[1]
	n, p := g.dims()
	s := adjoint.NewSolver(n, p)
	a := make([]float64, n)
	gy0, gth := make([]float64, n), make([]float64, p)
	for _, tab := range []*ode.Tableau{ode.Dopri5, ode.CashKarp} {
		for _, set := range []*adjoint.Settings{
			{Method: adjoint.Checkpointed, Forward: &ode.Settings{Method: tab}},
			{Method: adjoint.Direct, Forward: &ode.Settings{Method: tab}},
			{Method: adjoint.Backsolve, Forward: &ode.Settings{Method: tab}},
			{Method: adjoint.Backsolve, Forward: &ode.Settings{Method: tab}, SemiNorm: true},
		} {
			run := func() {
				y1, err := s.Forward(g.sys, g.y0, g.t0, g.t1, set)
				if err != nil {
					t.Fatal(err)
				}
				g.cot(a, y1)
				if _, _, err := s.Backward(gy0, gth, a); err != nil {
					t.Fatal(err)
				}
			}
			run()
			if allocs := testing.AllocsPerRun(10, run); allocs != 0 {
				t.Errorf("%s/%v (semi %v): %v allocations per gradient", tab.Name, set.Method, set.SemiNorm, allocs)
			}
		}
	}
}

// TestBacksolveMemory: Backsolve keeps no per-step data. After one
// gradient at a loose tolerance, a gradient that takes over ten times as
// many steps allocates nothing and its tape is still one state, while
// Checkpointed's tape grows with the steps.
func TestBacksolveMemory(t *testing.T) {
	g := gradCases(t)[3]
	n, p := g.dims()
	s := adjoint.NewSolver(n, p)
	a := make([]float64, n)
	gy0, gth := make([]float64, n), make([]float64, p)
	var steps [2]int
	var tapes [2][2]int
	for i, tol := range []float64{1e-3, 1e-10} {
		for j, m := range []adjoint.Method{adjoint.Backsolve, adjoint.Checkpointed} {
			set := tight(m, tol)
			run := func() {
				y1, err := s.Forward(g.sys, g.y0, g.t0, g.t1, set)
				if err != nil {
					t.Fatal(err)
				}
				g.cot(a, y1)
				if _, _, err := s.Backward(gy0, gth, a); err != nil {
					t.Fatal(err)
				}
			}
			if i == 1 && m == adjoint.Backsolve {
				// Not AllocsPerRun: its warm-up run would hide a first
				// growth at the tight tolerance.
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				run()
				runtime.ReadMemStats(&after)
				if d := after.Mallocs - before.Mallocs; d != 0 {
					t.Errorf("backsolve at %g after a solve at 1e-3: %d allocations", tol, d)
				}
			} else {
				run()
			}
			st := s.Stats()
			tapes[i][j] = st.Tape
			if m == adjoint.Backsolve {
				steps[i] = st.Forward.Accepted + st.BackwardSteps
			}
		}
	}
	t.Logf("steps %v, tapes (backsolve, checkpointed) %v", steps, tapes)
	if steps[1] < 10*steps[0] {
		t.Fatalf("steps %v: the tight solve should take ten times as many", steps)
	}
	if tapes[0][0] != n || tapes[1][0] != n {
		t.Errorf("backsolve tapes %d, %d, want %d", tapes[0][0], tapes[1][0], n)
	}
	if tapes[1][1] < 10*tapes[0][1] {
		t.Errorf("checkpointed tapes %d, %d: should grow with the steps", tapes[0][1], tapes[1][1])
	}
}
