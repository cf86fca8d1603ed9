package train

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"time"
)

const (
	ckptMagic   = "ODFLCKPT"
	ckptVersion = 1
	ckptHeader  = len(ckptMagic) + 4 + 8
)

// Checkpoint is the content of a checkpoint file that describes the run;
// the optimizer, random and objective states are kept unexported.
//
// The file format, little-endian:
//
//	magic "ODFLCKPT" (8 bytes)
//	format version: uint32 (1)
//	payload length: uint64
//	payload
//	CRC-32 (IEEE) of the payload: uint32
//
// The payload of version 1 holds, in order: the objective (uint8: 1
// maximum likelihood, 2 reverse KL), the Status (uint8), the iteration
// count, the parameters, the optimizer state (its MarshalBinary), the state
// of Src, the count and states of Settings.State, the best parameters
// (empty before any evaluation) with a flag, their loss and iteration and
// the patience counter, the histories of training losses, evaluation
// iterations and evaluation losses, the elapsed time in nanoseconds, the
// NFE totals, and the objective's own state as a byte string (maximum
// likelihood: a 64-bit FNV-1a fingerprint of the data and contexts, the
// batch size, the number of training rows, the order of the rows — training
// rows, then validation rows — and the current epoch's permutation; reverse
// KL: the batch size). Counts and integers are uint64; vectors are a uint64
// length followed by their elements (float64 bits or uint64); byte strings
// are a uint64 length followed by the bytes.
type Checkpoint struct {
	Version    int
	Objective  string // "ml" (maximum likelihood) or "kl" (reverse KL)
	Status     Status // Running for a checkpoint written during a run
	Iteration  int
	Params     []float64
	Best       []float64 // nil before any evaluation
	BestLoss   float64
	BestIter   int
	TrainLoss  []float64
	EvalIters  []int
	EvalLoss   []float64
	Elapsed    time.Duration
	NFEForward int
	NFEBack    int

	kind   byte
	bad    int
	opt    []byte
	rng    []byte
	states [][]byte
	obj    []byte
}

// encoder appends little-endian values to a byte slice.
type encoder struct{ b []byte }

func (e *encoder) u8(v byte)      { e.b = append(e.b, v) }
func (e *encoder) u64(v uint64)   { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) int(v int)      { e.u64(uint64(v)) }
func (e *encoder) f64(v float64)  { e.u64(math.Float64bits(v)) }
func (e *encoder) bytes(v []byte) { e.int(len(v)); e.b = append(e.b, v...) }
func (e *encoder) f64s(v []float64) {
	e.int(len(v))
	for _, x := range v {
		e.f64(x)
	}
}
func (e *encoder) ints(v []int) {
	e.int(len(v))
	for _, x := range v {
		e.int(x)
	}
}

// decoder reads what encoder writes; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("payload ends early")

func (d *decoder) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() byte {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) int() int {
	v := d.u64()
	if v > 1<<48 && d.err == nil {
		d.err = fmt.Errorf("implausible count %d", v)
	}
	return int(v)
}

func (d *decoder) f64() float64 { return math.Float64frombits(d.u64()) }

// count reads a length of elements of size bytes each and checks it
// against what is left.
func (d *decoder) count(size int) int {
	n := d.int()
	if d.err == nil && uint64(n)*uint64(size) > uint64(len(d.b)) {
		d.err = errShort
	}
	if d.err != nil {
		return 0
	}
	return n
}

func (d *decoder) bytes() []byte {
	n := d.count(1)
	return append([]byte(nil), d.take(uint64(n))...)
}

func (d *decoder) f64s() []float64 {
	n := d.count(8)
	v := make([]float64, n)
	for i := range v {
		v[i] = d.f64()
	}
	return v
}

func (d *decoder) ints() []int {
	n := d.count(8)
	v := make([]int, n)
	for i := range v {
		v[i] = d.int()
	}
	return v
}

