package localcluster

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	topologyv1alpha1 "volcano.sh/apis/pkg/apis/topology/v1alpha1"
)

func TestFleetValidate(t *testing.T) {
	good := DefaultFleet()
	cases := map[string]struct {
		mutate  func(*Fleet)
		wantErr bool
	}{
		"default is valid":            {mutate: func(*Fleet) {}},
		"no racks":                    {mutate: func(f *Fleet) { f.Racks = 0 }, wantErr: true},
		"domain does not divide rack": {mutate: func(f *Fleet) { f.NodesPerRack, f.DomainSize = 4, 3 }, wantErr: true},
		"no products":                 {mutate: func(f *Fleet) { f.Products = nil }, wantErr: true},
		"bad memory":                  {mutate: func(f *Fleet) { f.Memory = "lots" }, wantErr: true},
		"CPU-only nodes":              {mutate: func(f *Fleet) { f.GPUsPerNode = 0 }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := good
			tc.mutate(&f)
			if err := f.Validate(); (err != nil) != tc.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestFleetNodes(t *testing.T) {
	f := Fleet{Racks: 2, NodesPerRack: 2, DomainSize: 1, GPUsPerNode: 8, Products: []string{"H100", "H200"}, CPU: "8", Memory: "64Gi"}
	nodes := f.Nodes()
	type summary struct{ Name, Product, Rack, Domain, GPUs string }
	var got []summary
	for _, n := range nodes {
		gpus := n.Status.Allocatable[GPUResource]
		got = append(got, summary{n.Name, n.Labels[GPUProductLabel], n.Labels[RackLabel], n.Labels[DomainLabel], gpus.String()})
		if n.Annotations[KwokNodeAnnotation] != "fake" {
			t.Errorf("node %s lacks the kwok annotation", n.Name)
		}
	}
	want := []summary{
		{"gpu-r0-n0", "H100", "rack-0", "domain-r0-d0", "8"},
		{"gpu-r0-n1", "H100", "rack-0", "domain-r0-d1", "8"},
		{"gpu-r1-n0", "H200", "rack-1", "domain-r1-d0", "8"},
		{"gpu-r1-n1", "H200", "rack-1", "domain-r1-d1", "8"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
}

func TestFleetHyperNodes(t *testing.T) {
	f := Fleet{Racks: 2, NodesPerRack: 4, DomainSize: 2, GPUsPerNode: 8, Products: []string{"H100"}, CPU: "8", Memory: "64Gi"}
	type summary struct {
		Name    string
		Tier    int
		Kind    topologyv1alpha1.MemberType
		Members []string
	}
	var got []summary
	for _, hn := range f.HyperNodes() {
		s := summary{Name: hn.Name, Tier: hn.Spec.Tier}
		for _, m := range hn.Spec.Members {
			s.Kind = m.Type
			s.Members = append(s.Members, m.Selector.ExactMatch.Name)
		}
		got = append(got, s)
	}
	want := []summary{
		{"domain-r0-d0", 1, "Node", []string{"gpu-r0-n0", "gpu-r0-n1"}},
		{"domain-r0-d1", 1, "Node", []string{"gpu-r0-n2", "gpu-r0-n3"}},
		{"rack-0", 2, "HyperNode", []string{"domain-r0-d0", "domain-r0-d1"}},
		{"domain-r1-d0", 1, "Node", []string{"gpu-r1-n0", "gpu-r1-n1"}},
		{"domain-r1-d1", 1, "Node", []string{"gpu-r1-n2", "gpu-r1-n3"}},
		{"rack-1", 2, "HyperNode", []string{"domain-r1-d0", "domain-r1-d1"}},
		{"spine", 3, "HyperNode", []string{"rack-0", "rack-1"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("HyperNodes (-want +got):\n%s", diff)
	}
}
