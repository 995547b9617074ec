package schedulerbench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"volcano.sh/volcano/pkg/scheduler/framework"

	"github.com/tandem-serving/tandem/plugins/scenario"
	"github.com/tandem-serving/tandem/plugins/tandem"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// Config says what to run.
type Config struct {
	// The large case: Nodes nodes (a multiple of NodesPerRack) in racks of
	// NodesPerRack, tier-1 domains of DomainSize, GPUsPerNode each.
	Nodes, NodesPerRack, DomainSize, GPUsPerNode int
	// Units is the number of units (one-unit ServingGroups) to place.
	Units int
	// Busy is the fraction of nodes already running a batch pod.
	Busy float64
	// Runs is the number of sessions per configuration and case,
	// alternating stock and Tandem.
	Runs int
	// Seed drives every random choice.
	Seed uint64
	// SmallCases small cases of SmallNodes nodes (at most 16) each, with
	// the optimum found by a search of at most SearchBudget pod visits.
	SmallCases, SmallNodes, SearchBudget int
	// GPUBinpack configures Volcano's binpack and network-topology-aware
	// plugins to pack GPUs (they pack CPU and memory only by default), as
	// an operator of a GPU cluster would. Both configurations get it.
	GPUBinpack bool
	// Elastic makes pd-tp2's second decode instance optional (Elastic()).
	Elastic bool
	// TandemArgs are the tandem plugin's arguments (nil: its defaults).
	TandemArgs map[string]any
	// Case selects what runs: CasePlacement (the large and small
	// cases), CaseReclaim (reclaim.go) or CaseAll.
	Case string
	// ScaleNodes are the fleet sizes of the scale case; VolcanoMaxNodes
	// the largest at which Volcano's allocate runs every repetition
	// (above it, once).
	ScaleNodes      []int
	VolcanoMaxNodes int
	// NoVolcano runs only tandem-allocate in the scale case (a quick
	// look or a profile; no ratio).
	NoVolcano bool
	// ReclaimGangs batch gangs fill the large fleet in the reclaim case
	// and ReclaimUnits units wait.
	ReclaimGangs, ReclaimUnits int
	// Logf receives progress lines.
	Logf func(format string, args ...any)
}

// The cases -case selects.
const (
	CasePlacement = "placement"
	CaseReclaim   = "reclaim"
	CaseAll       = "all"
)

// Case is one generated cluster and its units.
type Case struct {
	Name     string
	Scenario scenario.Scenario
	// Shapes are the units' shapes, in the order of Scenario.Groups.
	Shapes []Shape
	// Used are the GPUs the running batch pods take per node.
	Used map[string]int
}

// CaseResult holds every session of one case.
type CaseResult struct {
	Case
	Stock, Tandem []Measurement
	// Optimum is set for small cases.
	Optimum *Optimum
}

// LargeFleet is the large case's fleet.
func (c Config) LargeFleet() (localcluster.Fleet, error) {
	if c.NodesPerRack < 1 || c.Nodes%c.NodesPerRack != 0 {
		return localcluster.Fleet{}, fmt.Errorf("nodes (%d) must be a multiple of nodes per rack (%d)", c.Nodes, c.NodesPerRack)
	}
	f := localcluster.Fleet{Racks: c.Nodes / c.NodesPerRack, NodesPerRack: c.NodesPerRack, DomainSize: c.DomainSize,
		GPUsPerNode: c.GPUsPerNode, Products: Products, CPU: "96", Memory: "1Ti"}
	return f, f.Validate()
}

