package cnf_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/adjoint"
	"github.com/odeflow/odeflow/cnf"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/ode"
	"github.com/odeflow/odeflow/trace"
	"github.com/odeflow/odeflow/vectorfield"
)

// TestTransformSuite runs the shared Transform property suite on a block
// (exact divergence; training and evaluation settings equal, so that a
// record call computes exactly what a plain call does), for every gradient
// method, in both directions.
func TestTransformSuite(t *testing.T) {
	for _, m := range methods {
		t.Run(m.String(), func(t *testing.T) {
			p := new(nn.Params)
			f := smallField(t, p, "f", 2, "8-8", 0, 11)
			s := &cnf.SolverSettings{RTol: 1e-12, ATol: 1e-12, Gradient: m}
			blk := cnf.New(f, &cnf.Settings{T: 0.7, Train: s, Eval: s})
			x := flowtest.RandDense(testrand.New(t), 4, 2, 1)
			flowtest.CheckBoth(t, blk, x, testrand.NewSource(t, 1), nil)
			flowtest.CheckNonFinite(t, blk, x)
		})
	}
}

// TestRoundTrip checks Inverse(Forward(x)) = x and opposite log-dets with
// the default evaluation settings (rtol = atol = 1e-7) on a 3-D block with
// a Hutchinson estimator, and with Hutch++.
func TestRoundTrip(t *testing.T) {
	for _, div := range []cnf.Divergence{cnf.Exact, cnf.Hutchinson, cnf.HutchPP} {
		p := new(nn.Params)
		f := smallField(t, p, "f", 3, "16-16", 0, 2)
		blk := cnf.New(f, &cnf.Settings{Divergence: div, T: 1})
		x := flowtest.RandDense(testrand.New(t), 20, 3, 1)
		var z, xr mat.Dense
		ldj, ldjr := make([]float64, 20), make([]float64, 20)
		if err := blk.Forward(&z, ldj, x); err != nil {
			t.Fatal(err)
		}
		if err := blk.Inverse(&xr, ldjr, &z); err != nil {
			t.Fatal(err)
		}
		check.Close(t, div.String()+": round trip", flowtest.Flat(x), flowtest.Flat(&xr), 1e-6)
		if div == cnf.Exact {
			for i := range ldjr {
				ldjr[i] = -ldjr[i]
			}
			check.Close(t, "opposite log-dets", ldj, ldjr, 1e-6)
		}
	}
}

// TestSampleAndLogProb: one inverse pass gives samples and densities that
// LogProb reproduces, for a flow of a discrete layer and two CNF blocks.
func TestSampleAndLogProb(t *testing.T) {
	flow, _ := stackedFlow(t)
	xs := mat.NewDense(30, 2, nil)
	lp, err := flow.SampleAndLogProb(xs, nil, nil, testrand.NewSource(t, 4))
	if err != nil {
		t.Fatal(err)
	}
	lp2, err := flow.LogProb(nil, xs, nil)
	if err != nil {
		t.Fatal(err)
	}
	check.CloseEach(t, "SampleAndLogProb vs LogProb", lp2, lp, 1e-6)
	// Sample draws the same points from the same source.
	xs2 := mat.NewDense(30, 2, nil)
	if err := flow.Sample(xs2, nil, testrand.NewSource(t, 4)); err != nil {
		t.Fatal(err)
	}
	check.Unchanged(t, "Sample vs SampleAndLogProb", flowtest.Flat(xs), flowtest.Flat(xs2))
}

// affine is a parameterized elementwise affine layer, z = x ⊙ e^s + b:
// a discrete member for the chain tests.
type affine struct {
	p     *nn.Params
	s, b  nn.Slot
	d     int
	x     *mat.Dense
	valid bool
}

func newAffine(p *nn.Params, d int) *affine {
	a := &affine{p: p, d: d, s: p.Reserve("affine/s", d), b: p.Reserve("affine/b", d)}
	for j := 0; j < d; j++ {
		a.s.Of(p.Data)[j] = 0.1 * float64(j+1)
		a.b.Of(p.Data)[j] = -0.2 * float64(j)
	}
	return a
}

