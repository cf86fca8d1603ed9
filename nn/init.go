package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Init is a weight-initialization scheme for a layer with fan-in a and
// fan-out b (a weight matrix of b×a):
//
//	GlorotUniform  U(−r, r),  r = √(6/(a+b))       (Glorot & Bengio 2010)
//	GlorotNormal   N(0, s²),  s = √(2/(a+b))
//	HeUniform      U(−r, r),  r = √(6/a)           (He et al. 2015)
//	HeNormal       N(0, s²),  s = √(2/a)
//	Zeros          0
//
// The normal schemes are not truncated. The zero value is GlorotUniform, a
// good default for tanh-like activations; the He schemes suit ReLU.
type Init int

// The initialization schemes.
const (
	GlorotUniform Init = iota
	GlorotNormal
	HeUniform
	HeNormal
	Zeros
	numInits
)

var initNames = [...]string{"glorot-uniform", "glorot-normal", "he-uniform", "he-normal", "zeros"}

// String returns the scheme's name.
func (in Init) String() string {
	if in < 0 || in >= numInits {
		return fmt.Sprintf("Init(%d)", int(in))
	}
	return initNames[in]
}

// Fill sets every element of w from the scheme for the given fans, drawing
// from src in order (so the same seed gives the same weights). src may be
// nil for Zeros. It panics if a fan is not positive, src is nil for a random
// scheme, or in is not a defined scheme.
func (in Init) Fill(w []float64, fanIn, fanOut int, src rand.Source) {
	if fanIn <= 0 || fanOut <= 0 {
		panic(fmt.Sprintf("nn: Init.Fill needs positive fans, got %d, %d", fanIn, fanOut))
	}
	if in == Zeros {
		clear(w)
		return
	}
	if in < 0 || in >= numInits {
		panic("nn: invalid Init " + in.String())
	}
	if src == nil {
		panic("nn: Init.Fill: nil rand.Source")
	}
	rnd := rand.New(src)
	a, b := float64(fanIn), float64(fanOut)
	switch in {
	case GlorotUniform, HeUniform:
		r := math.Sqrt(6 / (a + b))
		if in == HeUniform {
			r = math.Sqrt(6 / a)
		}
		for i := range w {
			w[i] = r * (2*rnd.Float64() - 1)
		}
	case GlorotNormal, HeNormal:
		s := math.Sqrt(2 / (a + b))
		if in == HeNormal {
			s = math.Sqrt(2 / a)
		}
		for i := range w {
			w[i] = s * rnd.NormFloat64()
		}
	}
}
