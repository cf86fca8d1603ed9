package discrete

import (
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// ActNorm is Glow's activation normalization (Kingma & Dhariwal 2018): a
// per-dimension affine map with a location μ and a log-scale s. Forward
// (data → base) normalizes:
//
//	Forward:  z_j = (x_j − μ_j) exp(−s_j),   log|det| = −Σ_j s_j
//	Inverse:  x_j = μ_j + z_j exp(s_j),       log|det| = +Σ_j s_j
//
// The parameter blocks are name+"/loc" (μ), name+"/logscale" (s) and
// name+"/initialized", a frozen one-element block that is 1 once the layer
// has been initialized from data and 0 before; keeping the flag among the
// parameters means it is saved and restored with them. Optimizers leave a
// frozen block alone, and no output depends on it, so its gradient is 0.
//
// Data-dependent initialization (Init) sets μ to the mean and s to the log
// of the (biased) standard deviation of each column of a batch, so that
// Forward maps that batch to zero mean and unit variance per dimension. A
// column with zero variance gets s = 0. The first ForwardRecord of an
// uninitialized layer calls Init on its own input before computing, which
// is what a training loop needs (its first minibatch initializes the
// layer); plain Forward and Inverse and InverseRecord (which sees base
// points, not data) never initialize. A new layer is the identity (μ = 0,
// s = 0) until it is initialized.
//
// An ActNorm holds a recording and is not safe for concurrent use. It
// allocates nothing after construction.
//
// It takes no context: in a conditional chain, lift it with
// odeflow.Unconditional.
type ActNorm struct {
	d             int
	p             *nn.Params
	loc, ls, init nn.Slot
	e             []float64 // exp(±s) of the current call
	rec           linRec
}

// NewActNorm returns an uninitialized d-dimensional ActNorm whose
// parameters are reserved in p under name+"/loc", "/logscale" and the
// frozen name+"/initialized". It panics if d < 1 or p is nil.
func NewActNorm(p *nn.Params, name string, d int) *ActNorm {
	linCheckDim("discrete: NewActNorm", d)
	if p == nil {
		panic("discrete: NewActNorm: nil *nn.Params")
	}
	a := &ActNorm{d: d, p: p, e: make([]float64, d)}
	a.loc = p.Reserve(name+"/loc", d)
	a.ls = p.Reserve(name+"/logscale", d)
	a.init = p.Reserve(name+"/initialized", 1)
	p.SetFrozen(name+"/initialized", true)
	return a
}

// Dim returns d.
func (a *ActNorm) Dim() int { return a.d }

// Params returns the shared parameter vector.
func (a *ActNorm) Params() *nn.Params { return a.p }

// Initialized reports whether the layer has been initialized from data
// (the frozen flag parameter is nonzero).
func (a *ActNorm) Initialized() bool { return a.init.Of(a.p.Data)[0] != 0 }

// Init sets μ and s from the column means and standard deviations of x and
// marks the layer initialized, whether or not it was before. It returns a
// *odeflow.RowError wrapping odeflow.ErrNonFinite, and changes nothing, if x
// has non-finite rows. It panics if x is nil or does not have d columns.
func (a *ActNorm) Init(x *mat.Dense) error {
	if x == nil {
		panic("discrete: ActNorm.Init: nil matrix")
	}
	n, c := x.Dims()
	if c != a.d {
		panic("discrete: ActNorm.Init: wrong number of columns")
	}
	if err := odeflow.CheckFinite("discrete: ActNorm.Init", x); err != nil {
		return err
	}
	mu, ls := a.loc.Of(a.p.Data), a.ls.Of(a.p.Data)
	for j := 0; j < a.d; j++ {
		m := 0.0
		for i := 0; i < n; i++ {
			m += linRow(x, i)[j]
		}
		m /= float64(n)
		v := 0.0
		for i := 0; i < n; i++ {
			e := linRow(x, i)[j] - m
			v += e * e
		}
		v /= float64(n)
		mu[j] = m
		ls[j] = 0
		if v > 0 {
			ls[j] = 0.5 * math.Log(v)
		}
	}
	a.init.Of(a.p.Data)[0] = 1
	return nil
}

// Forward sets z = (x − μ) ⊙ exp(−s) and adds −Σ s to ldj[i]. dst may be x.
// It returns a *odeflow.RowError for non-finite input rows, or (wrapping
// odeflow.ErrNumerical) for rows that overflow.
func (a *ActNorm) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return a.apply("discrete: ActNorm.Forward", dst, ldj, x, false, true)
}

