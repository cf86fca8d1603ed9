package nn

import (
	"fmt"
	"math"
	"strings"

	"github.com/odeflow/odeflow/internal/kernel"
)

// Activation is an elementwise nonlinearity σ with its first two derivatives.
// The second derivative is what the reverse pass through a tangent (JVP)
// computation needs: if y = σ(h) and ẏ = σ'(h)·ḣ, then
//
//	∂L/∂h = ∂L/∂y · σ'(h) + ∂L/∂ẏ · σ''(h)·ḣ
//	∂L/∂ḣ = ∂L/∂ẏ · σ'(h)
//
// The zero value is Identity.
type Activation int

// The activations. LeakyReLU has slope LeakySlope for negative inputs and ELU
// has α = 1. At the kink of ReLU and LeakyReLU the derivative taken is the
// one from the left (0 for ReLU, LeakySlope for LeakyReLU).
const (
	Identity Activation = iota
	Tanh
	Softplus
	ELU
	SiLU // swish: x·sigmoid(x)
	Sigmoid
	ReLU
	LeakyReLU
	numActivations
)

// LeakySlope is the negative-side slope of LeakyReLU.
const LeakySlope = 0.01

var activationNames = [...]string{"identity", "tanh", "softplus", "elu", "silu", "sigmoid", "relu", "leakyrelu"}

// String returns the activation's name as ParseActivation accepts it.
func (a Activation) String() string {
	if a < 0 || a >= numActivations {
		return fmt.Sprintf("Activation(%d)", int(a))
	}
	return activationNames[a]
}

// Valid reports whether a is one of the defined activations.
func (a Activation) Valid() bool { return a >= 0 && a < numActivations }

// ParseActivation returns the activation named s (case-insensitive; "swish"
// is accepted for SiLU, "leaky_relu" for LeakyReLU, "linear" and "none" for
// Identity).
func ParseActivation(s string) (Activation, error) {
	switch k := strings.ToLower(strings.TrimSpace(s)); k {
	case "swish":
		return SiLU, nil
	case "leaky_relu", "leaky-relu":
		return LeakyReLU, nil
	case "linear", "none", "":
		return Identity, nil
	default:
		for i, n := range activationNames {
			if n == k {
				return Activation(i), nil
			}
		}
	}
	return 0, fmt.Errorf("nn: unknown activation %q (want one of %s)", s, strings.Join(activationNames[:], ", "))
}

// sigmoid is 1/(1+e^{-x}) computed without overflow.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// softplus is log(1+e^x) computed without overflow or loss of precision.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// F returns σ(x).
func (a Activation) F(x float64) float64 {
	y, _, _ := a.D2(x)
	return y
}

// D returns σ(x) and σ'(x).
func (a Activation) D(x float64) (y, d1 float64) {
	y, d1, _ = a.D2(x)
	return y, d1
}

// D2 returns σ(x), σ'(x) and σ”(x). It panics if a is not Valid.
func (a Activation) D2(x float64) (y, d1, d2 float64) {
	switch a {
	case Identity:
		return x, 1, 0
	case Tanh:
		y = math.Tanh(x)
		d1 = 1 - y*y
		return y, d1, -2 * y * d1
	case Softplus:
		s := sigmoid(x)
		return softplus(x), s, s * (1 - s)
	case ELU:
		if x > 0 {
			return x, 1, 0
		}
		e := math.Exp(x)
		return e - 1, e, e
	case SiLU:
		s := sigmoid(x)
		y = x * s
		d1 = s + x*s*(1-s)
		d2 = s * (1 - s) * (2 + x*(1-2*s))
		return y, d1, d2
	case Sigmoid:
		s := sigmoid(x)
		return s, s * (1 - s), s * (1 - s) * (1 - 2*s)
	case ReLU:
		if x > 0 {
			return x, 1, 0
		}
		if x != x { // NaN propagates, as for every other activation
			return x, x, x
		}
		return 0, 0, 0
	case LeakyReLU:
		if x > 0 {
			return x, 1, 0
		}
		return LeakySlope * x, LeakySlope, 0
	}
	panic("nn: invalid activation " + a.String())
}

// Apply sets y[i] = σ(x[i]). y and x may be the same slice. It panics if the
// lengths differ.
func (a Activation) Apply(y, x []float64) {
	if len(y) != len(x) {
		panic("nn: Apply length mismatch")
	}
	switch a {
	case Identity:
		copy(y, x)
	case Tanh:
		for i, v := range x {
			y[i] = math.Tanh(v)
		}
	default:
		for i, v := range x {
			y[i], _, _ = a.D2(v)
		}
	}
}

// ApplyD sets y[i] = σ(x[i]) and d1[i] = σ'(x[i]). y may alias x; d1 must
// not alias either. It panics if the lengths differ.
func (a Activation) ApplyD(y, d1, x []float64) {
	if len(y) != len(x) || len(d1) != len(x) {
		panic("nn: ApplyD length mismatch")
	}
	switch a {
	case Tanh:
		for i, v := range x {
			t := math.Tanh(v)
			y[i], d1[i] = t, 1-t*t
		}
	case ReLU:
		// The hot activation of coupling and autoregressive conditioners:
		// a vector kernel without branches (random signs defeat a branch
		// predictor).
		kernel.ReLUD(y, d1, x)
	case LeakyReLU:
		for i, v := range x {
			if v > 0 {
				y[i], d1[i] = v, 1
			} else {
				y[i], d1[i] = LeakySlope*v, LeakySlope
			}
		}
	default:
		for i, v := range x {
			y[i], d1[i], _ = a.D2(v)
		}
	}
}

// ApplyD2 sets y[i], d1[i], d2[i] to σ, σ', σ” at x[i]. y may alias x; d1
// and d2 must not alias anything. It panics if the lengths differ.
func (a Activation) ApplyD2(y, d1, d2, x []float64) {
	if len(y) != len(x) || len(d1) != len(x) || len(d2) != len(x) {
		panic("nn: ApplyD2 length mismatch")
	}
	switch a {
	case Tanh:
		for i, v := range x {
			t := math.Tanh(v)
			s := 1 - t*t
			y[i], d1[i], d2[i] = t, s, -2*t*s
		}
	default:
		for i, v := range x {
			y[i], d1[i], d2[i] = a.D2(v)
		}
	}
}
