package train

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/discrete"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/nn"
)

// gaussTarget is log p̃(x) = c − ½ Σ_j ((x_j − m_j)/σ_j)², whose normalizer
// is log Z = c + Σ_j log σ_j + (d/2) log 2π.
func gaussTarget(m, sigma []float64, c float64) LogDensity {
	return func(dst []float64, grad *mat.Dense, x, _ *mat.Dense) {
		for i := range dst {
			xi := x.RawRowView(i)
			v := c
			for j := range xi {
				u := (xi[j] - m[j]) / sigma[j]
				v -= 0.5 * u * u
				if grad != nil {
					grad.Set(i, j, -u/sigma[j])
				}
			}
			dst[i] = v
		}
	}
}

func gaussLogZ(sigma []float64, c float64) float64 {
	z := c + 0.5*float64(len(sigma))*math.Log(2*math.Pi)
	for _, s := range sigma {
		z += math.Log(s)
	}
	return z
}

func TestFitKLGaussian(t *testing.T) {
	m, sigma, c := []float64{1.5, -2}, []float64{0.5, 2}, 3.7
	flow, tr := normalFlow([]float64{0, 0}, []float64{0, 0})
	res, err := FitKL(context.Background(), flow, gaussTarget(m, sigma, c), &Settings{
		Iterations: 1500, BatchSize: 128, Schedule: nn.Cosine{Base: 0.05, Floor: 1e-4, Steps: 1500},
		Src: testrand.NewSource(t, 1), EvalSamples: 20000,
	})
	if err != nil {
		t.Fatal(err)
	}
	mu, s := tr.mu.Of(flow.Params().Data), tr.s.Of(flow.Params().Data)
	for j := range m {
		if math.Abs(mu[j]-m[j]) > 0.03*sigma[j] || math.Abs(math.Exp(s[j])/sigma[j]-1) > 0.03 {
			t.Errorf("dimension %d: q has mean %.4f, scale %.4f; want %.4f, %.4f", j, mu[j], math.Exp(s[j]), m[j], sigma[j])
		}
	}
	logZ := gaussLogZ(sigma, c)
	kl := res.KL
	t.Logf("ELBO %.5f ± %.5f, log Z estimate %.5f (exact %.5f), ESS %.0f of %d", kl.ELBO, kl.ELBOStdErr, kl.LogZ, logZ, kl.ESS, kl.N)
	if math.Abs(kl.LogZ-logZ) > 2e-3 || kl.ELBO > logZ+4*kl.ELBOStdErr || kl.ELBO < logZ-5e-3 || kl.ESS < 0.99*float64(kl.N) || kl.N != 20000 {
		t.Errorf("estimates %+v, want log Z %.5f, ELBO just below it, ESS near N", *kl, logZ)
	}
	if m0, m1 := mean(res.TrainLoss[:20]), mean(res.TrainLoss[len(res.TrainLoss)-20:]); !(m1 < m0) || math.Abs(m1+logZ) > 0.02 {
		t.Errorf("−ELBO went from %.4f to %.4f, want it to reach −log Z = %.4f", m0, m1, -logZ)
	}
}