// Run builds the cases and runs each configuration Runs times, stock and
// Tandem in turn.
func Run(ctx context.Context, cfg Config) ([]CaseResult, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5c4ed))
	f, err := cfg.LargeFleet()
	if err != nil {
		return nil, err
	}
	cases := []Case{largeCase(f, cfg, rng)}
	if cfg.SmallCases > 0 && (cfg.SmallNodes < 4 || cfg.SmallNodes > 16 || cfg.SmallNodes%4 != 0) {
		return nil, fmt.Errorf("small cases need 4 to 16 nodes, a multiple of 4; got %d", cfg.SmallNodes)
	}
	for i := range cfg.SmallCases {
		cases = append(cases, smallCase(fmt.Sprintf("small-%d", i+1), cfg, rng))
	}
	var out []CaseResult
	for _, c := range cases {
		res, err := runCase(ctx, c, cfg)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

func runCase(ctx context.Context, c Case, cfg Config) (CaseResult, error) {
	res := CaseResult{Case: c}
	topo := scenario.Topology(c.Scenario.Fleet)
	args := pluginArgs(cfg.GPUBinpack)
	if cfg.TandemArgs != nil {
		args[tandem.Name] = cfg.TandemArgs
	}
	for run := range cfg.Runs {
		for _, stock := range []bool{true, false} {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			s := c.Scenario
			s.Stock, s.Arguments = stock, args
			r, err := s.Run()
			if err != nil {
				return res, fmt.Errorf("%s: %w", c.Name, err)
			}
			m := Measure(s.Fleet, topo, r)
			name := "tandem"
			if stock {
				name = "stock"
				res.Stock = append(res.Stock, m)
			} else {
				res.Tandem = append(res.Tandem, m)
			}
			cfg.logf("%s run %d %-6s: session %v (allocate %v), %d/%d units, P↔D %.3f, %d free domains, %d violations",
				c.Name, run+1, name, m.Session.Round(1e6), m.Allocate.Round(1e6), m.Placed, m.Units, m.PD, m.FreeDomains, len(m.Violations))
		}
	}
	if c.Name != largeName {
		p := newProblem(c.Scenario.Fleet, topo, c.Used, c.Shapes)
		o := p.optimum(cfg.SearchBudget)
		res.Optimum = &o
		cfg.logf("%s optimum: %+v", c.Name, o)
	}
	return res, nil
}

func (c Config) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// pluginArgs are the stock plugins' arguments both configurations share.
func pluginArgs(gpuBinpack bool) map[string]framework.Arguments {
	if !gpuBinpack {
		return map[string]framework.Arguments{}
	}
	gpu := string(localcluster.GPUResource)
	return map[string]framework.Arguments{
		"binpack":                {"binpack.resources": gpu, "binpack.resources." + gpu: 1},
		"network-topology-aware": {"hypernode.binpack.resources": gpu, "hypernode.binpack.resources." + gpu: 1},
	}
}

const largeName = "large"

func largeCase(f localcluster.Fleet, cfg Config, rng *rand.Rand) Case {
	mix := Shapes
	if cfg.Elastic {
		mix = Elastic()
	}
	shapes := Mix(cfg.Units, mix, rng)
	pods, pgs := Busy(f, cfg.Busy, rng)
	c := Case{Name: largeName, Scenario: scenario.Scenario{Fleet: f, Pods: pods, PodGroups: pgs}, Shapes: shapes, Used: usedGPUs(pods)}
	for i, s := range shapes {
		c.Scenario.Groups = append(c.Scenario.Groups, s.ServingGroup(fmt.Sprintf("u%04d-%s", i, s.Name)))
	}
	return c
}

// smallShapes are the shapes whose every role is at its minimum (every
// instance is part of the gang), so that each configuration places the
// same pods of a unit and the search places exactly those.
func smallShapes() []Shape {
	var out []Shape
	for _, s := range Shapes {
		if !slices.ContainsFunc(s.Roles, func(r Role) bool { return r.Replicas != r.Min }) {
			out = append(out, s)
		}
	}
	return out
}

// smallCase: two racks of SmallNodes/2 nodes, domains of 2, 8 GPUs, an H100
// and an H200 rack, a quarter of the nodes partly busy, and units adding
// up to at most about half of the free GPUs (and 14 pods, for the search).
func smallCase(name string, cfg Config, rng *rand.Rand) Case {
	f := localcluster.Fleet{Racks: 2, NodesPerRack: cfg.SmallNodes / 2, DomainSize: 2, GPUsPerNode: 8,
		Products: Products, CPU: "96", Memory: "1Ti"}
	pods, pgs := Busy(f, 0.25, rng)
	used := usedGPUs(pods)
	free := len(f.Nodes()) * f.GPUsPerNode
	for _, g := range used {
		free -= g
	}
	shapes := smallShapes()
	c := Case{Name: name, Scenario: scenario.Scenario{Fleet: f, Pods: pods, PodGroups: pgs}, Used: used}
	gpus, npods := 0, 0
	for tries := 0; tries < 50 && len(c.Shapes) < 6; tries++ {
		s := shapes[rng.IntN(len(shapes))]
		n := 0
		for _, r := range s.Roles {
			n += int(r.Replicas * r.Size)
		}
		if gpus+s.GPUs() > free/2 || npods+n > 14 {
			continue
		}
		gpus, npods = gpus+s.GPUs(), npods+n
		c.Shapes = append(c.Shapes, s)
		c.Scenario.Groups = append(c.Scenario.Groups, s.ServingGroup(fmt.Sprintf("u%d-%s", len(c.Shapes)-1, s.Name)))
	}
	return c
}

// usedGPUs sums the GPUs the pods request per node.
func usedGPUs(pods []*corev1.Pod) map[string]int {
	out := map[string]int{}
	for _, p := range pods {
		out[p.Spec.NodeName] += int(gpuRequest(p))
	}
	return out
}
