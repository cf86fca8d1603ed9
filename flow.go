package odeflow

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/nn"
)

// Flow is a normalizing flow: a base distribution p_base on R^d and a
// transform f (data → base), optionally conditional on a context per row.
// Its density is
//
//	log p(x | c) = log p_base(f(x; c)) + log|det ∂f/∂x (x; c)|
//
// and it samples x = f⁻¹(z; c) with z ~ p_base.
//
// The methods take the context c as an n×ContextDim matrix whose row i
// conditions row i of the batch; for an unconditional flow c must be nil
// (a non-nil c panics, as does a nil c for a conditional flow). A batch or
// context whose shape disagrees with the flow's dimensions, or whose row
// counts differ, is a data error (returned). A destination of the wrong size
// is a programmer error (panics).
//
// A log-density that comes out NaN, or a transform output that is not
// finite, is reported as a *RowError wrapping ErrNumerical that names the
// rows (those rows of the result are set to NaN; the others are valid).
// Points outside the base's support legitimately give −Inf and are not
// errors. Non-finite inputs give a *RowError wrapping ErrNonFinite.
//
// A Flow holds workspace and the recording of SampleRecord: it is not safe
// for concurrent use. Its parameters are those of the transform and of the
// base, which must share one *nn.Params (see Parameterized).
type Flow struct {
	base   Distribution
	t      Transform
	ct     Conditional
	dim    int
	params *nn.Params

	z, gz, gzb, zeros mat.Dense
	ldj, lpz, wbuf    []float64

	// SampleRecord's recording
	rec        Differentiable
	recZ       mat.Dense
	recN       int
	recordedOK bool
}

// NewFlow returns the flow with base distribution base and transform t
// (data → base). It panics if the dimensions differ or if base and t have
// parameters in different *nn.Params.
func NewFlow(base Distribution, t Transform) *Flow {
	if base == nil || t == nil {
		panic("odeflow: NewFlow: nil base or transform")
	}
	return newFlow(base, t, nil, t.Dim(), paramsOf(t))
}

// NewConditionalFlow returns the flow with base distribution base and the
// conditional transform t. It panics as NewFlow does.
func NewConditionalFlow(base Distribution, t Conditional) *Flow {
	if base == nil || t == nil {
		panic("odeflow: NewConditionalFlow: nil base or transform")
	}
	return newFlow(base, nil, t, t.Dim(), paramsOf(t))
}

func newFlow(base Distribution, t Transform, ct Conditional, d int, tp *nn.Params) *Flow {
	if base.Dim() != d {
		panic(fmt.Sprintf("odeflow: NewFlow: base has dimension %d, transform %d", base.Dim(), d))
	}
	p := sharedParams("NewFlow", tp, paramsOf(base), "the base distribution")
	return &Flow{base: base, t: t, ct: ct, dim: d, params: p}
}

// Dim returns d.
func (f *Flow) Dim() int { return f.dim }

// ContextDim returns the context dimension of a conditional flow, 0 for an
// unconditional one.
func (f *Flow) ContextDim() int {
	if f.ct == nil {
		return 0
	}
	return f.ct.ContextDim()
}

// Conditional reports whether the flow takes a context.
func (f *Flow) Conditional() bool { return f.ct != nil }

// Base returns the base distribution.
func (f *Flow) Base() Distribution { return f.base }

// Transform returns the transform of an unconditional flow, nil otherwise.
func (f *Flow) Transform() Transform { return f.t }

// ConditionalTransform returns the transform of a conditional flow, nil
// otherwise.
func (f *Flow) ConditionalTransform() Conditional { return f.ct }

// Params returns the shared parameters of the transform and the base, or nil
// if neither has any.
func (f *Flow) Params() *nn.Params { return f.params }

