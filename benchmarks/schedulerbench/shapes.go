package schedulerbench

import (
	"fmt"
	"math/rand/v2"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	schedulingv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
	"github.com/tandem-serving/tandem/plugins/scenario"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// Role is one role of a unit shape: Replicas instances (at least Min) of
// Size pods with GPUs each, optionally of the given product.
type Role struct {
	Name                     string
	Replicas, Min, Size, GPU int32
	Types                    []string
}

// Shape is a kind of unit. Each generated ServingGroup has one unit.
type Shape struct {
	Name  string
	Roles []Role
	// InstanceTier and UnitTier (0: unset) with Mode, as in the
	// ServingGroup's topology.
	InstanceTier, UnitTier int32
	Mode                   v1alpha1.TopologyMode
	// Weight is the shape's share of the mix.
	Weight int
}

// GPUs a unit of this shape asks for with every instance placed.
func (s Shape) GPUs() int {
	n := 0
	for _, r := range s.Roles {
		n += int(r.Replicas * r.Size * r.GPU)
	}
	return n
}

// Products on the fleet's racks, in turn.
var Products = []string{"H100", "H200"}

// Shapes is the mix of units, about 10.6 GPUs a unit on average:
// disaggregated units small and large (decode on H200 for one), a
// tensor-parallel P/D unit held in a rack with each two-node instance in
// one tier-1 domain, an aggregated tensor-parallel engine, and one-GPU
// engines that fragment nodes. Every instance is part of its unit's gang,
// so two configurations that place the same units place the same GPUs and
// their whole free domains compare directly (see Elastic for the other
// case).
var Shapes = []Shape{
	{Name: "1p1d", Weight: 3, UnitTier: 2, Mode: v1alpha1.TopologySoft,
		Roles: []Role{{"prefill", 1, 1, 1, 4, nil}, {"decode", 1, 1, 1, 4, nil}}},
	{Name: "2p1d", Weight: 2,
		Roles: []Role{{"prefill", 2, 2, 1, 2, nil}, {"decode", 1, 1, 1, 4, nil}}},
	{Name: "2p2d-h200", Weight: 1,
		Roles: []Role{{"prefill", 2, 2, 1, 4, nil}, {"decode", 2, 2, 1, 4, []string{"H200"}}}},
	{Name: "pd-tp2", Weight: 1, InstanceTier: 1, UnitTier: 2, Mode: v1alpha1.TopologyHard,
		Roles: []Role{{"prefill", 1, 1, 2, 8, nil}, {"decode", 2, 2, 1, 8, nil}}},
	{Name: "tp2", Weight: 1, InstanceTier: 1, Mode: v1alpha1.TopologyHard,
		Roles: []Role{{"engine", 1, 1, 2, 8, nil}}},
	{Name: "agg1", Weight: 2,
		Roles: []Role{{"engine", 1, 1, 1, 1, nil}}},
}

// Namespace holds the benchmark's units.
const Namespace = "bench"

// Engine pod requests per GPU: a share of the fake node's 96 cores and
// 1 TiB, so CPU and memory follow the GPUs without binding first.
const (
	cpuPerGPU    = "8"
	memoryPerGPU = "64Gi"
)

// Elastic is Shapes with pd-tp2's second decode instance optional
// (minReplicas 1 of 2): placed when room allows, after the gang.
func Elastic() []Shape {
	out := slices.Clone(Shapes)
	for i := range out {
		if out[i].Name != "pd-tp2" {
			continue
		}
		out[i].Name = "pd-tp2-elastic"
		out[i].Roles = slices.Clone(out[i].Roles)
		for j := range out[i].Roles {
			if out[i].Roles[j].Name == "decode" {
				out[i].Roles[j].Min = 1
			}
		}
	}
	return out
}

// Mix returns the shapes of n units drawn from shapes: in proportion to
// their weights, in an order shuffled by rng.
func Mix(n int, shapes []Shape, rng *rand.Rand) []Shape {
	var deck []Shape
	for _, s := range shapes {
		for range s.Weight {
			deck = append(deck, s)
		}
	}
	out := make([]Shape, n)
	for i := range out {
		out[i] = deck[i%len(deck)]
	}
	rng.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// ServingGroup renders a one-unit ServingGroup of the shape, each pod
// asking for its GPUs and a matching share of CPU and memory.
func (s Shape) ServingGroup(name string) *v1alpha1.ServingGroup {
	w := testutil.MakeServingGroup(name).Namespace(Namespace).Replicas(1)
	for _, r := range s.Roles {
		role := testutil.MakeRole(r.Name).Replicas(r.Replicas).MinReplicas(r.Min).Size(r.Size).GPU(r.GPU, r.Types...)
		role.Requests(scaled(cpuPerGPU, r.GPU), scaled(memoryPerGPU, r.GPU))
		w.Role(role.Obj())
	}
	if s.InstanceTier > 0 || s.UnitTier > 0 {
		w.Topology(s.InstanceTier, s.UnitTier, s.Mode)
	}
	return w.Obj()
}

func scaled(perGPU string, gpus int32) string {
	q := resource.MustParse(perGPU)
	q.Mul(int64(gpus))
	return q.String()
}

// Busy puts batch pods already running on a fraction of the nodes, each
// using 1 to GPUsPerNode-1 GPUs, so the session starts from a partly used,
// fragmented cluster as a real one would.
func Busy(f localcluster.Fleet, fraction float64, rng *rand.Rand) ([]*corev1.Pod, []*schedulingv1beta1.PodGroup) {
	nodes := f.Nodes()
	rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	var pods []*corev1.Pod
	var pgs []*schedulingv1beta1.PodGroup
	if f.GPUsPerNode < 2 {
		return nil, nil
	}
	for i := range int(fraction * float64(len(nodes))) {
		pod, pg := scenario.RunningPod(fmt.Sprintf("busy-%04d", i), nodes[i].Name, int64(1+rng.IntN(f.GPUsPerNode-1)))
		pods, pgs = append(pods, pod), append(pgs, pg)
	}
	return pods, pgs
}
