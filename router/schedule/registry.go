package schedule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// PluginConfig names a plugin and its arguments.
type PluginConfig struct {
	Name string `json:"name"`
	// Weight multiplies a scorer's score; default 1.
	Weight float64 `json:"weight,omitempty"`
	// Args are the plugin's own settings, decoded strictly into its
	// argument type.
	Args json.RawMessage `json:"args,omitempty"`
}

// ProfileConfig is a chain of plugins.
type ProfileConfig struct {
	Filters []PluginConfig `json:"filters,omitempty"`
	Scorers []PluginConfig `json:"scorers,omitempty"`
	Picker  PluginConfig   `json:"picker"`
}

type factory[T any] func(args json.RawMessage) (T, error)

// Plugins is the set of plugins a binary offers, by name.
type Plugins struct {
	filters map[string]factory[Filter]
	scorers map[string]factory[Scorer]
	pickers map[string]factory[Picker]
}

// NewPlugins returns an empty set.
func NewPlugins() *Plugins {
	return &Plugins{filters: map[string]factory[Filter]{}, scorers: map[string]factory[Scorer]{}, pickers: map[string]factory[Picker]{}}
}

// decode reads raw strictly into a new A; empty raw gives the zero A.
func decode[A any](name string, raw json.RawMessage) (A, error) {
	var a A
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return a, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&a); err != nil {
		return a, fmt.Errorf("plugin %s: args: %w", name, err)
	}
	return a, nil
}

func wrap[A, T any](name string, build func(A) (T, error)) factory[T] {
	return func(raw json.RawMessage) (T, error) {
		a, err := decode[A](name, raw)
		if err != nil {
			var zero T
			return zero, err
		}
		return build(a)
	}
}

// RegisterFilter offers a filter built from arguments of type A.
func RegisterFilter[A any](p *Plugins, name string, build func(A) (Filter, error)) {
	p.filters[name] = wrap(name, build)
}

// RegisterScorer offers a scorer built from arguments of type A.
func RegisterScorer[A any](p *Plugins, name string, build func(A) (Scorer, error)) {
	p.scorers[name] = wrap(name, build)
}

// RegisterPicker offers a picker built from arguments of type A.
func RegisterPicker[A any](p *Plugins, name string, build func(A) (Picker, error)) {
	p.pickers[name] = wrap(name, build)
}

// Names lists the registered plugins as "filter/x", "scorer/y", ...
func (p *Plugins) Names() []string {
	var out []string
	for n := range p.filters {
		out = append(out, "filter/"+n)
	}
	for n := range p.scorers {
		out = append(out, "scorer/"+n)
	}
	for n := range p.pickers {
		out = append(out, "picker/"+n)
	}
	slices.Sort(out)
	return out
}

// Build makes a profile from cfg, using f for candidate features.
func (p *Plugins) Build(cfg ProfileConfig, f *Features) (*Profile, error) {
	prof := &Profile{Features: f}
	var errs []error
	for _, c := range cfg.Filters {
		build, ok := p.filters[c.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("unknown filter %q", c.Name))
			continue
		}
		fl, err := build(c.Args)
		errs = append(errs, err)
		prof.Filters = append(prof.Filters, fl)
	}
	for _, c := range cfg.Scorers {
		build, ok := p.scorers[c.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("unknown scorer %q", c.Name))
			continue
		}
		sc, err := build(c.Args)
		errs = append(errs, err)
		w := c.Weight
		if w == 0 {
			w = 1
		}
		if w < 0 {
			errs = append(errs, fmt.Errorf("scorer %s: weight %g must not be negative", c.Name, w))
		}
		prof.Scorers = append(prof.Scorers, WeightedScorer{Scorer: sc, Weight: w})
	}
	build, ok := p.pickers[cfg.Picker.Name]
	if !ok {
		return nil, errors.Join(append(errs, fmt.Errorf("unknown picker %q", cfg.Picker.Name))...)
	}
	var err error
	prof.Picker, err = build(cfg.Picker.Args)
	if err = errors.Join(append(errs, err)...); err != nil {
		return nil, err
	}
	return prof, nil
}

// Policies are the preset names.
var Policies = []string{"random", "round-robin", "least-request", "prefix", "tandem", "llm-d", "llm-d-sticky", "kthena"}