// bind checks the context for n rows and returns the transform to apply.
func (f *Flow) bind(op string, c *mat.Dense, n int) (Transform, error) {
	if f.ct == nil {
		if c != nil {
			panic(op + ": context given to an unconditional flow")
		}
		return f.t, nil
	}
	if c == nil {
		panic(op + ": nil context for a conditional flow")
	}
	cr, cc := c.Dims()
	if m := f.ct.ContextDim(); m > 0 && cc != m {
		return nil, fmt.Errorf("%s: context has %d columns, want %d", op, cc, m)
	}
	if cr != n {
		return nil, fmt.Errorf("%s: context has %d rows, batch has %d", op, cr, n)
	}
	if err := CheckFinite(op+": context", c); err != nil {
		return nil, err
	}
	return f.ct.Given(c), nil
}

// checkData checks a data batch: shape (error) and finiteness (error).
func (f *Flow) checkData(op string, x *mat.Dense) (int, error) {
	if x == nil {
		panic(op + ": nil batch")
	}
	n, d := x.Dims()
	if d != f.dim {
		return 0, fmt.Errorf("%s: batch has %d columns, want %d", op, d, f.dim)
	}
	return n, CheckFinite(op, x)
}

// numericalCheck sets to NaN the entries of logp whose value is NaN or whose
// row of z is not finite, and returns a *RowError listing them.
func numericalCheck(op string, logp []float64, z *mat.Dense) error {
	var bad []int
	for i, v := range logp {
		ok := !math.IsNaN(v)
		if ok {
			for _, zv := range row(z, i) {
				if math.IsNaN(zv) || math.IsInf(zv, 0) {
					ok = false
					break
				}
			}
		}
		if !ok {
			logp[i] = math.NaN()
			bad = append(bad, i)
		}
	}
	if bad == nil {
		return nil
	}
	return &RowError{Op: op, Rows: bad, Err: ErrNumerical}
}

// prepDst returns dst sized n (allocated if nil); it panics on a wrong length.
func prepDst(op string, dst []float64, n int) []float64 {
	if dst == nil {
		return make([]float64, n)
	}
	if len(dst) != n {
		panic(fmt.Sprintf("%s: len(dst) = %d, want %d", op, len(dst), n))
	}
	return dst
}

// LogProb writes log p(x_i | c_i) into dst (allocated if nil, otherwise of
// length n) and returns it.
func (f *Flow) LogProb(dst []float64, x, c *mat.Dense) ([]float64, error) {
	const op = "odeflow: Flow.LogProb"
	n, err := f.checkData(op, x)
	if err != nil {
		return dst, err
	}
	dst = prepDst(op, dst, n)
	t, err := f.bind(op, c, n)
	if err != nil {
		return dst, err
	}
	z := use(&f.z, n, f.dim)
	f.ldj = useSlice(f.ldj, n)
	zero(f.ldj)
	if err := t.Forward(z, f.ldj, x); err != nil {
		return dst, fmt.Errorf("%s: %w", op, err)
	}
	f.base.LogProb(dst, z)
	for i := range dst {
		dst[i] += f.ldj[i]
	}
	return dst, numericalCheck(op, dst, z)
}

// BitsPerDim writes bits per dimension for each row of x into dst (allocated
// if nil) and returns it. The convention: the data are integer levels
// k ∈ {0, …, 255}^d (or any number of levels), dequantized by the caller as
// k + u with u ~ U[0,1)^d, and the flow models y = scale·(k + u) + b (scale
// = 1/256 for data in [0, 1), 1 for data in [0, 256); the offset b does not
// matter). x holds y. Then
//
//	bpd = −(log p(y) + d log scale) / (d ln 2)
//
// which for scale = 1/256 is −log p(y)/(d ln 2) + 8. Its average over u is an
// upper bound of −log₂ P(k)/d, the discrete model's code length. It panics if
// scale is not positive.
func (f *Flow) BitsPerDim(dst []float64, x, c *mat.Dense, scale float64) ([]float64, error) {
	if !(scale > 0) || math.IsInf(scale, 1) {
		panic("odeflow: Flow.BitsPerDim: scale must be positive and finite")
	}
	dst, err := f.LogProb(dst, x, c)
	if err != nil {
		return dst, err
	}
	d := float64(f.dim)
	for i, lp := range dst {
		dst[i] = -(lp + d*math.Log(scale)) / (d * math.Ln2)
	}
	return dst, nil
}

