package tandem

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
	"volcano.sh/volcano/pkg/scheduler/framework"
)

// Args are the plugin's arguments in the scheduler config:
//
//   - name: tandem
//     arguments:
//     acceleratorLabel: nvidia.com/gpu.product
//     acceleratorResource: nvidia.com/gpu
//     proximityWeight: 10
//     packingWeight: 2.5
//     spreadWeight: 5
//     spreadTier: 2
//     servingFirst: true
type Args struct {
	// AcceleratorLabel is the node label whose values a role's accelerator
	// types name (the controller's --accelerator-type-label).
	AcceleratorLabel string `json:"acceleratorLabel"`
	// AcceleratorResource is the extended resource that packing counts.
	AcceleratorResource string `json:"acceleratorResource"`
	// Weights of the three placement scores; 0 turns one off.
	ProximityWeight float64 `json:"proximityWeight"`
	PackingWeight   float64 `json:"packingWeight"`
	SpreadWeight    float64 `json:"spreadWeight"`
	// SpreadTier is the HyperNode tier units of one group spread across
	// (2 = racks in the usual layout).
	SpreadTier int `json:"spreadTier"`
	// ServingFirst orders serving units ahead of batch jobs of the same or
	// lower priority.
	ServingFirst bool `json:"servingFirst"`
}

// DefaultArgs are used for every argument the config leaves out.
func DefaultArgs() Args {
	return Args{
		AcceleratorLabel:    "nvidia.com/gpu.product",
		AcceleratorResource: "nvidia.com/gpu",
		ProximityWeight:     10,
		PackingWeight:       2.5,
		SpreadWeight:        5,
		SpreadTier:          2,
		ServingFirst:        true,
	}
}

// ParseArgs reads the plugin's arguments over the defaults. Unknown keys
// and wrong types are errors, not silently ignored.
func ParseArgs(in framework.Arguments) (Args, error) {
	args := DefaultArgs()
	if len(in) == 0 {
		return args, nil
	}
	raw, err := json.Marshal(map[string]interface{}(in))
	if err != nil {
		return args, fmt.Errorf("tandem plugin arguments: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&args); err != nil {
		return args, fmt.Errorf("tandem plugin arguments: %w", err)
	}
	return args, args.Validate()
}

// Validate reports the first argument out of range.
func (a Args) Validate() error {
	var errs []error
	if a.AcceleratorLabel == "" {
		errs = append(errs, errors.New("acceleratorLabel must not be empty"))
	}
	if a.AcceleratorResource == "" {
		errs = append(errs, errors.New("acceleratorResource must not be empty"))
	}
	for name, w := range map[string]float64{"proximityWeight": a.ProximityWeight, "packingWeight": a.PackingWeight, "spreadWeight": a.SpreadWeight} {
		if w < 0 || w > 100 {
			errs = append(errs, fmt.Errorf("%s must be between 0 and 100, got %g", name, w))
		}
	}
	if a.SpreadTier < 1 {
		errs = append(errs, fmt.Errorf("spreadTier must be at least 1, got %d", a.SpreadTier))
	}
	if len(errs) > 0 {
		return fmt.Errorf("tandem plugin arguments: %w", errors.Join(errs...))
	}
	return nil
}

// schedulerConf is the part of Volcano's scheduler config the check reads.
type schedulerConf struct {
	Tiers []struct {
		Plugins []struct {
			Name      string                 `json:"name"`
			Arguments map[string]interface{} `json:"arguments"`
		} `json:"plugins"`
	} `json:"tiers"`
}

// CheckConfigFile parses a Volcano scheduler config and validates the
// arguments of every "tandem" plugin entry in it, so a bad argument stops
// tandem-scheduler at start with a clear message instead of surfacing in a
// session.
func CheckConfigFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var conf schedulerConf
	if err := yaml.Unmarshal(data, &conf); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, tier := range conf.Tiers {
		for _, p := range tier.Plugins {
			if p.Name != Name {
				continue
			}
			if _, err := ParseArgs(p.Arguments); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	return nil
}