// checkpointBytes encodes the loop's state with the given status.
func (l *loop) checkpointBytes(st Status) ([]byte, error) {
	var e encoder
	e.u8(l.obj.kind())
	e.u8(byte(st))
	e.int(l.iter)
	e.f64s(l.params.Data)
	blob, err := l.opt.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("train: checkpoint: optimizer state: %w", err)
	}
	e.bytes(blob)
	if blob, err = l.src.(Stateful).MarshalBinary(); err != nil {
		return nil, fmt.Errorf("train: checkpoint: Src state: %w", err)
	}
	e.bytes(blob)
	e.int(len(l.states))
	for i, s := range l.states {
		if blob, err = s.MarshalBinary(); err != nil {
			return nil, fmt.Errorf("train: checkpoint: State[%d]: %w", i, err)
		}
		e.bytes(blob)
	}
	if l.haveBest {
		e.f64s(l.best)
	} else {
		e.f64s(nil)
	}
	e.u8(boolByte(l.haveBest))
	e.f64(l.bestLoss)
	e.int(l.bestIter)
	e.int(l.bad)
	e.f64s(l.trainLoss)
	e.ints(l.evalIters)
	e.f64s(l.evalLoss)
	e.u64(uint64(l.elapsed0 + time.Since(l.start)))
	e.int(l.nfeF)
	e.int(l.nfeB)
	var oe encoder
	l.obj.save(&oe)
	e.bytes(oe.b)

	out := make([]byte, 0, ckptHeader+len(e.b)+4)
	out = append(out, ckptMagic...)
	out = binary.LittleEndian.AppendUint32(out, ckptVersion)
	out = binary.LittleEndian.AppendUint64(out, uint64(len(e.b)))
	out = append(out, e.b...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(e.b))
	return out, nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// writeCheckpoint writes the checkpoint file atomically.
func (l *loop) writeCheckpoint(st Status) error {
	b, err := l.checkpointBytes(st)
	if err != nil {
		return err
	}
	if err := writeAtomic(l.ckptPath, b); err != nil {
		return fmt.Errorf("train: writing checkpoint after iteration %d: %w", l.iter, err)
	}
	return nil
}

// writeAtomic writes b to a temporary file in path's directory, syncs it and
// renames it to path, so that path always holds a complete file.
func writeAtomic(path string, b []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(b); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// ReadCheckpoint reads and checks a checkpoint file. Errors about its
// contents wrap ErrCheckpoint.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	c, err := parseCheckpoint(b)
	if err != nil {
		return nil, fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	return c, nil
}

func parseCheckpoint(b []byte) (*Checkpoint, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrCheckpoint)
	}
	if len(b) < len(ckptMagic) || string(b[:len(ckptMagic)]) != ckptMagic {
		return nil, bad("not an Odeflow checkpoint (bad magic)")
	}
	if len(b) < ckptHeader {
		return nil, bad("truncated header (%d bytes)", len(b))
	}
	ver := binary.LittleEndian.Uint32(b[len(ckptMagic):])
	if ver > ckptVersion {
		return nil, bad("format version %d is newer than this build reads (%d); use a newer Odeflow", ver, ckptVersion)
	}
	if ver == 0 {
		return nil, bad("invalid format version 0")
	}
	n := binary.LittleEndian.Uint64(b[len(ckptMagic)+4:])
	if rest := uint64(len(b) - ckptHeader); n > rest || rest-n < 4 {
		return nil, bad("truncated: %d bytes, the header announces %d", len(b), uint64(ckptHeader)+n+4)
	}
	if extra := uint64(len(b)-ckptHeader) - n - 4; extra != 0 {
		return nil, bad("%d trailing bytes", extra)
	}
	payload := b[ckptHeader : ckptHeader+int(n)]
	if sum := binary.LittleEndian.Uint32(b[ckptHeader+int(n):]); sum != crc32.ChecksumIEEE(payload) {
		return nil, bad("corrupt: checksum mismatch")
	}
	d := &decoder{b: payload}
	c := &Checkpoint{Version: int(ver)}
	c.kind = d.u8()
	switch c.kind {
	case kindML:
		c.Objective = "ml"
	case kindKL:
		c.Objective = "kl"
	default:
		return nil, bad("corrupt: unknown objective %d", c.kind)
	}
	c.Status = Status(d.u8())
	if c.Status > Failed {
		return nil, bad("corrupt: unknown status %d", c.Status)
	}
	c.Iteration = d.int()
	c.Params = d.f64s()
	c.opt = d.bytes()
	c.rng = d.bytes()
	ns := d.count(8)
	for i := 0; i < ns; i++ {
		c.states = append(c.states, d.bytes())
	}
	best := d.f64s()
	if d.u8() == 1 {
		c.Best = best
	}
	c.BestLoss = d.f64()
	c.BestIter = d.int()
	c.bad = d.int()
	c.TrainLoss = d.f64s()
	c.EvalIters = d.ints()
	c.EvalLoss = d.f64s()
	c.Elapsed = time.Duration(d.u64())
	c.NFEForward = d.int()
	c.NFEBack = d.int()
	c.obj = d.bytes()
	if d.err != nil {
		return nil, bad("corrupt payload: %v", d.err)
	}
	if len(d.b) != 0 {
		return nil, bad("corrupt payload: %d unread bytes", len(d.b))
	}
	if len(c.TrainLoss) != c.Iteration || len(c.EvalIters) != len(c.EvalLoss) ||
		(c.Best != nil && len(c.Best) != len(c.Params)) {
		return nil, bad("corrupt: inconsistent lengths")
	}
	return c, nil
}

