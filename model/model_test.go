package model

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/odeflow/odeflow"
	"github.com/odeflow/odeflow/internal/testrand"
	"github.com/odeflow/odeflow/modelfile"
)

// specs covers every kind, with conditional variants and the CNF options
// that carry state (ActNorm, Hutchinson noise).
var specs = map[string]Spec{
	"cnf":            {Kind: CNF, Dim: 2, Hidden: "8-8", Seed: 3},
	"cnf-actnorm-2b": {Kind: CNF, Dim: 2, Hidden: "8", Blocks: 2, ActNorm: true, Seed: 4},
	"cnf-hutch":      {Kind: CNF, Dim: 3, Hidden: "8", Divergence: "hutchinson", Probe: "gaussian", Seed: 5},
	"cnf-cond":       {Kind: CNF, Dim: 2, ContextDim: 1, Hidden: "8", Solver: "tsit5", Seed: 6},
	"cnf-fixed":      {Kind: CNF, Dim: 2, Hidden: "8", Solver: "rk4", Step: 0.05, Seed: 7},
	"nice":           {Kind: NICE, Dim: 3, Layers: 2, Hidden: "8", Seed: 8},
	"realnvp":        {Kind: RealNVP, Dim: 2, Layers: 3, Hidden: "8-8", Mask: "random", Permute: "random", Seed: 9},
	"realnvp-cond":   {Kind: RealNVP, Dim: 2, ContextDim: 2, Layers: 2, Hidden: "8", Seed: 10},
	"maf":            {Kind: MAF, Dim: 3, Layers: 2, Hidden: "8", Permute: "random", Seed: 11},
	"iaf":            {Kind: IAF, Dim: 2, Layers: 2, Hidden: "8", Seed: 12},
	"nsf":            {Kind: NSF, Dim: 2, Layers: 2, Hidden: "8", Bins: 4, Seed: 13},
	"nsf-ar":         {Kind: NSF, Dim: 2, Layers: 2, Hidden: "8", Autoregressive: true, Seed: 14},
	"glow":           {Kind: Glow, Dim: 4, Layers: 2, Hidden: "8", Seed: 15},
	"bnaf":           {Kind: BNAF, Dim: 2, Layers: 2, HiddenFactor: 4, Residual: "gated", Seed: 16},
	"bnaf-cond":      {Kind: BNAF, Dim: 2, ContextDim: 1, HiddenFactor: 4, Seed: 17},
	"planar":         {Kind: Planar, Dim: 2, Layers: 3, Seed: 18},
	"realnvp-mix":    {Kind: RealNVP, Dim: 2, Layers: 2, Hidden: "8", BaseComponents: 3, Seed: 19},
	"cnf-mix":        {Kind: CNF, Dim: 2, Hidden: "8", BaseComponents: 2, Seed: 20},
	"bnaf-mix-cond":  {Kind: BNAF, Dim: 2, ContextDim: 1, HiddenFactor: 4, BaseComponents: 2, Seed: 21},
}

func randDense(r *rand.Rand, n, d int) *mat.Dense {
	m := mat.NewDense(n, d, nil)
	for i := range n {
		for j := range d {
			m.Set(i, j, r.NormFloat64())
		}
	}
	return m
}

// perturb moves every trainable parameter, so that the round trip is not
// tested on the initial values Build would draw again anyway.
func perturb(t *testing.T, f *odeflow.Flow, r *rand.Rand) {
	p := f.Params()
	if p == nil {
		t.Fatal("flow has no parameters")
	}
	for i, tr := range p.Trainable(nil) {
		if tr {
			p.Data[i] += 0.05 * r.NormFloat64()
		}
	}
}

