package vectorfield

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

func TestParseHidden(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want []int
		ok   bool
	}{
		{"64-64-64", []int{64, 64, 64}, true},
		{" 8 - 3 ", []int{8, 3}, true},
		{"", nil, true},
		{"64--64", nil, false},
		{"64-0", nil, false},
		{"a-3", nil, false},
		{"-3", nil, false},
	} {
		got, err := ParseHidden(tc.spec)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err = %v, want ok=%v", tc.spec, err, tc.ok)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%q: got %v, want %v", tc.spec, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q: got %v, want %v", tc.spec, got, tc.want)
			}
		}
	}
}

func TestParseKind(t *testing.T) {
	for k := Kind(0); k < numKinds; k++ {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if k, err := ParseKind(""); err != nil || k != ConcatSquash {
		t.Errorf(`ParseKind("") = %v, %v; want the default ConcatSquash`, k, err)
	}
	if _, err := ParseKind("hyper"); err == nil {
		t.Error("ParseKind accepted an unknown kind")
	}
}

func TestNewMLPErrors(t *testing.T) {
	for _, tc := range []struct {
		d    int
		spec string
		act  nn.Activation
		s    *Settings
	}{
		{0, "4", nn.Tanh, nil},
		{2, "4-x", nn.Tanh, nil},
		{2, "4", nn.Activation(99), nil},
		{2, "4", nn.Tanh, &Settings{Kind: Kind(17)}},
		{2, "4", nn.Tanh, &Settings{ContextDim: -1}},
		{2, "4", nn.Tanh, &Settings{Workers: -1}},
	} {
		if _, err := NewMLP(tc.d, tc.spec, tc.act, tc.s); err == nil {
			t.Errorf("NewMLP(%d, %q, %v, %+v) did not fail", tc.d, tc.spec, tc.act, tc.s)
		}
	}
}

func TestMLPParameterLayout(t *testing.T) {
	p := new(nn.Params)
	p.Reserve("other", 5)
	m, err := NewMLP(2, "4", nn.Tanh, &Settings{Params: p, Name: "cnf0", ContextDim: 1})
	if err != nil {
		t.Fatal(err)
	}
	// concatsquash: per layer W, b, wg, bg, wb.
	want := 5 + (4*3 + 4*4) + (2*4 + 2*4)
	if p.Len() != want {
		t.Errorf("Params.Len = %d, want %d", p.Len(), want)
	}
	if s, ok := p.Lookup("cnf0/l1/wb"); !ok || s.Len != 2 {
		t.Errorf("cnf0/l1/wb: %+v, %v", s, ok)
	}
	if m.Params() != p {
		t.Error("Params() is not the given Params")
	}
	// Gradients are full-length and leave the other block alone.
	rng := testrand.New(t)
	z, c, a := randn(rng, 6), randn(rng, 3), randn(rng, 6)
	gθ := make([]float64, p.Len())
	m.VJP(Grads{Theta: gθ}, 0.3, z, c, a)
	for i := range 5 {
		if gθ[i] != 0 {
			t.Fatalf("gradient written into another model's block at %d", i)
		}
	}
}

func TestSeedDeterminism(t *testing.T) {
	mk := func(seed uint64) []float64 {
		m, err := NewMLP(2, "8-8", nn.Tanh, &Settings{Src: rand.NewPCG(seed, 1)})
		if err != nil {
			t.Fatal(err)
		}
		return m.Params().Data
	}
	a, b, c := mk(3), mk(3), mk(4)
	check.Unchanged(t, "same seed", a, b)
	differ := false
	for i := range a {
		differ = differ || a[i] != c[i]
	}
	if !differ {
		t.Error("different seeds gave identical parameters")
	}
	// The default source is fixed too.
	m1, _ := NewMLP(2, "8", nn.Tanh, nil)
	m2, _ := NewMLP(2, "8", nn.Tanh, nil)
	check.Unchanged(t, "default seed", m1.Params().Data, m2.Params().Data)
}

// TestWorkersAgree checks that splitting rows across goroutines gives the
// serial results, and that clones on several goroutines agree (run with
// -race to check the absence of data races).
func TestWorkersAgree(t *testing.T) {
	rng := testrand.New(t)
	serial, err := NewMLP(3, "16-16", nn.Softplus, &Settings{ContextDim: 1, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	par, err := NewMLP(3, "16-16", nn.Softplus, &Settings{ContextDim: 1, Workers: 3, MinRows: 4})
	if err != nil {
		t.Fatal(err)
	}
	const n, k = 37, 2
	z, c, v := randn(rng, n*3), randn(rng, n), randn(rng, n*k*3)
	a, b := randn(rng, n*3), randn(rng, n*k*3)
	run := func(m Field) (out [][]float64) {
		f, jv := make([]float64, n*3), make([]float64, n*k*3)
		m.JVP(f, jv, 0.7, z, c, v)
		g := Grads{Z: make([]float64, n*3), Theta: make([]float64, m.Params().Len()), C: make([]float64, n), V: make([]float64, n*k*3)}
		gt := m.VJP2(g, 0.7, z, c, v, a, b)
		return [][]float64{f, jv, g.Z, g.Theta, g.C, g.V, {gt}}
	}
	want := run(serial)
	got := run(par)
	for i := range want {
		check.Close(t, "workers vs serial", want[i], got[i], 1e-12)
	}
	var wg sync.WaitGroup
	results := make([][][]float64, 4)
	for i := range results {
		cl := par.Clone()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				results[i] = run(cl)
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		for i := range want {
			check.Unchanged(t, "clone", got[i], r[i])
		}
	}
}

func TestFieldAllocs(t *testing.T) {
	rng := testrand.New(t)
	mlp, err := NewMLP(2, "16-16", nn.Tanh, &Settings{ContextDim: 1, Workers: 2, MinRows: 8})
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]Field{"mlp": mlp, "linear": NewLinear(randMat(rng, 2), []float64{1, 2}, nil, ""), "func": nil} {
		if f == nil {
			u := newTestFunc()
			u.D, u.C = 2, 1
			f = u
		}
		const n, k = 50, 2
		dc := f.ContextDim()
		z, c, v := randn(rng, n*2), randn(rng, n*dc), randn(rng, n*k*2)
		if dc == 0 {
			c = nil
		}
		a, b := randn(rng, n*2), randn(rng, n*k*2)
		out, jv := make([]float64, n*2), make([]float64, n*k*2)
		g := Grads{Z: make([]float64, n*2), Theta: make([]float64, f.Params().Len()), C: make([]float64, n*dc)}
		g2 := g
		g2.V = make([]float64, n*k*2)
		for _, op := range []struct {
			name string
			fn   func()
		}{
			{"Eval", func() { f.Eval(out, 0.3, z, c) }},
			{"JVP", func() { f.JVP(out, jv, 0.3, z, c, v) }},
			{"VJP", func() { f.VJP(g, 0.3, z, c, a) }},
			{"VJP2", func() { f.VJP2(g2, 0.3, z, c, v, a, b) }},
			{"VJP2 nil grads", func() { f.VJP2(Grads{}, 0.3, z, c, v, nil, b) }},
		} {
			op.fn()
			if allocs := testing.AllocsPerRun(20, op.fn); allocs != 0 {
				t.Errorf("%s %s: %v allocations per call", name, op.name, allocs)
			}
		}
	}
}

func TestShapePanics(t *testing.T) {
	m, err := NewMLP(2, "4", nn.Tanh, &Settings{ContextDim: 1})
	if err != nil {
		t.Fatal(err)
	}
	u, err := NewMLP(2, "4", nn.Tanh, nil)
	if err != nil {
		t.Fatal(err)
	}
	z, c := make([]float64, 4), make([]float64, 2)
	for name, fn := range map[string]func(){
		"ragged z":         func() { m.Eval(make([]float64, 4), 0, make([]float64, 3), c) },
		"missing context":  func() { m.Eval(make([]float64, 4), 0, z, nil) },
		"unexpected ctx":   func() { u.Eval(make([]float64, 4), 0, z, c) },
		"short dst":        func() { m.Eval(make([]float64, 3), 0, z, c) },
		"ragged tangents":  func() { m.JVP(nil, make([]float64, 6), 0, z, c, make([]float64, 6)) },
		"short jv":         func() { m.JVP(nil, make([]float64, 7), 0, z, c, make([]float64, 8)) },
		"V in VJP":         func() { m.VJP(Grads{V: make([]float64, 4)}, 0, z, c, z) },
		"short theta":      func() { m.VJP(Grads{Theta: make([]float64, 3)}, 0, z, c, z) },
		"Func without 2nd": func() { f := newTestFunc(); f.VJPJVPFn = nil; f.VJP2(Grads{}, 0, z, c, z, nil, z) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			fn()
		}()
	}
}

// TestWorkerGoroutinesStop checks that the worker goroutines of an MLP end
// once the MLP is unreachable.
func TestWorkerGoroutinesStop(t *testing.T) {
	// Workers of MLPs from earlier tests may still be exiting: wait until
	// the count is stable before taking it as the baseline.
	before := settledGoroutines()
	ms := make([]*MLP, 10)
	for i := range ms {
		m, err := NewMLP(2, "4", nn.Tanh, &Settings{Workers: 3, MinRows: 1})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float64, 8)
		m.Eval(out, 0, make([]float64, 8), nil)
		ms[i] = m
	}
	if got := runtime.NumGoroutine() - before; got < 20 {
		t.Fatalf("expected 20 worker goroutines, have %d more", got)
	}
	runtime.KeepAlive(ms)
	ms = nil
	for range 100 {
		runtime.GC()
		time.Sleep(time.Millisecond)
		if runtime.NumGoroutine() <= before {
			return
		}
	}
	t.Errorf("%d goroutines left after the MLPs became unreachable", runtime.NumGoroutine()-before)
}

// settledGoroutines collects garbage until the number of goroutines has not
// changed for five consecutive looks 2 ms apart (or 2 s have passed) and
// returns it.
func settledGoroutines() int {
	n, same := runtime.NumGoroutine(), 0
	for i := 0; i < 1000 && same < 5; i++ {
		runtime.GC()
		time.Sleep(2 * time.Millisecond)
		if m := runtime.NumGoroutine(); m == n {
			same++
		} else {
			n, same = m, 0
		}
	}
	return n
}
