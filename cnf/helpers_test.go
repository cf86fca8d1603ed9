package cnf_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow/cnf"
	"github.com/odeflow/odeflow/nn"
	"github.com/odeflow/odeflow/ode"
	"github.com/odeflow/odeflow/vectorfield"
)

// tight are solver settings accurate enough for finite differences of whole
// solves: the solution error (and its jumps when the step sequence changes
// with a perturbation) is far below the fd step times the tolerance.
func tight() *cnf.SolverSettings {
	return &cnf.SolverSettings{RTol: 1e-12, ATol: 1e-12}
}

// smallField is FFJORD's field shape at toy size: d → hidden concatsquash
// tanh → d, with its parameters in p.
func smallField(t testing.TB, p *nn.Params, name string, d int, hidden string, ctx int, seed uint64) *vectorfield.MLP {
	t.Helper()
	f, err := vectorfield.NewMLP(d, hidden, nn.Tanh, &vectorfield.Settings{
		Params: p, Name: name, ContextDim: ctx, Src: rand.NewPCG(seed, 7), Workers: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// gaussians8 returns n points of FFJORD's 8gaussians: centres at radius 4
// on the 8 compass directions, noise 0.5, everything divided by 1.414.
func gaussians8(n int, src rand.Source) *mat.Dense {
	x := mat.NewDense(n, 2, nil)
	gaussians8Into(x, rand.New(src))
	return x
}

// gaussians8Into fills x (n×2) with 8gaussians points drawn from r.
func gaussians8Into(x *mat.Dense, r *rand.Rand) {
	n, _ := x.Dims()
	s := 1 / math.Sqrt2
	centres := [8][2]float64{{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {s, s}, {s, -s}, {-s, s}, {-s, -s}}
	for i := 0; i < n; i++ {
		c := centres[r.IntN(8)]
		x.Set(i, 0, (4*c[0]+0.5*r.NormFloat64())/1.414)
		x.Set(i, 1, (4*c[1]+0.5*r.NormFloat64())/1.414)
	}
}

// logNormal is the log-density of N(0, I) at x.
func logNormal(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v * v
	}
	return -0.5*s - 0.5*float64(len(x))*math.Log(2*math.Pi)
}

var _ = ode.Dopri5

func testrandSource(seed uint64) rand.Source { return rand.NewPCG(seed, 0x8a) }
