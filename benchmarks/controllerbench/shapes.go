package controllerbench

import (
	"fmt"
	"math/rand/v2"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// Role is one role of a benchmark shape: Replicas instances of Size pods,
// each pod asking for one GPU.
type Role struct {
	Name     string
	Replicas int32
	Size     int32
}

// Shape is a kind of ServingGroup the benchmark creates.
type Shape struct {
	Name  string
	Units int32
	Roles []Role
}

// Pods is the number of pods a group of this shape runs.
func (s Shape) Pods() int {
	per := 0
	for _, r := range s.Roles {
		per += int(r.Replicas * r.Size)
	}
	return per * int(s.Units)
}

// Shapes are the mixed deployments the benchmark creates in equal numbers:
// 2 + 4 + 4 + 6 pods, four on average, covering disaggregated and
// aggregated serving, multi-unit groups and two-pod tensor-parallel
// instances (whose sub-gangs the scheduler must place whole).
var Shapes = []Shape{
	{Name: "pd", Units: 1, Roles: []Role{{"prefill", 1, 1}, {"decode", 1, 1}}},
	{Name: "tp2", Units: 2, Roles: []Role{{"engine", 1, 2}}},
	{Name: "pd-tp2", Units: 1, Roles: []Role{{"prefill", 2, 1}, {"decode", 1, 2}}},
	{Name: "pd-2u", Units: 2, Roles: []Role{{"prefill", 1, 1}, {"decode", 2, 1}}},
}

// Assign picks the shape of each of n groups: the shapes in equal turns,
// in an order shuffled by seed. Every seed gives the same count of each
// shape (so the same pod total); only the order of creation differs.
func Assign(n int, seed uint64) []Shape {
	out := make([]Shape, n)
	for i := range out {
		out[i] = Shapes[i%len(Shapes)]
	}
	rng := rand.New(rand.NewPCG(seed, 0x7a6e64656d))
	rng.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// TotalPods sums the pods of the shapes.
func TotalPods(shapes []Shape) int {
	n := 0
	for _, s := range shapes {
		n += s.Pods()
	}
	return n
}

// TotalUnits sums the units of the shapes.
func TotalUnits(shapes []Shape) int {
	n := 0
	for _, s := range shapes {
		n += int(s.Units)
	}
	return n
}

// GroupName is the name of the i-th benchmark group.
func GroupName(i int) string { return fmt.Sprintf("bench-%04d", i) }

// Engine pod requests: a slice of a 96-core, 1 TiB fake node per GPU.
const (
	podCPU    = "8"
	podMemory = "64Gi"
)

// ServingGroup renders group i of shape s in namespace ns.
func ServingGroup(ns string, i int, s Shape) *v1alpha1.ServingGroup {
	units := s.Units
	sg := &v1alpha1.ServingGroup{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ServingGroup"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      GroupName(i),
			Namespace: ns,
			Labels:    map[string]string{"tandem.dev/bench-shape": s.Name},
		},
		Spec: v1alpha1.ServingGroupSpec{
			Replicas:         &units,
			Engine:           v1alpha1.EngineSpec{Kind: v1alpha1.EngineVLLM},
			ServedModelNames: []string{"bench-model"},
		},
	}
	for _, r := range s.Roles {
		sg.Spec.Roles = append(sg.Spec.Roles, v1alpha1.RoleSpec{
			Name:        r.Name,
			Replicas:    r.Replicas,
			Size:        r.Size,
			Accelerator: &v1alpha1.AcceleratorSpec{Resource: string(localcluster.GPUResource), Count: 1},
			Template:    podTemplate(r.Name),
		})
	}
	return sg
}

func podTemplate(role string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  "engine",
				Image: "vllm/vllm-openai:v0.11.0",
				Args:  []string{"--model", "bench-model", "--role", role},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse(podCPU),
					corev1.ResourceMemory: resource.MustParse(podMemory),
				}},
			}},
		},
	}
}

// Fleet sizing defaults: racks of 16 nodes in NVLink-like domains of 4,
// 8 GPUs a node, and 10 % more GPUs than the pods ask for so the last
// gangs are not placed into a perfectly full cluster.
const (
	DefaultNodesPerRack = 16
	DefaultGPUsPerNode  = 8
	fleetDomainSize     = 4
	fleetHeadroom       = 1.1
)

// FleetFor returns a fleet with room for gpus one-GPU pods plus headroom.
// Zero arguments take the defaults; racks, when zero, is derived.
func FleetFor(gpus, racks, nodesPerRack, gpusPerNode int) localcluster.Fleet {
	f := localcluster.DefaultFleet()
	if nodesPerRack == 0 {
		nodesPerRack = DefaultNodesPerRack
	}
	if gpusPerNode == 0 {
		gpusPerNode = DefaultGPUsPerNode
	}
	if racks == 0 {
		nodes := ceilDiv(int(float64(gpus)*fleetHeadroom+0.5), gpusPerNode)
		racks = max(1, ceilDiv(nodes, nodesPerRack))
	}
	f.Racks, f.NodesPerRack, f.GPUsPerNode = racks, nodesPerRack, gpusPerNode
	f.DomainSize = 1
	if nodesPerRack%fleetDomainSize == 0 {
		f.DomainSize = fleetDomainSize
	}
	return f
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
