package ode

import (
	"math"
	"testing"
)

// sinF is y' = cos t, whose solution from y(0) = 0 is sin t.
func sinF(dst []float64, t float64, _ []float64) { dst[0] = math.Cos(t) }

func gY0(_ float64, y []float64) float64 { return y[0] }

// TestEventsDirections finds the zeros of sin t on [0.5, 10] (π, 2π, 3π),
// selecting them by direction: falling at π and 3π, rising at 2π.
func TestEventsDirections(t *testing.T) {
	cases := []struct {
		dir        Direction
		want, back []float64 // forward from 0.5, backward from 10
	}{
		{Either, []float64{math.Pi, 2 * math.Pi, 3 * math.Pi}, []float64{3 * math.Pi, 2 * math.Pi, math.Pi}},
		// Backward, g is followed as time decreases: sin falls at 2π.
		{Falling, []float64{math.Pi, 3 * math.Pi}, []float64{2 * math.Pi}},
		{Rising, []float64{2 * math.Pi}, []float64{3 * math.Pi, math.Pi}},
	}
	for _, tab := range []*Tableau{BogackiShampine, Dopri5, Tsit5, DOP853} {
		for _, c := range cases {
			for _, backward := range []bool{false, true} {
				p := Problem{F: sinF, T0: 0.5, T1: 10, Y0: []float64{math.Sin(0.5)}}
				want := c.want
				if backward {
					p = Problem{F: sinF, T0: 10, T1: 0.5, Y0: []float64{math.Sin(10)}}
					want = c.back
				}
				const tol = 1e-10
				res, err := Solve(p, &Settings{Method: tab, RTol: tol, ATol: tol, Events: []Event{{G: gY0, Direction: c.dir}}})
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != Success || res.T != p.T1 {
					t.Errorf("%s: non-terminal events stopped the solve at %v (%v)", tab.Name, res.T, res.Status)
				}
				if len(res.Events) != len(want) {
					t.Errorf("%s dir %d backward %v: events at %v, want %v", tab.Name, c.dir, backward, eventTimes(res), want)
					continue
				}
				// The event time is limited by the solution's accuracy
				// (y(t) = sin t has slope ±1 at its zeros): allow 1000·tol.
				for i, e := range res.Events {
					if math.Abs(e.T-want[i]) > 1000*tol || e.Index != 0 {
						t.Errorf("%s: event %d at %v, want %v", tab.Name, i, e.T, want[i])
					}
					if math.Abs(e.Y[0]) > 1000*tol {
						t.Errorf("%s: state at event %v, want 0", tab.Name, e.Y[0])
					}
				}
			}
		}
	}
}

func eventTimes(r *Result) []float64 {
	var ts []float64
	for _, e := range r.Events {
		ts = append(ts, e.T)
	}
	return ts
}