func (a *affine) Dim() int           { return a.d }
func (a *affine) Params() *nn.Params { return a.p }
func (a *affine) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	a.valid = false
	return a.apply("affine.Forward", dst, ldj, x, false, true)
}
func (a *affine) Inverse(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	a.valid = false
	return a.apply("affine.Inverse", dst, ldj, y, true, true)
}
func (a *affine) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	if err := a.apply("affine.ForwardRecord", dst, ldj, x, false, false); err != nil {
		return err
	}
	a.x, a.valid = x, true
	return nil
}
func (a *affine) InverseRecord(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	panic("affine: InverseRecord not needed by the tests")
}
func (a *affine) apply(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inv, inPlace bool) error {
	n, err := odeflow.PrepareCall(op, a.d, dst, ldj, x, inPlace)
	if err != nil {
		return err
	}
	s, b := a.s.Of(a.p.Data), a.b.Of(a.p.Data)
	for i := 0; i < n; i++ {
		for j := 0; j < a.d; j++ {
			if inv {
				dst.Set(i, j, (x.At(i, j)-b[j])*math.Exp(-s[j]))
			} else {
				dst.Set(i, j, x.At(i, j)*math.Exp(s[j])+b[j])
			}
		}
		if ldj != nil {
			for j := 0; j < a.d; j++ {
				if inv {
					ldj[i] -= s[j]
				} else {
					ldj[i] += s[j]
				}
			}
		}
	}
	return nil
}
func (a *affine) Backward(gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) error {
	if !a.valid {
		panic("affine: no recording")
	}
	n, _ := a.x.Dims()
	odeflow.PrepareBackward("affine.Backward", a.d, n, a.p.Len(), gin, gparams, gout, gldj)
	s := a.s.Of(a.p.Data)
	for i := 0; i < n; i++ {
		for j := 0; j < a.d; j++ {
			e := math.Exp(s[j])
			if gin != nil {
				gin.Set(i, j, gout.At(i, j)*e)
			}
			if gparams != nil {
				gparams[a.s.Off+j] += gout.At(i, j) * a.x.At(i, j) * e
				gparams[a.b.Off+j] += gout.At(i, j)
				if gldj != nil {
					gparams[a.s.Off+j] += gldj[i]
				}
			}
		}
	}
	return nil
}

// stackedFlow is Chain[affine, CNF, CNF] on one *nn.Params with a standard
// normal base, tight settings.
func stackedFlow(t testing.TB) (*odeflow.Flow, *nn.Params) {
	p := new(nn.Params)
	aff := newAffine(p, 2)
	s := &cnf.SolverSettings{RTol: 1e-11, ATol: 1e-11}
	b1 := cnf.New(smallField(t, p, "f1", 2, "8-8", 0, 21), &cnf.Settings{T: 0.4, Train: s, Eval: s, Kinetic: 0.1})
	b2 := cnf.New(smallField(t, p, "f2", 2, "8", 0, 22), &cnf.Settings{T: 0.3, Train: s, Eval: s})
	if b1.Name() == b2.Name() {
		t.Fatalf("two blocks named %q", b1.Name())
	}
	return odeflow.NewFlow(odeflow.NewStandardNormal(2), odeflow.NewChain(aff, b1, b2)), p
}

