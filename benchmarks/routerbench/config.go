package routerbench

import (
	"fmt"
	"slices"

	"sigs.k8s.io/yaml"
)

// Policies are tandem-router's policy presets (router/README.md), in the
// order the policies benchmark runs them; the first is the baseline.
var Policies = []string{"random", "round-robin", "least-request", "prefix", "tandem"}

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
	for _, k := range []string{"listen", "policy", "profile", "discovery"} {
		if _, ok := cfg[k]; ok {
			return RouterFiles{}, fmt.Errorf("router config: %q is set by the benchmark; leave it out of the base", k)
		}
	}
	cfg["listen"] = listen
	cfg["policy"] = policy
	cfg["discovery"] = map[string]any{"static": map[string]any{"file": endpointsPath}}
	config, err := yaml.Marshal(cfg)
	if err != nil {
		return RouterFiles{}, err
	}
	type spec struct {
		Address string `json:"address"`
	}
	file := struct {
		Models    []string `json:"models"`
		Endpoints []spec   `json:"endpoints"`
	}{Models: []string{model}}
	for _, e := range engines {
		file.Endpoints = append(file.Endpoints, spec{Address: e})
	}
	endpoints, err := yaml.Marshal(file)
	if err != nil {
		return RouterFiles{}, err
	}
	return RouterFiles{Config: config, Endpoints: endpoints}, nil
}

// checkPolicies rejects names that are not tandem-router presets.
func checkPolicies(names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("no router policy given")
	}
	for _, n := range names {
		if !slices.Contains(Policies, n) {
			return fmt.Errorf("router policy %q: want one of %v", n, Policies)
		}
	}
	return nil
}
