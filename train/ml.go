package train

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// Fit trains flow by maximum likelihood on the rows of x (n×d; c holds one
// context row per row of x for a conditional flow, and must be nil
// otherwise): each iteration takes a minibatch B, computes the mean negative
// log-likelihood
//
//	L(θ) = −(1/|B|) Σ_{i∈B} log p_θ(x_i | c_i)
//
// and its gradient with Flow.LogProbGrad, clips it and takes an optimizer
// step. See Settings for the options: validation and early stopping, best
// parameters restored at the end, progress, checkpoints and resuming.
//
// The flow's parameters are updated in place. The Result is returned
// whenever training started, also with an error: a canceled ctx (the error
// wraps ctx.Err(); a checkpoint is written first if Settings.Checkpoint is
// set, so that the run can be resumed), a non-finite loss or gradient (the
// error names the iteration and wraps ErrNonFinite), or a failure of the
// flow (an ODE solve). In every case the best evaluated parameters, if any,
// are restored; otherwise the parameters are those of the last successful
// step.
//
// Data conditions are errors, returned before training: an empty x, rows
// holding NaN or ±Inf (a *odeflow.RowError listing them), a column count
// other than flow.Dim(), a context missing, superfluous or of the wrong
// shape, the same for the validation set, and a checkpoint that cannot be
// resumed (wrapping ErrCheckpoint).
//
// Fit panics on invalid Settings (negative counts or rates, ValFraction
// outside [0, 1), both ValX and ValFraction set, an unknown Method, a Src
// that is not Stateful when checkpoints are asked for) and if the flow has
// no parameters.
func Fit(ctx context.Context, flow *odeflow.Flow, x, c *mat.Dense, s *Settings) (*Result, error) {
	l, err := newMLLoop(flow, x, c, s)
	if err != nil {
		return nil, err
	}
	return l.run(ctx)
}

// newMLLoop prepares Fit's loop, resumed if asked.
func newMLLoop(flow *odeflow.Flow, x, c *mat.Dense, s *Settings) (*loop, error) {
	const op = "train: Fit"
	if s == nil {
		s = new(Settings)
	}
	if s.ValFraction < 0 || s.ValFraction >= 1 || math.IsNaN(s.ValFraction) {
		panic(op + ": ValFraction must be in [0, 1)")
	}
	if s.ValX != nil && s.ValFraction > 0 {
		panic(op + ": both ValX and ValFraction are set")
	}
	l := newLoop(op, flow, s, 0)
	if err := checkData(op, flow, x, c, "training"); err != nil {
		return nil, err
	}
	if s.ValX != nil {
		if err := checkData(op, flow, s.ValX, s.ValC, "validation"); err != nil {
			return nil, err
		}
	} else if s.ValC != nil {
		panic(op + ": ValC without ValX")
	}
	m, err := newMLObjective(flow, x, c, s, l.src)
	if err != nil {
		return nil, err
	}
	l.obj = m
	// The iteration budget: the tighter of Iterations and Epochs.
	epochs := s.Epochs
	if s.Iterations == 0 && epochs == 0 {
		epochs = 100
	}
	if epochs > 0 {
		if e := epochs * m.perEpoch; l.total == 0 || e < l.total {
			l.total = e
		}
	}
	if l.evalEvery == 0 {
		l.evalEvery = m.perEpoch
	}
	if s.ResumeFrom != "" {
		if err := l.resume(s.ResumeFrom); err != nil {
			return nil, err
		}
	}
	l.trainLoss = growCap(l.trainLoss, l.total)
	return l, nil
}

// growCap returns s with capacity for n elements, so that appending to it
// does not allocate during the run.
func growCap(s []float64, n int) []float64 {
	if cap(s) >= n {
		return s
	}
	t := make([]float64, len(s), n)
	copy(t, s)
	return t
}

