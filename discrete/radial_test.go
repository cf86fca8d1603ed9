package discrete

import (
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

func radialWith(z0 []float64, ahat, bhat float64) *Radial {
	p := new(nn.Params)
	t := NewRadial(p, "ra", len(z0), nil)
	copy(t.z0.Of(p.Data), z0)
	t.alpha.Of(p.Data)[0] = ahat
	t.beta.Of(p.Data)[0] = bhat
	return t
}

// TestRadialConstraint checks β ≥ −α, the monotone radius map and the
// round trips for random and extreme raw parameters.
func TestRadialConstraint(t *testing.T) {
	rnd := testrand.New(t)
	raws := [][2]float64{{-30, -30}, {-30, 30}, {30, -30}, {30, 30}, {-700, 5}, {5, -700}, {0, 0}, {1e3, 1e3}}
	for k := 0; k < 12; k++ {
		raws = append(raws, [2]float64{4 * rnd.NormFloat64(), 4 * rnd.NormFloat64()})
	}
	for _, raw := range raws {
		for _, d := range []int{1, 3} {
			name := fmt.Sprintf("α̂=%.3g β̂=%.3g d=%d", raw[0], raw[1], d)
			ra := radialWith(flowtest.RandSlice(rnd, d, 1), raw[0], raw[1])
			al, be := ra.Alpha(), ra.Beta()
			if !(al > 0) || be < -al {
				t.Errorf("%s: α = %v, β = %v", name, al, be)
			}
			// ρ(r) = r (1 + β/(α + r)) is strictly increasing.
			prev := -1.0
			for i := 0; i <= 200; i++ {
				r := math.Pow(10, -8+float64(i)/20)
				rho := r * (1 + be/(al+r))
				if rho <= prev && rho < 1e300 {
					t.Errorf("%s: ρ not increasing at r = %g: %v ≤ %v", name, r, rho, prev)
					break
				}
				prev = rho
			}
			// Round trips both ways, away from the centre.
			z := flowtest.RandDense(rnd, 6, d, 2)
			x := mat.NewDense(6, d, nil)
			if err := ra.Inverse(x, nil, z); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			zr := mat.NewDense(6, d, nil)
			if err := ra.Forward(zr, nil, x); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			check.Close(t, name+" base round trip", flowtest.Flat(z), flowtest.Flat(zr), 1e-12)
			xr := mat.NewDense(6, d, nil)
			if err := ra.Inverse(xr, nil, zr); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			check.Close(t, name+" data round trip", flowtest.Flat(x), flowtest.Flat(xr), 1e-12)
		}
	}
}

// TestRadialRadius checks the closed-form root of the radius equation
// against its defining identity ρ(α + r) = r(γ + r).
func TestRadialRadius(t *testing.T) {
	rnd := testrand.New(t)
	for k := 0; k < 200; k++ {
		ra := radialWith([]float64{0}, 5*rnd.NormFloat64(), 5*rnd.NormFloat64())
		ra.refresh()
		rho := math.Exp(8 * rnd.NormFloat64())
		r, q := ra.radius(rho)
		if r < 0 {
			t.Fatalf("negative radius %v", r)
		}
		lhs, rhs := rho*(ra.al+r), r*(ra.ga+r)
		if math.Abs(lhs-rhs) > 1e-14*math.Max(lhs, rhs) {
			t.Errorf("α=%g γ=%g ρ=%g: ρ(α+r) = %v, r(γ+r) = %v", ra.al, ra.ga, rho, lhs, rhs)
		}
		if fq := 2*r + ra.ga - rho; math.Abs(fq-q) > 1e-12*math.Max(1, rho) {
			t.Errorf("∂F/∂r: %v vs %v", q, fq)
		}
	}
}

// TestRadialCentre checks the map at its centre: z0 is fixed, with
// log-determinant d·log(γ/α) (the map is the scaling by γ/α near z0).
func TestRadialCentre(t *testing.T) {
	ra := radialWith([]float64{0.5, -1, 2}, 0.3, 1.2)
	x := mat.NewDense(1, 3, []float64{0.5, -1, 2})
	z := mat.NewDense(1, 3, nil)
	ldj := make([]float64, 1)
	if err := ra.Inverse(z, ldj, x); err != nil {
		t.Fatal(err)
	}
	check.Unchanged(t, "centre", flowtest.Flat(x), flowtest.Flat(z))
	ra.refresh()
	check.Close(t, "ldj at centre", []float64{3 * math.Log(ra.ga/ra.al)}, ldj, 1e-14)
}