// TestRoundTrip saves every kind after perturbing its parameters and checks
// that the reloaded model gives bit-identical log-densities, samples and
// encodings, and the same spec and metadata.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			r := testrand.New(t)
			m, err := New(spec)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			perturb(t, m.Flow, r)
			x := randDense(r, 5, spec.Dim)
			var c *mat.Dense
			if spec.ContextDim > 0 {
				c = randDense(r, 5, spec.ContextDim)
			}
			// Initialize ActNorm layers (their flag is a parameter).
			if spec.ActNorm {
				if _, err := m.Flow.LogProbGrad(nil, nil, nil, nil, x, c); err != nil {
					t.Fatalf("LogProbGrad: %v", err)
				}
			}
			// Advance the noise sources so that restoring them matters.
			if _, err := m.Flow.LogProb(nil, x, c); err != nil {
				t.Fatalf("LogProb: %v", err)
			}
			nll := 1.25
			m.Meta = modelfile.Meta{Iterations: 7, Seed: 99, ValidNLL: &nll, Extra: map[string]string{"a": "b"}}
			m.Sections = []modelfile.Section{{Name: "extra", Kind: modelfile.SectionBytes, Data: []byte("xyz")}}
			path := filepath.Join(dir, name+".odfl")
			if err := Save(path, m); err != nil {
				t.Fatalf("Save: %v", err)
			}
			m2, err := Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if m2.Spec != m.Spec {
				t.Errorf("spec changed:\n got %+v\nwant %+v", m2.Spec, m.Spec)
			}
			if m2.Meta.Iterations != 7 || m2.Meta.Seed != 99 || m2.Meta.ValidNLL == nil || *m2.Meta.ValidNLL != nll || m2.Meta.Extra["a"] != "b" {
				t.Errorf("meta changed: %+v", m2.Meta)
			}
			if s := m2.Section("extra"); s == nil || string(s.Data) != "xyz" {
				t.Errorf("extra section lost: %+v", m2.Sections)
			}
			if m2.Section(NoiseSection) != nil {
				t.Errorf("the noise section is returned among the extra sections")
			}
			p1, p2 := m.Flow.Params().Data, m2.Flow.Params().Data
			for i := range p1 {
				if math.Float64bits(p1[i]) != math.Float64bits(p2[i]) {
					t.Fatalf("parameter %d: %v, reloaded %v", i, p1[i], p2[i])
				}
			}
			lp1, err1 := m.Flow.LogProb(nil, x, c)
			lp2, err2 := m2.Flow.LogProb(nil, x, c)
			if err1 != nil || err2 != nil {
				t.Fatalf("LogProb: %v, %v", err1, err2)
			}
			for i := range lp1 {
				if math.Float64bits(lp1[i]) != math.Float64bits(lp2[i]) || math.IsNaN(lp1[i]) {
					t.Errorf("row %d: log p = %v, reloaded %v", i, lp1[i], lp2[i])
				}
			}
			s1 := mat.NewDense(4, spec.Dim, nil)
			s2 := mat.NewDense(4, spec.Dim, nil)
			var cs *mat.Dense
			if c != nil {
				cs = c.Slice(0, 4, 0, spec.ContextDim).(*mat.Dense)
			}
			if err := m.Flow.Sample(s1, cs, rand.NewPCG(1, 2)); err != nil {
				t.Fatalf("Sample: %v", err)
			}
			if err := m2.Flow.Sample(s2, cs, rand.NewPCG(1, 2)); err != nil {
				t.Fatalf("Sample: %v", err)
			}
			if !mat.Equal(s1, s2) {
				t.Errorf("samples differ after reload:\n%v\n%v", mat.Formatted(s1), mat.Formatted(s2))
			}
		})
	}
}

// TestDeterministic: the same spec builds the same parameters, another
// seed other ones.
func TestDeterministic(t *testing.T) {
	for name, spec := range specs {
		f1, err := Build(spec)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f2, _ := Build(spec)
		spec.Seed++
		f3, _ := Build(spec)
		a, b, c := f1.Params().Data, f2.Params().Data, f3.Params().Data
		same, differ := true, false
		for i := range a {
			same = same && math.Float64bits(a[i]) == math.Float64bits(b[i])
			differ = differ || a[i] != c[i]
		}
		if !same {
			t.Errorf("%s: two builds of one spec differ", name)
		}
		if !differ {
			t.Errorf("%s: another seed gives the same parameters", name)
		}
	}
}