// EstimateKL on a flow that equals the normalized target up to a known
// shift: the log-weights are constant, so log Z and the ELBO are exact and
// ESS = N; with a mismatched flow, ELBO < log Z.
func TestEstimateKL(t *testing.T) {
	flow, _ := normalFlow([]float64{1, 2}, []float64{math.Log(0.5), math.Log(3)})
	target := gaussTarget([]float64{1, 2}, []float64{0.5, 3}, -1.25)
	est, err := EstimateKL(flow, target, 1500, nil, testrand.NewSource(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	want := gaussLogZ([]float64{0.5, 3}, -1.25)
	if math.Abs(est.LogZ-want) > 1e-12 || math.Abs(est.ELBO-want) > 1e-12 || math.Abs(est.ESS-1500) > 1e-6 || est.ELBOStdErr > 1e-12 {
		t.Errorf("exact flow: %+v, want log Z = ELBO = %v, ESS 1500", est, want)
	}
	flow, _ = normalFlow([]float64{0.5, 2.5}, []float64{0, 1})
	est, err = EstimateKL(flow, target, 50000, nil, testrand.NewSource(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	// Closed-form KL(q‖p) for diagonal normals: ELBO = log Z − KL.
	kl := 0.0
	for j, qm := range []float64{0.5, 2.5} {
		qs := []float64{1, math.E}[j]
		ps, pm := []float64{0.5, 3}[j], []float64{1, 2}[j]
		kl += math.Log(ps/qs) + (qs*qs+(qm-pm)*(qm-pm))/(2*ps*ps) - 0.5
	}
	if math.Abs(est.ELBO-(want-kl)) > 4*est.ELBOStdErr || !(est.ESS < 50000) {
		t.Errorf("mismatched flow: ELBO %.4f ± %.4f, want %.4f", est.ELBO, est.ELBOStdErr, want-kl)
	}
	if _, err := EstimateKL(flow, target, 10, mat.NewDense(1, 2, nil), rand.NewPCG(1, 1)); err == nil {
		t.Error("contexts for an unconditional flow: no error")
	}
}

// A conditional flow fitted by reverse KL to p̃(x | c) = N(x; A c, I).
func TestFitKLConditional(t *testing.T) {
	a := []float64{1, -2, 0.5, 1.5}
	target := func(dst []float64, grad *mat.Dense, x, c *mat.Dense) {
		for i := range dst {
			v := 0.0
			for j := 0; j < 2; j++ {
				u := x.At(i, j) - a[2*j]*c.At(i, 0) - a[2*j+1]*c.At(i, 1)
				v -= 0.5 * u * u
				if grad != nil {
					grad.Set(i, j, -u)
				}
			}
			dst[i] = v
		}
	}
	r := testrand.New(t)
	pool := mat.NewDense(100, 2, nil)
	for i := 0; i < 100; i++ {
		pool.Set(i, 0, r.NormFloat64())
		pool.Set(i, 1, r.NormFloat64())
	}
	p := new(nn.Params)
	tr := newAffine(p, "c", 2, 2)
	flow := odeflow.NewConditionalFlow(odeflow.NewStandardNormal(2), tr)
	res, err := FitKL(context.Background(), flow, target, &Settings{
		Iterations: 800, BatchSize: 128, Schedule: nn.Cosine{Base: 0.05, Floor: 1e-4, Steps: 800},
		TargetContext: pool, Src: testrand.NewSource(t, 2), EvalSamples: 4000,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := tr.a.Of(p.Data)
	for k := range a {
		if math.Abs(got[k]-a[k]) > 0.05 {
			t.Errorf("A = %.3f, want %v", got, a)
			break
		}
	}
	// log Z(c) = log 2π for every c.
	if math.Abs(res.KL.LogZ-math.Log(2*math.Pi)) > 0.02 {
		t.Errorf("log Z estimate %.4f, want %.4f", res.KL.LogZ, math.Log(2*math.Pi))
	}
	// Missing contexts.
	if _, err := FitKL(context.Background(), flow, target, nil); err == nil {
		t.Error("conditional flow without TargetContext: no error")
	}
}

func TestFitKLResumeAndErrors(t *testing.T) {
	target := gaussTarget([]float64{1, -1}, []float64{2, 0.5}, 0)
	settings := func(iters int, seed uint64) *Settings {
		return &Settings{Iterations: iters, BatchSize: 32, LR: 0.02, EvalEvery: 25, EvalSamples: 256, Patience: 100, Src: rand.NewPCG(seed, 3)}
	}
	flowA, _ := normalFlow([]float64{0, 0}, []float64{0, 0})
	resA, err := FitKL(context.Background(), flowA, target, settings(300, 1))
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/kl.ckpt"
	flowB, _ := normalFlow([]float64{0, 0}, []float64{0, 0})
	s := settings(130, 1)
	s.Checkpoint = path
	if _, err := FitKL(context.Background(), flowB, target, s); err != nil {
		t.Fatal(err)
	}
	flowC, _ := normalFlow([]float64{0, 0}, []float64{0, 0})
	s = settings(300, 42)
	s.ResumeFrom = path
	resC, err := FitKL(context.Background(), flowC, target, s)
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, "KL resumed", flowA.Params().Data, flowC.Params().Data, resA, resC)
	if *resA.KL != *resC.KL {
		t.Errorf("final estimates differ: %+v vs %+v", *resA.KL, *resC.KL)
	}

	// A target that turns NaN stops the run, naming the iteration and rows.
	calls := 0
	bad := func(dst []float64, grad *mat.Dense, x, c *mat.Dense) {
		target(dst, grad, x, c)
		if calls++; calls == 4 {
			dst[2] = math.NaN()
		}
	}
	flow, _ := normalFlow([]float64{0, 0}, []float64{0, 0})
	res, err := FitKL(context.Background(), flow, bad, &Settings{Iterations: 10})
	var re *odeflow.RowError
	if err == nil || res.Status != Failed || res.Iterations != 3 || !errorsAs(err, &re) || !equalInts(re.Rows, []int{2}) {
		t.Errorf("NaN target: %v, %+v", err, res)
	}

	// A trainable base that cannot be sampled differentiably (a Gaussian
	// mixture: its component draw is discrete) is an error, not a panic.
	mixFlow, err := discrete.NewRealNVP(2, &discrete.FlowSettings{Layers: 2, Hidden: "4", BaseComponents: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FitKL(context.Background(), mixFlow, target, &Settings{Iterations: 2}); err == nil || !strings.Contains(err.Error(), "Reparameterized") {
		t.Errorf("mixture base: %v, want an error about a base that is not Reparameterized", err)
	}
}
