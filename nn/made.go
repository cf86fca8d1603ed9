package nn

import (
	"fmt"
	"math/rand/v2"
)

// MADE (Germain et al. 2015, "MADE: Masked Autoencoder for Distribution
// Estimation", arXiv:1502.03509) makes an MLP autoregressive by masking its
// weights. Every unit gets a degree: input variable i has degree
// pos(i)+1, where pos(i) is its place in the chosen order; a hidden unit of
// degree m may see only inputs of degree ≤ m, and an output of variable i
// only hidden units of degree < its own. The masks are then
//
//	hidden layer:  M[o][i] = 1  iff  deg_out(o) ≥ deg_in(i)
//	output layer:  M[o][i] = 1  iff  deg_out(o) > deg_in(i)
//
// so output i depends only on the variables before it in the order, and
// the Jacobian ∂y/∂x is strictly triangular in that order.

// MADEInputDegrees returns the degree of each of the d = len(order)
// variables: order[p] is the variable in place p, and gets degree p+1. It
// panics if order is not a permutation of 0, …, d−1.
func MADEInputDegrees(order []int) []int {
	deg := make([]int, len(order))
	for p, v := range order {
		if v < 0 || v >= len(order) || deg[v] != 0 {
			panic(fmt.Sprintf("nn: MADE order %v is not a permutation", order))
		}
		deg[v] = p + 1
	}
	return deg
}

// MADEHiddenDegrees returns the degrees of a hidden layer of the given
// width for d variables, drawn from {lo, …, d−1}: cyclically lo, lo+1, …,
// d−1, lo, … if src is nil (layers of equal width then get equal degrees,
// as residual connections require), otherwise uniformly at random from src
// (Germain et al. take lo as the smallest degree of the layer below, so that
// no unit is left unconnected). With d = 1 every degree is 0: such units see
// no input. It panics if width < 0, d < 1 or lo < 1.
func MADEHiddenDegrees(width, d, lo int, src rand.Source) []int {
	if width < 0 || d < 1 || lo < 1 {
		panic(fmt.Sprintf("nn: MADEHiddenDegrees(%d, %d, %d): bad arguments", width, d, lo))
	}
	deg := make([]int, width)
	hi := d - 1
	if hi < lo {
		for k := range deg {
			deg[k] = hi
		}
		return deg
	}
	var rnd *rand.Rand
	if src != nil {
		rnd = rand.New(src)
	}
	for k := range deg {
		if rnd == nil {
			deg[k] = lo + k%(hi-lo+1)
		} else {
			deg[k] = lo + rnd.IntN(hi-lo+1)
		}
	}
	return deg
}

// MADEOutputDegrees returns the degrees of an output layer with mult
// outputs per variable, variable-major: output o = i·mult + j is parameter
// j of variable i and has degree inDeg[i]. It panics if mult < 1.
func MADEOutputDegrees(inDeg []int, mult int) []int {
	if mult < 1 {
		panic("nn: MADEOutputDegrees: mult < 1")
	}
	deg := make([]int, len(inDeg)*mult)
	for i, d := range inDeg {
		for j := 0; j < mult; j++ {
			deg[i*mult+j] = d
		}
	}
	return deg
}

// MADEMask returns the len(outDeg)×len(inDeg) row-major mask with
// M[o][i] = 1 iff outDeg[o] ≥ inDeg[i], or outDeg[o] > inDeg[i] if strict
// (the output layer).
func MADEMask(outDeg, inDeg []int, strict bool) []float64 {
	m := make([]float64, len(outDeg)*len(inDeg))
	for o, do := range outDeg {
		for i, di := range inDeg {
			if do > di || (!strict && do == di) {
				m[o*len(inDeg)+i] = 1
			}
		}
	}
	return m
}

// MADEMasks returns the masks (for MLPConfig.Masks) of an autoregressive
// MLP d → widths → d·mult in the given order (see MADEInputDegrees), with
// outputs laid out as MADEOutputDegrees says. Hidden degrees come from
// MADEHiddenDegrees: cyclic if src is nil, otherwise random with lo the
// smallest degree of the layer below. It panics if order is not a
// permutation, a width is not positive, or mult < 1.
func MADEMasks(order []int, widths []int, mult int, src rand.Source) [][]float64 {
	in := MADEInputDegrees(order)
	d := len(order)
	prev := in
	masks := make([][]float64, 0, len(widths)+1)
	for _, w := range widths {
		if w <= 0 {
			panic(fmt.Sprintf("nn: MADEMasks: width %d is not positive", w))
		}
		lo := 1
		if src != nil {
			lo = minDeg(prev)
		}
		h := MADEHiddenDegrees(w, d, max(lo, 1), src)
		masks = append(masks, MADEMask(h, prev, false))
		prev = h
	}
	masks = append(masks, MADEMask(MADEOutputDegrees(in, mult), prev, true))
	return masks
}

func minDeg(deg []int) int {
	m := 0
	for i, d := range deg {
		if i == 0 || d < m {
			m = d
		}
	}
	return m
}
