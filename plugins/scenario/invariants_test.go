package scenario

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// checkFleet: 2 racks of 4 nodes, tier-1 domains of 2, 8 GPUs a node,
// rack 0 H100 and rack 1 H200.
var checkFleet = localcluster.Fleet{Racks: 2, NodesPerRack: 4, DomainSize: 2, GPUsPerNode: 8,
	Products: []string{"H100", "H200"}, CPU: "96", Memory: "1Ti"}

// result builds a Result from the planned objects and the given
// placements, as if a session had made them.
func result(t *testing.T, s Scenario, placed map[string]string) *Result {
	t.Helper()
	pods, pgs, err := s.objects()
	if err != nil {
		t.Fatal(err)
	}
	r := &Result{Placed: map[string]string{}, Pods: map[string]*corev1.Pod{}, PodGroups: map[string]*schedulingv1beta1.PodGroup{}}
	for _, p := range pods {
		key := p.Namespace + "/" + p.Name
		r.Pods[key] = p
		r.Placed[key] = placed[key]
	}
	for _, pg := range pgs {
		r.PodGroups[pg.Namespace+"/"+pg.Name] = pg
	}
	return r
}

func TestCheck(t *testing.T) {
	pd := testutil.MakeServingGroup("pd").Namespace("s").
		Role(testutil.MakeRole("prefill").Replicas(2).MinReplicas(1).GPU(8).Obj()).
		Role(testutil.MakeRole("decode").GPU(8, "H200").Obj()).Obj()
	tp := testutil.MakeServingGroup("tp").Namespace("s").Topology(1, 2, v1alpha1.TopologyHard).
		Role(testutil.MakeRole("engine").Size(2).GPU(4).Obj()).Obj()
	busy, busyPG := RunningPod("busy", "gpu-r1-n0", 4)
	cases := map[string]struct {
		groups []*v1alpha1.ServingGroup
		extra  bool // add the running pod "busy" on gpu-r1-n0 (4 GPUs)
		placed map[string]string
		want   []string // one substring per expected violation, in order
	}{
		"nothing placed": {groups: []*v1alpha1.ServingGroup{pd}},
		"minimum placed": {
			groups: []*v1alpha1.ServingGroup{pd},
			placed: map[string]string{"s/pd-0-prefill-1-0": "gpu-r0-n0", "s/pd-0-decode-0-0": "gpu-r1-n0"},
		},
		"role below its minimum": {
			groups: []*v1alpha1.ServingGroup{pd},
			placed: map[string]string{"s/pd-0-prefill-0-0": "gpu-r0-n0", "s/pd-0-prefill-1-0": "gpu-r0-n1"},
			want:   []string{"unit s/pd-0: partial, role decode has 0 of 1 whole instances"},
		},
		"accelerator type not matched": {
			groups: []*v1alpha1.ServingGroup{pd},
			placed: map[string]string{"s/pd-0-prefill-0-0": "gpu-r0-n0", "s/pd-0-decode-0-0": "gpu-r0-n1"},
			want:   []string{"pod s/pd-0-decode-0-0: node gpu-r0-n1 (nvidia.com/gpu.product=H100) does not match"},
		},
		"GPUs over-committed": {
			groups: []*v1alpha1.ServingGroup{pd},
			extra:  true,
			placed: map[string]string{"s/pd-0-prefill-0-0": "gpu-r0-n0", "s/pd-0-decode-0-0": "gpu-r1-n0", "batch/busy": "gpu-r1-n0"},
			want:   []string{"node gpu-r1-n0: nvidia.com/gpu over-committed, 12 requested of 8"},
		},
		"instance placed in part": {
			groups: []*v1alpha1.ServingGroup{tp},
			placed: map[string]string{"s/tp-0-engine-0-0": "gpu-r0-n0"},
			want: []string{
				"unit s/tp-0: partial, 1 of minMember 2 pods placed",
				"unit s/tp-0: partial, role engine has 0 of 1 whole instances",
				"unit s/tp-0: role engine: instance tp-0-engine-0 placed in part, 1 of 2 pods",
			},
		},
		"hard instance tier kept": {
			groups: []*v1alpha1.ServingGroup{tp},
			placed: map[string]string{"s/tp-0-engine-0-0": "gpu-r0-n0", "s/tp-0-engine-0-1": "gpu-r0-n1"},
		},
		"hard instance and unit tiers broken": {
			groups: []*v1alpha1.ServingGroup{tp},
			placed: map[string]string{"s/tp-0-engine-0-0": "gpu-r0-n0", "s/tp-0-engine-0-1": "gpu-r1-n2"},
			want: []string{
				`unit s/tp-0: hard unit topology broken, nodes gpu-r0-n0 (tier-2 "rack-0") and gpu-r1-n2 (tier-2 "rack-1") differ`,
				`unit s/tp-0: role engine: hard instance topology broken for tp-0-engine-0, nodes gpu-r0-n0 (tier-1 "domain-r0-d0") and gpu-r1-n2 (tier-1 "domain-r1-d1") differ`,
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := Scenario{Fleet: checkFleet, Groups: tc.groups}
			if tc.extra {
				s.Pods, s.PodGroups = []*corev1.Pod{busy}, []*schedulingv1beta1.PodGroup{busyPG}
			}
			got := Check(checkFleet, result(t, s, tc.placed))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d violations, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("violation %d = %q, want it to contain %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}
