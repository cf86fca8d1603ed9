package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/odeflow/odeflow/modelfile"
	"github.com/odeflow/odeflow/vectorfield"
)

// NoiseSection is the name of the section holding the states of a CNF's
// probe-noise sources (a JSON array of their MarshalBinary encodings). It
// is written by Save for cnf models and consumed by Load.
const NoiseSection = "model/noise"

// ErrMismatch is wrapped by Load's error for a file whose parameters or
// sections do not fit the model its spec builds (a tampered or foreign
// file that still passed the checksum).
var ErrMismatch = errors.New("model file does not match its spec")

// hyper returns the hyper-parameters that apply to s.Kind (context_dim
// aside) as name, value pairs, in field order.
func (s Spec) hyper() [][2]string {
	v := reflect.ValueOf(s)
	t := v.Type()
	var out [][2]string
	for i := range t.NumField() {
		name := jsonName(t.Field(i))
		ks, ok := applies[name]
		if !ok || name == "context_dim" || !slices.Contains(ks, s.Kind) {
			continue
		}
		f := v.Field(i)
		if f.IsZero() && f.Kind() != reflect.Bool {
			continue
		}
		out = append(out, [2]string{name, fmt.Sprint(f.Interface())})
	}
	return out
}

// Save writes m to path as a model file (package modelfile, format
// version 1), atomically: the kind, the resolved spec as the config, the
// parameters bit for bit, m.Meta, the state of the CNF noise sources (in
// NoiseSection) and m.Sections. It refuses a model whose parameter count
// is not the one its spec builds.
func Save(path string, m *Model) error {
	if m == nil || m.Flow == nil {
		return errors.New("model: Save: no model")
	}
	s, err := m.Spec.Resolve()
	if err != nil {
		return fmt.Errorf("model: Save: %w", err)
	}
	cfg, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("model: Save: %w", err)
	}
	var params []float64
	if p := m.Flow.Params(); p != nil {
		params = p.Data
	}
	ref, err := New(s)
	if err != nil {
		return fmt.Errorf("model: Save: %w", err)
	}
	if n, _ := ref.NumParams(); n != len(params) {
		return fmt.Errorf("model: Save: the flow has %d parameters, its spec builds %d: %w", len(params), n, ErrMismatch)
	}
	f := &modelfile.Model{Kind: s.Kind, Config: cfg, Params: params, Meta: m.Meta}
	if len(m.noise) > 0 {
		states := make([][]byte, len(m.noise))
		for i, src := range m.noise {
			if states[i], err = src.MarshalBinary(); err != nil {
				return fmt.Errorf("model: Save: %w", err)
			}
		}
		data, err := json.Marshal(states)
		if err != nil {
			return fmt.Errorf("model: Save: %w", err)
		}
		f.Sections = append(f.Sections, modelfile.Section{Name: NoiseSection, Kind: modelfile.SectionJSON, Data: data})
	}
	for _, sec := range m.Sections {
		if sec.Name == NoiseSection {
			continue
		}
		f.Sections = append(f.Sections, sec)
	}
	if err := modelfile.WriteFile(path, f); err != nil {
		return fmt.Errorf("model: Save: %w", err)
	}
	return nil
}

