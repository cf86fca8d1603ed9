package cnf

import (
	"math"

	"github.com/odeflow/odeflow/trace"
	"github.com/odeflow/odeflow/vectorfield"
)

// Regularizer kinds, in the order of their states.
const (
	regKinetic = iota
	regFrob
	regL1
	regL2
	numReg
)

// system is the augmented dynamics of a block as an adjoint.System (and its
// Eval as an ode.Func): for a batch of n rows the state is
//
//	y = [z (n×d), ℓ (n), R_k (n each, for the enabled regularizers k)]
//
// with z' = f(t, z), ℓ' = div f, and R_k' the regularizer rates. Plain
// solves use nreg = 0.
type system struct {
	b    *Block
	n    int
	nreg int // number of regularizer states (0 or len(b.regs))
	np   int // number of parameters (len of the shared Params)

	fbuf []float64 // n×d: f for the L1/L2 cotangents
	aF   []float64 // n×d: effective cotangent on f
}

func (s *system) Len() int       { return s.n * (s.b.d + 1 + s.nreg) }
func (s *system) NumParams() int { return s.np }

// regSlot returns the k-th regularizer part of a state-length vector.
func (s *system) regSlot(v []float64, k int) []float64 {
	off := s.n*(s.b.d+1) + k*s.n
	return v[off : off+s.n]
}

// Eval sets dst to the augmented dynamics at (t, y).
func (s *system) Eval(dst []float64, t float64, y []float64) {
	b, n, d := s.b, s.n, s.b.d
	nd := n * d
	v := trace.Values{F: dst[:nd], Div: dst[nd : nd+n]}
	for k := 0; k < s.nreg; k++ {
		switch b.regs[k] {
		case regKinetic:
			v.Kin = s.regSlot(dst, k)
		case regFrob:
			v.Frob = s.regSlot(dst, k)
		}
	}
	b.est.EvalDiv(v, t, y[:nd], b.ctx)
	for k := 0; k < s.nreg; k++ {
		kind := b.regs[k]
		if kind != regL1 && kind != regL2 {
			continue
		}
		r := s.regSlot(dst, k)
		for i := range n {
			fi := v.F[i*d : (i+1)*d]
			acc := 0.0
			if kind == regL1 {
				for _, x := range fi {
					acc += math.Abs(x)
				}
				r[i] = acc / float64(d)
			} else {
				for _, x := range fi {
					acc += x * x
				}
				r[i] = math.Sqrt(acc / float64(d))
			}
		}
	}
}

// Active returns n·d: the rates depend on z alone, so ℓ and the regularizer
// states are passive (adjoint.ActiveEvaler).
func (s *system) Active() int { return s.n * s.b.d }

// EvalActive sets the z part of dst to f(t, z) by one pass of the field,
// without the divergence's tangents or the regularizer rates; the rest of
// dst is not written. Checkpointed's re-run uses it for the stages whose
// passive rates the gradient does not need.
func (s *system) EvalActive(dst []float64, t float64, y []float64) {
	nd := s.n * s.b.d
	s.b.f.Eval(dst[:nd], t, y[:nd], s.b.ctx)
}

// VJP is the reverse pass through Eval: the rates do not depend on ℓ or on
// the regularizer states, so only the z part of ay is nonzero.
func (s *system) VJP(ay, atheta []float64, t float64, y, a []float64) float64 {
	b, n, d := s.b, s.n, s.b.d
	nd := n * d
	z := y[:nd]
	av := trace.Values{F: a[:nd], Div: a[nd : nd+n]}
	var l1, l2 []float64
	for k := 0; k < s.nreg; k++ {
		switch b.regs[k] {
		case regKinetic:
			av.Kin = s.regSlot(a, k)
		case regFrob:
			av.Frob = s.regSlot(a, k)
		case regL1:
			l1 = s.regSlot(a, k)
		case regL2:
			l2 = s.regSlot(a, k)
		}
	}
	if l1 != nil || l2 != nil {
		// The cotangents of the L1 and L2 rates fold into the one on f:
		//	∂/∂f_ij (1/d)Σ|f_ij| = sign(f_ij)/d,  ∂/∂f_ij ‖f_i‖/√d = f_ij/(‖f_i‖√d).
		f := s.fbuf[:nd]
		b.f.Eval(f, t, z, b.ctx)
		aF := s.aF[:nd]
		copy(aF, a[:nd])
		sd := math.Sqrt(float64(d))
		for i := range n {
			fi, gi := f[i*d:(i+1)*d], aF[i*d:(i+1)*d]
			if l1 != nil {
				w := l1[i] / float64(d)
				for j, x := range fi {
					switch {
					case x > 0:
						gi[j] += w
					case x < 0:
						gi[j] -= w
					}
				}
			}
			if l2 != nil {
				nrm := 0.0
				for _, x := range fi {
					nrm += x * x
				}
				if nrm = math.Sqrt(nrm); nrm > 0 {
					w := l2[i] / (nrm * sd)
					for j, x := range fi {
						gi[j] += w * x
					}
				}
			}
		}
		av.F = aF
	}
	gt := b.est.VJP(vectorfield.Grads{Z: ay[:nd], Theta: atheta}, t, z, b.ctx, av)
	clear(ay[nd:])
	return gt
}

// grow sizes the scratch of s for its current n.
func (s *system) grow() {
	nd := s.n * s.b.d
	if cap(s.fbuf) < nd {
		s.fbuf = make([]float64, nd)
		s.aF = make([]float64, nd)
	}
}
