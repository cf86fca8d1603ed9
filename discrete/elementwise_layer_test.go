package discrete

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/check"
	"github.com/odeflow/odeflow/internal/flowtest"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

// ewCase is a transformer used as an Elementwise layer, with a sampler of
// inputs of its Forward (kept off kinks and saturated regions, where
// central differences lose accuracy) and the scale of its raw parameters.
type ewCase struct {
	name  string
	t     Transformer
	x     func(r *rand.Rand) float64
	scale float64
}

func ewUniform(lo, hi float64) func(r *rand.Rand) float64 {
	return func(r *rand.Rand) float64 { return lo + (hi-lo)*r.Float64() }
}

// ewAway samples |x| ∈ [lo, hi] with a random sign (away from a kink at 0).
func ewAway(lo, hi float64) func(r *rand.Rand) float64 {
	return func(r *rand.Rand) float64 {
		v := lo + (hi-lo)*r.Float64()
		if r.IntN(2) == 0 {
			return -v
		}
		return v
	}
}

func ewCases() []ewCase {
	fixed, err := NewFixedSpline([]float64{-2, -0.5, 1, 2.5}, []float64{-1, 0, 0.4, 3}, []float64{0.5, 2, 0.3, 1.5})
	if err != nil {
		panic(err)
	}
	return []ewCase{
		{"Affine", Affine{}, ewUniform(-3, 3), 0.7},
		{"Affine/bound=1", Affine{Bound: 1}, ewUniform(-3, 3), 0.7},
		{"Shift", Shift{}, ewUniform(-3, 3), 1},
		{"Spline", NewSpline(&SplineSettings{Bins: 5, Bound: 3}), ewUniform(-4, 4), 0.5},
		{"FixedSpline", fixed, ewUniform(-3, 3), 0},
		{"Exp", Exp{}, ewUniform(-2, 2), 0},
		{"Log", Invert(Exp{}), ewUniform(0.2, 5), 0},
		{"Sigmoid", Sigmoid{Alpha: 0.05}, ewUniform(-3, 3), 0},
		{"Logit", Logit(0.05), ewUniform(0.1, 0.9), 0},
		{"Tanh", Tanh{}, ewUniform(-1.5, 1.5), 0},
		{"Atanh", Invert(Tanh{}), ewUniform(-0.8, 0.8), 0},
		{"Softplus", Softplus{}, ewUniform(-3, 3), 0},
		{"Invert(Softplus)", Invert(Softplus{}), ewUniform(0.2, 4), 0},
		{"LeakyReLU", LeakyReLU{Slope: 0.2}, ewAway(0.05, 3), 0},
		{"SignedPower", SignedPower{Power: 1.7}, ewAway(0.3, 2), 0},
		{"SoftClip", SoftClip{Bound: 3}, ewUniform(-2.5, 2.5), 0},
		{"Invert(SoftClip)", Invert(SoftClip{Bound: 3}), ewUniform(-2, 2), 0},
	}
}

// TestElementwiseLayerSuite runs every transformer as a layer with
// per-dimension parameters through the property suite (d = 1, 2, 5): the
// forward check on x and the inverse check on z = Forward(x), which lies in
// the inverse's domain.
func TestElementwiseLayerSuite(t *testing.T) {
	for _, tc := range ewCases() {
		for _, d := range []int{1, 2, 5} {
			t.Run(fmt.Sprintf("%s/d=%d", tc.name, d), func(t *testing.T) {
				rnd := testrand.New(t)
				p := new(nn.Params)
				e := NewElementwise(p, "e", d, tc.t)
				if np := tc.t.NumParams(); np == 0 {
					if e.Params() != nil || p.Len() != 0 {
						t.Fatal("a parameter-free transformer reserved parameters")
					}
				} else {
					if p.Len() != d*np {
						t.Fatalf("%d parameters, want %d", p.Len(), d*np)
					}
					condPerturb(p, rnd, tc.scale)
				}
				const n = 4
				x := mat.NewDense(n, d, nil)
				for i := 0; i < n; i++ {
					for j := 0; j < d; j++ {
						x.Set(i, j, tc.x(rnd))
					}
				}
				t.Run("forward", func(t *testing.T) { flowtest.Check(t, e, x, false, testrand.NewSource(t, 2), nil) })
				var z mat.Dense
				if err := e.Forward(&z, nil, x); err != nil {
					t.Fatal(err)
				}
				t.Run("inverse", func(t *testing.T) { flowtest.Check(t, e, &z, true, testrand.NewSource(t, 3), nil) })
				if n >= 3 {
					flowtest.CheckNonFinite(t, e, x)
				}
				flowtest.CheckNoAlloc(t, e, x)
			})
		}
	}
}

// TestElementwisePerDimension checks that dimension j uses its own block of
// parameters: an Affine layer with θ_j = (t_j, r_j) maps x_j to
// t_j + exp(r_j) x_j.
func TestElementwisePerDimension(t *testing.T) {
	p := new(nn.Params)
	e := NewElementwise(p, "e", 3, Affine{})
	copy(e.Slot().Of(p.Data), []float64{1, 0, -2, math.Log(3), 0.5, math.Log(0.5)})
	x := mat.NewDense(2, 3, []float64{1, 2, 4, -1, 0, 2})
	var z mat.Dense
	ldj := make([]float64, 2)
	if err := e.Forward(&z, ldj, x); err != nil {
		t.Fatal(err)
	}
	want := []float64{1 + 1*1, -2 + 3*2, 0.5 + 0.5*4, 1 + 1*(-1), -2 + 3*0, 0.5 + 0.5*2}
	check.Close(t, "Affine per dimension", want, flowtest.Flat(&z), 1e-15)
	l := math.Log(3) + math.Log(0.5)
	check.Close(t, "ldj", []float64{l, l}, ldj, 1e-15)
}

// TestElementwiseStartsAsIdentity checks the initial parameters of the
// trainable transformers: the identity map.
func TestElementwiseStartsAsIdentity(t *testing.T) {
	for _, tf := range []Transformer{Affine{}, Shift{}, NewSpline(nil), NewSpline(&SplineSettings{Bins: 3, Bound: 1})} {
		e := NewElementwise(new(nn.Params), "e", 3, tf)
		x := flowtest.RandDense(testrand.New(t), 5, 3, 2)
		var z mat.Dense
		ldj := make([]float64, 5)
		if err := e.Forward(&z, ldj, x); err != nil {
			t.Fatal(err)
		}
		check.Close(t, fmt.Sprintf("%v: identity", tf), flowtest.Flat(x), flowtest.Flat(&z), 1e-14)
		check.Close(t, fmt.Sprintf("%v: ldj", tf), make([]float64, 5), ldj, 1e-14)
	}
}

// TestElementwiseDomainError checks that an input outside the map's domain
// gives a *odeflow.RowError naming its row, caused by ErrDomain.
func TestElementwiseDomainError(t *testing.T) {
	e := NewElementwise(nil, "log", 2, Invert(Exp{}))
	x := mat.NewDense(3, 2, []float64{1, 2, 3, 4, 5, -1})
	var z mat.Dense
	err := e.Forward(&z, nil, x)
	var re *odeflow.RowError
	if !errors.As(err, &re) || !errors.Is(err, ErrDomain) || fmt.Sprint(re.Rows) != "[2]" {
		t.Errorf("got %v, want a RowError for row 2 wrapping ErrDomain", err)
	}
	if !panics(func() { NewElementwise(nil, "a", 2, Affine{}) }) {
		t.Error("a trainable transformer without *nn.Params did not panic")
	}
}
