package schedulerbench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/plugins/scenario"
	"github.com/tandem-serving/tandem/plugins/tandem"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// CaseScale selects the scale case (scale.go): tandem-allocate against
// Volcano's allocate with the same plugins.
const CaseScale = "scale"

// The two configurations of the scale case: the same plugins (stock and
// tandem), and either Volcano's allocate alone or tandem-allocate before
// it, as the shipped config lists them.
var (
	volcanoActions = []string{"allocate"}
	tandemActions  = []string{tandem.AllocateActionName, "allocate"}
)

// NVLShapes is the unit mix of the NVL72-style fleet (4 GPUs a node,
// tier-1 domains of 18 nodes): the P/D and one-GPU shapes of Shapes, a
// tensor-parallel engine of two 4-GPU nodes in one domain, and an
// instance that takes a whole domain (TP 72 over 18 nodes).
func NVLShapes(domainSize int32) []Shape {
	return []Shape{
		Shapes[0], Shapes[1], Shapes[2],
		{Name: "tp2x4", Weight: 1, InstanceTier: 1, Mode: v1alpha1.TopologyHard,
			Roles: []Role{{"engine", 1, 1, 2, 4, nil}}},
		Shapes[5],
		{Name: fmt.Sprintf("tp%d-domain", domainSize*4), Weight: 1, InstanceTier: 1, Mode: v1alpha1.TopologyHard,
			Roles: []Role{{"engine", 1, 1, domainSize, 4, nil}}},
	}
}

// ScaleCase is one fleet and size of the scale case.
type ScaleCase struct {
	Case
	Fleet string // "8-GPU" or "NVL72"
}

// ScaleResult holds every session of one scale case.
type ScaleResult struct {
	ScaleCase
	Volcano, Tandem []Measurement
	// Optimum is set for the small cases.
	Optimum *Optimum
}

// scaleCases are the large cases at each size of -scale-nodes for both
// fleets, units in proportion to GPUs (cfg.Units per cfg.Nodes × 8 GPUs).
func scaleCases(cfg Config, rng *rand.Rand) ([]ScaleCase, error) {
	var out []ScaleCase
	perGPU := float64(cfg.Units) / float64(cfg.Nodes*cfg.GPUsPerNode)
	for _, nodes := range cfg.ScaleNodes {
		for _, fleet := range []string{"8-GPU", "NVL72"} {
			f := localcluster.Fleet{Racks: nodes / cfg.NodesPerRack, NodesPerRack: cfg.NodesPerRack, DomainSize: cfg.DomainSize,
				GPUsPerNode: cfg.GPUsPerNode, Products: Products, CPU: "96", Memory: "1Ti"}
			mix := Shapes
			if fleet == "NVL72" {
				// Racks of 4 domains of 18 nodes, the nearest whole racks.
				f.NodesPerRack, f.DomainSize, f.GPUsPerNode = 72, 18, 4
				f.Racks = int(math.Round(float64(nodes) / 72))
				mix = NVLShapes(18)
			} else if nodes%cfg.NodesPerRack != 0 {
				return nil, fmt.Errorf("-scale-nodes %d: not a multiple of -nodes-per-rack %d", nodes, cfg.NodesPerRack)
			}
			if err := f.Validate(); err != nil {
				return nil, err
			}
			n := f.Racks * f.NodesPerRack
			units := int(math.Round(perGPU * float64(n*f.GPUsPerNode)))
			shapes := Mix(units, mix, rng)
			pods, pgs := Busy(f, cfg.Busy, rng)
			name := fmt.Sprintf("%s-%d", fleet, n)
			c := Case{Name: name, Scenario: scenario.Scenario{Fleet: f, Pods: pods, PodGroups: pgs}, Shapes: shapes, Used: usedGPUs(pods)}
			for i, s := range shapes {
				c.Scenario.Groups = append(c.Scenario.Groups, s.ServingGroup(fmt.Sprintf("u%05d-%s", i, s.Name)))
			}
			out = append(out, ScaleCase{Case: c, Fleet: fleet})
		}
	}
	return out, nil
}

// RunScale runs the scale case: for each fleet and size, sessions with
// Volcano's allocate and with tandem-allocate, alternating; then the
// placement run's small cases (the same seed gives the same cases) both
// ways, against their optimum.
func RunScale(ctx context.Context, cfg Config) ([]ScaleResult, error) {
	cases, err := scaleCases(cfg, newRand(cfg.Seed))
	if err != nil {
		return nil, err
	}
	// The small cases of the placement run: its generator, in its order.
	prng := rand.New(rand.NewPCG(cfg.Seed, 0x5c4ed))
	f, err := cfg.LargeFleet()
	if err != nil {
		return nil, err
	}
	_ = largeCase(f, cfg, prng)
	for i := range cfg.SmallCases {
		cases = append(cases, ScaleCase{Case: smallCase(fmt.Sprintf("small-%d", i+1), cfg, prng), Fleet: "small"})
	}
	args := pluginArgs(cfg.GPUBinpack)
	if cfg.TandemArgs != nil {
		args[tandem.Name] = cfg.TandemArgs
	}
	var out []ScaleResult
	for _, c := range cases {
		res := ScaleResult{ScaleCase: c}
		topo := scenario.Topology(c.Scenario.Fleet)
		runs := cfg.Runs
		if c.Fleet != "small" && len(c.Scenario.Fleet.Nodes()) > cfg.VolcanoMaxNodes {
			runs = min(runs, 1)
		}
		for run := range cfg.Runs {
			for _, withTandem := range []bool{true, false} {
				if err := ctx.Err(); err != nil {
					return out, err
				}
				if !withTandem && (run >= runs || cfg.NoVolcano) {
					continue // Volcano's allocate is too slow here for more than one run
				}
				s := c.Scenario
				s.Arguments = args
				s.Actions = volcanoActions
				name := "volcano"
				if withTandem {
					s.Actions, name = tandemActions, "tandem"
				}
				r, err := s.Run()
				if err != nil {
					return out, fmt.Errorf("%s: %w", c.Name, err)
				}
				m := Measure(s.Fleet, topo, r)
				m.TandemAllocate = r.Timing.Actions[tandem.AllocateActionName]
				if withTandem {
					res.Tandem = append(res.Tandem, m)
				} else {
					res.Volcano = append(res.Volcano, m)
				}
				cfg.logf("%s run %d %-7s: session %v (tandem-allocate %v, allocate %v), %d/%d units, P↔D %.3f, %d free domains, %d violations",
					c.Name, run+1, name, m.Session.Round(time.Millisecond), m.TandemAllocate.Round(time.Millisecond), m.Allocate.Round(time.Millisecond),
					m.Placed, m.Units, m.PD, m.FreeDomains, len(m.Violations))
			}
		}
		if c.Fleet == "small" {
			p := newProblem(c.Scenario.Fleet, topo, c.Used, c.Shapes)
			o := p.optimum(cfg.SearchBudget)
			res.Optimum = &o
		}
		out = append(out, res)
	}
	return out, nil
}

// newRand is the scale case's generator for a seed.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5ca1e)) }

// Exponent is the growth exponent of session time from (n1, t1) to
// (n2, t2): t ∝ n^e.
func Exponent(n1, n2 int, t1, t2 time.Duration) float64 {
	if n1 <= 0 || n2 <= 0 || n1 == n2 || t1 <= 0 || t2 <= 0 {
		return math.NaN()
	}
	return math.Log(float64(t2)/float64(t1)) / math.Log(float64(n2)/float64(n1))
}