// restore loads a checkpoint into the loop; the objective's state is loaded
// by the objective. It fails, leaving the flow's parameters unchanged, if
// the checkpoint does not fit the loop.
func (l *loop) restore(c *Checkpoint) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("train: resuming: %s: %w", fmt.Sprintf(format, args...), ErrCheckpoint)
	}
	if c.kind != l.obj.kind() {
		return bad("checkpoint of a %q run, this is a %q run", c.Objective, kindName(l.obj.kind()))
	}
	if len(c.Params) != l.params.Len() {
		return bad("checkpoint has %d parameters, the flow %d", len(c.Params), l.params.Len())
	}
	if len(c.states) != len(l.states) {
		return bad("checkpoint has %d extra states, Settings.State %d", len(c.states), len(l.states))
	}
	if err := l.obj.load(&decoder{b: c.obj}); err != nil {
		return fmt.Errorf("train: resuming: %w", err)
	}
	if err := l.opt.UnmarshalBinary(c.opt); err != nil {
		return bad("optimizer state: %v", err)
	}
	if err := l.src.(Stateful).UnmarshalBinary(c.rng); err != nil {
		return bad("Src state: %v", err)
	}
	for i, s := range l.states {
		if err := s.UnmarshalBinary(c.states[i]); err != nil {
			return bad("State[%d]: %v", i, err)
		}
	}
	copy(l.params.Data, c.Params)
	l.iter = c.Iteration
	l.trainLoss = c.TrainLoss
	l.evalIters, l.evalLoss = c.EvalIters, c.EvalLoss
	l.haveBest = c.Best != nil
	l.best = c.Best
	l.bestLoss, l.bestIter, l.bad = c.BestLoss, c.BestIter, c.bad
	l.stopped = c.Status
	l.elapsed0 = c.Elapsed
	l.nfeF, l.nfeB = c.NFEForward, c.NFEBack
	return nil
}

const (
	kindML byte = 1
	kindKL byte = 2
)

func kindName(k byte) string {
	if k == kindML {
		return "ml"
	}
	return "kl"
}

// resume reads the checkpoint at path into the loop.
func (l *loop) resume(path string) error {
	c, err := ReadCheckpoint(path)
	if err != nil {
		return err
	}
	return l.restore(c)
}
