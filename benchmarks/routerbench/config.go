package routerbench

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Policies are tandem-router's policy presets (router/README.md), in the
// order the policies benchmark runs them; the first is the baseline.
// llm-d, llm-d-sticky and kthena are the peer baselines, rebuilt in the
// router from those projects' published defaults (router/schedule,
// baselines.go, with sources and dates).
var Policies = []string{"random", "round-robin", "least-request", "prefix", "llm-d", "llm-d-sticky", "kthena", "tandem"}

// Profiles are router configurations the benchmarks know by name, used
// like a NAME=FILE variant: tandem-exact is the tandem preset with the
// exact prefix index (router/README.md, exact mode) fed by the engines'
// KV events and matched by token ids from their own /tokenize, every other
// kvEvents setting its default.
var Profiles = map[string]string{
	"tandem-exact": "policy: tandem\nkvEvents:\n  enabled: true\n  tokenizer: engine\n",
}

// WantsKVEvents says whether base or any variant turns on the router's
// exact mode (kvEvents.enabled), so the engines must publish KV events.
func WantsKVEvents(base []byte, variants map[string][]byte) (bool, error) {
	docs := [][]byte{base}
	for _, name := range slices.Sorted(maps.Keys(variants)) {
		docs = append(docs, variants[name])
	}
	for _, d := range docs {
		var cfg struct {
			KVEvents struct {
				Enabled bool `json:"enabled"`
			} `json:"kvEvents"`
		}
		if err := yaml.Unmarshal(d, &cfg); err != nil {
			return false, fmt.Errorf("router config: %w", err)
		}
		if cfg.KVEvents.Enabled {
			return true, nil
		}
	}
	return false, nil
}

// RouterFiles are the two files a tandem-router process is started with.
type RouterFiles struct {
	// Config is the router's YAML configuration (--config).
	Config []byte
	// Endpoints is the static endpoints file the config points at.
	Endpoints []byte
}

// MakeRouterFiles writes a router configuration: base (YAML, may be empty)
// with listen, policy and static discovery of endpointsPath set over it,
// and the endpoints file listing the engines' host:port addresses, each
// serving model. The benchmark never imports the router package: the
// files are the whole interface, as they are for an operator.
func MakeRouterFiles(base []byte, listen, policy, endpointsPath, model string, engines []string) (RouterFiles, error) {
	if len(engines) == 0 {
		return RouterFiles{}, fmt.Errorf("router config: no engines")
	}
	cfg := map[string]any{}
	if err := yaml.Unmarshal(base, &cfg); err != nil {
		return RouterFiles{}, fmt.Errorf("router config: %w", err)
	}
	if cfg == nil { // "null" or an empty document
		cfg = map[string]any{}
	}
	set := []string{"listen", "discovery"}
	if policy != "" {
		set = append(set, "policy", "profile")
	}
	for _, k := range set {
		if _, ok := cfg[k]; ok {
			return RouterFiles{}, fmt.Errorf("router config: %q is set by the benchmark; leave it out of the base", k)
		}
	}
	cfg["listen"] = listen
	if _, ok := cfg["metrics"]; !ok {
		// /metrics on the API listener: the benchmarks read the router's
		// gauges at its URL, and routers run one after another must not
		// contend for the default metrics port.
		cfg["metrics"] = map[string]any{"address": ""}
	}
	if policy != "" {
		cfg["policy"] = policy
	}
	cfg["discovery"] = map[string]any{"static": map[string]any{"file": endpointsPath}}
	config, err := yaml.Marshal(cfg)
	if err != nil {
		return RouterFiles{}, err
	}
	endpoints, err := EndpointsFile(model, engines, nil, nil)
	if err != nil {
		return RouterFiles{}, err
	}
	return RouterFiles{Config: config, Endpoints: endpoints}, nil
}

// checkPolicies rejects names that are neither tandem-router presets nor
// variants.
func checkPolicies(names []string, variants map[string][]byte) error {
	if len(names) == 0 {
		return fmt.Errorf("no router policy given")
	}
	for _, n := range names {
		if _, ok := variants[n]; !ok && !slices.Contains(Policies, n) {
			return fmt.Errorf("router policy %q: want one of %v, a profile (%s) or a variant NAME=FILE",
				n, Policies, strings.Join(slices.Sorted(maps.Keys(Profiles)), ", "))
		}
	}
	return nil
}

// ParsePolicies splits a --policies list into labels and variants: an
// entry is a preset name, or NAME=FILE where FILE is router configuration
// (YAML, e.g. a profile) that replaces the preset for runs labelled NAME.
// read loads a variant's file. A profile's name (Profiles) is a variant
// without a file.
func ParsePolicies(list []string, read func(string) ([]byte, error)) (labels []string, variants map[string][]byte, err error) {
	for _, entry := range list {
		name, file, ok := strings.Cut(entry, "=")
		if profile, known := Profiles[name]; known && !ok {
			if variants == nil {
				variants = map[string][]byte{}
			}
			variants[name] = []byte(profile)
		}
		if ok {
			if name == "" || slices.Contains(Policies, name) {
				return nil, nil, fmt.Errorf("policy variant %q: name it, other than a preset", entry)
			}
			b, err := read(file)
			if err != nil {
				return nil, nil, fmt.Errorf("policy variant %s: %w", name, err)
			}
			var probe map[string]any
			if err := yaml.Unmarshal(b, &probe); err != nil {
				return nil, nil, fmt.Errorf("policy variant %s: %s: %w", name, file, err)
			}
			if variants == nil {
				variants = map[string][]byte{}
			}
			variants[name] = b
		}
		if slices.Contains(labels, name) {
			return nil, nil, fmt.Errorf("policy %q given twice", name)
		}
		labels = append(labels, name)
	}
	return labels, variants, checkPolicies(labels, variants)
}

// resolve is the preset and base configuration a router labelled policy
// runs with: a variant's file goes over base (top-level keys replaced) and
// names no preset.
func resolve(base []byte, variants map[string][]byte, policy string) (preset string, merged []byte, err error) {
	frag, ok := variants[policy]
	if !ok {
		return policy, base, nil
	}
	cfg, over := map[string]any{}, map[string]any{}
	if err := yaml.Unmarshal(base, &cfg); err != nil {
		return "", nil, fmt.Errorf("router config: %w", err)
	}
	if err := yaml.Unmarshal(frag, &over); err != nil {
		return "", nil, fmt.Errorf("policy variant %s: %w", policy, err)
	}
	if cfg == nil {
		cfg = map[string]any{}
	}
	maps.Copy(cfg, over)
	merged, err = yaml.Marshal(cfg)
	return "", merged, err
}