// checkData checks a data set and its contexts against the flow.
func checkData(op string, flow *odeflow.Flow, x, c *mat.Dense, what string) error {
	if x == nil || x.IsEmpty() {
		return fmt.Errorf("%s: empty %s set", op, what)
	}
	n, d := x.Dims()
	if d != flow.Dim() {
		return fmt.Errorf("%s: %s set has %d columns, the flow dimension %d", op, what, d, flow.Dim())
	}
	if err := odeflow.CheckFinite(fmt.Sprintf("%s: %s set", op, what), x); err != nil {
		return err
	}
	if !flow.Conditional() {
		if c != nil {
			return fmt.Errorf("%s: contexts given for the %s set of an unconditional flow", op, what)
		}
		return nil
	}
	if c == nil || c.IsEmpty() {
		return fmt.Errorf("%s: the flow is conditional but the %s set has no contexts", op, what)
	}
	cr, cc := c.Dims()
	if cr != n {
		return fmt.Errorf("%s: %s contexts have %d rows, the data %d", op, what, cr, n)
	}
	if m := flow.ContextDim(); m > 0 && cc != m {
		return fmt.Errorf("%s: %s contexts have %d columns, the flow takes %d", op, what, cc, m)
	}
	return odeflow.CheckFinite(fmt.Sprintf("%s: %s contexts", op, what), c)
}

// mlObjective is the maximum-likelihood objective.
type mlObjective struct {
	flow     *odeflow.Flow
	x, c     *mat.Dense
	src      rand.Source
	order    []int // the rows of x: training rows first, then validation rows (ValFraction)
	trainIdx []int // order[:number of training rows]
	perm     []int // the current epoch's order of trainIdx
	batch    int
	perEpoch int
	finger   uint64
	noise    nn.Schedule // Settings.InputNoise
	rng      *rand.Rand  // draws the noise from src

	xb, cb *mat.Dense // the minibatch
	lp, w  []float64
	valX   []*mat.Dense // validation chunks
	valC   []*mat.Dense
	valN   int
	vlp    []float64
}

func newMLObjective(flow *odeflow.Flow, x, c *mat.Dense, s *Settings, src rand.Source) (*mlObjective, error) {
	n, d := x.Dims()
	m := &mlObjective{flow: flow, x: x, c: c, src: src, finger: fingerprint(x, c), noise: s.InputNoise}
	if m.noise != nil {
		m.rng = rand.New(src)
	}
	m.order = make([]int, n)
	for i := range m.order {
		m.order[i] = i
	}
	m.trainIdx = m.order
	valX, valC := s.ValX, s.ValC
	if s.ValFraction > 0 {
		nv := int(math.Round(s.ValFraction * float64(n)))
		if nv < 1 || nv >= n {
			return nil, fmt.Errorf("train: Fit: ValFraction %g of %d rows leaves an empty training or validation set", s.ValFraction, n)
		}
		shuffle(m.order, src)
		m.trainIdx = m.order[:n-nv]
		valX, valC = m.split()
	}
	m.setup(d, s.BatchSize)
	if valX != nil {
		m.setValidation(valX, valC)
	}
	return m, nil
}

// setup sizes the minibatch buffers for the current training split.
func (m *mlObjective) setup(d, batch int) {
	nt := len(m.trainIdx)
	if batch == 0 {
		batch = 256
	}
	m.batch = min(batch, nt)
	m.perEpoch = nt / m.batch
	m.perm = make([]int, nt)
	for i := range m.perm {
		m.perm[i] = i
	}
	m.xb = mat.NewDense(m.batch, d, nil)
	if m.c != nil {
		_, cc := m.c.Dims()
		m.cb = mat.NewDense(m.batch, cc, nil)
	}
	m.lp = make([]float64, m.batch)
	m.w = make([]float64, m.batch)
	for i := range m.w {
		m.w[i] = -1 / float64(m.batch)
	}
}

// setValidation cuts the validation set into chunks of the batch size.
func (m *mlObjective) setValidation(x, c *mat.Dense) {
	n, d := x.Dims()
	m.valN = n
	for lo := 0; lo < n; lo += m.batch {
		hi := min(lo+m.batch, n)
		m.valX = append(m.valX, x.Slice(lo, hi, 0, d).(*mat.Dense))
		if c != nil {
			_, cc := c.Dims()
			m.valC = append(m.valC, c.Slice(lo, hi, 0, cc).(*mat.Dense))
		}
	}
	m.vlp = make([]float64, min(m.batch, n))
}

// split returns the validation rows order[len(trainIdx):] of x and c.
func (m *mlObjective) split() (vx, vc *mat.Dense) {
	vidx := m.order[len(m.trainIdx):]
	vx = gather(m.x, vidx)
	if m.c != nil {
		vc = gather(m.c, vidx)
	}
	return vx, vc
}

// gather returns the rows idx of a.
func gather(a *mat.Dense, idx []int) *mat.Dense {
	_, cols := a.Dims()
	out := mat.NewDense(len(idx), cols, nil)
	for r, i := range idx {
		out.SetRow(r, a.RawRowView(i))
	}
	return out
}

