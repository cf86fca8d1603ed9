package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
)

// TestParallelWorkspace checks Forward and VJP on a parallel workspace
// against a serial one (the same values up to rounding: the weight
// gradients are summed in two halves), for batches below and above the
// split, with and without gx and gθ, residual layers and parameters of
// other layers around the MLP's; and that the results are bit for bit the
// same with two threads and with three (more than the helpers: the caller
// may run both halves).
func TestParallelWorkspace(t *testing.T) {
	rnd := testrand.New(t)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, residual := range []bool{false, true} {
		p := &Params{}
		p.Reserve("before", 5)
		m, err := NewMLP(p, "mlp", MLPConfig{In: 3, Out: 4, Hidden: "16-16", Act: Tanh, Residual: residual}, rand.NewPCG(1, 2))
		if err != nil {
			t.Fatal(err)
		}
		p.Reserve("after", 7)
		randomize(p, rnd, 0.5)
		for _, n := range []int{0, 5, 64, 127, 128, 131, 200} {
			name := fmt.Sprintf("residual=%v/n=%d", residual, n)
			x, gy := make([]float64, n*3), make([]float64, n*4)
			for i := range x {
				x[i] = rnd.NormFloat64()
			}
			for i := range gy {
				gy[i] = rnd.NormFloat64()
			}
			serial := m.NewWorkspace(n, 0)
			y0, gx0, g0 := make([]float64, n*4), make([]float64, n*3), make([]float64, p.Len())
			m.Forward(serial, y0, x)
			m.VJP(serial, gx0, g0, gy)

			var ref [3][]float64
			for _, procs := range []int{1, 2, 3} {
				runtime.GOMAXPROCS(procs)
				pw := m.NewParallelWorkspace(n + 3)
				y, gx, g := make([]float64, n*4), make([]float64, n*3), make([]float64, p.Len())
				for i := range g {
					g[i] = 0.25 // VJP adds to gθ
				}
				for rep := 0; rep < 3; rep++ { // a helper spinning or parked
					m.Forward(pw, y, x)
					m.VJP(pw, nil, nil, gy) // no gx, no gθ
					m.VJP(pw, gx, g, gy)
				}
				for i := range g {
					g[i] = (g[i] - 0.25) / 3
				}
				closeTo(t, name+" y", y, y0, 1e-14)
				closeTo(t, name+" gx", gx, gx0, 1e-14)
				closeTo(t, name+" gθ", g, g0, 1e-13)
				for i := range 5 {
					if g[i] != 0 || g[len(g)-1-i] != 0 {
						t.Fatalf("%s: gradients of other parameters changed", name)
					}
				}
				switch {
				case procs == 1:
					// Not split: a NewWorkspace's bits (gθ up to the /3).
					if !check.SameBits(y, y0) || !check.SameBits(gx, gx0) {
						t.Errorf("%s: one thread differs from a serial workspace", name)
					}
				case ref[0] == nil:
					ref = [3][]float64{y, gx, g}
				case !check.SameBits(ref[0], y) || !check.SameBits(ref[1], gx) || !check.SameBits(ref[2], g):
					t.Errorf("%s: two and three threads differ", name)
				}
			}
		}
	}
}

func closeTo(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(got[i] - want[i]); !(d <= tol*(1+math.Abs(want[i]))) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestParallelWorkspaceMisuse(t *testing.T) {
	p := &Params{}
	m, _ := NewMLP(p, "mlp", MLPConfig{In: 2, Out: 2, Hidden: "8", Act: Tanh}, rand.NewPCG(1, 2))
	other, _ := NewMLP(p, "other", MLPConfig{In: 2, Out: 2, Hidden: "8", Act: Tanh}, rand.NewPCG(1, 2))
	pw := m.NewParallelWorkspace(100)
	x, y := make([]float64, 200), make([]float64, 200)
	mustPanic := func(what string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", what)
			}
		}()
		f()
	}
	mustPanic("VJP before Forward", func() { m.VJP(pw, nil, nil, y) })
	m.Forward(pw, y, x)
	mustPanic("JVP", func() { m.JVP(pw, make([]float64, 200), x) })
	mustPanic("TangentVJP", func() { m.TangentVJP(pw, nil, nil, nil, nil, nil) })
	mustPanic("another MLP's workspace", func() { other.Forward(pw, y, x) })
	mustPanic("too many rows", func() { m.Forward(pw, make([]float64, 202), make([]float64, 202)) })
	if maxN, maxK := pw.Cap(); maxN != 100 || maxK != 0 {
		t.Errorf("Cap = %d, %d", maxN, maxK)
	}
	g := make([]float64, p.Len())
	if got := testing.AllocsPerRun(20, func() { m.Forward(pw, y, x); m.VJP(pw, x, g, y) }); got != 0 {
		t.Errorf("%v allocations per Forward+VJP", got)
	}
}
