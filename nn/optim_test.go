package nn

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/floats"

	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/testrand"
)

// quadratic is f(x) = ½ Σ a_i (x_i − c_i)², with gradient a ⊙ (x − c).
type quadratic struct{ a, c []float64 }

func (q quadratic) grad(g, x []float64) {
	for i := range x {
		g[i] = q.a[i] * (x[i] - q.c[i])
	}
}

var quad = quadratic{a: []float64{1, 10, 0.1, 3}, c: []float64{1, -2, 3, 0.5}}

func closeRel(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// TestAdamPublishedRule follows Algorithm 1 of Kingma & Ba (2015) written
// out here, with the bias corrections as running products β^t, and compares
// every iterate.
func TestAdamPublishedRule(t *testing.T) {
	const alpha, b1, b2, eps = 0.05, 0.9, 0.999, 1e-8
	x := []float64{0, 0, 0, 0}
	opt := NewAdam(4, nil, nil) // default hyperparameters are the paper's
	// The paper's variables.
	theta := check.Clone(x)
	m, v := make([]float64, 4), make([]float64, 4)
	b1t, b2t := 1.0, 1.0
	g, gp := make([]float64, 4), make([]float64, 4)
	for step := 1; step <= 50; step++ {
		quad.grad(gp, theta)
		b1t *= b1
		b2t *= b2
		for i := range theta {
			m[i] = b1*m[i] + (1-b1)*gp[i]
			v[i] = b2*v[i] + (1-b2)*gp[i]*gp[i]
			mhat := m[i] / (1 - b1t)
			vhat := v[i] / (1 - b2t)
			theta[i] -= alpha * mhat / (math.Sqrt(vhat) + eps)
		}
		quad.grad(g, x)
		opt.Step(x, g, alpha)
		for i := range x {
			if !closeRel(x[i], theta[i], 1e-13) {
				t.Fatalf("step %d, x[%d] = %.17g, published rule gives %.17g", step, i, x[i], theta[i])
			}
		}
		if step == 1 {
			// At t = 1, m̂ = g and v̂ = g², so each coordinate moves by
			// α·g/(|g| + ε): about α against the sign of the gradient.
			for i := range x {
				g0 := quad.a[i] * (0 - quad.c[i])
				if want := -alpha * g0 / (math.Abs(g0) + eps); !closeRel(x[i], want, 1e-15) {
					t.Errorf("first step x[%d] = %v, want %v", i, x[i], want)
				}
			}
		}
	}
	if opt.Steps() != 50 {
		t.Errorf("Steps = %d", opt.Steps())
	}
	mm, vv := opt.Moments()
	check.Close(t, "m", m, mm, 1e-12)
	check.Close(t, "v", v, vv, 1e-12)
}

// TestAdamWDecoupled checks that AdamW's decay acts on x directly and never
// enters the moments, and that Adam's (coupled) decay does.
func TestAdamWDecoupled(t *testing.T) {
	const lr, wd = 0.01, 0.1
	s := &AdamSettings{WeightDecay: wd}
	// With zero gradients the moments stay zero and AdamW only shrinks x.
	x := []float64{1, -2, 3, 0.5}
	x0 := check.Clone(x)
	w := NewAdamW(4, nil, s)
	zero := make([]float64, 4)
	for step := 1; step <= 10; step++ {
		w.Step(x, zero, lr)
		for i := range x {
			if want := x0[i] * math.Pow(1-lr*wd, float64(step)); !closeRel(x[i], want, 1e-14) {
				t.Fatalf("step %d: AdamW x[%d] = %v, want %v", step, i, x[i], want)
			}
		}
	}
	m, v := w.Moments()
	if countNonzero(m)+countNonzero(v) != 0 {
		t.Error("AdamW decay entered the moments")
	}
	// Adam with L2 decay sends λx through the normalized update instead:
	// the first step moves each coordinate by about lr, not lr·λ·|x|.
	xa := check.Clone(x0)
	NewAdam(4, nil, s).Step(xa, zero, lr)
	for i := range xa {
		if want := x0[i] - lr*math.Copysign(1, x0[i]); !closeRel(xa[i], want, 1e-6) {
			t.Errorf("Adam+L2 first step x[%d] = %v, want ≈ %v", i, xa[i], want)
		}
	}
	// With gradients: AdamW = (1 − lr·λ)·x − lr·(Adam direction of g alone),
	// where the direction comes from a plain Adam fed the same gradients.
	xw := []float64{0.3, 0.1, -0.2, 2}
	aw, plain := NewAdamW(4, nil, s), NewAdam(4, nil, nil)
	g := make([]float64, 4)
	for step := 1; step <= 20; step++ {
		quad.grad(g, xw)
		before := check.Clone(xw)
		aw.Step(xw, g, lr)
		// A plain Adam at x = 0 exposes its update −lr·dir.
		dir := make([]float64, 4)
		plain.Step(dir, g, lr)
		for i := range xw {
			if want := (1-lr*wd)*before[i] + dir[i]; !closeRel(xw[i], want, 1e-14) {
				t.Fatalf("step %d: AdamW x[%d] = %v, want %v", step, i, xw[i], want)
			}
		}
		mw, vw := aw.Moments()
		mp, vp := plain.Moments()
		check.Unchanged(t, "AdamW m vs Adam m", mp, mw)
		check.Unchanged(t, "AdamW v vs Adam v", vp, vw)
	}
	if d := NewAdamW(1, nil, nil).Settings().WeightDecay; d != 0.01 {
		t.Errorf("AdamW default decay %v, want 0.01", d)
	}
}

func TestSGDMomentum(t *testing.T) {
	const lr, mu = 0.1, 0.9
	// Constant gradient: v_t = g (1 − μ^t)/(1 − μ), so x_t = x_0 − lr Σ_s v_s.
	g := []float64{1, -2}
	x := []float64{0, 0}
	o := NewSGD(2, nil, &SGDSettings{Momentum: mu})
	sum := 0.0
	for step := 1; step <= 30; step++ {
		o.Step(x, g, lr)
		sum += (1 - math.Pow(mu, float64(step))) / (1 - mu)
		for i := range x {
			if want := -lr * g[i] * sum; !closeRel(x[i], want, 1e-13) {
				t.Fatalf("step %d: x[%d] = %v, want %v", step, i, x[i], want)
			}
		}
	}
	// Heavy ball and Nesterov on the quadratic, against the recurrences
	// written out here; plain SGD is x ← x − lr·g.
	for _, nesterov := range []bool{false, true} {
		x := []float64{0, 0, 0, 0}
		ref := check.Clone(x)
		vel := make([]float64, 4)
		o := NewSGD(4, nil, &SGDSettings{Momentum: mu, Nesterov: nesterov, WeightDecay: 0.05})
		gx, gr := make([]float64, 4), make([]float64, 4)
		for step := 0; step < 25; step++ {
			quad.grad(gx, x)
			o.Step(x, gx, 0.02)
			quad.grad(gr, ref)
			for i := range ref {
				d := gr[i] + 0.05*ref[i]
				vel[i] = mu*vel[i] + d
				if nesterov {
					ref[i] -= 0.02 * (d + mu*vel[i])
				} else {
					ref[i] -= 0.02 * vel[i]
				}
			}
			check.Close(t, "SGD iterate", ref, x, 1e-14)
		}
	}
	x = []float64{1, 1}
	NewSGD(2, nil, nil).Step(x, []float64{2, -4}, 0.25)
	check.Unchanged(t, "plain SGD", []float64{0.5, 2}, x)
}

// TestOptimizersRespectFrozen checks that frozen entries never change, even
// with weight decay, and that their state stays zero.
func TestOptimizersRespectFrozen(t *testing.T) {
	var p Params
	p.Reserve("a", 2)
	p.Reserve("b", 3)
	p.SetFrozen("b", true)
	tr := p.Trainable(nil)
	opts := map[string]Optimizer{
		"sgd":   NewSGD(5, tr, &SGDSettings{Momentum: 0.9, WeightDecay: 0.1}),
		"adam":  NewAdam(5, tr, &AdamSettings{WeightDecay: 0.1}),
		"adamw": NewAdamW(5, tr, nil),
	}
	for name, o := range opts {
		x := []float64{1, 2, 3, 4, 5}
		g := []float64{1, 1, 1, 1, 1}
		for i := 0; i < 3; i++ {
			o.Step(x, g, 0.1)
		}
		if x[0] == 1 || x[1] == 2 {
			t.Errorf("%s: trainable entries did not move: %v", name, x)
		}
		check.Unchanged(t, name+" frozen", []float64{3, 4, 5}, x[2:])
	}
}

func TestClipGradNorm(t *testing.T) {
	rnd := testrand.New(t)
	for trial := 0; trial < 20; trial++ {
		g := randSlice(rnd, 30, 3)
		g0 := check.Clone(g)
		norm0 := floats.Norm(g, 2)
		maxNorm := norm0 * (0.1 + rnd.Float64())
		got := ClipGradNorm(g, nil, maxNorm)
		if !closeRel(got, norm0, 1e-14) {
			t.Errorf("returned norm %v, want %v", got, norm0)
		}
		after := floats.Norm(g, 2)
		if after > maxNorm*(1+1e-14) {
			t.Errorf("norm after clipping %v exceeds %v", after, maxNorm)
		}
		if maxNorm < norm0 {
			if !closeRel(after, maxNorm, 1e-14) {
				t.Errorf("clipped norm %v, want %v", after, maxNorm)
			}
			for i := range g {
				if !closeRel(g[i], g0[i]*maxNorm/norm0, 1e-14) {
					t.Fatalf("direction changed at %d", i)
				}
			}
		} else {
			check.Unchanged(t, "unclipped g", g0, g)
		}
	}
	// Frozen entries are neither counted nor scaled.
	g := []float64{3, 100, 4}
	tr := []bool{true, false, true}
	if n := ClipGradNorm(g, tr, 1); n != 5 {
		t.Errorf("norm over trainable = %v, want 5", n)
	}
	check.Close(t, "masked clip", []float64{0.6, 100, 0.8}, g, 1e-15)
	// Huge entries do not overflow.
	g = []float64{3e200, 4e200}
	if n := ClipGradNorm(g, nil, 1); !closeRel(n, 5e200, 1e-15) || !closeRel(floats.Norm(g, 2), 1, 1e-15) {
		t.Errorf("huge: norm %v, after %v", n, g)
	}
	// Tiny entries whose squares underflow still give their norm.
	g = []float64{3e-200, 0, 4e-200}
	if n := ClipGradNorm(g, nil, 1); !closeRel(n, 5e-200, 1e-15) || g[0] != 3e-200 {
		t.Errorf("tiny: norm %v, g %v", n, g)
	}
	// Many entries (the unrolled sum and its tail), some frozen.
	g = make([]float64, 103)
	tr = make([]bool, len(g))
	want := 0.0
	for i := range g {
		g[i] = float64(i%7) - 3
		if tr[i] = i%5 != 0; tr[i] {
			want += g[i] * g[i]
		}
	}
	if n := ClipGradNorm(g, tr, math.Inf(1)); !closeRel(n, math.Sqrt(want), 1e-15) {
		t.Errorf("unrolled: norm %v, want %v", n, math.Sqrt(want))
	}
	// A NaN gradient is reported and left alone.
	g = []float64{1, math.NaN()}
	if n := ClipGradNorm(g, nil, 0.5); !math.IsNaN(n) || g[0] != 1 {
		t.Errorf("NaN: norm %v, g %v", n, g)
	}
}

// TestOptimizerStateRoundTrip checks that restoring a saved state continues
// bit for bit, and that bad states are rejected without change.
func TestOptimizerStateRoundTrip(t *testing.T) {
	makers := map[string]func() Optimizer{
		"sgd":   func() Optimizer { return NewSGD(4, nil, &SGDSettings{Momentum: 0.8, Nesterov: true}) },
		"adam":  func() Optimizer { return NewAdam(4, nil, &AdamSettings{WeightDecay: 1e-3}) },
		"adamw": func() Optimizer { return NewAdamW(4, nil, nil) },
	}
	sched := Warmup{Steps: 3, Then: Cosine{Base: 0.05, Floor: 0.001, Steps: 20}}
	run := func(o Optimizer, x []float64, steps int) {
		g := make([]float64, len(x))
		for i := 0; i < steps; i++ {
			quad.grad(g, x)
			o.Step(x, g, sched.LR(o.Steps()))
		}
	}
	for name, mk := range makers {
		a := mk()
		xa := []float64{0.5, 0.5, 0.5, 0.5}
		run(a, xa, 7)
		state, err := a.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		xb := check.Clone(xa)
		run(a, xa, 9)

		b := mk()
		if err := b.UnmarshalBinary(state); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b.Steps() != 7 {
			t.Errorf("%s: restored Steps = %d", name, b.Steps())
		}
		run(b, xb, 9)
		check.Unchanged(t, name+" continuation", xa, xb)

		// Corrupt states: every truncation, another kind, another length,
		// bad magic, newer version, trailing bytes.
		c := mk()
		before, _ := c.MarshalBinary()
		for cut := 0; cut < len(state); cut++ {
			if c.UnmarshalBinary(state[:cut]) == nil {
				t.Fatalf("%s: truncated state (%d of %d bytes) accepted", name, cut, len(state))
			}
		}
		for oname, other := range makers {
			if oname == name {
				continue
			}
			os, _ := other().MarshalBinary()
			if c.UnmarshalBinary(os) == nil {
				t.Errorf("%s accepted a %s state", name, oname)
			}
		}
		bad := append([]byte(nil), state...)
		bad[0] = 'X'
		if c.UnmarshalBinary(bad) == nil {
			t.Errorf("%s: bad magic accepted", name)
		}
		bad = append([]byte(nil), state...)
		bad[len(stateMagic)] = stateVersion + 1
		if c.UnmarshalBinary(bad) == nil {
			t.Errorf("%s: newer version accepted", name)
		}
		if c.UnmarshalBinary(append(append([]byte(nil), state...), 0)) == nil {
			t.Errorf("%s: trailing bytes accepted", name)
		}
		var short Optimizer
		switch name {
		case "sgd":
			short = NewSGD(3, nil, nil)
		case "adam":
			short = NewAdam(3, nil, nil)
		default:
			short = NewAdamW(3, nil, nil)
		}
		if short.UnmarshalBinary(state) == nil {
			t.Errorf("%s: state of length 4 accepted by length 3", name)
		}
		after, _ := c.MarshalBinary()
		if string(before) != string(after) {
			t.Errorf("%s: failed UnmarshalBinary changed the state", name)
		}
		a.Reset()
		fresh, _ := mk().MarshalBinary()
		if s, _ := a.MarshalBinary(); string(s) != string(fresh) || a.Steps() != 0 {
			t.Errorf("%s: Reset did not clear the state", name)
		}
	}
}

func TestSchedules(t *testing.T) {
	cases := []struct {
		name string
		s    Schedule
		at   map[int]float64
	}{
		{"constant", Constant(0.3), map[int]float64{0: 0.3, 1000: 0.3}},
		{"step", StepDecay{Base: 1, Every: 10, Gamma: 0.5}, map[int]float64{0: 1, 9: 1, 10: 0.5, 19: 0.5, 25: 0.25, 30: 0.125}},
		{"cosine", Cosine{Base: 1, Floor: 0.1, Steps: 100}, map[int]float64{
			0: 1, 25: 0.1 + 0.9*(1+math.Sqrt2/2)/2, 50: 0.55, 75: 0.1 + 0.9*(1-math.Sqrt2/2)/2, 100: 0.1, 150: 0.1}},
		{"warmup-constant", Warmup{Steps: 4, Then: Constant(2)}, map[int]float64{0: 0.5, 1: 1, 3: 2, 4: 2, 100: 2}},
		{"warmup-cosine", Warmup{Steps: 10, Then: Cosine{Base: 1, Floor: 0, Steps: 20}}, map[int]float64{
			0: 0.1, 4: 0.5, 9: 1, 10: 1, 20: 0.5, 30: 0, 40: 0}},
		{"warmup-step", Warmup{Steps: 2, Then: StepDecay{Base: 4, Every: 3, Gamma: 0.1}}, map[int]float64{0: 2, 1: 4, 2: 4, 4: 4, 5: 0.4}},
		{"no-warmup", Warmup{Then: Constant(0.7)}, map[int]float64{0: 0.7, 5: 0.7}},
	}
	for _, c := range cases {
		for step, want := range c.at {
			if got := c.s.LR(step); !closeRel(got, want, 1e-15) {
				t.Errorf("%s: LR(%d) = %v, want %v", c.name, step, got, want)
			}
		}
	}
	for _, s := range []Schedule{StepDecay{Base: 1}, Cosine{Base: 1}, Warmup{Steps: 2}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%#v: no panic", s)
				}
			}()
			s.LR(1)
		}()
	}
}