// TestChain trains through a Chain of [affine, CNF, CNF] via the Flow API:
// the gradient of the mean NLL plus the chain's penalty with respect to
// every parameter (both fields, both τ, the affine layer) and the input
// matches finite differences.
func TestChain(t *testing.T) {
	flow, p := stackedFlow(t)
	x := flowtest.RandDense(testrand.New(t), 5, 2, 1)
	w := []float64{-0.2, -0.2, -0.2, -0.2, -0.2}
	loss := func(u *mat.Dense) float64 {
		// The penalty needs a record call; LogProbGrad makes one.
		gp := make([]float64, p.Len())
		lp, err := flow.LogProbGrad(nil, gp, nil, w, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		l := 0.0
		for _, v := range lp {
			l += -v / 5
		}
		return l + cnf.Penalty(flow.Transform())
	}
	theta := check.Clone(p.Data)
	want := check.GradRef(func(th []float64) float64 {
		copy(p.Data, th)
		defer copy(p.Data, theta)
		return loss(x)
	}, theta)
	wantX := check.GradRef(func(u []float64) float64 { return loss(mat.NewDense(5, 2, u)) }, flowtest.Flat(x))
	gp := make([]float64, p.Len())
	var gx mat.Dense
	if _, err := flow.LogProbGrad(nil, gp, &gx, w, x, nil); err != nil {
		t.Fatal(err)
	}
	if !(cnf.Penalty(flow.Transform()) > 0) {
		t.Errorf("chain penalty %v, want > 0", cnf.Penalty(flow.Transform()))
	}
	check.Close(t, "chain ∂L/∂θ", want, gp, check.Tol)
	check.Close(t, "chain ∂L/∂x", wantX, flowtest.Flat(&gx), check.Tol)
}

// TestFailures: a solve that cannot finish is an error, not a panic, for
// plain and record calls; so is a non-finite input (a RowError naming the
// rows).
func TestFailures(t *testing.T) {
	p := new(nn.Params)
	f := smallField(t, p, "f", 2, "8-8", 0, 1)
	s := &cnf.SolverSettings{MaxSteps: 3, RTol: 1e-12, ATol: 1e-12}
	blk := cnf.New(f, &cnf.Settings{Train: s, Eval: s})
	x := flowtest.RandDense(testrand.New(t), 4, 2, 1)
	var z mat.Dense
	for name, call := range map[string]func(*mat.Dense, []float64, *mat.Dense) error{
		"Forward": blk.Forward, "Inverse": blk.Inverse, "ForwardRecord": blk.ForwardRecord, "InverseRecord": blk.InverseRecord,
	} {
		err := call(&z, nil, x)
		if !errors.Is(err, ode.MaxStepsReached.Err()) {
			t.Errorf("%s with MaxSteps 3: error %v, want MaxStepsReached", name, err)
		}
	}
	// A record call that failed leaves no recording.
	if !panics(func() { _ = blk.Backward(nil, nil, mat.NewDense(4, 2, nil), nil) }) {
		t.Errorf("Backward after a failed record call did not panic")
	}
	// Backsolve's backward solve failing is an error too.
	bs := &cnf.SolverSettings{RTol: 1e-6, ATol: 1e-6, Gradient: adjoint.Backsolve, BackwardRTol: 1e-13, BackwardATol: 1e-13, MaxSteps: 5}
	blk2 := cnf.New(smallField(t, new(nn.Params), "f", 2, "8-8", 0, 1), &cnf.Settings{Train: bs, T: 2})
	if err := blk2.ForwardRecord(&z, nil, x); err != nil {
		t.Fatal(err)
	}
	if err := blk2.Backward(nil, nil, mat.NewDense(4, 2, []float64{1, 2, 3, 4, 5, 6, 7, 8}), nil); !errors.Is(err, ode.MaxStepsReached.Err()) {
		t.Errorf("failing backsolve: error %v, want MaxStepsReached", err)
	}
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

// TestDeterminism: the same seeds give the same numbers, bit for bit, with
// Hutchinson noise; a different noise seed gives other log-densities.
func TestDeterminism(t *testing.T) {
	run := func(seed uint64) ([]float64, []float64) {
		p := new(nn.Params)
		f := smallField(t, p, "f", 3, "8-8", 0, 4)
		blk := cnf.New(f, &cnf.Settings{Divergence: cnf.Hutchinson, Probe: trace.Gaussian, Src: rand.NewPCG(seed, 9), Kinetic: 0.1})
		flow := odeflow.NewFlow(odeflow.NewStandardNormal(3), blk)
		x := flowtest.RandDense(rand.New(rand.NewPCG(1, 2)), 6, 3, 1)
		gp := make([]float64, p.Len())
		lp, err := flow.LogProbGrad(nil, gp, nil, nil, x, nil)
		if err != nil {
			t.Fatal(err)
		}
		return lp, gp
	}
	lp1, g1 := run(1)
	lp2, g2 := run(1)
	check.Unchanged(t, "log-densities, same seed", lp1, lp2)
	check.Unchanged(t, "gradients, same seed", g1, g2)
	lp3, _ := run(2)
	if e, _ := check.MaxRelErr(lp1, lp3); e == 0 {
		t.Errorf("a different noise seed gave the same log-densities")
	}
}

// TestNoAlloc: after warm-up, every call of a block allocates nothing, for
// each gradient method and estimator, with regularizers.
func TestNoAlloc(t *testing.T) {
	for _, m := range methods {
		for _, div := range []cnf.Divergence{cnf.Exact, cnf.Hutchinson} {
			p := new(nn.Params)
			f := smallField(t, p, "f", 2, "8-8", 0, 5)
			s := &cnf.SolverSettings{Gradient: m}
			blk := cnf.New(f, &cnf.Settings{Divergence: div, Train: s, Kinetic: 0.1, L1: 0.1})
			flowtest.CheckNoAlloc(t, blk, flowtest.RandDense(testrand.New(t), 6, 2, 1))
		}
	}
}

// TestTrajectory: the states at the end times equal Forward's and Inverse's
// results, the first state is the input, and the log-determinants at
// intermediate times match a Forward of a block with that end time.
func TestTrajectory(t *testing.T) {
	p := new(nn.Params)
	f := smallField(t, p, "f", 2, "8-8", 0, 6)
	blk := cnf.New(f, &cnf.Settings{T: 0.8})
	x := flowtest.RandDense(testrand.New(t), 5, 2, 1)
	times := []float64{0, 0.2, 0.5, 0.8}
	states, ldj, err := blk.Trajectory(x, times, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 4 || len(ldj) != 4 {
		t.Fatalf("%d states and %d log-dets, want 4", len(states), len(ldj))
	}
	check.Close(t, "state at 0", flowtest.Flat(x), flowtest.Flat(states[0]), 1e-15)
	var z mat.Dense
	ld := make([]float64, 5)
	if err := blk.Forward(&z, ld, x); err != nil {
		t.Fatal(err)
	}
	check.Close(t, "state at T", flowtest.Flat(&z), flowtest.Flat(states[3]), 1e-6)
	check.Close(t, "ldj at T", ld, ldj[3], 1e-6)
	// At t = 0.5: a block with T = 0.5 on the same field.
	blk.SetT(0.5)
	clear(ld)
	if err := blk.Forward(&z, ld, x); err != nil {
		t.Fatal(err)
	}
	check.Close(t, "state at 0.5", flowtest.Flat(&z), flowtest.Flat(states[2]), 1e-6)
	check.Close(t, "ldj at 0.5", ld, ldj[2], 1e-6)
	blk.SetT(0.8)

	// Inverse from base points, times decreasing.
	inv, ildj, err := blk.Trajectory(states[3], []float64{0.8, 0.4, 0}, true)
	if err != nil {
		t.Fatal(err)
	}
	check.Close(t, "inverse trajectory ends at the data", flowtest.Flat(x), flowtest.Flat(inv[2]), 1e-6)
	for i := range ildj[2] {
		ildj[2][i] = -ildj[2][i]
	}
	check.Close(t, "inverse ldj", ldj[3], ildj[2], 1e-6)
	// Times out of range are an error, not a panic.
	if _, _, err := blk.Trajectory(x, []float64{0, 2}, false); err == nil {
		t.Errorf("time beyond T: no error")
	}
}

// TestStatsAndPanics covers the NFE counters, Stats, FixedT and the
// programmer-error panics.
func TestStatsAndPanics(t *testing.T) {
	p := new(nn.Params)
	f := smallField(t, p, "f", 2, "8-8", 0, 6)
	blk := cnf.New(f, &cnf.Settings{FixedT: true})
	if blk.T() != cnf.DefaultT {
		t.Errorf("default T %v, want %v", blk.T(), cnf.DefaultT)
	}
	tr := p.Trainable(nil)
	if tr[len(tr)-1] || !tr[0] {
		t.Errorf("FixedT: τ trainable = %v, field trainable = %v", tr[len(tr)-1], tr[0])
	}
	x := flowtest.RandDense(testrand.New(t), 5, 2, 1)
	var z mat.Dense
	if err := blk.ForwardRecord(&z, nil, x); err != nil {
		t.Fatal(err)
	}
	f0, b0 := blk.NFE()
	st := blk.Stats()
	if f0 != st.Forward.NFE || f0 == 0 || b0 != 0 || st.Adjoint.Tape == 0 {
		t.Errorf("after one record call: NFE %d/%d, stats %+v", f0, b0, st)
	}
	if err := blk.Backward(nil, nil, mat.NewDense(5, 2, nil), nil); err != nil {
		t.Fatal(err)
	}
	f1, b1 := blk.NFE()
	if st := blk.Stats(); f1 != f0 || b1 != st.Adjoint.BackwardVJPs || b1 == 0 {
		t.Errorf("after Backward: NFE %d/%d, stats %+v", f1, b1, st)
	}
	if err := blk.Forward(&z, nil, x); err != nil {
		t.Fatal(err)
	}
	if f2, _ := blk.NFE(); f2 != f1+blk.Stats().Forward.NFE {
		t.Errorf("NFE not cumulative: %d after %d + %d", f2, f1, blk.Stats().Forward.NFE)
	}
	for name, f := range map[string]func(){
		"Backward after Forward": func() { _ = blk.Backward(nil, nil, mat.NewDense(5, 2, nil), nil) },
		"negative T":             func() { cnf.New(smallField(t, new(nn.Params), "f", 2, "8", 0, 1), &cnf.Settings{T: -1}) },
		"negative weight":        func() { cnf.New(smallField(t, new(nn.Params), "f", 2, "8", 0, 1), &cnf.Settings{L2: -1}) },
		"conditional field":      func() { cnf.New(smallField(t, new(nn.Params), "f", 2, "8", 1, 1), nil) },
		"unconditional field":    func() { cnf.NewConditional(smallField(t, new(nn.Params), "f", 2, "8", 0, 1), nil) },
		"SetT(0)":                func() { blk.SetT(0) },
		"wrong columns":          func() { _ = blk.Forward(&z, nil, mat.NewDense(5, 3, nil)) },
		"bad tolerance": func() {
			cnf.New(smallField(t, new(nn.Params), "f", 2, "8", 0, 1), &cnf.Settings{Eval: &cnf.SolverSettings{RTol: -1}})
		},
	} {
		if !panics(f) {
			t.Errorf("%s: no panic", name)
		}
	}
	cb := cnf.NewConditional(smallField(t, new(nn.Params), "f", 2, "8", 3, 1), nil)
	if !panics(func() { cb.Given(mat.NewDense(5, 2, nil)) }) {
		t.Errorf("context with the wrong columns: no panic")
	}
	c := mat.NewDense(5, 3, nil)
	tb := cb.Given(c)
	if !panics(func() { _ = tb.Forward(&mat.Dense{}, nil, mat.NewDense(4, 2, nil)) }) {
		t.Errorf("batch rows ≠ context rows: no panic")
	}
	// Default noise sources: per block, seeded by the name, so the blocks
	// of one model draw different noise and a rebuilt model the same.
	q := new(nn.Params)
	n1 := cnf.New(smallField(t, q, "f1", 2, "8", 0, 1), nil)
	n2 := cnf.New(smallField(t, q, "f2", 2, "8", 0, 1), nil)
	n3 := cnf.New(smallField(t, new(nn.Params), "f1", 2, "8", 0, 1), nil)
	if n1.Name() != "cnf0" || n2.Name() != "cnf1" || n3.Name() != "cnf0" {
		t.Errorf("default names %q, %q, %q", n1.Name(), n2.Name(), n3.Name())
	}
	u1, u2, u3 := n1.Source().Uint64(), n2.Source().Uint64(), n3.Source().Uint64()
	if u1 == u2 || u1 != u3 {
		t.Errorf("default sources: first draws %d, %d, %d", u1, u2, u3)
	}
	fresh := cnf.NewConditional(smallField(t, new(nn.Params), "f", 2, "8", 3, 1), nil)
	if !panics(func() { _ = fresh.Block().Forward(&mat.Dense{}, nil, mat.NewDense(4, 2, nil)) }) {
		t.Errorf("conditional block without a context: no panic")
	}
}

// TestConditional runs the Transform suite on a conditional block bound to
// a context, and checks that a strided context view gives the same result
// as a contiguous copy and that the context matters.
func TestConditional(t *testing.T) {
	p := new(nn.Params)
	s := &cnf.SolverSettings{RTol: 1e-12, ATol: 1e-12}
	cb := cnf.NewConditional(smallField(t, p, "f", 2, "8-8", 2, 8), &cnf.Settings{Train: s, Eval: s})
	if cb.ContextDim() != 2 || cb.Dim() != 2 || cb.Params() != p {
		t.Fatalf("ContextDim %d, Dim %d", cb.ContextDim(), cb.Dim())
	}
	rnd := testrand.New(t)
	x := flowtest.RandDense(rnd, 4, 2, 1)
	wide := flowtest.RandDense(rnd, 4, 5, 1)
	view := wide.Slice(0, 4, 1, 3).(*mat.Dense)
	c := mat.DenseCopyOf(view)
	flowtest.CheckBoth(t, cb.Given(c).(odeflow.Differentiable), x, testrand.NewSource(t, 2), nil)
	var z1, z2, z3 mat.Dense
	if err := cb.Given(c).Forward(&z1, nil, x); err != nil {
		t.Fatal(err)
	}
	if err := cb.Given(view).Forward(&z2, nil, x); err != nil {
		t.Fatal(err)
	}
	check.Unchanged(t, "strided context vs copy", flowtest.Flat(&z1), flowtest.Flat(&z2))
	c2 := mat.DenseCopyOf(c)
	c2.Scale(-1, c2)
	if err := cb.Given(c2).Forward(&z3, nil, x); err != nil {
		t.Fatal(err)
	}
	if e, _ := check.MaxRelErr(flowtest.Flat(&z1), flowtest.Flat(&z3)); e < 1e-6 {
		t.Errorf("the context does not change the map (difference %v)", e)
	}
}

// TestWorkers runs a block whose field splits its rows across two worker
// goroutines (run it with -race) and compares with one worker: the same
// log-densities and gradients up to the order of the gradient reduction.
func TestWorkers(t *testing.T) {
	x := flowtest.RandDense(testrand.New(t), 80, 2, 1)
	run := func(workers int) ([]float64, []float64) {
		p := new(nn.Params)
		f, err := vectorfield.NewMLP(2, "16-16", nn.Tanh, &vectorfield.Settings{Params: p, Workers: workers, MinRows: 16})
		if err != nil {
			t.Fatal(err)
		}
		blk := cnf.New(f, &cnf.Settings{Divergence: cnf.Hutchinson, Kinetic: 0.1, Src: rand.NewPCG(1, 1)})
		flow := odeflow.NewFlow(odeflow.NewStandardNormal(2), blk)
		gp := make([]float64, p.Len())
		lp, err := flow.LogProbGrad(nil, gp, nil, nil, x, nil)
		if err != nil {
			t.Fatal(err)
		}
		return lp, gp
	}
	lp1, g1 := run(1)
	lp2, g2 := run(2)
	check.Close(t, "log-densities, 2 workers vs 1", lp1, lp2, 1e-12)
	check.Close(t, "gradients, 2 workers vs 1", g1, g2, 1e-12)
}
