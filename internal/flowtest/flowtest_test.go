package flowtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

// Bugs that the suite must catch, injected into scaleT.
const (
	bugNone = iota
	bugLDJSign
	bugGin
	bugGparams
	bugInteract
	bugUnwritten
	bugModifiesInput
	bugRecordDiffers
	bugRoundTrip
	bugNoFiniteCheck
	bugAllocates
	bugGinNoGparams
	numBugs
)

// scaleT is y = (x − μ) ⊙ exp(−s), log|det| = −Σ s, with an optional bug.
type scaleT struct {
	d     int
	p     *nn.Params
	mu, s nn.Slot
	bug   int
	rec   struct {
		ok      bool
		inv     bool
		in, out *mat.Dense
		n       int
	}
}

func newScaleT(d, bug int, rnd *rand.Rand) *scaleT {
	p := new(nn.Params)
	t := &scaleT{d: d, p: p, bug: bug}
	t.mu = p.Reserve("mu", d)
	t.s = p.Reserve("s", d)
	for k := range p.Data {
		p.Data[k] = 0.5 * rnd.NormFloat64()
	}
	return t
}

func (t *scaleT) Dim() int           { return t.d }
func (t *scaleT) Params() *nn.Params { return t.p }

func (t *scaleT) apply(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inv, inPlace, record bool) error {
	t.rec.ok = false
	n, err := odeflow.PrepareCall(op, t.d, dst, ldj, x, inPlace)
	if t.bug == bugNoFiniteCheck {
		err = nil
	}
	if err != nil {
		return err
	}
	mu, s := t.mu.Of(t.p.Data), t.s.Of(t.p.Data)
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	if t.bug == bugLDJSign {
		sum = -sum
	}
	if t.bug == bugAllocates {
		mu = append([]float64(nil), mu...)
	}
	first := x.At(0, 0)
	for i := 0; i < n; i++ {
		xi, yi := x.RawRowView(i), dst.RawRowView(i)
		for j := range xi {
			if inv {
				yi[j] = mu[j] + xi[j]*math.Exp(s[j])
				if t.bug == bugRoundTrip {
					yi[j] += 1e-6
				}
			} else {
				yi[j] = (xi[j] - mu[j]) * math.Exp(-s[j])
			}
		}
		if t.bug == bugInteract && i > 0 {
			yi[0] += 1e-3 * first
		}
		if t.bug == bugUnwritten && i == n-1 {
			yi[t.d-1] = math.NaN()
		}
		if t.bug == bugRecordDiffers && record {
			yi[0] += 1e-14
		}
		if ldj != nil {
			if inv {
				ldj[i] += sum
			} else {
				ldj[i] -= sum
			}
		}
	}
	if t.bug == bugModifiesInput && !inPlace {
		x.Set(0, 0, x.At(0, 0))
		x.RawRowView(0)[0] = math.Nextafter(x.At(0, 0), math.Inf(1))
	}
	return nil
}

func (t *scaleT) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return t.apply("scaleT.Forward", dst, ldj, x, false, true, false)
}

func (t *scaleT) Inverse(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	return t.apply("scaleT.Inverse", dst, ldj, y, true, true, false)
}

func (t *scaleT) record(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inv bool) error {
	if err := t.apply(op, dst, ldj, x, inv, false, true); err != nil {
		return err
	}
	t.rec.ok, t.rec.inv, t.rec.in, t.rec.out = true, inv, x, dst
	t.rec.n, _ = x.Dims()
	return nil
}

func (t *scaleT) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return t.record("scaleT.ForwardRecord", dst, ldj, x, false)
}

func (t *scaleT) InverseRecord(dst *mat.Dense, ldj []float64, y *mat.Dense) error {
	return t.record("scaleT.InverseRecord", dst, ldj, y, true)
}