func TestResolveDefaults(t *testing.T) {
	s, err := Spec{Kind: "CNF", Dim: 2}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	want := Spec{Kind: CNF, Dim: 2, Hidden: "64-64-64", Activation: "tanh", Blocks: 1, FieldKind: "concatsquash",
		Time: 0.5, Divergence: "exact", Solver: "dopri5", RTol: 1e-5, ATol: 1e-5, EvalRTol: 1e-7, EvalATol: 1e-7,
		MaxSteps: 10000, Gradient: "checkpointed"}
	if s != want {
		t.Errorf("resolved cnf spec\n got %+v\nwant %+v", s, want)
	}
	s2, err := s.Resolve()
	if err != nil || s2 != s {
		t.Errorf("Resolve is not idempotent: %+v, %v", s2, err)
	}
	s, err = Spec{Kind: CNF, Dim: 11}.Resolve()
	if err != nil || s.Divergence != "hutchinson" || s.Probes != 1 || s.Probe != "rademacher" {
		t.Errorf("cnf with d = 11: %+v, %v", s, err)
	}
	for _, k := range Kinds() {
		d := 2
		s, err := Spec{Kind: k, Dim: d}.Resolve()
		if err != nil {
			t.Errorf("%s: defaults do not resolve: %v", k, err)
			continue
		}
		if _, err := Build(s); err != nil {
			t.Errorf("%s: the default spec does not build: %v", k, err)
		}
	}
}

func TestSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{Dim: 2}, "no model kind"},
		{Spec{Kind: "flowy", Dim: 2}, `unknown model kind "flowy"`},
		{Spec{Kind: CNF}, "dimension 0"},
		{Spec{Kind: RealNVP, Dim: 1}, "at least 2 dimensions"},
		{Spec{Kind: Planar, Dim: 2, ContextDim: 1}, "takes no context"},
		{Spec{Kind: RealNVP, Dim: 2, Solver: "rk4"}, "solver does not apply to a realnvp model"},
		{Spec{Kind: CNF, Dim: 2, Layers: 3}, "layers does not apply to a cnf model"},
		{Spec{Kind: CNF, Dim: 2, Solver: "rk5"}, `unknown solver "rk5"`},
		{Spec{Kind: CNF, Dim: 2, Solver: "euler"}, "no error estimate"},
		{Spec{Kind: CNF, Dim: 2, Step: 0.1, RTol: 1e-3}, "tolerances do not apply"},
		{Spec{Kind: CNF, Dim: 2, RTol: -1}, "rtol = -1"},
		{Spec{Kind: CNF, Dim: 2, Kinetic: math.NaN()}, "kinetic = NaN"},
		{Spec{Kind: CNF, Dim: 2, Hidden: "64-x"}, `hidden "64-x"`},
		{Spec{Kind: CNF, Dim: 2, Activation: "wiggle"}, "unknown activation"},
		{Spec{Kind: CNF, Dim: 2, Divergence: "guess"}, `unknown divergence "guess"`},
		{Spec{Kind: CNF, Dim: 2, Probes: 2}, "probe and probes apply"},
		{Spec{Kind: CNF, Dim: 2, SemiNorm: true}, "seminorm applies"},
		{Spec{Kind: CNF, Dim: 2, Gradient: "magic"}, `unknown gradient "magic"`},
		{Spec{Kind: MAF, Dim: 2, Mask: "half"}, "mask does not apply"},
		{Spec{Kind: NSF, Dim: 2, Autoregressive: true, Mask: "half"}, "mask does not apply to an autoregressive"},
		{Spec{Kind: BNAF, Dim: 2, Residual: "skip"}, `unknown residual "skip"`},
		{Spec{Kind: NICE, Dim: 2, Layers: -1}, "layers = -1"},
		{Spec{Kind: MAF, Dim: 2, BaseComponents: -1}, "base_components = -1"},
		{Spec{Kind: CNF, Dim: 2, BaseComponents: 5000}, "base_components = 5000 (want at most 4096)"},
	} {
		_, err := Build(tc.spec)
		if err == nil || !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%+v): error %v, want one wrapping ErrSpec containing %q", tc.spec, err, tc.want)
		}
	}
	if _, err := ParseSpec([]byte(`{"kind":"cnf","dim":2,"warp_drive":1}`)); err == nil || !strings.Contains(err.Error(), "warp_drive") {
		t.Errorf("ParseSpec with an unknown field: %v", err)
	}
	if _, err := ParseSpec([]byte(`{"kind":"cnf","dim":2} {}`)); err == nil {
		t.Errorf("ParseSpec with trailing data: no error")
	}
}

