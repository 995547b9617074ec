package tandem_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
	"github.com/tandem-serving/tandem/plugins/scenario"
	"github.com/tandem-serving/tandem/test/localcluster"
)

var (
	randomSeed  = flag.Uint64("random.seed", 0, "TestRandomPlacementsKeepInvariants: run only this seed")
	randomCount = flag.Int("random.iterations", 40, "TestRandomPlacementsKeepInvariants: seeds 1..n")
)

// TestRandomPlacementsKeepInvariants generates fleets (racks, domain sizes,
// GPUs per node, GPU products) and ServingGroups (1–3 roles, replicas and
// minReplicas, size 1–2, GPU counts, optional types, optional hard or soft
// instance/unit tiers, spread), with some GPUs already in use, runs one
// allocate cycle with Tandem's plugin, and checks scenario.Check's
// invariants: no partial unit or instance, hard topology kept, no GPU
// over-committed, accelerator types respected. Each seed is a subtest
// (seed=N); rerun one with -random.seed=N -v to see its input.
func TestRandomPlacementsKeepInvariants(t *testing.T) {
	seeds := []uint64{*randomSeed}
	if *randomSeed == 0 {
		seeds = seeds[:0]
		for i := 1; i <= *randomCount; i++ {
			seeds = append(seeds, uint64(i))
		}
	}
	// What the seeds exercised: units seen and placed, and among the placed
	// ones those under a hard topology and those with multi-pod instances.
	units, placedUnits, placedHard, placedMulti := 0, 0, 0, 0
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			g := &generator{r: rand.New(rand.NewPCG(seed, 0x7a4d3e))}
			s := g.scenario()
			t.Logf("input of seed %d:\n%s", seed, describeScenario(s))
			r, err := s.Run()
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			for _, v := range scenario.Check(s.Fleet, r) {
				t.Errorf("seed %d: %s", seed, v)
			}
			if t.Failed() {
				t.Logf("seed %d placements: %v", seed, r.Placed)
			}
			for _, pg := range r.PodGroups {
				if pg.Namespace == scenario.BatchNamespace {
					continue
				}
				units++
				if job := r.Jobs[pg.Name]; job == nil || job.ReadyTaskNum() == 0 {
					continue
				}
				placedUnits++
				if hasHardTopology(pg) {
					placedHard++
				}
				for _, p := range pg.Spec.SubGroupPolicy {
					if *p.SubGroupSize > 1 {
						placedMulti++
						break
					}
				}
			}
		})
	}
	// A generator that places nothing, or everything, would check little.
	t.Logf("%d of %d units placed over %d seeds; of those placed, %d under a hard topology, %d with multi-pod instances",
		placedUnits, units, len(seeds), placedHard, placedMulti)
	if len(seeds) > 10 && (placedUnits == 0 || placedUnits == units) {
		t.Errorf("%d of %d units placed: the generated cases do not contend for capacity", placedUnits, units)
	}
}

func hasHardTopology(pg *schedulingv1beta1.PodGroup) bool {
	hard := func(nt *schedulingv1beta1.NetworkTopologySpec) bool {
		return nt != nil && nt.Mode == schedulingv1beta1.HardNetworkTopologyMode
	}
	if hard(pg.Spec.NetworkTopology) {
		return true
	}
	for _, p := range pg.Spec.SubGroupPolicy {
		if hard(p.NetworkTopology) {
			return true
		}
	}
	return false
}

var products = []string{"H100", "H200", "B200"}

type generator struct{ r *rand.Rand }

func (g *generator) pick(n int) int { return g.r.IntN(n) }

// chance is true with probability p.
func (g *generator) chance(p float64) bool { return g.r.Float64() < p }

func (g *generator) scenario() scenario.Scenario {
	f := g.fleet()
	s := scenario.Scenario{Fleet: f}
	for i := range 1 + g.pick(5) {
		s.Groups = append(s.Groups, g.group(fmt.Sprintf("g%d", i), f))
	}
	s.Pods, s.PodGroups = g.running(f)
	return s
}