func (t *scaleT) Backward(gin *mat.Dense, gp []float64, gout *mat.Dense, gldj []float64) error {
	if !t.rec.ok {
		panic("scaleT: no recording")
	}
	odeflow.PrepareBackward("scaleT.Backward", t.d, t.rec.n, t.p.Len(), gin, gp, gout, gldj)
	mu, s := t.mu.Of(t.p.Data), t.s.Of(t.p.Data)
	for i := 0; i < t.rec.n; i++ {
		g, out := gout.RawRowView(i), t.rec.out.RawRowView(i)
		gl := 0.0
		if gldj != nil {
			gl = gldj[i]
		}
		for j := range g {
			e := math.Exp(-s[j])
			if t.rec.inv {
				e = math.Exp(s[j])
			}
			if gin != nil {
				gin.Set(i, j, g[j]*e)
				if t.bug == bugGin && j == 0 {
					gin.Set(i, j, g[j])
				}
				if t.bug == bugGinNoGparams && gp == nil {
					gin.Set(i, j, 2*g[j]*e)
				}
			}
			if gp == nil {
				continue
			}
			gmu, gs := t.mu.Of(gp), t.s.Of(gp)
			if t.rec.inv {
				gmu[j] += g[j]
				gs[j] += g[j]*(out[j]-mu[j]) + gl
			} else {
				gmu[j] -= g[j] * e
				gs[j] -= g[j]*out[j] + gl
			}
			if t.bug == bugGparams && j == 0 {
				gs[j] += 1e-3
			}
		}
	}
	return nil
}

// recorder captures failures instead of failing the real test.
type recorder struct {
	testing.TB
	failed bool
	msgs   []string
}

type fatal struct{}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(f string, a ...any) {
	r.failed = true
	r.msgs = append(r.msgs, fmt.Sprintf(f, a...))
}
func (r *recorder) Error(a ...any) { r.Errorf("%s", fmt.Sprint(a...)) }
func (r *recorder) Fatalf(f string, a ...any) {
	r.Errorf(f, a...)
	panic(fatal{})
}
func (r *recorder) Fatal(a ...any) { r.Fatalf("%s", fmt.Sprint(a...)) }

// run calls f with a recorder and reports whether it recorded a failure.
func run(t *testing.T, f func(tb testing.TB)) (failed bool, msgs []string) {
	r := &recorder{TB: t}
	func() {
		defer func() {
			if v := recover(); v != nil {
				if _, ok := v.(fatal); !ok {
					panic(v)
				}
			}
		}()
		f(r)
	}()
	return r.failed, r.msgs
}

// TestSuiteCatchesBugs checks that the suite passes a correct transform and
// fails each injected bug, in both directions.
func TestSuiteCatchesBugs(t *testing.T) {
	for bug := bugNone; bug < numBugs; bug++ {
		for _, inverse := range []bool{false, true} {
			rnd := testrand.New(t)
			tr := newScaleT(3, bug, rnd)
			x := RandDense(rnd, 4, 3, 1)
			failed, msgs := run(t, func(tb testing.TB) {
				Check(tb, tr, x, inverse, testrand.NewSource(t, 1), nil)
				CheckNonFinite(tb, tr, x)
				CheckNoAlloc(tb, tr, x)
			})
			switch {
			case bug == bugNone && failed:
				t.Errorf("inverse=%v: correct transform failed: %v", inverse, msgs)
			case bug != bugNone && !failed:
				// The round-trip bug lives in Inverse, which both directions
				// exercise; every bug must be seen in both directions.
				t.Errorf("bug %d, inverse=%v: not caught", bug, inverse)
			}
		}
	}
}

// TestSettingsDefaults checks the documented defaults.
func TestSettingsDefaults(t *testing.T) {
	var s *Settings
	if s.roundTrip() != 1e-10 || s.deriv() != 1e-6 || s.interaction() != 1e-9 {
		t.Error("nil Settings defaults")
	}
	s = &Settings{RoundTrip: 1e-8, Deriv: 1e-5, Interaction: 1e-7}
	if s.roundTrip() != 1e-8 || s.deriv() != 1e-5 || s.interaction() != 1e-7 {
		t.Error("Settings fields ignored")
	}
}