// fingerprint hashes the shapes and bits of x and c.
func fingerprint(x, c *mat.Dense) uint64 {
	h := fnv.New64a()
	var buf [8]byte
	put := func(v uint64) {
		for i := range buf {
			buf[i] = byte(v >> (8 * i))
		}
		h.Write(buf[:])
	}
	for _, a := range []*mat.Dense{x, c} {
		if a == nil {
			put(0)
			continue
		}
		r, cols := a.Dims()
		put(uint64(r))
		put(uint64(cols))
		for i := 0; i < r; i++ {
			for _, v := range a.RawRowView(i) {
				put(math.Float64bits(v))
			}
		}
	}
	return h.Sum64()
}

func (m *mlObjective) step(g []float64, it int) (float64, error) {
	pos := it % m.perEpoch
	if pos == 0 {
		shuffle(m.perm, m.src)
	}
	sd := 0.0
	if m.noise != nil {
		sd = m.noise.LR(it)
	}
	for r, k := range m.perm[pos*m.batch : (pos+1)*m.batch] {
		i := m.trainIdx[k]
		row := m.xb.RawRowView(r)
		copy(row, m.x.RawRowView(i))
		if sd > 0 {
			for j := range row {
				row[j] += sd * m.rng.NormFloat64()
			}
		}
		if m.cb != nil {
			copy(m.cb.RawRowView(r), m.c.RawRowView(i))
		}
	}
	lp, err := m.flow.LogProbGrad(m.lp, g, nil, m.w, m.xb, m.cb)
	if err != nil {
		return math.NaN(), err
	}
	sum := 0.0
	for _, v := range lp {
		sum += v
	}
	return -sum / float64(m.batch), nil
}

func (m *mlObjective) canEval() bool { return m.valN > 0 }

// eval returns the mean negative log-likelihood of the validation set.
func (m *mlObjective) eval() (float64, error) {
	sum := 0.0
	for k, x := range m.valX {
		var c *mat.Dense
		if m.valC != nil {
			c = m.valC[k]
		}
		r, _ := x.Dims()
		lp, err := m.flow.LogProb(m.vlp[:r], x, c)
		if err != nil {
			return math.NaN(), err
		}
		for _, v := range lp {
			sum -= v
		}
	}
	return sum / float64(m.valN), nil
}

func (m *mlObjective) epochs(it int) int { return it / m.perEpoch }

func (m *mlObjective) kind() byte { return kindML }

func (m *mlObjective) save(e *encoder) {
	e.u64(m.finger)
	e.int(m.batch)
	e.int(len(m.trainIdx))
	e.ints(m.order)
	e.ints(m.perm)
}

func (m *mlObjective) load(d *decoder) error {
	finger := d.u64()
	batch := d.int()
	nt := d.int()
	order := d.ints()
	perm := d.ints()
	if d.err != nil || len(d.b) != 0 {
		return fmt.Errorf("corrupt training state: %w", ErrCheckpoint)
	}
	if finger != m.finger {
		return fmt.Errorf("the checkpoint was written for other training data: %w", ErrCheckpoint)
	}
	if nt != len(m.trainIdx) || len(order) != len(m.order) || len(perm) != nt {
		return fmt.Errorf("the checkpoint's validation split (%d training rows) differs from this run's (%d): %w", nt, len(m.trainIdx), ErrCheckpoint)
	}
	if batch != m.batch {
		return fmt.Errorf("the checkpoint's batch size is %d, this run's %d: %w", batch, m.batch, ErrCheckpoint)
	}
	if !isPerm(order) || !isPerm(perm) {
		return fmt.Errorf("corrupt permutation: %w", ErrCheckpoint)
	}
	if !equalInts(order, m.order) {
		// A fraction split is drawn from Src: take the checkpoint's.
		m.order = order
		m.trainIdx = order[:nt]
		if m.valN > 0 {
			m.valX, m.valC = nil, nil
			m.setValidation(m.split())
		}
	}
	m.perm = perm
	return nil
}

// isPerm reports whether p is a permutation of 0, …, len(p)−1.
func isPerm(p []int) bool {
	seen := make([]bool, len(p))
	for _, i := range p {
		if i < 0 || i >= len(p) || seen[i] {
			return false
		}
		seen[i] = true
	}
	return true
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