// Inverse sets x = μ + z ⊙ exp(s) and adds Σ s to ldj[i]. dst may be z.
func (a *ActNorm) Inverse(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	return a.apply("discrete: ActNorm.Inverse", dst, ldj, z, true, true)
}

// ForwardRecord is Forward, recording for Backward. If the layer is not
// initialized, it first initializes it from x (see Init).
func (a *ActNorm) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	a.rec.dir = linNone
	if !a.Initialized() && x != nil {
		// Bad shapes and non-finite rows are reported by apply below.
		if _, c := x.Dims(); c == a.d && odeflow.CheckFinite("", x) == nil {
			if err := a.Init(x); err != nil {
				return err
			}
		}
	}
	if err := a.apply("discrete: ActNorm.ForwardRecord", dst, ldj, x, false, false); err != nil {
		return err
	}
	a.rec.set(linForward, x, dst, ldj)
	return nil
}

// InverseRecord is Inverse, recording for Backward. It never initializes.
func (a *ActNorm) InverseRecord(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	if err := a.apply("discrete: ActNorm.InverseRecord", dst, ldj, z, true, false); err != nil {
		return err
	}
	a.rec.set(linInverse, z, dst, ldj)
	return nil
}

func (a *ActNorm) apply(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse, inPlace bool) error {
	a.rec.dir = linNone
	n, err := odeflow.PrepareCall(op, a.d, dst, ldj, x, inPlace)
	if err != nil {
		return err
	}
	mu, ls := a.loc.Of(a.p.Data), a.ls.Of(a.p.Data)
	sum := 0.0
	for j, v := range ls {
		sum += v
		if inverse {
			a.e[j] = math.Exp(v)
		} else {
			a.e[j] = math.Exp(-v)
		}
	}
	for i := 0; i < n; i++ {
		xi, yi := linRow(x, i), linRow(dst, i)
		if inverse {
			for j, v := range xi {
				yi[j] = mu[j] + v*a.e[j]
			}
		} else {
			for j, v := range xi {
				yi[j] = (v - mu[j]) * a.e[j]
			}
		}
		if ldj != nil {
			if inverse {
				ldj[i] += sum
			} else {
				ldj[i] -= sum
			}
		}
	}
	return linNumerical(op, dst)
}

// Backward propagates derivatives through the recorded call (see
// odeflow.Differentiable), into the input, μ and s. It panics without a
// recording.
func (a *ActNorm) Backward(gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) error {
	a.rec.check("discrete: ActNorm.Backward", a.d, a.p.Len(), gin, gparams, gout, gldj)
	mu, ls := a.loc.Of(a.p.Data), a.ls.Of(a.p.Data)
	var gmu, gls []float64
	if gparams != nil {
		gmu, gls = a.loc.Of(gparams), a.ls.Of(gparams)
	}
	inv := a.rec.dir == linInverse
	for j, v := range ls {
		if inv {
			a.e[j] = math.Exp(v)
		} else {
			a.e[j] = math.Exp(-v)
		}
	}
	for i := 0; i < a.rec.n; i++ {
		g, out := linRow(gout, i), linRow(a.rec.out, i)
		gl := 0.0
		if gldj != nil {
			gl = gldj[i]
		}
		if gin != nil {
			gi := linRow(gin, i)
			for j, gj := range g {
				gi[j] = gj * a.e[j]
			}
		}
		if gmu == nil {
			continue
		}
		for j, gj := range g {
			if inv { // x = μ + z e^s: ∂x/∂s = x − μ, Δ = Σ s
				gmu[j] += gj
				gls[j] += gj*(out[j]-mu[j]) + gl
			} else { // z = (x − μ) e^{−s}: ∂z/∂s = −z, Δ = −Σ s
				gmu[j] -= gj * a.e[j]
				gls[j] -= gj*out[j] + gl
			}
		}
	}
	return nil
}
