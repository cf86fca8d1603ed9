package nn

import (
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/diff/fd"

	"github.com/odeflow/odeflow/internal/check"
)

// smooth reports whether σ has continuous first and second derivatives at 0.
func smooth(a Activation) bool {
	switch a {
	case Tanh, Softplus, SiLU, Sigmoid, Identity:
		return true
	}
	return false
}

func TestActivationDerivativesFD(t *testing.T) {
	pts := []float64{-100, -30, -12, -5, -2.5, -1.3, -0.7, -0.2, -0.01, -1e-3, 1e-3, 0.01, 0.2, 0.7, 1.3, 2.5, 5, 12, 30, 100}
	for _, a := range allActs {
		xs := pts
		if smooth(a) {
			xs = append([]float64{0, -1e-7, 1e-7}, pts...)
		}
		want1, got1 := make([]float64, len(xs)), make([]float64, len(xs))
		want2, got2 := make([]float64, len(xs)), make([]float64, len(xs))
		for i, x := range xs {
			_, got1[i], got2[i] = a.D2(x)
			want1[i] = fd.Derivative(a.F, x, &fd.Settings{Formula: fd.Central})
			want2[i] = fd.Derivative(func(x float64) float64 { _, d := a.D(x); return d }, x, &fd.Settings{Formula: fd.Central})
		}
		check.Close(t, a.String()+" σ'", want1, got1, check.Tol)
		check.Close(t, a.String()+" σ''", want2, got2, check.Tol)
	}
}

func TestActivationStableAtExtremes(t *testing.T) {
	type lim struct{ y, d1 float64 }
	want := map[Activation][2]lim{ // at −800 and +800
		Identity:  {{-800, 1}, {800, 1}},
		Tanh:      {{-1, 0}, {1, 0}},
		Softplus:  {{0, 0}, {800, 1}},
		ELU:       {{-1, 0}, {800, 1}},
		SiLU:      {{0, 0}, {800, 1}},
		Sigmoid:   {{0, 0}, {1, 0}},
		ReLU:      {{0, 0}, {800, 1}},
		LeakyReLU: {{-800 * LeakySlope, LeakySlope}, {800, 1}},
	}
	for _, a := range allActs {
		for s, x := range []float64{-800, 800} {
			y, d1, d2 := a.D2(x)
			for _, v := range []float64{y, d1, d2} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("%v at %v: not finite: %v %v %v", a, x, y, d1, d2)
				}
			}
			w := want[a][s]
			if math.Abs(y-w.y) > 1e-12*math.Max(1, math.Abs(w.y)) || math.Abs(d1-w.d1) > 1e-12 || math.Abs(d2) > 1e-12 {
				t.Errorf("%v at %v: got (%v, %v, %v), want (%v, %v, 0)", a, x, y, d1, d2, w.y, w.d1)
			}
		}
	}
}

// TestActivationSliceForms checks that Apply, ApplyD and ApplyD2 (with their
// fast paths) give exactly D2's values, also when y aliases x.
func TestActivationSliceForms(t *testing.T) {
	x := []float64{-800, -7, -1.5, -0.3, -1e-9, 0, 1e-9, 0.4, 2, 9, 800}
	n := len(x)
	for _, a := range allActs {
		wy, w1, w2 := make([]float64, n), make([]float64, n), make([]float64, n)
		for i, v := range x {
			wy[i], w1[i], w2[i] = a.D2(v)
		}
		y, d1, d2 := make([]float64, n), make([]float64, n), make([]float64, n)
		a.Apply(y, x)
		check.Unchanged(t, a.String()+" Apply", wy, y)
		a.ApplyD(y, d1, x)
		check.Unchanged(t, a.String()+" ApplyD y", wy, y)
		check.Unchanged(t, a.String()+" ApplyD d1", w1, d1)
		a.ApplyD2(y, d1, d2, x)
		check.Unchanged(t, a.String()+" ApplyD2 y", wy, y)
		check.Unchanged(t, a.String()+" ApplyD2 d1", w1, d1)
		check.Unchanged(t, a.String()+" ApplyD2 d2", w2, d2)
		z := check.Clone(x)
		a.ApplyD2(z, d1, d2, z)
		check.Unchanged(t, a.String()+" ApplyD2 aliased", wy, z)
		if f := a.F(x[3]); f != wy[3] {
			t.Errorf("%v: F = %v, D2 = %v", a, f, wy[3])
		}
	}
}

func TestParseActivation(t *testing.T) {
	for _, a := range allActs {
		got, err := ParseActivation(a.String())
		if err != nil || got != a {
			t.Errorf("ParseActivation(%q) = %v, %v", a.String(), got, err)
		}
		got, err = ParseActivation(" " + strings.ToUpper(a.String()) + " ")
		if err != nil || got != a {
			t.Errorf("ParseActivation upper-case %q = %v, %v", a.String(), got, err)
		}
		if !a.Valid() {
			t.Errorf("%v not Valid", a)
		}
	}
	for s, want := range map[string]Activation{"swish": SiLU, "leaky_relu": LeakyReLU, "leaky-relu": LeakyReLU, "linear": Identity, "none": Identity, "": Identity} {
		if got, err := ParseActivation(s); err != nil || got != want {
			t.Errorf("ParseActivation(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := ParseActivation("gelu"); err == nil {
		t.Error("ParseActivation(gelu): no error")
	}
	if len(allActs) != int(numActivations) {
		t.Fatalf("test covers %d activations, package has %d", len(allActs), numActivations)
	}
	bad := Activation(42)
	if bad.Valid() || bad.String() != "Activation(42)" {
		t.Errorf("invalid activation: Valid %v, String %q", bad.Valid(), bad.String())
	}
	defer func() {
		if recover() == nil {
			t.Error("D2 of an invalid activation did not panic")
		}
	}()
	bad.D2(0)
}

// TestActivationNaN checks that a NaN input gives a NaN output (so that a
// solver or training loop can detect it) for every activation.
func TestActivationNaN(t *testing.T) {
	for _, a := range allActs {
		y, d1, _ := a.D2(math.NaN())
		if !math.IsNaN(y) {
			t.Errorf("%v(NaN) = %v", a, y)
		}
		if a != Identity && !math.IsNaN(d1) && a != LeakyReLU {
			t.Errorf("%v'(NaN) = %v", a, d1)
		}
		out := []float64{0}
		a.Apply(out, []float64{math.NaN()})
		if !math.IsNaN(out[0]) {
			t.Errorf("%v.Apply(NaN) = %v", a, out[0])
		}
	}
}
