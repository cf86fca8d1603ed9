package kernel

import (
	"math"
	"testing"

	"github.com/odeflow/odeflow/internal/testrand"
)

// tanhPoints returns n arguments spread over the real line: uniform on
// [-1, 1] and [-25, 25], log-uniform magnitudes from 1e-310 to 1e3, a dense
// band around the 0.625 switch, and the special values.
func tanhPoints(t *testing.T, n int) []float64 {
	rng := testrand.New(t)
	x := []float64{
		0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(),
		math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, 0x1p-1022, 1e-300,
		0.625, -0.625, math.Nextafter(0.625, 0), math.Nextafter(0.625, 1), -math.Nextafter(0.625, 0),
		1, -1, 19, 19.1, 20, -20, 22, 44, 44.1, 88, 710, 1e300, math.MaxFloat64, -math.MaxFloat64,
	}
	for len(x) < n {
		var v float64
		switch rng.IntN(4) {
		case 0:
			v = 2*rng.Float64() - 1
		case 1:
			v = 50*rng.Float64() - 25
		case 2:
			v = math.Pow(10, -310+313*rng.Float64())
		default:
			v = 0.625 + 0.01*(2*rng.Float64()-1)
		}
		if rng.IntN(2) == 0 {
			v = -v
		}
		x = append(x, v)
	}
	return x
}

func TestTanhBiasAccuracy(t *testing.T) {
	const n = 2_000_003 // not a multiple of 4: the tail path runs too
	x := tanhPoints(t, n)
	// Split each argument as h + b with b exact in the sum where possible;
	// b = 0 for half of them so the special values pass unchanged.
	h, b := make([]float64, n), make([]float64, n)
	for i, v := range x {
		if i%2 == 0 || math.IsInf(v, 0) || math.IsNaN(v) || math.Abs(v) < 1e-300 {
			h[i] = v
			continue
		}
		b[i] = math.Trunc(v * 0.5)
		h[i] = v - b[i]
	}
	y, d1, d2 := make([]float64, n), make([]float64, n), make([]float64, n)
	// Each kernel selects its own tanh path (AVX-512, AVX2, math.Tanh).
	defer func(k *impl) { active = k }(active)
	for _, kn := range all {
		active = kn
		clear(y)
		TanhBias(y, d1, d2, h, b)
		checkTanh(t, kn.name, h, b, y, d1, d2)
	}
}

func checkTanh(t *testing.T, name string, h, b, y, d1, d2 []float64) {
	t.Helper()
	worst := 0.0
	for i := range y {
		v := h[i] + b[i]
		want := math.Tanh(v)
		got := y[i]
		switch {
		case math.IsNaN(want):
			if !math.IsNaN(got) {
				t.Fatalf("%s: tanh(%v) = %v, want NaN", name, v, got)
			}
			continue
		case want == 0:
			if math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("tanh(%v) = %v, want %v (sign of zero)", v, got, want)
			}
		case math.Abs(v) < 0.625:
			if got != want {
				t.Fatalf("tanh(%v) = %v, math.Tanh %v: want identical below 0.625", v, got, want)
			}
		default:
			r := math.Abs(got-want) / math.Abs(want)
			worst = max(worst, r)
			if !(r <= 1e-15) {
				t.Fatalf("tanh(%v) = %v, math.Tanh %v: relative error %g", v, got, want, r)
			}
		}
		if s := 1 - got*got; d1[i] != s || d2[i] != -2*got*s {
			t.Fatalf("x = %v: d1, d2 = %v, %v; want %v, %v", v, d1[i], d2[i], s, -2*got*s)
		}
	}
	t.Logf("%s: worst relative difference from math.Tanh above 0.625: %.3g", name, worst)
}

// TestTanhBiasShapes checks every length up to 13 with and without d1, d2,
// and y aliasing h, against tanhGo.
func TestTanhBiasShapes(t *testing.T) {
	defer func(k *impl) { active = k }(active)
	for _, kn := range all {
		active = kn
		tanhShapes(t)
	}
}

func tanhShapes(t *testing.T) {
	rng := testrand.New(t)
	for n := range 20 {
		for mode := range 3 {
			h, b := make([]float64, n), make([]float64, n)
			for i := range h {
				h[i], b[i] = 6*rng.Float64()-3, rng.Float64()-0.5
			}
			wy, w1, w2 := make([]float64, n), make([]float64, n), make([]float64, n)
			tanhGo(wy, w1, w2, h, b)
			y, d1, d2 := make([]float64, n), make([]float64, n), make([]float64, n)
			var p1, p2 []float64
			if mode >= 1 {
				p1 = d1
			}
			if mode == 2 {
				p2 = d2
			}
			hc := append([]float64(nil), h...)
			TanhBias(y, p1, p2, h, b)
			for i := range n {
				if h[i] != hc[i] {
					t.Fatalf("n=%d: h modified", n)
				}
				if math.Abs(y[i]-wy[i]) > 1e-15*math.Abs(wy[i]) {
					t.Fatalf("n=%d mode=%d: y[%d] = %v, want %v", n, mode, i, y[i], wy[i])
				}
				if mode >= 1 && d1[i] != 1-y[i]*y[i] {
					t.Fatalf("n=%d mode=%d: d1[%d] = %v", n, mode, i, d1[i])
				}
				if mode == 2 && d2[i] != -2*y[i]*d1[i] {
					t.Fatalf("n=%d mode=%d: d2[%d] = %v", n, mode, i, d2[i])
				}
				if mode < 1 && d1[i] != 0 || mode < 2 && d2[i] != 0 {
					t.Fatalf("n=%d mode=%d: unrequested derivative written", n, mode)
				}
			}
			// In place: y aliases h.
			TanhBias(h, nil, nil, h, b)
			for i := range n {
				if h[i] != y[i] {
					t.Fatalf("n=%d: in-place y[%d] = %v, want %v", n, i, h[i], y[i])
				}
			}
		}
	}
}

func TestTanhBiasPanics(t *testing.T) {
	s3, s4 := make([]float64, 3), make([]float64, 4)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"short h", func() { TanhBias(s4, nil, nil, s3, s4) }},
		{"short b", func() { TanhBias(s4, nil, nil, s4, s3) }},
		{"short d1", func() { TanhBias(s4, s3, nil, s4, s4) }},
		{"d2 without d1", func() { TanhBias(s4, nil, s4, s4, s4) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}

func TestTanhBiasAllocs(t *testing.T) {
	const n = 67
	y, d1, d2, h, b := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	if got := testing.AllocsPerRun(10, func() { TanhBias(y, d1, d2, h, b) }); got != 0 {
		t.Errorf("%v allocations per call", got)
	}
}