// Load reads the model file at path and rebuilds its model: the spec is
// decoded from the file's config (unknown fields are an error: a newer
// odeflow wrote it), the flow built from it, the parameters set bit for bit
// and the noise states restored, so that the model's log-densities are
// bit-identical to those of the model that was saved. Errors name the path
// and wrap modelfile's classes (not a model file, corrupt, truncated,
// checksum, newer version), ErrSpec, or ErrMismatch.
func Load(path string) (*Model, error) {
	f, err := modelfile.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := FromFile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// FromFile rebuilds the model held by a model file's content; see Load.
func FromFile(f *modelfile.Model) (*Model, error) {
	if !slices.Contains(kinds, f.Kind) {
		return nil, specErr("unknown model kind %q (this odeflow knows %s; was the file written by a newer one?)",
			f.Kind, strings.Join(kinds, ", "))
	}
	if len(f.Config) == 0 {
		return nil, specErr("the file has no model config")
	}
	spec, err := ParseSpec(f.Config)
	if err != nil {
		return nil, fmt.Errorf("model config: %w", err)
	}
	if spec.Kind != f.Kind {
		return nil, fmt.Errorf("the file's kind %q differs from its config's %q: %w", f.Kind, spec.Kind, ErrMismatch)
	}
	// A spec from a file is untrusted: before building (which allocates
	// what the spec asks for), check that the file holds at least the
	// parameters the spec implies.
	if r, err := spec.Resolve(); err == nil {
		if low := r.minParams(); low > float64(len(f.Params)) {
			return nil, fmt.Errorf("the file holds %d parameters, its %s spec needs more than %.4g: %w",
				len(f.Params), spec.Kind, low, ErrMismatch)
		}
	}
	m, err := New(spec)
	if err != nil {
		return nil, err
	}
	p := m.Flow.Params()
	n := 0
	if p != nil {
		n = p.Len()
	}
	if len(f.Params) != n {
		return nil, fmt.Errorf("the file holds %d parameters, its %s spec builds %d: %w", len(f.Params), spec.Kind, n, ErrMismatch)
	}
	if p != nil {
		copy(p.Data, f.Params)
	}
	m.Meta = f.Meta
	for _, sec := range f.Sections {
		if sec.Name != NoiseSection {
			m.Sections = append(m.Sections, sec)
			continue
		}
		var states [][]byte
		if err := json.Unmarshal(sec.Data, &states); err != nil {
			return nil, fmt.Errorf("section %s: %v: %w", NoiseSection, err, ErrMismatch)
		}
		if len(states) != len(m.noise) {
			return nil, fmt.Errorf("section %s holds %d noise states, the model has %d blocks: %w",
				NoiseSection, len(states), len(m.noise), ErrMismatch)
		}
		for i, st := range states {
			if err := m.noise[i].UnmarshalBinary(st); err != nil {
				return nil, fmt.Errorf("section %s: block %d: %v: %w", NoiseSection, i, err, ErrMismatch)
			}
		}
	}
	return m, nil
}

// Section returns the extra section with the given name, or nil.
func (m *Model) Section(name string) *modelfile.Section {
	for i := range m.Sections {
		if m.Sections[i].Name == name {
			return &m.Sections[i]
		}
	}
	return nil
}

// SetSection adds sec to m.Sections, replacing a section of the same name.
func (m *Model) SetSection(sec modelfile.Section) {
	for i := range m.Sections {
		if m.Sections[i].Name == sec.Name {
			m.Sections[i] = sec
			return
		}
	}
	m.Sections = append(m.Sections, sec)
}

// RemoveSection removes the extra section with the given name, if any.
func (m *Model) RemoveSection(name string) {
	m.Sections = slices.DeleteFunc(m.Sections, func(s modelfile.Section) bool { return s.Name == name })
}

// minParams returns a lower bound on the number of parameters of the model
// that the resolved spec s builds: the weights of its networks' matrices
// alone (computed in floating point, so that absurd sizes do not
// overflow), plus those of a mixture base.
func (s Spec) minParams() float64 {
	return s.minLayerParams() + float64(s.BaseComponents)*(2*float64(s.Dim)+1)
}

// minLayerParams is minParams without the base.
func (s Spec) minLayerParams() float64 {
	d, c := float64(s.Dim), float64(s.ContextDim)
	chain := func(in, out float64) float64 {
		w, err := vectorfield.ParseHidden(s.Hidden)
		if err != nil {
			return 0
		}
		total, prev := 0.0, in
		for _, h := range w {
			total += prev * float64(h)
			prev = float64(h)
		}
		return total + prev*out
	}
	switch s.Kind {
	case CNF:
		return float64(s.Blocks) * chain(d+c, d)
	case Planar:
		return float64(s.Layers) * (2*d + 1)
	case BNAF:
		return float64(s.Layers) * d * float64(s.HiddenFactor)
	case MAF, IAF:
		return float64(s.Layers) * chain(d+c, d)
	case NSF:
		if s.Autoregressive {
			return float64(s.Layers) * chain(d+c, d)
		}
	}
	if s.Kind == Glow && s.Dim == 1 && s.ContextDim == 0 {
		return float64(s.Layers) * 2 // ActNorm alone: no coupling in 1-D
	}
	// Coupling layers (nice, realnvp, nsf, glow): each conditioner reads
	// at least ⌊d/2⌋ coordinates (and the context) and writes parameters
	// for at least one coordinate.
	return float64(s.Layers) * chain(max(math.Floor(d/2), 1)+c, 1)
}
