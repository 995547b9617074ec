package localcluster

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	topologyv1alpha1 "volcano.sh/apis/pkg/apis/topology/v1alpha1"
)

// Labels and annotations on the fake accelerator nodes.
const (
	// KwokNodeAnnotation marks the nodes kwok manages; nodes without it are
	// left alone.
	KwokNodeAnnotation = "kwok.x-k8s.io/node"
	// GPUProductLabel is the label NVIDIA's GPU feature discovery sets.
	GPUProductLabel = "nvidia.com/gpu.product"
	// GPUResource is the extended resource name of an NVIDIA GPU.
	GPUResource corev1.ResourceName = "nvidia.com/gpu"
	// RackLabel and DomainLabel name the rack and the tier-1 interconnect
	// domain (e.g. an NVLink group) a node belongs to.
	RackLabel   = "tandem.dev/rack"
	DomainLabel = "tandem.dev/domain"
)

// Fleet describes the fake accelerator cluster: Racks racks of NodesPerRack
// nodes, grouped DomainSize nodes at a time into tier-1 HyperNodes (nodes
// sharing a fast interconnect), one tier-2 HyperNode per rack and a single
// tier-3 spine over all racks.
type Fleet struct {
	Racks        int
	NodesPerRack int
	DomainSize   int
	GPUsPerNode  int
	// Products are GPU product label values assigned to racks in turn
	// (rack i gets Products[i % len(Products)]).
	Products []string
	CPU      string
	Memory   string
}

// DefaultFleet is a small mixed H100/H200 cluster: 2 racks of 4 nodes, 8
// GPUs each, NVLink domains of 2 nodes.
func DefaultFleet() Fleet {
	return Fleet{
		Racks: 2, NodesPerRack: 4, DomainSize: 2, GPUsPerNode: 8,
		Products: []string{"NVIDIA-H100-80GB-HBM3", "NVIDIA-H200"},
		CPU:      "96", Memory: "1Ti",
	}
}

// Validate reports the first setting that cannot describe a cluster.
func (f Fleet) Validate() error {
	switch {
	case f.Racks < 1:
		return fmt.Errorf("racks must be at least 1, got %d", f.Racks)
	case f.NodesPerRack < 1:
		return fmt.Errorf("nodes per rack must be at least 1, got %d", f.NodesPerRack)
	case f.DomainSize < 1 || f.NodesPerRack%f.DomainSize != 0:
		return fmt.Errorf("domain size must divide nodes per rack (%d), got %d", f.NodesPerRack, f.DomainSize)
	case f.GPUsPerNode < 0:
		return fmt.Errorf("GPUs per node must not be negative, got %d", f.GPUsPerNode)
	case len(f.Products) == 0:
		return fmt.Errorf("at least one GPU product is needed")
	}
	for _, q := range []string{f.CPU, f.Memory} {
		if _, err := resource.ParseQuantity(q); err != nil {
			return fmt.Errorf("bad resource quantity %q: %w", q, err)
		}
	}
	return nil
}

// NodeName is the name of node n (0-based) of rack r.
func NodeName(r, n int) string { return fmt.Sprintf("gpu-r%d-n%d", r, n) }

func domainName(r, d int) string { return fmt.Sprintf("domain-r%d-d%d", r, d) }
func rackName(r int) string      { return fmt.Sprintf("rack-%d", r) }

// SpineName is the tier-3 HyperNode that holds every rack.
const SpineName = "spine"

// Nodes returns the fake nodes, capacity and allocatable set, marked for kwok.
func (f Fleet) Nodes() []corev1.Node {
	var nodes []corev1.Node
	for r := 0; r < f.Racks; r++ {
		for n := 0; n < f.NodesPerRack; n++ {
			res := corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse(f.CPU),
				corev1.ResourceMemory: resource.MustParse(f.Memory),
				corev1.ResourcePods:   resource.MustParse("110"),
				GPUResource:           *resource.NewQuantity(int64(f.GPUsPerNode), resource.DecimalSI),
			}
			nodes = append(nodes, corev1.Node{
				ObjectMeta: metav1.ObjectMeta{
					Name:        NodeName(r, n),
					Annotations: map[string]string{KwokNodeAnnotation: "fake"},
					Labels: map[string]string{
						corev1.LabelHostname: NodeName(r, n),
						"type":               "kwok",
						GPUProductLabel:      f.Products[r%len(f.Products)],
						RackLabel:            rackName(r),
						DomainLabel:          domainName(r, n/f.DomainSize),
					},
				},
				Status: corev1.NodeStatus{Capacity: res, Allocatable: res.DeepCopy()},
			})
		}
	}
	return nodes
}

// HyperNodes returns Volcano's view of the network: tier 1 per domain, tier
// 2 per rack, tier 3 for the spine.
func (f Fleet) HyperNodes() []topologyv1alpha1.HyperNode {
	var out []topologyv1alpha1.HyperNode
	var racks []string
	for r := 0; r < f.Racks; r++ {
		var domains []string
		for d := 0; d < f.NodesPerRack/f.DomainSize; d++ {
			var nodes []string
			for n := d * f.DomainSize; n < (d+1)*f.DomainSize; n++ {
				nodes = append(nodes, NodeName(r, n))
			}
			out = append(out, hyperNode(domainName(r, d), 1, topologyv1alpha1.MemberTypeNode, nodes))
			domains = append(domains, domainName(r, d))
		}
		out = append(out, hyperNode(rackName(r), 2, topologyv1alpha1.MemberTypeHyperNode, domains))
		racks = append(racks, rackName(r))
	}
	return append(out, hyperNode(SpineName, 3, topologyv1alpha1.MemberTypeHyperNode, racks))
}

func hyperNode(name string, tier int, kind topologyv1alpha1.MemberType, members []string) topologyv1alpha1.HyperNode {
	hn := topologyv1alpha1.HyperNode{
		TypeMeta:   metav1.TypeMeta{APIVersion: topologyv1alpha1.SchemeGroupVersion.String(), Kind: "HyperNode"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       topologyv1alpha1.HyperNodeSpec{Tier: tier},
	}
	for _, m := range members {
		hn.Spec.Members = append(hn.Spec.Members, topologyv1alpha1.MemberSpec{
			Type:     kind,
			Selector: topologyv1alpha1.MemberSelector{ExactMatch: &topologyv1alpha1.ExactMatch{Name: m}},
		})
	}
	return hn
}
