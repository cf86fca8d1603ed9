package discrete

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/nn"
)

// Permutation reorders coordinates:
//
//	Forward:  z_j = x_{π(j)}
//	Inverse:  x_{π(j)} = z_j
//
// Its Jacobian is a permutation matrix, so log|det J| = 0 in both
// directions. It has no parameters (Params returns nil); Backward permutes
// the cotangents back and ignores gparams. A Permutation holds a row buffer
// (for in-place calls) and a recording, so it is not safe for concurrent
// use; it never allocates after construction.
//
// It takes no context: in a conditional chain, lift it with
// odeflow.Unconditional.
type Permutation struct {
	perm []int
	buf  []float64
	rec  linRec
}

// NewPermutation returns the permutation π = perm (Forward sets z_j =
// x_{perm[j]}). perm is copied. It panics if perm is empty or not a
// permutation of 0, …, len(perm)−1.
func NewPermutation(perm []int) *Permutation {
	d := len(perm)
	linCheckDim("discrete: NewPermutation", d)
	seen := make([]bool, d)
	for j, k := range perm {
		if k < 0 || k >= d || seen[k] {
			panic(fmt.Sprintf("discrete: NewPermutation: %v is not a permutation (entry %d = %d)", perm, j, k))
		}
		seen[k] = true
	}
	return &Permutation{perm: append([]int(nil), perm...), buf: make([]float64, d)}
}

// NewRandomPermutation returns a uniformly random permutation of d
// coordinates drawn from src (same source state, same permutation). It
// panics if d < 1 or src is nil.
func NewRandomPermutation(d int, src rand.Source) *Permutation {
	linCheckDim("discrete: NewRandomPermutation", d)
	if src == nil {
		panic("discrete: NewRandomPermutation: nil rand.Source")
	}
	return NewPermutation(rand.New(src).Perm(d))
}

// NewReversePermutation returns the permutation that reverses the order of d
// coordinates, π(j) = d−1−j. It panics if d < 1.
func NewReversePermutation(d int) *Permutation {
	linCheckDim("discrete: NewReversePermutation", d)
	perm := make([]int, d)
	for j := range perm {
		perm[j] = d - 1 - j
	}
	return NewPermutation(perm)
}

// Perm returns a copy of π.
func (p *Permutation) Perm() []int { return append([]int(nil), p.perm...) }

// Dim returns the number of coordinates.
func (p *Permutation) Dim() int { return len(p.perm) }

// Params returns nil: a permutation has no parameters.
func (p *Permutation) Params() *nn.Params { return nil }

// Forward sets z_j = x_{π(j)} in every row; the log-determinant is 0, so ldj
// is left as it is. dst may be x.
func (p *Permutation) Forward(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	return p.apply("discrete: Permutation.Forward", dst, ldj, x, false, true)
}

// Inverse sets x_{π(j)} = z_j in every row. dst may be z.
func (p *Permutation) Inverse(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	return p.apply("discrete: Permutation.Inverse", dst, ldj, z, true, true)
}

// ForwardRecord is Forward, recording for Backward.
func (p *Permutation) ForwardRecord(dst *mat.Dense, ldj []float64, x *mat.Dense) error {
	if err := p.apply("discrete: Permutation.ForwardRecord", dst, ldj, x, false, false); err != nil {
		return err
	}
	p.rec.set(linForward, x, dst, ldj)
	return nil
}

// InverseRecord is Inverse, recording for Backward.
func (p *Permutation) InverseRecord(dst *mat.Dense, ldj []float64, z *mat.Dense) error {
	if err := p.apply("discrete: Permutation.InverseRecord", dst, ldj, z, true, false); err != nil {
		return err
	}
	p.rec.set(linInverse, z, dst, ldj)
	return nil
}

func (p *Permutation) apply(op string, dst *mat.Dense, ldj []float64, x *mat.Dense, inverse, inPlace bool) error {
	p.rec.dir = linNone
	n, err := odeflow.PrepareCall(op, len(p.perm), dst, ldj, x, inPlace)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		copy(p.buf, linRow(x, i))
		linPermute(linRow(dst, i), p.buf, p.perm, inverse)
	}
	return nil
}

// linPermute sets dst_j = src_{perm[j]} (or dst_{perm[j]} = src_j if inverse).
// dst and src must not overlap.
func linPermute(dst, src []float64, perm []int, inverse bool) {
	if inverse {
		for j, k := range perm {
			dst[k] = src[j]
		}
		return
	}
	for j, k := range perm {
		dst[j] = src[k]
	}
}

// Backward propagates gout through the recorded call: the cotangent of a
// permutation is the inverse permutation of the output cotangent. gldj has
// no effect (the log-determinant is constant) and gparams is ignored. It
// panics without a recording.
func (p *Permutation) Backward(gin *mat.Dense, gparams []float64, gout *mat.Dense, gldj []float64) error {
	p.rec.check("discrete: Permutation.Backward", len(p.perm), 0, gin, gparams, gout, gldj)
	if gin == nil {
		return nil
	}
	inv := p.rec.dir == linInverse
	for i := 0; i < p.rec.n; i++ {
		// Forward z = Pπ x gives gin = Pπᵀ gout: the inverse permutation.
		linPermute(linRow(gin, i), linRow(gout, i), p.perm, !inv)
	}
	return nil
}