// fleet: 1–4 racks of 2–8 nodes, tier-1 domains of a divisor of the rack,
// 4 or 8 GPUs a node, 1–3 products spread over the racks.
func (g *generator) fleet() localcluster.Fleet {
	perRack := []int{2, 4, 6, 8}[g.pick(4)]
	var sizes []int
	for d := 1; d <= perRack; d++ {
		if perRack%d == 0 {
			sizes = append(sizes, d)
		}
	}
	ps := append([]string(nil), products...)
	g.r.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	return localcluster.Fleet{
		Racks: 1 + g.pick(4), NodesPerRack: perRack, DomainSize: sizes[g.pick(len(sizes))],
		GPUsPerNode: []int{4, 8}[g.pick(2)], Products: ps[:1+g.pick(3)], CPU: "96", Memory: "1Ti",
	}
}

var roleNames = []string{"prefill", "decode", "embed"}

func (g *generator) group(name string, f localcluster.Fleet) *v1alpha1.ServingGroup {
	w := testutil.MakeServingGroup(name).Namespace("serve").Replicas(int32(1 + g.pick(3)))
	for _, role := range roleNames[:1+g.pick(3)] {
		replicas := int32(1 + g.pick(3))
		gpus := min([]int32{1, 2, 4, 8}[g.pick(4)], int32(f.GPUsPerNode))
		if g.chance(0.05) {
			gpus = int32(2 * f.GPUsPerNode) // fits no node
		}
		var types []string
		switch {
		case g.chance(0.05):
			types = []string{"B300"} // on no node
		case g.chance(0.3):
			types = []string{f.Products[g.pick(len(f.Products))]}
		case g.chance(0.1):
			types = []string{products[g.pick(3)], products[g.pick(3)]}
		}
		w.Role(testutil.MakeRole(role).Replicas(replicas).MinReplicas(int32(1+g.pick(int(replicas)))).
			Size(int32(1+g.pick(2))).GPU(gpus, types...).Obj())
	}
	if g.chance(0.5) {
		mode := v1alpha1.TopologyHard
		if g.chance(0.5) {
			mode = v1alpha1.TopologySoft
		}
		unit := int32(g.pick(4))     // 0: unset
		instance := int32(g.pick(3)) // 0: unset
		if unit > 0 && instance > unit {
			instance = unit
		}
		if unit == 0 && instance == 0 {
			unit = 1 + int32(g.pick(3))
		}
		w.Topology(instance, unit, mode)
	}
	if g.chance(0.15) {
		w.SpreadUnits()
	}
	return w.Obj()
}

// running puts batch pods on up to 4 distinct nodes, each within the
// node's GPUs.
func (g *generator) running(f localcluster.Fleet) ([]*corev1.Pod, []*schedulingv1beta1.PodGroup) {
	nodes := f.Nodes()
	g.r.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	var pods []*corev1.Pod
	var pgs []*schedulingv1beta1.PodGroup
	for i := range min(g.pick(5), len(nodes)) {
		pod, pg := scenario.RunningPod(fmt.Sprintf("busy-%d", i), nodes[i].Name, int64(1+g.pick(f.GPUsPerNode)))
		pods, pgs = append(pods, pod), append(pgs, pg)
	}
	return pods, pgs
}

func describeScenario(s scenario.Scenario) string {
	f := s.Fleet
	var b strings.Builder
	fmt.Fprintf(&b, "fleet: %d racks × %d nodes, domains of %d, %d GPUs, products %v\n",
		f.Racks, f.NodesPerRack, f.DomainSize, f.GPUsPerNode, f.Products)
	for _, sg := range s.Groups {
		fmt.Fprintf(&b, "group %s: %d units", sg.Name, *sg.Spec.Replicas)
		if t := sg.Spec.Topology; t != nil {
			fmt.Fprintf(&b, ", topology %s instanceTier %v unitTier %v spread %v", t.Mode, deref(t.InstanceTier), deref(t.UnitTier), t.SpreadUnits)
		}
		for _, r := range sg.Spec.Roles {
			fmt.Fprintf(&b, "; %s %d (min %d) × size %d × %d GPU %v", r.Name, r.Replicas, *r.MinReplicas, r.Size, r.Accelerator.Count, r.Accelerator.Types)
		}
		b.WriteString("\n")
	}
	for _, p := range s.Pods {
		q := p.Spec.Containers[0].Resources.Requests[localcluster.GPUResource]
		fmt.Fprintf(&b, "running %s on %s: %s GPU\n", p.Name, p.Spec.NodeName, q.String())
	}
	return b.String()
}

func deref(p *int32) any {
	if p == nil {
		return "-"
	}
	return *p
}
