package discrete_test

import (
	"fmt"

	"github.com/odeflow/odeflow/discrete"
)

// A spline with 4 bins on [−3, 3] and raw parameters as a conditioner
// network would produce them, applied to a batch that straddles the bound:
// inside it bends, outside it is the identity with log-derivative 0, and the
// inverse recovers the inputs.
func ExampleSpline() {
	s := discrete.NewSpline(&discrete.SplineSettings{Bins: 4, Bound: 3})
	// One block of 3K−1 = 11 raw parameters: 4 widths, 4 heights and 3
	// interior derivatives. Start from the identity and make the first bin
	// wide and the last bin tall.
	φ := s.IdentityParams(nil)
	φ[0] = 1   // width of bin 0
	φ[4+3] = 1 // height of bin 3
	φ[8] = 0.5 // derivative at the first interior knot

	x := []float64{-5, -3, -1, 0.5, 2.2, 2.9, 3, 4}
	y := make([]float64, len(x))
	ldj := make([]float64, len(x))
	// One parameter block shared by every element (len(φ) = P).
	if err := s.Forward(y, ldj, x, φ); err != nil {
		fmt.Println(err)
		return
	}
	back := make([]float64, len(x))
	if err := s.Inverse(back, nil, y, φ); err != nil {
		fmt.Println(err)
		return
	}
	for i := range x {
		fmt.Printf("x=%5.2f  y=%7.4f  log τ'=%7.4f  back=%5.2f\n", x[i], y[i], ldj[i], back[i])
	}

	// Logit as the inverse of the sigmoid, with an error for a point outside
	// its domain (0, 1).
	err := discrete.Logit(0).Forward(make([]float64, 2), nil, []float64{0.5, 1.5}, nil)
	fmt.Println(err)

	// Output:
	// x=-5.00  y=-5.0000  log τ'= 0.0000  back=-5.00
	// x=-3.00  y=-3.0000  log τ'= 0.0000  back=-3.00
	// x=-1.00  y=-2.3449  log τ'=-1.3841  back=-1.00
	// x= 0.50  y=-1.2981  log τ'= 0.0082  back= 0.50
	// x= 2.20  y= 0.6120  log τ'= 1.0043  back= 2.20
	// x= 2.90  y= 2.8696  log τ'= 0.4878  back= 2.90
	// x= 3.00  y= 3.0000  log τ'= 0.0000  back= 3.00
	// x= 4.00  y= 4.0000  log τ'= 0.0000  back= 4.00
	// discrete: Sigmoid.Inverse: element 1: input 1.5: input outside the domain (0, 1)
}