// TestLoadErrors: files that are not what their header claims are errors,
// never panics.
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := New(Spec{Kind: RealNVP, Dim: 2, Layers: 2, Hidden: "4"})
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, f *modelfile.Model) string {
		path := filepath.Join(dir, name)
		if err := modelfile.WriteFile(path, f); err != nil {
			t.Fatal(err)
		}
		return path
	}
	params := good.Flow.Params().Data
	cfg := []byte(`{"kind":"realnvp","dim":2,"layers":2,"hidden":"4","seed":0}`)
	for _, tc := range []struct {
		name string
		f    *modelfile.Model
		want error
		msg  string
	}{
		{"kind.odfl", &modelfile.Model{Kind: "hyperflow", Config: cfg, Params: params}, ErrSpec, "newer"},
		{"field.odfl", &modelfile.Model{Kind: "realnvp", Config: []byte(`{"kind":"realnvp","dim":2,"quantum":true}`), Params: params}, ErrSpec, "quantum"},
		{"mismatch.odfl", &modelfile.Model{Kind: "nice", Config: cfg, Params: params}, ErrMismatch, "differs"},
		{"count.odfl", &modelfile.Model{Kind: "realnvp", Config: cfg, Params: params[:len(params)-1]}, ErrMismatch, "parameters"},
		{"bad.odfl", &modelfile.Model{Kind: "realnvp", Config: []byte(`{"kind":"realnvp","dim":-2}`), Params: params}, ErrSpec, "dimension"},
		{"null.odfl", &modelfile.Model{Kind: "realnvp", Params: params}, ErrSpec, "no model config"},
		{"noise.odfl", &modelfile.Model{Kind: "realnvp", Config: cfg, Params: params,
			Sections: []modelfile.Section{{Name: NoiseSection, Kind: modelfile.SectionJSON, Data: []byte(`["AAAA"]`)}}}, ErrMismatch, "noise"},
	} {
		path := write(tc.name, tc.f)
		_, err := Load(path)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want %v mentioning %q and the path", tc.name, err, tc.want, tc.msg)
		}
	}
	// A truncated file.
	path := filepath.Join(dir, "good.odfl")
	if err := Save(path, good); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	cut := filepath.Join(dir, "cut.odfl")
	if err := os.WriteFile(cut, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(cut); !errors.Is(err, modelfile.ErrTruncated) {
		t.Errorf("truncated file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.odfl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// Save refuses a flow that its spec does not build.
	other, _ := New(Spec{Kind: RealNVP, Dim: 2, Layers: 3, Hidden: "4"})
	bad := &Model{Spec: good.Spec, Flow: other.Flow}
	if err := Save(filepath.Join(dir, "wrong.odfl"), bad); !errors.Is(err, ErrMismatch) {
		t.Errorf("Save of a mismatched flow: %v", err)
	}
}

func TestFieldsForAndDescribe(t *testing.T) {
	f := FieldsFor(BNAF)
	if strings.Join(f, ",") != "context_dim,base_components,layers,activation,depth,hidden_factor,residual" {
		t.Errorf("FieldsFor(bnaf) = %v", f)
	}
	m, err := New(Spec{Kind: CNF, Dim: 2, Hidden: "4", Time: 0.75})
	if err != nil {
		t.Fatal(err)
	}
	d := m.Describe()
	for _, want := range []string{"kind         cnf", "hidden       4", "solver       dopri5", "T = 0.75", "params"} {
		if !strings.Contains(d, want) {
			t.Errorf("Describe lacks %q:\n%s", want, d)
		}
	}
	total, train := m.NumParams()
	if total != m.Flow.Params().Len() || train != total {
		t.Errorf("NumParams = %d, %d; Params().Len() = %d", total, train, m.Flow.Params().Len())
	}
}

// TestMinParams: the lower bound that Load checks before building holds
// for every kind, dimension and context, and it is not vacuous.
func TestMinParams(t *testing.T) {
	var all []Spec
	for _, s := range specs {
		all = append(all, s)
	}
	for _, k := range Kinds() {
		for _, d := range []int{1, 2, 3, 7} {
			for _, c := range []int{0, 2} {
				all = append(all, Spec{Kind: k, Dim: d, ContextDim: c, Hidden: "8-4"})
				all = append(all, Spec{Kind: k, Dim: d, ContextDim: c, Hidden: "8-4", BaseComponents: 5})
			}
		}
	}
	for _, s := range all {
		if s.Kind != CNF && s.Kind != NICE && s.Kind != RealNVP && s.Kind != MAF && s.Kind != IAF && s.Kind != NSF && s.Kind != Glow {
			s.Hidden = ""
		}
		m, err := New(s)
		if err != nil {
			continue // e.g. 1-D coupling or a conditional planar flow
		}
		n, _ := m.NumParams()
		low := m.Spec.minParams()
		if low > float64(n) || low < 1 {
			t.Errorf("%+v: lower bound %v, %d parameters", m.Spec, low, n)
		}
	}
}

// FuzzFromFile: whatever the kind, config and parameter count of a file
// (which the checksum does not protect from a deliberate edit), FromFile
// returns an error or a model that saves and loads back, never panics, and
// does not build models much larger than the file.
func FuzzFromFile(f *testing.F) {
	for _, s := range specs {
		r, _ := s.Resolve()
		b, _ := json.Marshal(r)
		m, _ := New(s)
		n, _ := m.NumParams()
		f.Add(r.Kind, b, n)
	}
	f.Add("cnf", []byte(`{"kind":"cnf","dim":1000000000,"hidden":"100000-100000"}`), 10)
	f.Add("realnvp", []byte(`{"kind":"realnvp","dim":2,"layers":2000000000}`), 10)
	f.Add("bnaf", []byte(`{"kind":"bnaf","dim":3,"hidden_factor":-1}`), 10)
	f.Add("nsf", []byte(`null`), 0)
	f.Fuzz(func(t *testing.T, kind string, cfg []byte, n int) {
		if n < 0 || n > 1<<16 {
			return
		}
		m, err := FromFile(&modelfile.Model{Kind: kind, Config: cfg, Params: make([]float64, n)})
		if err != nil {
			return
		}
		if got, _ := m.NumParams(); got != n {
			t.Fatalf("built %d parameters from a file of %d", got, n)
		}
		path := filepath.Join(t.TempDir(), "m.odfl")
		if err := Save(path, m); err != nil {
			t.Fatalf("Save of a loaded model: %v", err)
		}
		if _, err := Load(path); err != nil {
			t.Fatalf("Load of a saved model: %v", err)
		}
	})
}

// TestBaseComponents: base_components gives every kind a mixture base of
// that many components on the model's parameters, after the layers' (the
// layers are those of the spec without it), and no option the standard
// normal.
func TestBaseComponents(t *testing.T) {
	for _, k := range Kinds() {
		s := Spec{Kind: k, Dim: 2, Seed: 5}
		plain, err := New(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := plain.Flow.Base().(*odeflow.StandardNormal); !ok {
			t.Errorf("%s: base %T without base_components", k, plain.Flow.Base())
		}
		s.BaseComponents = 4
		m, err := New(s)
		if err != nil {
			t.Fatal(err)
		}
		g, ok := m.Flow.Base().(*odeflow.GaussianMixture)
		if !ok || g.Components() != 4 || g.Params() != m.Flow.Params() {
			t.Fatalf("%s: base %T with base_components 4", k, m.Flow.Base())
		}
		n := plain.Flow.Params().Len()
		if m.Flow.Params().Len() != n+4*5 {
			t.Errorf("%s: %d parameters, want %d", k, m.Flow.Params().Len(), n+20)
		}
		if !slices.Equal(plain.Flow.Params().Data, m.Flow.Params().Data[:n]) {
			t.Errorf("%s: the layers' parameters changed with base_components", k)
		}
	}
}