// Preset is the profile of a named policy:
//
//   - random, round-robin: healthy endpoints in random or cyclic order;
//   - least-request: fewest open requests;
//   - prefix: longest cached prefix, ignoring load (affinity only);
//   - tandem: stay on the endpoint holding the longest prefix while its
//     cost (predicted TTFT plus batch and weighted stall, features.go) is
//     within 3× the cheapest candidate's, else the cheapest; saturated
//     endpoints avoided, 1% exploration among candidates within 80% of the
//     best when not staying, ties placed consistently across router
//     replicas;
//   - llm-d, llm-d-sticky, kthena: peer baselines rebuilt from those
//     routers' published defaults (baselines.go, with sources): llm-d's
//     weighted scorers (queue 2, KV usage 2, prefix 3, max score); the same
//     behind its saturation and prefix-affinity filters (sticky until
//     saturated); Kthena's least-request filter and score plus prefix.
func Preset(policy string) (ProfileConfig, error) {
	healthy := []PluginConfig{{Name: "healthy"}}
	switch policy {
	case "random":
		return ProfileConfig{Filters: healthy, Picker: PluginConfig{Name: "random"}}, nil
	case "round-robin":
		return ProfileConfig{Filters: healthy, Picker: PluginConfig{Name: "round-robin"}}, nil
	case "least-request":
		return ProfileConfig{Filters: healthy, Scorers: []PluginConfig{{Name: "least-request"}}, Picker: PluginConfig{Name: "max-score"}}, nil
	case "prefix":
		return ProfileConfig{Filters: healthy, Scorers: []PluginConfig{{Name: "prefix"}}, Picker: PluginConfig{Name: "max-score"}}, nil
	case "llm-d":
		return ProfileConfig{Filters: healthy, Scorers: llmdScorers(), Picker: PluginConfig{Name: "max-score"}}, nil
	case "llm-d-sticky":
		return ProfileConfig{
			Filters: append(healthy,
				PluginConfig{Name: "utilization", Args: json.RawMessage(`{"queueDepth":5,"kvUsage":0.8}`)},
				PluginConfig{Name: "prefix-affinity", Args: json.RawMessage(`{"threshold":0.8,"explore":0.01}`)}),
			Scorers: llmdScorers(), Picker: PluginConfig{Name: "max-score"},
		}, nil
	case "kthena":
		return ProfileConfig{
			Filters: append(healthy, PluginConfig{Name: "waiting", Args: json.RawMessage(`{"below":10}`)}),
			Scorers: []PluginConfig{{Name: "load", Weight: 1}, {Name: "prefix", Weight: 1}},
			Picker:  PluginConfig{Name: "max-score"},
		}, nil
	case "tandem", "":
		return ProfileConfig{
			Filters: []PluginConfig{{Name: "healthy"}, {Name: "saturation"}},
			Scorers: []PluginConfig{{Name: "cost"}},
			Picker: PluginConfig{Name: "affinity",
				Args: json.RawMessage(`{"explore":0.01,"exploreWithin":0.8,"consistentTies":true,"stayWithin":3}`)},
		}, nil
	}
	return ProfileConfig{}, fmt.Errorf("unknown policy %q: want one of %v", policy, Policies)
}

// llmdScorers are llm-d's default scorers and weights (baselines.go).
func llmdScorers() []PluginConfig {
	return []PluginConfig{{Name: "queue-depth", Weight: 2}, {Name: "kv-usage", Weight: 2}, {Name: "prefix", Weight: 3}}
}

// DefaultPlugins registers every plugin of this package, as tandem-router's
// main does; for tests and tools.
func DefaultPlugins() *Plugins {
	p := NewPlugins()
	RegisterFilter(p, "healthy", NewHealthyFilter)
	RegisterFilter(p, "saturation", NewSaturationFilter)
	RegisterFilter(p, "utilization", NewUtilizationFilter)
	RegisterFilter(p, "prefix-affinity", NewPrefixAffinityFilter)
	RegisterFilter(p, "waiting", NewWaitingFilter)
	RegisterScorer(p, "prefix", NewPrefixScorer)
	RegisterScorer(p, "least-request", NewLeastRequestScorer)
	RegisterScorer(p, "queue", NewQueueScorer)
	RegisterScorer(p, "kv-usage", NewKVUsageScorer)
	RegisterScorer(p, "ttft", NewTTFTScorer)
	RegisterScorer(p, "cost", NewCostScorer)
	RegisterScorer(p, "same-unit", NewSameUnitScorer)
	RegisterScorer(p, "queue-depth", NewQueueDepthScorer)
	RegisterScorer(p, "load", NewLoadScorer)
	RegisterPicker(p, "max-score", NewMaxScorePicker)
	RegisterPicker(p, "affinity", NewAffinityPicker)
	RegisterPicker(p, "random", NewRandomPicker)
	RegisterPicker(p, "round-robin", NewRoundRobinPicker)
	return p
}