// TestEventDirectionBackward checks that directions refer to g along the
// direction of integration: integrating sin backward from 10 to 0.5, g = y
// rises (as time decreases) at 3π and π, falls at 2π.
func TestEventDirectionBackward(t *testing.T) {
	p := Problem{F: sinF, T0: 10, T1: 0.5, Y0: []float64{math.Sin(10)}}
	res, err := Solve(p, &Settings{RTol: 1e-10, ATol: 1e-10, Events: []Event{{G: gY0, Direction: Rising}, {G: gY0, Direction: Falling}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		idx int
		t   float64
	}{{0, 3 * math.Pi}, {1, 2 * math.Pi}, {0, math.Pi}}
	if len(res.Events) != len(want) {
		t.Fatalf("events %v", eventTimes(res))
	}
	for i, w := range want {
		if e := res.Events[i]; e.Index != w.idx || math.Abs(e.T-w.t) > 1e-7 {
			t.Errorf("event %d: index %d at %v, want %d at %v", i, e.Index, e.T, w.idx, w.t)
		}
	}
}

// ball is a ball falling under gravity: state (height, velocity).
func ball(dst []float64, _ float64, y []float64) {
	dst[0] = y[1]
	dst[1] = -9.81
}

// TestTerminalEvent drops a ball from 10 m and stops when it hits the
// ground at t = sqrt(2·10/9.81), together with a non-terminal event (the
// ball passes 5 m) that comes first and one (−1 m) that is never reached.
func TestTerminalEvent(t *testing.T) {
	hit := math.Sqrt(2 * 10 / 9.81)
	half := math.Sqrt(2 * 5 / 9.81)
	for _, tab := range []*Tableau{HeunEuler, Dopri5, DOP853} {
		events := []Event{
			{G: func(_ float64, y []float64) float64 { return y[0] + 1 }, Direction: Falling}, // below ground: never reached
			{G: gY0, Direction: Falling, Terminal: true},
			{G: func(_ float64, y []float64) float64 { return y[0] - 5 }, Direction: Falling},
		}
		save := []float64{0, 1, 1.4, 2, 5}
		res, err := Solve(Problem{F: ball, T0: 0, T1: 5, Y0: []float64{10, 0}}, &Settings{Method: tab, RTol: 1e-8, ATol: 1e-8, Events: events, SaveAt: save, Dense: true})
		if err != nil {
			t.Fatalf("%s: %v", tab.Name, err)
		}
		if res.Status != EventStop {
			t.Errorf("%s: status %v, want EventStop", tab.Name, res.Status)
		}
		if math.Abs(res.T-hit) > 1e-9 || math.Abs(res.Y[0]) > 1e-8 || math.Abs(res.Y[1]+9.81*hit) > 1e-8 {
			t.Errorf("%s: stopped at t=%v y=%v, want t=%v y=(0, %v)", tab.Name, res.T, res.Y, hit, -9.81*hit)
		}
		// The ball is a quadratic: every method with a quadratic-exact
		// interpolant locates the event to the root finder's accuracy;
		// the reported state is at or past the crossing.
		if res.Y[0] > 1e-12 {
			t.Errorf("%s: state at the terminal event is before the crossing: %v", tab.Name, res.Y[0])
		}
		if len(res.Events) != 2 || res.Events[0].Index != 2 || res.Events[1].Index != 1 {
			t.Fatalf("%s: events %+v", tab.Name, res.Events)
		}
		if math.Abs(res.Events[0].T-half) > 1e-9 {
			t.Errorf("%s: 5 m passed at %v, want %v", tab.Name, res.Events[0].T, half)
		}
		if res.Events[1].T != res.T || res.Events[1].Y[0] != res.Y[0] {
			t.Errorf("%s: terminal event hit and result disagree", tab.Name)
		}
		// SaveAt: the times up to the event only.
		if len(res.Ts) != 3 || res.Ts[2] != 1.4 || math.Abs(res.SavedY(2)[0]-(10-9.81*1.4*1.4/2)) > 1e-8 {
			t.Errorf("%s: saved times %v", tab.Name, res.Ts)
		}
		if d := res.Dense; d.T1() != res.T {
			t.Errorf("%s: dense output ends at %v, want %v", tab.Name, d.T1(), res.T)
		}
	}
}

// TestEventTolerance checks that a coarse event tolerance is honoured and
// that the reported time is on the far side of the crossing.
func TestEventTolerance(t *testing.T) {
	res, err := Solve(Problem{F: sinF, T0: 0.5, T1: 4, Y0: []float64{math.Sin(0.5)}}, &Settings{RTol: 1e-12, ATol: 1e-12, Events: []Event{{G: gY0, Tol: 1e-3}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != 1 {
		t.Fatalf("events %v", eventTimes(res))
	}
	e := res.Events[0]
	if !(e.T >= math.Pi-1e-12 && e.T-math.Pi <= 1e-3) {
		t.Errorf("event at %v, want in [π, π+1e-3]", e.T)
	}
}
