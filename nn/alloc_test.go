package nn

import (
	"sync"
	"testing"

	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
)

// TestNoAllocs checks that, after NewWorkspace, no pass of any layer
// allocates, including batches large enough for the tiled products and
// smaller batches than the workspace was made for; and that optimizer steps
// and clipping do not allocate either.
func TestNoAllocs(t *testing.T) {
	rnd := testrand.New(t)
	const n, k = 300, 2
	p := &Params{}
	mlp, err := NewMLP(p, "mlp", MLPConfig{In: 3, Out: 3, Hidden: "70-70", Act: Tanh, Residual: true}, testrand.NewSource(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	made, err := NewMLP(p, "made", MLPConfig{In: 3, Out: 6, Hidden: "70-70", Act: SiLU,
		Masks: MADEMasks([]int{0, 1, 2}, []int{70, 70}, 2, nil)}, testrand.NewSource(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	layers := map[string]Layer{
		"mlp":      mlp,
		"made":     made,
		"linear":   NewLinear(p, "lin", 3, 80, ReLU),
		"narrow":   NewMaskedLinear(p, "nar", 80, 3, Softplus, make([]float64, 240)),
		"actlayer": NewActLayer(3, ELU),
	}
	gθ := make([]float64, p.Len())
	for name, l := range layers {
		in, out := l.In(), l.Out()
		ws := l.NewWorkspace(n, k)
		for _, rows := range []int{n, 37} {
			x, xd := randSlice(rnd, rows*in, 1), randSlice(rnd, rows*k*in, 1)
			gy, gyd := randSlice(rnd, rows*out, 1), randSlice(rnd, rows*k*out, 1)
			y, yd := make([]float64, rows*out), make([]float64, rows*k*out)
			gx, gxd := make([]float64, rows*in), make([]float64, rows*k*in)
			allocs := testing.AllocsPerRun(3, func() {
				l.Forward(ws, y, x)
				l.VJP(ws, gx, gθ, gy)
				l.JVP(ws, yd, xd)
				l.TangentVJP(ws, gx, gxd, gθ, gy, gyd)
				l.TangentVJP(ws, nil, nil, gθ, nil, gyd)
			})
			if allocs != 0 {
				t.Errorf("%s, %d rows: %v allocations per run", name, rows, allocs)
			}
		}
	}
	x, g := randSlice(rnd, 500, 1), randSlice(rnd, 500, 1)
	for name, o := range map[string]Optimizer{
		"sgd": NewSGD(500, nil, &SGDSettings{Momentum: 0.9, Nesterov: true}), "adam": NewAdam(500, nil, nil), "adamw": NewAdamW(500, nil, nil),
	} {
		if a := testing.AllocsPerRun(5, func() { o.Step(x, g, 1e-3) }); a != 0 {
			t.Errorf("%s Step: %v allocations", name, a)
		}
	}
	if a := testing.AllocsPerRun(5, func() { ClipGradNorm(g, nil, 0.5) }); a != 0 {
		t.Errorf("ClipGradNorm: %v allocations", a)
	}
}

// TestConcurrentWorkers runs one MLP on two row blocks in two goroutines,
// each with its own workspace and gradient buffer, and checks the results
// against one pass over the whole batch. Run with -race.
func TestConcurrentWorkers(t *testing.T) {
	rnd := testrand.New(t)
	p := &Params{}
	m, err := NewMLP(p, "m", MLPConfig{In: 2, Out: 2, Hidden: "16-16", Act: Tanh, Residual: true}, testrand.NewSource(t, 5))
	if err != nil {
		t.Fatal(err)
	}
	randomize(p, rnd, 0.5)
	const n, k, half = 40, 2, 17
	x, xd := randSlice(rnd, n*2, 1), randSlice(rnd, n*k*2, 1)
	gy, gyd := randSlice(rnd, n*2, 1), randSlice(rnd, n*k*2, 1)
	type result struct{ y, yd, gx, gxd, gθ []float64 }
	run := func(lo, hi int) result {
		ws := m.NewWorkspace(hi-lo, k)
		r := result{make([]float64, (hi-lo)*2), make([]float64, (hi-lo)*k*2), make([]float64, (hi-lo)*2), make([]float64, (hi-lo)*k*2), make([]float64, p.Len())}
		m.Forward(ws, r.y, x[lo*2:hi*2])
		m.JVP(ws, r.yd, xd[lo*k*2:hi*k*2])
		m.TangentVJP(ws, r.gx, r.gxd, r.gθ, gy[lo*2:hi*2], gyd[lo*k*2:hi*k*2])
		return r
	}
	whole := run(0, n)
	var parts [2]result
	var wg sync.WaitGroup
	for i, b := range [][2]int{{0, half}, {half, n}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[i] = run(b[0], b[1])
		}()
	}
	wg.Wait()
	join := func(a, b []float64) []float64 { return append(append([]float64(nil), a...), b...) }
	check.Close(t, "y", whole.y, join(parts[0].y, parts[1].y), 1e-14)
	check.Close(t, "ẏ", whole.yd, join(parts[0].yd, parts[1].yd), 1e-14)
	check.Close(t, "gx", whole.gx, join(parts[0].gx, parts[1].gx), 1e-14)
	check.Close(t, "gẋ", whole.gxd, join(parts[0].gxd, parts[1].gxd), 1e-14)
	sum := make([]float64, p.Len())
	for i := range sum {
		sum[i] = parts[0].gθ[i] + parts[1].gθ[i]
	}
	check.Close(t, "gθ", whole.gθ, sum, 1e-13)
}
