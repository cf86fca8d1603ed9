package nn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/odeflow/odeflow/internal/kernel"
)

// Optimizer updates a flat parameter vector from its gradient. The learning
// rate is passed to every Step, so that any Schedule can drive it:
//
//	lr := sched.LR(opt.Steps())
//	opt.Step(p.Data, p.Grad, lr)
//
// Entries marked not trainable when the optimizer was made (see
// Params.Trainable) are never changed, and their state stays zero.
//
// The state (step count and moment vectors) round-trips exactly through
// MarshalBinary and UnmarshalBinary, so a run resumed from a checkpoint
// continues bit for bit as if it had not stopped. The hyperparameters are
// not part of the state: restore into an optimizer made with the same
// settings.
type Optimizer interface {
	// Step updates x in place from the gradient g with learning rate lr.
	// It panics if len(x) or len(g) differs from the optimizer's length.
	Step(x, g []float64, lr float64)
	// Steps returns the number of steps taken.
	Steps() int
	// Reset clears the state, as if no step had been taken.
	Reset()
	MarshalBinary() ([]byte, error)
	UnmarshalBinary(data []byte) error
}

func trainableMask(n int, trainable []bool) []bool {
	if n < 0 {
		panic("nn: negative optimizer length")
	}
	t := make([]bool, n)
	if trainable == nil {
		for i := range t {
			t[i] = true
		}
		return t
	}
	if len(trainable) != n {
		panic(fmt.Sprintf("nn: trainable mask has length %d, want %d", len(trainable), n))
	}
	copy(t, trainable)
	return t
}

func checkStep(x, g []float64, n int) {
	if len(x) != n || len(g) != n {
		panic(fmt.Sprintf("nn: optimizer of length %d given x, g of lengths %d, %d", n, len(x), len(g)))
	}
}

// SGDSettings configures SGD. Zero values mean plain gradient descent.
type SGDSettings struct {
	// Momentum μ: the velocity is v ← μ v + g and the step uses v.
	Momentum float64
	// Nesterov uses g + μ v (the look-ahead form) instead of v.
	Nesterov bool
	// WeightDecay λ adds λx to the gradient (L2 regularization).
	WeightDecay float64
}

// SGD is stochastic gradient descent with optional (Nesterov) momentum, in
// the form PyTorch uses:
//
//	g ← g + λx;  v ← μ v + g;  x ← x − lr·(g + μ v if Nesterov, else v)
type SGD struct {
	s     SGDSettings
	train []bool
	v     []float64
	t     int
}

// NewSGD returns an SGD optimizer for vectors of length n. trainable (nil
// means all) marks the entries it may change; it is copied. s may be nil.
// It panics if trainable has the wrong length.
func NewSGD(n int, trainable []bool, s *SGDSettings) *SGD {
	o := &SGD{train: trainableMask(n, trainable), v: make([]float64, n)}
	if s != nil {
		o.s = *s
	}
	return o
}

// Step takes one SGD step. It does not allocate.
func (o *SGD) Step(x, g []float64, lr float64) {
	checkStep(x, g, len(o.v))
	mu, wd := o.s.Momentum, o.s.WeightDecay
	for i, tr := range o.train {
		if !tr {
			continue
		}
		d := g[i] + wd*x[i]
		if mu != 0 {
			o.v[i] = mu*o.v[i] + d
			if o.s.Nesterov {
				d += mu * o.v[i]
			} else {
				d = o.v[i]
			}
		}
		x[i] -= lr * d
	}
	o.t++
}

// Steps returns the number of steps taken.
func (o *SGD) Steps() int { return o.t }

// Velocity returns the momentum buffer v (shared, not a copy).
func (o *SGD) Velocity() []float64 { return o.v }

// Reset clears the velocity and the step count.
func (o *SGD) Reset() { clear(o.v); o.t = 0 }

// MarshalBinary encodes the step count and the velocity.
func (o *SGD) MarshalBinary() ([]byte, error) { return marshalState("sgd", o.t, o.v), nil }

