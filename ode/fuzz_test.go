package ode

import (
	"errors"
	"math"
	"testing"
)

// FuzzSolve drives Solve with arbitrary settings and problems, including
// invalid ones, singular and NaN-producing vector fields: it must never
// panic, and its results must be consistent with its status.
func FuzzSolve(f *testing.F) {
	f.Add(uint8(9), uint8(0), 1e-6, 1e-9, 0.0, 1.0, 0.0, 0.0, 0.0, 0, 0.0, uint8(3), uint8(0))
	f.Add(uint8(11), uint8(1), 1e-9, 1e-9, 0.0, arenstorfT, 0.0, 0.0, 0.0, 200, 0.0, uint8(5), uint8(7))
	f.Add(uint8(3), uint8(0), 0.0, 0.0, 1.0, -2.0, 0.0, 0.0, 0.0, 0, 0.05, uint8(2), uint8(3))
	f.Add(uint8(10), uint8(2), 1e-3, 1e-3, 0.0, 2.0, 0.0, 1e-4, 0.0, 0, 0.0, uint8(0), uint8(0))
	f.Add(uint8(7), uint8(3), 1e-6, 1e-6, 0.0, 1.0, 0.1, 0.0, 0.5, 0, 0.0, uint8(1), uint8(1))
	f.Add(uint8(0), uint8(4), -1.0, math.NaN(), math.Inf(1), 1.0, -1.0, 2.0, 1.0, -5, -0.1, uint8(9), uint8(255))
	f.Add(uint8(8), uint8(4), 1e-12, 1e-14, 5.0, 5.0, 0.0, 0.0, 0.0, 3, 0.0, uint8(4), uint8(2))
	f.Fuzz(func(t *testing.T, method, prob uint8, rtol, atol, t0, t1, first, minStep, maxStep float64, maxSteps int, step float64, nsave, evflags uint8) {
		tab := allTableaux[int(method)%len(allTableaux)]
		var p Problem
		switch prob % 5 {
		case 0:
			p = Problem{F: linearFNoAlloc, Y0: []float64{1, -0.5, 0.7}}
		case 1:
			p = Problem{F: arenstorf, Y0: append([]float64(nil), arenstorfY0...)}
		case 2:
			p = Problem{F: func(dst []float64, _ float64, y []float64) { dst[0] = y[0] * y[0] }, Y0: []float64{1}}
		case 3:
			p = Problem{F: func(dst []float64, t float64, y []float64) {
				dst[0] = math.Log(1 - t*t) // NaN for |t| > 1
				dst[1] = -y[1] / (t - 0.5) // singular at t = 0.5
			}, Y0: []float64{0, 1}}
		case 4:
			p = Problem{F: func(dst []float64, _ float64, y []float64) { dst[0] = -1e4 * (y[0] - 1) }, Y0: []float64{0}} // stiff
		}
		p.T0, p.T1 = t0, t1
		// Bound the work of one fuzz input.
		if maxSteps > 3000 || maxSteps < -3000 {
			maxSteps %= 3000
		}
		if maxSteps == 0 {
			maxSteps = 3000
		}
		if step > 0 && math.Abs(t1-t0)/step > 3000 {
			step = math.Abs(t1-t0) / 3000
		}
		set := &Settings{
			Method: tab, RTol: rtol, ATol: atol, FirstStep: first, MinStep: minStep, MaxStep: maxStep,
			MaxSteps: maxSteps, Step: step, SaveSteps: evflags&8 != 0, Dense: evflags&16 != 0,
		}
		for i := 0; i < int(nsave%8); i++ {
			set.SaveAt = append(set.SaveAt, t0+(t1-t0)*float64(i)/float64(nsave%8))
		}
		if evflags&1 != 0 {
			set.Events = append(set.Events, Event{G: func(_ float64, y []float64) float64 { return y[0] }, Direction: Direction(int(evflags>>5)%3 - 1), Terminal: evflags&2 != 0})
		}
		if evflags&4 != 0 {
			set.Events = append(set.Events, Event{G: func(t float64, _ []float64) float64 { return t - (t0+t1)/2 }})
		}
		res, err := Solve(p, set)
		if res == nil {
			t.Fatalf("nil result (err %v)", err)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != res.Status || res.Status == Success || res.Status == EventStop {
				t.Fatalf("error %v with status %v", err, res.Status)
			}
			return
		}
		switch res.Status {
		case Success:
			if res.T != p.T1 {
				t.Fatalf("success at %v, want T1 = %v", res.T, p.T1)
			}
			if len(res.Ts) != len(set.SaveAt) {
				t.Fatalf("%d saved of %d", len(res.Ts), len(set.SaveAt))
			}
		case EventStop:
			if len(res.Events) == 0 {
				t.Fatalf("EventStop without events")
			}
		default:
			t.Fatalf("nil error with status %v", res.Status)
		}
		if res.Dense != nil {
			res.Dense.Eval(nil, res.T)
			res.Dense.Eval(nil, (p.T0+res.T)/2)
		}
	})
}