// Sample fills dst (n×d, non-empty: its rows are the number of draws) with
// samples x = f⁻¹(z; c), z ~ base, drawing all randomness from src. A
// conditional flow takes n context rows.
func (f *Flow) Sample(dst *mat.Dense, c *mat.Dense, src rand.Source) error {
	return f.SampleTemp(dst, 1, c, src)
}

// SampleTemp is Sample at temperature temp: the base is sampled with its
// noise scaled by temp (see Tempered), then mapped by f⁻¹. temp = 1 works
// with any base; another temperature panics if the base is not Tempered, as
// does a temperature that is not positive.
func (f *Flow) SampleTemp(dst *mat.Dense, temp float64, c *mat.Dense, src rand.Source) error {
	const op = "odeflow: Flow.SampleTemp"
	n := f.prepSample(op, dst)
	bt, err := f.bind(op, c, n)
	if err != nil {
		return err
	}
	z := use(&f.z, n, f.dim)
	f.sampleBase(op, z, temp, src)
	if err := bt.Inverse(dst, nil, z); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func (f *Flow) prepSample(op string, dst *mat.Dense) int {
	if dst == nil || dst.IsEmpty() {
		panic(op + ": dst must be non-empty (its rows are the number of draws)")
	}
	checkCols(op, dst, f.dim)
	n, _ := dst.Dims()
	return n
}

func (f *Flow) sampleBase(op string, z *mat.Dense, temp float64, src rand.Source) {
	if temp == 1 {
		f.base.Sample(z, src)
		return
	}
	tb, ok := f.base.(Tempered)
	if !ok {
		panic(fmt.Sprintf("%s: base %T does not sample at a temperature", op, f.base))
	}
	tb.SampleTemp(z, temp, src)
}

// SampleAndLogProb fills dst with samples as Sample does and writes their
// log-densities into logp (allocated if nil), in one inverse pass:
//
//	log p(x) = log p_base(z) − log|det ∂f⁻¹/∂z (z)|,  x = f⁻¹(z)
func (f *Flow) SampleAndLogProb(dst *mat.Dense, logp []float64, c *mat.Dense, src rand.Source) ([]float64, error) {
	const op = "odeflow: Flow.SampleAndLogProb"
	n := f.prepSample(op, dst)
	logp = prepDst(op, logp, n)
	bt, err := f.bind(op, c, n)
	if err != nil {
		return logp, err
	}
	z := use(&f.z, n, f.dim)
	f.base.Sample(z, src)
	f.base.LogProb(logp, z)
	f.ldj = useSlice(f.ldj, n)
	zero(f.ldj)
	if err := bt.Inverse(dst, f.ldj, z); err != nil {
		return logp, fmt.Errorf("%s: %w", op, err)
	}
	for i := range logp {
		logp[i] -= f.ldj[i]
	}
	return logp, numericalCheck(op, logp, dst)
}

// ForwardStates returns the states of x through the transform, from the data
// (states[0]) to the base (last); see Layered.
func (f *Flow) ForwardStates(x, c *mat.Dense) ([]*mat.Dense, error) {
	const op = "odeflow: Flow.ForwardStates"
	n, err := f.checkData(op, x)
	if err != nil {
		return nil, err
	}
	t, err := f.bind(op, c, n)
	if err != nil {
		return nil, err
	}
	return ForwardStates(t, x)
}

// SampleStates draws n base points (n = c.Rows() for a conditional flow;
// n must then equal it) and returns their states through the inverse
// transform: states[0] holds the base draws, the last state the samples.
func (f *Flow) SampleStates(n int, c *mat.Dense, src rand.Source) ([]*mat.Dense, error) {
	const op = "odeflow: Flow.SampleStates"
	if n < 1 {
		panic(op + ": n < 1")
	}
	t, err := f.bind(op, c, n)
	if err != nil {
		return nil, err
	}
	z := mat.NewDense(n, f.dim, nil)
	f.base.Sample(z, src)
	return InverseStates(t, z)
}

// diffParts returns the transform bound to c as a Differentiable and the
// base as a DifferentiableDistribution, panicking if either is not.
func (f *Flow) diffParts(op string, c *mat.Dense, n int) (Differentiable, DifferentiableDistribution, error) {
	db, ok := f.base.(DifferentiableDistribution)
	if !ok {
		panic(fmt.Sprintf("%s: base %T is not a DifferentiableDistribution", op, f.base))
	}
	t, err := f.bind(op, c, n)
	if err != nil {
		return nil, nil, err
	}
	dt, ok := t.(Differentiable)
	if !ok {
		panic(fmt.Sprintf("%s: transform %T is not Differentiable", op, t))
	}
	return dt, db, nil
}

func (f *Flow) checkGparams(op string, gparams []float64) {
	if gparams != nil && f.params != nil && len(gparams) != f.params.Len() {
		panic(fmt.Sprintf("%s: len(gparams) = %d, want %d", op, len(gparams), f.params.Len()))
	}
}

// LogProbGrad is the maximum-likelihood step: it writes log p(x_i | c_i) into
// dst as LogProb does and, for the weighted sum L = Σ_i w_i log p(x_i | c_i)
// (nil w means all weights 1; for the mean negative log-likelihood use
// w_i = −1/n), adds ∂L/∂θ into gparams (full length, aligned with
// Params().Data; nil skips) and writes ∂L/∂x into gx (nil skips; an empty gx
// is resized). It runs the transform's ForwardRecord and Backward, so the
// transform's recording is replaced.
//
// Rows with non-finite inputs, transform outputs or log-densities are an
// error (as for LogProb), detected before gparams is touched when the
// transform is at fault; if only the base's log-density is NaN, gparams may
// already hold the base's part. It panics if the transform is not
// Differentiable or the base not a DifferentiableDistribution.
func (f *Flow) LogProbGrad(dst, gparams []float64, gx *mat.Dense, w []float64, x, c *mat.Dense) ([]float64, error) {
	const op = "odeflow: Flow.LogProbGrad"
	n, err := f.checkData(op, x)
	if err != nil {
		return dst, err
	}
	dst = prepDst(op, dst, n)
	f.checkGparams(op, gparams)
	if w != nil && len(w) != n {
		panic(fmt.Sprintf("%s: len(w) = %d, want %d", op, len(w), n))
	}
	t, base, err := f.diffParts(op, c, n)
	if err != nil {
		return dst, err
	}
	z := use(&f.z, n, f.dim)
	f.ldj = useSlice(f.ldj, n)
	zero(f.ldj)
	if err := t.ForwardRecord(z, f.ldj, x); err != nil {
		return dst, fmt.Errorf("%s: %w", op, err)
	}
	copy(dst, f.ldj)
	if err := numericalCheck(op, dst, z); err != nil {
		return dst, err
	}
	gz := use(&f.gz, n, f.dim)
	f.lpz = useSlice(f.lpz, n)
	base.LogProbGrad(f.lpz, gz, gparams, w, z)
	for i := range dst {
		dst[i] = f.lpz[i] + f.ldj[i]
	}
	if err := numericalCheck(op, dst, z); err != nil {
		return dst, err
	}
	gldj := w
	if gldj == nil {
		f.wbuf = useSlice(f.wbuf, n)
		for i := range f.wbuf {
			f.wbuf[i] = 1
		}
		gldj = f.wbuf
	}
	if err := t.Backward(gx, gparams, gz, gldj); err != nil {
		return dst, fmt.Errorf("%s: %w", op, err)
	}
	return dst, nil
}

// SampleRecord is the forward half of reverse-KL (variational) training: it
// fills dst with samples x = f⁻¹(z; c), z ~ base, as Sample does, writes
// log q(x_i) into logq (allocated if nil) as SampleAndLogProb does, and
// records the computation for SampleBackward. The caller must not modify
// dst or c until SampleBackward is done, nor call another method of the Flow
// (or of its transform) in between.
//
// For a base with parameters the sample gradient needs the
// reparameterization z = g(ε; φ): the base must then be Reparameterized,
// otherwise SampleRecord panics. It also panics if the transform is not
// Differentiable or the base not a DifferentiableDistribution.
func (f *Flow) SampleRecord(dst *mat.Dense, logq []float64, c *mat.Dense, src rand.Source) ([]float64, error) {
	const op = "odeflow: Flow.SampleRecord"
	f.recordedOK = false
	n := f.prepSample(op, dst)
	logq = prepDst(op, logq, n)
	t, base, err := f.diffParts(op, c, n)
	if err != nil {
		return logq, err
	}
	if base.Params() != nil {
		if _, ok := base.(Reparameterized); !ok {
			panic(fmt.Sprintf("%s: base %T has parameters but is not Reparameterized", op, base))
		}
	}
	z := use(&f.recZ, n, f.dim)
	base.Sample(z, src)
	base.LogProb(logq, z)
	f.ldj = useSlice(f.ldj, n)
	zero(f.ldj)
	if err := t.InverseRecord(dst, f.ldj, z); err != nil {
		return logq, fmt.Errorf("%s: %w", op, err)
	}
	for i := range logq {
		logq[i] -= f.ldj[i]
	}
	if err := numericalCheck(op, logq, dst); err != nil {
		return logq, err
	}
	f.rec, f.recN, f.recordedOK = t, n, true
	return logq, nil
}

// SampleBackward is the backward half of reverse-KL training. Given the
// derivatives of a loss L with respect to the recorded samples, gx_i =
// ∂L/∂x_i (n×d; nil means 0), and to their log-densities, glogq_i =
// ∂L/∂log q(x_i) (nil means 0), it adds the total derivative dL/dθ into
// gparams (full length, aligned with Params().Data): through x = f⁻¹(z; θ),
// through log q = log p_base(z) − log|det ∂f⁻¹/∂z|, and, for a trainable
// base, through z = g(ε; φ) and log p_base(z; φ).
//
// For reverse KL to an unnormalized density p̃, L = Σ_i w_i (log q(x_i) −
// log p̃(x_i)): pass gx_i = −w_i ∇log p̃(x_i) and glogq_i = w_i. It panics
// without a valid SampleRecord.
func (f *Flow) SampleBackward(gparams []float64, gx *mat.Dense, glogq []float64) error {
	const op = "odeflow: Flow.SampleBackward"
	if !f.recordedOK {
		panic(op + ": no recording (call SampleRecord first)")
	}
	f.checkGparams(op, gparams)
	n := f.recN
	if glogq != nil && len(glogq) != n {
		panic(fmt.Sprintf("%s: len(glogq) = %d, want %d", op, len(glogq), n))
	}
	gout := gx
	if gout == nil {
		gout = use(&f.zeros, n, f.dim)
		zeroDense(gout)
	}
	var gldj []float64
	if glogq != nil {
		f.wbuf = useSlice(f.wbuf, n)
		for i, g := range glogq {
			f.wbuf[i] = -g
		}
		gldj = f.wbuf
	}
	base := f.base.(DifferentiableDistribution)
	trainBase := base.Params() != nil && gparams != nil
	var gz *mat.Dense
	if trainBase {
		gz = use(&f.gz, n, f.dim)
	}
	if err := f.rec.Backward(gz, gparams, gout, gldj); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if !trainBase {
		return nil
	}
	z := &f.recZ
	if glogq != nil {
		gzb := use(&f.gzb, n, f.dim)
		f.lpz = useSlice(f.lpz, n)
		base.LogProbGrad(f.lpz, gzb, gparams, glogq, z)
		gz.Add(gz, gzb)
	}
	base.(Reparameterized).ReparamBackward(gparams, gz, z)
	return nil
}