// UnmarshalBinary restores a state written by MarshalBinary of an SGD of
// the same length. On error the optimizer is unchanged.
func (o *SGD) UnmarshalBinary(data []byte) error {
	t, vs, err := unmarshalState(data, "sgd", len(o.v), 1)
	if err != nil {
		return err
	}
	o.t = t
	copy(o.v, vs[0])
	return nil
}

// AdamSettings configures Adam and AdamW. Zero values mean the defaults of
// Kingma & Ba: β1 = 0.9, β2 = 0.999, ε = 1e-8; WeightDecay defaults to 0
// for Adam and 0.01 for AdamW.
type AdamSettings struct {
	Beta1, Beta2, Eps float64
	// WeightDecay λ: Adam adds λx to the gradient (L2, passed through the
	// moments); AdamW shrinks x by lr·λ directly (decoupled).
	WeightDecay float64
}

// Adam is the optimizer of Kingma & Ba (2015, "Adam: A Method for
// Stochastic Optimization", arXiv:1412.6980, Algorithm 1), and with
// decoupled weight decay AdamW (Loshchilov & Hutter 2019, "Decoupled Weight
// Decay Regularization", arXiv:1711.05101). At step t (from 1):
//
//	g ← g + λx                          (Adam with weight decay only)
//	x ← x − lr·λ·x                      (AdamW only)
//	m ← β1 m + (1−β1) g,   v ← β2 v + (1−β2) g²
//	x ← x − lr · (m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε)
//
// AdamW's decay is scaled by the learning rate (as in PyTorch), so a
// schedule scales it too, as the paper's η_t does.
type Adam struct {
	s         AdamSettings
	decoupled bool
	runs      [][2]int // maximal runs [lo, hi) of the trainable entries
	m, v      []float64
	t         int
}

// NewAdam returns an Adam optimizer for vectors of length n; trainable (nil
// means all) marks the entries it may change and is copied; s may be nil.
// It panics if trainable has the wrong length.
func NewAdam(n int, trainable []bool, s *AdamSettings) *Adam {
	return newAdam(n, trainable, s, false)
}

// NewAdamW is NewAdam with decoupled weight decay (default λ = 0.01).
func NewAdamW(n int, trainable []bool, s *AdamSettings) *Adam {
	return newAdam(n, trainable, s, true)
}

func newAdam(n int, trainable []bool, s *AdamSettings, decoupled bool) *Adam {
	o := &Adam{decoupled: decoupled, m: make([]float64, n), v: make([]float64, n)}
	train := trainableMask(n, trainable)
	for i := 0; i < n; {
		if !train[i] {
			i++
			continue
		}
		j := i
		for j < n && train[j] {
			j++
		}
		o.runs = append(o.runs, [2]int{i, j})
		i = j
	}
	if s != nil {
		o.s = *s
	}
	if o.s.Beta1 == 0 {
		o.s.Beta1 = 0.9
	}
	if o.s.Beta2 == 0 {
		o.s.Beta2 = 0.999
	}
	if o.s.Eps == 0 {
		o.s.Eps = 1e-8
	}
	if decoupled && o.s.WeightDecay == 0 {
		o.s.WeightDecay = 0.01
	}
	return o
}

// Settings returns the settings in use, defaults filled in.
func (o *Adam) Settings() AdamSettings { return o.s }

// Decoupled reports whether this is AdamW.
func (o *Adam) Decoupled() bool { return o.decoupled }

// Step takes one Adam (or AdamW) step. It does not allocate.
//
// The update is computed as
//
//	x ← (x − lr·λ·x) − (lr/(1−β1ᵗ))·m / (√(v/(1−β2ᵗ)) + ε)
//
// (the first term AdamW's), each operation rounded once in that order, by
// a vector kernel where the CPU has one: the same bits on every CPU.
func (o *Adam) Step(x, g []float64, lr float64) {
	checkStep(x, g, len(o.m))
	o.t++
	c := kernel.AdamCoef{
		B1: o.s.Beta1, A1: 1 - o.s.Beta1,
		B2: o.s.Beta2, A2: 1 - o.s.Beta2,
		IVC:  1 / (1 - math.Pow(o.s.Beta2, float64(o.t))),
		Eps:  o.s.Eps,
		Step: lr / (1 - math.Pow(o.s.Beta1, float64(o.t))),
	}
	if o.decoupled {
		c.Decay = lr * o.s.WeightDecay
	} else {
		c.L2 = o.s.WeightDecay
	}
	for _, r := range o.runs {
		lo, hi := r[0], r[1]
		kernel.Adam(x[lo:hi], g[lo:hi], o.m[lo:hi], o.v[lo:hi], &c)
	}
}

