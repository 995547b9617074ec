package routerbench

import (
	"context"
	"fmt"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

// ArmAggregated labels the fleet of engines that serve whole requests.
const ArmAggregated = "aggregated"

// PDConfig is the prefill/decode benchmark: the same workload through a
// tandem-router process in front of Engines aggregated engines and in
// front of Prefill prefill plus Decode decode engines, the two fleets
// alternating within each repetition (and rate), fresh engines and a fresh
// router for every run.
type PDConfig struct {
	// PoliciesConfig holds everything but the fleets. Its Policies is the
	// one router policy (a preset or a variant's name) both fleets run;
	// Engines is the aggregated fleet's size; Sim configures every engine
	// of both fleets alike, but for its role.
	PoliciesConfig
	// Prefill and Decode are the disaggregated fleet's engines; they sum
	// to Engines.
	Prefill, Decode int
}

// PDLabel labels the disaggregated fleet, e.g. "2P2D".
func (c *PDConfig) PDLabel() string { return fmt.Sprintf("%dP%dD", c.Prefill, c.Decode) }

// Validate reports the first impossible or unfair setting.
func (c *PDConfig) Validate() error {
	switch {
	case len(c.Policies) != 1:
		return fmt.Errorf("give one router policy (both fleets run it), got %v", c.Policies)
	case c.Prefill < 1 || c.Decode < 1:
		return fmt.Errorf("need at least one prefill and one decode engine, got %s", c.PDLabel())
	case c.Prefill+c.Decode != c.Engines:
		return fmt.Errorf("%s is %d engines but the aggregated fleet has %d: compare equal engine counts",
			c.PDLabel(), c.Prefill+c.Decode, c.Engines)
	case len(c.Layouts) > 0:
		return fmt.Errorf("layouts are the benchmark's own: leave them unset")
	}
	if err := checkPolicies(c.Policies, c.RouterVariants); err != nil {
		return err
	}
	p := c.arms()
	return p.Validate()
}

// arms is the benchmark as a routing-quality run of two labels, the
// aggregated fleet first (the baseline of ratios): both labels are router
// configurations naming the same policy; the second places its engines in
// PDLayout.
func (c *PDConfig) arms() PoliciesConfig {
	p := c.PoliciesConfig
	conf, ok := c.RouterVariants[c.Policies[0]]
	if !ok {
		conf = []byte("policy: " + c.Policies[0] + "\n")
	}
	pd := c.PDLabel()
	p.Policies = []string{ArmAggregated, pd}
	p.RouterVariants = map[string][]byte{ArmAggregated: conf, pd: conf}
	p.Layouts = map[string][]Placement{pd: PDLayout(c.Prefill, c.Decode)}
	return p
}

// RunPD runs the benchmark for every workload; what ran before an error
// comes back with it. Results are shaped as RunPolicies' with the fleets'
// labels as policies.
func RunPD(ctx context.Context, cfg PDConfig, env load.Env) ([]PoliciesResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return RunPolicies(ctx, cfg.arms(), env)
}