// Steps returns the number of steps taken (t).
func (o *Adam) Steps() int { return o.t }

// Moments returns the first and second moment vectors m and v (shared,
// not copies).
func (o *Adam) Moments() (m, v []float64) { return o.m, o.v }

// Reset clears the moments and the step count.
func (o *Adam) Reset() { clear(o.m); clear(o.v); o.t = 0 }

func (o *Adam) kind() string {
	if o.decoupled {
		return "adamw"
	}
	return "adam"
}

// MarshalBinary encodes the step count and both moment vectors.
func (o *Adam) MarshalBinary() ([]byte, error) { return marshalState(o.kind(), o.t, o.m, o.v), nil }

// UnmarshalBinary restores a state written by MarshalBinary of the same
// kind (Adam or AdamW) and length. On error the optimizer is unchanged.
func (o *Adam) UnmarshalBinary(data []byte) error {
	t, vs, err := unmarshalState(data, o.kind(), len(o.m), 2)
	if err != nil {
		return err
	}
	o.t = t
	copy(o.m, vs[0])
	copy(o.v, vs[1])
	return nil
}

// The optimizer state format, little-endian:
//
//	magic "ODFLOPT" + version byte (1)
//	kind: uint8 length + bytes
//	step count: uint64
//	vector count: uint32; then per vector: length uint64 + float64 bits
const (
	stateMagic   = "ODFLOPT"
	stateVersion = 1
)

func marshalState(kind string, t int, vecs ...[]float64) []byte {
	var b bytes.Buffer
	b.WriteString(stateMagic)
	b.WriteByte(stateVersion)
	b.WriteByte(byte(len(kind)))
	b.WriteString(kind)
	b.Write(binary.LittleEndian.AppendUint64(nil, uint64(t)))
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(vecs))))
	for _, v := range vecs {
		b.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(v))))
		buf := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(x))
		}
		b.Write(buf)
	}
	return b.Bytes()
}

var errTruncated = errors.New("nn: optimizer state is truncated")

func unmarshalState(data []byte, kind string, n, nvec int) (int, [][]float64, error) {
	if len(data) < len(stateMagic)+1 || string(data[:len(stateMagic)]) != stateMagic {
		return 0, nil, errors.New("nn: not an optimizer state")
	}
	data = data[len(stateMagic):]
	if data[0] != stateVersion {
		return 0, nil, fmt.Errorf("nn: optimizer state version %d, this build reads version %d", data[0], stateVersion)
	}
	data = data[1:]
	if len(data) < 1 || len(data) < 1+int(data[0]) {
		return 0, nil, errTruncated
	}
	if k := string(data[1 : 1+int(data[0])]); k != kind {
		return 0, nil, fmt.Errorf("nn: optimizer state is for %q, not %q", k, kind)
	}
	data = data[1+int(data[0]):]
	if len(data) < 12 {
		return 0, nil, errTruncated
	}
	t := binary.LittleEndian.Uint64(data)
	if t > math.MaxInt32 {
		return 0, nil, fmt.Errorf("nn: optimizer state has implausible step count %d", t)
	}
	if c := binary.LittleEndian.Uint32(data[8:]); int(c) != nvec {
		return 0, nil, fmt.Errorf("nn: optimizer state has %d vectors, want %d", c, nvec)
	}
	data = data[12:]
	vs := make([][]float64, nvec)
	for j := range vs {
		if len(data) < 8 {
			return 0, nil, errTruncated
		}
		if l := binary.LittleEndian.Uint64(data); l != uint64(n) {
			return 0, nil, fmt.Errorf("nn: optimizer state has vectors of length %d, want %d", l, n)
		}
		data = data[8:]
		if len(data) < 8*n {
			return 0, nil, errTruncated
		}
		vs[j] = make([]float64, n)
		for i := range vs[j] {
			vs[j][i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
		}
		data = data[8*n:]
	}
	if len(data) != 0 {
		return 0, nil, errors.New("nn: optimizer state has trailing bytes")
	}
	return int(t), vs, nil
}

// ClipGradNorm scales the trainable entries of g (trainable nil means all)
// so that their Euclidean norm is at most maxNorm, and returns their norm
// before clipping. If that norm is not finite, g is left unchanged (the
// caller should skip the step). Entries not trainable are neither counted
// nor changed. It panics if maxNorm < 0 or trainable has the wrong length.
func ClipGradNorm(g []float64, trainable []bool, maxNorm float64) float64 {
	if maxNorm < 0 || math.IsNaN(maxNorm) {
		panic("nn: ClipGradNorm: negative maxNorm")
	}
	if trainable != nil && len(trainable) != len(g) {
		panic(fmt.Sprintf("nn: ClipGradNorm: trainable has length %d, want %d", len(trainable), len(g)))
	}
	on := func(i int) bool { return trainable == nil || trainable[i] }
	norm := math.Sqrt(sumSquares(g, trainable))
	if math.IsNaN(norm) {
		return norm
	}
	if math.IsInf(norm, 1) || norm < 1e-140 {
		// The plain sum overflowed, or squares may have underflowed.
		norm = safeNorm(g, on)
	}
	if math.IsInf(norm, 0) || norm <= maxNorm {
		return norm
	}
	f := maxNorm / norm
	for i := range g {
		if on(i) {
			g[i] *= f
		}
	}
	return norm
}

// sumSquares returns the sum of squares of the trainable entries of g
// (trainable nil means all: a vector kernel), in interleaved partial sums.
func sumSquares(g []float64, trainable []bool) float64 {
	if trainable == nil {
		return kernel.SumSq(g)
	}
	var s0, s1, s2, s3 float64
	n := len(g)
	i := 0
	if trainable == nil {
		for ; i+4 <= n; i += 4 {
			a0, a1, a2, a3 := g[i], g[i+1], g[i+2], g[i+3]
			s0 += a0 * a0
			s1 += a1 * a1
			s2 += a2 * a2
			s3 += a3 * a3
		}
	} else {
		trainable = trainable[:n]
		for ; i+4 <= n; i += 4 {
			a0, a1, a2, a3 := g[i], g[i+1], g[i+2], g[i+3]
			if !trainable[i] {
				a0 = 0
			}
			if !trainable[i+1] {
				a1 = 0
			}
			if !trainable[i+2] {
				a2 = 0
			}
			if !trainable[i+3] {
				a3 = 0
			}
			s0 += a0 * a0
			s1 += a1 * a1
			s2 += a2 * a2
			s3 += a3 * a3
		}
	}
	for ; i < n; i++ {
		if trainable == nil || trainable[i] {
			s0 += g[i] * g[i]
		}
	}
	return (s0 + s1) + (s2 + s3)
}

// safeNorm is the Euclidean norm of the entries on, as a scaled sum of
// squares (BLAS dnrm2) so that it neither overflows nor underflows: the
// fallback of ClipGradNorm when the plain sum of squares does.
func safeNorm(g []float64, on func(int) bool) float64 {
	scale, ssq := 0.0, 1.0
	for i, v := range g {
		if !on(i) || v == 0 {
			continue
		}
		a := math.Abs(v)
		if math.IsNaN(a) {
			return math.NaN()
		}
		if scale < a {
			ssq = 1 + ssq*(scale/a)*(scale/a)
			scale = a
		} else {
			ssq += (a / scale) * (a / scale)
		}
	}
	return scale * math.Sqrt(ssq)
}

var (
	_ Optimizer = (*SGD)(nil)
	_ Optimizer = (*Adam)(nil)
)
