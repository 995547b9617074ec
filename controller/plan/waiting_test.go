package plan

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
)

func gpus(n string) corev1.ResourceList {
	return corev1.ResourceList{"nvidia.com/gpu": resource.MustParse(n), corev1.ResourceCPU: resource.MustParse("4")}
}

const (
	b200Mismatch = "role decode needs accelerator NVIDIA-B200 (nvidia.com/gpu.product), node has "
	gangOf5      = "5/5 tasks in gang unschedulable: pod group is not ready, 5 Pending, 5 minAvailable; Pending: 5 Unschedulable"
)

func TestExplainWait(t *testing.T) {
	inRack := waitFacts{podGroup: "big-0", queue: "default", phase: schedv1beta1.PodGroupInqueue, tier: 2, hard: true, demand: gpus("40")}
	with := func(f waitFacts, edit func(*waitFacts)) waitFacts {
		edit(&f)
		return f
	}
	cases := []struct {
		name  string
		facts waitFacts
		want  waitReason
	}{
		{
			name: "unit larger than any tier-2 HyperNode, from the gang's origin reason",
			facts: with(inRack, func(f *waitFacts) {
				f.gang = gangOf5 + ". Origin reason is big-0-engine-4-0: In hyperNode rack-2: 0/4 nodes are unavailable: 4 Insufficient nvidia.com/gpu."
			}),
			want: waitReason{reason: v1alpha1.UnitInsufficientResources, message: "needs 40 nvidia.com/gpu inside one tier-2 HyperNode; none has room for it (in HyperNode rack-2, the last Volcano tried: 4 of 4 nodes Insufficient nvidia.com/gpu)"},
		},
		{
			name: "same, from a pod's own condition",
			facts: with(inRack, func(f *waitFacts) {
				f.gang = gangOf5
				f.pods = []podWait{{"big-0-engine-4-0", "engine", "In hyperNode rack-0: 0/4 nodes are unavailable: 4 Insufficient nvidia.com/gpu."}}
			}),
			want: waitReason{reason: v1alpha1.UnitInsufficientResources, message: "needs 40 nvidia.com/gpu inside one tier-2 HyperNode; none has room for it (in HyperNode rack-0, the last Volcano tried: 4 of 4 nodes Insufficient nvidia.com/gpu)"},
		},
		{
			name: "no HyperNode of the unit's tier has the gang's minimum free: Volcano tried no node",
			facts: with(inRack, func(f *waitFacts) {
				f.gang = gangOf5
				f.pods = []podWait{{"big-0-engine-0-0", "engine", "pod group is not ready, 5 Pending, 5 minAvailable; Pending: 5 Unschedulable"}}
			}),
			want: waitReason{reason: v1alpha1.UnitInsufficientResources, message: "needs 40 nvidia.com/gpu inside one tier-2 HyperNode; none has that much free"},
		},
		{
			name: "same without a hard tier is only quoted",
			facts: with(inRack, func(f *waitFacts) {
				f.gang, f.hard = gangOf5, false
			}),
			want: waitReason{reason: v1alpha1.UnitUnschedulable, message: "Volcano cannot place the gang: " + gangOf5},
		},
		{
			name: "no unit tier: the cluster is too small",
			facts: waitFacts{phase: schedv1beta1.PodGroupInqueue, demand: gpus("104"),
				gang: gangOf5 + ". Origin reason is big-0-engine-4-0: 0/12 nodes are unavailable: 12 Insufficient nvidia.com/gpu."},
			want: waitReason{reason: v1alpha1.UnitInsufficientResources, message: "needs 104 nvidia.com/gpu; the cluster cannot place it (12 of 12 nodes Insufficient nvidia.com/gpu)"},
		},
		{
			name: "pods larger than any node, as the e2e fleet reports 3 pods of 12 GPUs",
			facts: waitFacts{phase: schedv1beta1.PodGroupInqueue, demand: gpus("36"),
				pods:     []podWait{{"twelve-0-engine-0-0", "engine", "0/12 nodes are unavailable: 12 Insufficient nvidia.com/gpu."}},
				requests: map[string]corev1.ResourceList{"twelve-0-engine-0-0": gpus("12")}},
			want: waitReason{reason: v1alpha1.UnitInsufficientResources, message: "needs 36 nvidia.com/gpu; the cluster cannot place it " +
				"(role engine asks 12 per pod; 12 of 12 nodes Insufficient nvidia.com/gpu)"},
		},
		{
			name: "a resource the PodGroup does not list: no amount is made up",
			facts: waitFacts{phase: schedv1beta1.PodGroupInqueue, demand: gpus("8"),
				pods: []podWait{{"x-0-engine-0-0", "engine", "0/3 nodes are unavailable: 3 Insufficient example.com/fpga."}}},
			want: waitReason{reason: v1alpha1.UnitInsufficientResources, message: "needs more example.com/fpga than is free; the cluster cannot place it (3 of 3 nodes Insufficient example.com/fpga)"},
		},
		{
			name: "role asks for an accelerator type no node has",
			facts: waitFacts{phase: schedv1beta1.PodGroupInqueue, demand: gpus("16"),
				gang: "1/2 tasks in gang unschedulable: pod group is not ready, 2 Pending, 2 minAvailable; Pending: 1 Unschedulable, 1 Schedulable",
				pods: []podWait{
					{"pd-0-decode-0-0", "decode", "0/12 nodes are unavailable: 4 " + b200Mismatch + "NVIDIA-H100-80GB-HBM3, 8 " + b200Mismatch + "NVIDIA-H200."},
					{"pd-0-prefill-0-0", "prefill", "Pod default/pd-0-prefill-0-0 can possibly be assigned to gpu-r0-n0, once minAvailable is satisfied"},
				}},
			want: waitReason{reason: v1alpha1.UnitAcceleratorTypeUnavailable, message: "role decode needs accelerator NVIDIA-B200; no node has it (the nodes have nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3, NVIDIA-H200)"},
		},
		{
			name: "type check beats a shortage: nodes that are full are counted apart",
			facts: waitFacts{phase: schedv1beta1.PodGroupInqueue, demand: gpus("16"), pods: []podWait{
				{"pd-0-decode-0-0", "decode", "In hyperNode rack-1: 0/4 nodes are unavailable: 1 Insufficient nvidia.com/gpu, 3 " + b200Mismatch + "NVIDIA-H200."},
			}},
			want: waitReason{reason: v1alpha1.UnitAcceleratorTypeUnavailable, message: "role decode needs accelerator NVIDIA-B200; no node with room in HyperNode rack-1 (the last Volcano tried) has it (the nodes have nvidia.com/gpu.product=NVIDIA-H200; 1 node has too little free nvidia.com/gpu)"},
		},
		{
			name: "a pod quoting the job's text names its origin pod's role",
			facts: waitFacts{phase: schedv1beta1.PodGroupInqueue, pods: []podWait{
				{"pd-0-decode-0-0", "decode", "0/2 nodes are unavailable: 2 " + b200Mismatch + "none."},
				{"pd-0-prefill-0-0", "prefill", "pod group is not ready, 2 Pending, 2 minAvailable; Pending: 2 Unschedulable. " +
					"Origin reason is pd-0-decode-0-0: 0/2 nodes are unavailable: 2 " + b200Mismatch + "none."},
			}},
			want: waitReason{reason: v1alpha1.UnitAcceleratorTypeUnavailable, message: "role decode needs accelerator NVIDIA-B200; no node has it (the nodes have nvidia.com/gpu.product=(unset))"},
		},
		{
			name: "another scheduler reason is quoted with its role",
			facts: waitFacts{phase: schedv1beta1.PodGroupInqueue, pods: []podWait{
				{"t-0-engine-0-0", "engine", "0/12 nodes are unavailable: 12 node(s) had untolerated taint {gpu: broken}."},
			}},
			want: waitReason{reason: v1alpha1.UnitUnschedulable, message: "role engine fit no node (12 of 12 nodes node(s) had untolerated taint {gpu: broken})"},
		},
		{
			name: "unrecognized text is quoted, not interpreted",
			facts: waitFacts{phase: schedv1beta1.PodGroupInqueue,
				gang: "1/1 tasks in gang unschedulable: pod group is not ready, 1 Pending, 1 minAvailable. Origin reason is: resource quota exceeded"},
			want: waitReason{reason: v1alpha1.UnitUnschedulable, message: "pods: resource quota exceeded"},
		},
		{
			name: "gang below minimum, nothing per node",
			facts: waitFacts{phase: schedv1beta1.PodGroupInqueue,
				gang: "2/3 tasks in gang unschedulable: pod group is not ready, 2 Pending, 3 minAvailable; Pending: 1 Unschedulable, 1 Schedulable"},
			want: waitReason{reason: v1alpha1.UnitUnschedulable, message: "Volcano cannot place the gang: " +
				"2/3 tasks in gang unschedulable: pod group is not ready, 2 Pending, 3 minAvailable; Pending: 1 Unschedulable, 1 Schedulable"},
		},
		{
			name:  "queue has not admitted the PodGroup",
			facts: waitFacts{podGroup: "chat-1", queue: "serving", phase: schedv1beta1.PodGroupPending, gang: "3/3 tasks in gang unschedulable: pod group is not ready, 3 Pending, 3 minAvailable"},
			want:  waitReason{reason: v1alpha1.UnitWaitingForQueue, message: "queue serving has not admitted the unit's PodGroup yet; Volcano's events on PodGroup chat-1 say why"},
		},
		{
			name:  "nothing written yet",
			facts: waitFacts{phase: schedv1beta1.PodGroupPending},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, explainWait(tc.facts), cmp.AllowUnexported(waitReason{})); diff != "" {
				t.Errorf("explainWait (-want +got):\n%s", diff)
			}
		})
	}
}

// A shown message stands while the new one differs only in what depends
// on the HyperNode Volcano tried last.
func TestStillSays(t *testing.T) {
	const (
		rack0 = "needs 40 nvidia.com/gpu inside one tier-2 HyperNode; none has room for it " +
			"(role engine asks 8 per pod; in HyperNode rack-0, the last Volcano tried: 4 of 4 nodes Insufficient nvidia.com/gpu)"
		rack1Smaller = "needs 40 nvidia.com/gpu inside one tier-2 HyperNode; none has room for it " +
			"(role engine asks 8 per pod; in HyperNode rack-1, the last Volcano tried: 2 of 2 nodes Insufficient nvidia.com/gpu)"
		noRole = "needs 40 nvidia.com/gpu inside one tier-2 HyperNode; none has room for it " +
			"(in HyperNode rack-0, the last Volcano tried: 4 of 4 nodes Insufficient nvidia.com/gpu)"
		b200Rack2 = "role decode needs accelerator NVIDIA-B200; no node in HyperNode rack-2 (the last Volcano tried) has it " +
			"(the nodes have nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3)"
		b200Rack1 = "role decode needs accelerator NVIDIA-B200; no node in HyperNode rack-1 (the last Volcano tried) has it " +
			"(the nodes have nvidia.com/gpu.product=NVIDIA-H200)"
		gb200Rack1 = "role decode needs accelerator NVIDIA-GB200; no node in HyperNode rack-1 (the last Volcano tried) has it " +
			"(the nodes have nvidia.com/gpu.product=NVIDIA-H200)"
		b200Anywhere = "role decode needs accelerator NVIDIA-B200; no node has it (the nodes have nvidia.com/gpu.product=NVIDIA-H200)"
		// rack-1 holds H200 only: prefill's H100 is missing there too.
		bothRack1 = b200Rack1 + "; role prefill needs accelerator NVIDIA-H100-80GB-HBM3; no node in HyperNode rack-1 " +
			"(the last Volcano tried) has it (the nodes have nvidia.com/gpu.product=NVIDIA-H200)"
	)
	cases := []struct {
		name       string
		prev, next string
		want       bool
	}{
		{"another HyperNode of another size", rack0, rack1Smaller, true},
		{"another HyperNode with other accelerators", b200Rack2, b200Rack1, true},
		{"a HyperNode that lacks another role's type too keeps the shorter message", b200Rack2, bothRack1, true},
		{"the shorter message replaces the longer", bothRack1, b200Rack2, false},
		{"the role's request became known", noRole, rack0, false},
		{"another accelerator asked", b200Rack1, gb200Rack1, false},
		{"scoped against the whole cluster", b200Rack1, b200Anywhere, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := stillSays(tc.prev, tc.next); got != tc.want {
				t.Errorf("stillSays = %v, want %v", got, tc.want)
			}
		})
	}
}

// unschedulable writes what Volcano writes on a PodGroup it cannot place,
// and unbinds the unit's pods, marked unschedulable with podMsg.
func (w *world) unschedulable(unit, gang, podMsg string, at time.Time) {
	pg := w.pgs[unit]
	pg.Status.Phase = schedv1beta1.PodGroupInqueue
	pg.Status.Conditions = []schedv1beta1.PodGroupCondition{{
		Type: schedv1beta1.PodGroupUnschedulableType, Status: corev1.ConditionTrue,
		Reason: schedv1beta1.NotEnoughResourcesReason, Message: gang, LastTransitionTime: metav1.NewTime(at),
	}}
	for _, pod := range w.pods {
		if pod.Labels[v1alpha1.LabelGroup]+"-"+pod.Labels[v1alpha1.LabelUnit] == unit {
			pod.Spec.NodeName = ""
			pod.Status = corev1.PodStatus{Phase: corev1.PodPending}
			pod.Status.Conditions = []corev1.PodCondition{{
				Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: podMsg,
			}}
		}
	}
}

func TestUnitWaitInStatus(t *testing.T) {
	const fit = "In hyperNode rack-0: 0/4 nodes are unavailable: 4 Insufficient nvidia.com/gpu."
	sg := testutil.MakeServingGroup("big").Replicas(2).Topology(0, 2, v1alpha1.TopologyHard).
		Role(testutil.MakeRole("engine").Replicas(5).GPU(8).Obj()).Obj()
	waitMsg := "needs 40 nvidia.com/gpu inside one tier-2 HyperNode; none has room for it (role engine asks 8 per pod; in HyperNode rack-0, the last Volcano tried: 4 of 4 nodes Insufficient nvidia.com/gpu)"
	cases := []struct {
		name string
		// prev is unit 1's status before, as "<index> <reason>: <message>".
		prev        string
		mutate      func(*world)
		wantUnits   []string // "<index> <phase> <reason>: <message>"
		progressing string
	}{
		{
			name:        "unit 1 cannot be placed",
			mutate:      func(w *world) { w.unschedulable("big-1", gangOf5+". Origin reason is big-1-engine-4-0: "+fit, fit, t0) },
			wantUnits:   []string{"0 Ready : ", "1 Pending InsufficientResources: " + waitMsg},
			progressing: "True UnitsUnschedulable: unit 1: " + waitMsg,
		},
		{
			name: "both wait; the other says so through its pods",
			mutate: func(w *world) {
				w.unschedulable("big-0", gangOf5, fit, t0)
				w.unschedulable("big-1", gangOf5, fit, t0)
			},
			wantUnits:   []string{"0 Pending InsufficientResources: " + waitMsg, "1 Pending InsufficientResources: " + waitMsg},
			progressing: "True UnitsUnschedulable: unit 0: " + waitMsg + "; unit 1: " + waitMsg,
		},
		{
			name:   "the status keeps its message while only the HyperNode tried last changes",
			prev:   "1 InsufficientResources: needs 40 nvidia.com/gpu inside one tier-2 HyperNode; none has room for it (role engine asks 8 per pod; in HyperNode rack-7, the last Volcano tried: 4 of 4 nodes Insufficient nvidia.com/gpu)",
			mutate: func(w *world) { w.unschedulable("big-1", gangOf5, fit, t0) },
			wantUnits: []string{"0 Ready : ",
				"1 Pending InsufficientResources: needs 40 nvidia.com/gpu inside one tier-2 HyperNode; none has room for it (role engine asks 8 per pod; in HyperNode rack-7, the last Volcano tried: 4 of 4 nodes Insufficient nvidia.com/gpu)"},
			progressing: "True UnitsUnschedulable: unit 1: needs 40 nvidia.com/gpu inside one tier-2 HyperNode; none has room for it (role engine asks 8 per pod; in HyperNode rack-7, the last Volcano tried: 4 of 4 nodes Insufficient nvidia.com/gpu)",
		},
		{
			name:        "a new subject replaces the kept message",
			prev:        "1 InsufficientResources: needs 48 nvidia.com/gpu inside one tier-2 HyperNode; none has room for it (role engine asks 8 per pod; in HyperNode rack-7, the last Volcano tried: 4 of 4 nodes Insufficient nvidia.com/gpu)",
			mutate:      func(w *world) { w.unschedulable("big-1", gangOf5, fit, t0) },
			wantUnits:   []string{"0 Ready : ", "1 Pending InsufficientResources: " + waitMsg},
			progressing: "True UnitsUnschedulable: unit 1: " + waitMsg,
		},
		{
			name:        "a new reason replaces the kept message",
			prev:        "1 Unschedulable: Volcano cannot place the gang: " + gangOf5,
			mutate:      func(w *world) { w.unschedulable("big-1", gangOf5, fit, t0) },
			wantUnits:   []string{"0 Ready : ", "1 Pending InsufficientResources: " + waitMsg},
			progressing: "True UnitsUnschedulable: unit 1: " + waitMsg,
		},
		{
			name: "a later Scheduled condition replaces the old reason",
			mutate: func(w *world) {
				w.unschedulable("big-1", gangOf5+". Origin reason is big-1-engine-4-0: "+fit, fit, t0)
				pg := w.pgs["big-1"]
				pg.Status.Conditions = append(pg.Status.Conditions, schedv1beta1.PodGroupCondition{
					Type: schedv1beta1.PodGroupScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(time.Second)),
				})
				for _, pod := range w.pods {
					if pod.Spec.NodeName == "" {
						pod.Status.Conditions = nil
					}
				}
			},
			wantUnits:   []string{"0 Ready : ", "1 Pending : "},
			progressing: "True UnitsStarting: units [1] are not ready yet",
		},
		{
			name: "placed: the reason is cleared though the PodGroup keeps the old text",
			mutate: func(w *world) {
				w.unschedulable("big-1", gangOf5+". Origin reason is big-1-engine-4-0: "+fit, fit, t0)
				w.runAll(t0)
				w.pgs["big-1"].Status.Phase = schedv1beta1.PodGroupRunning
			},
			wantUnits:   []string{"0 Ready : ", "1 Ready : "},
			progressing: "False Complete: all 2 units are ready",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			w.converge(t, sg, t0)
			tc.mutate(w)
			sg := sg.DeepCopy()
			if tc.prev != "" {
				sg.Status = w.compute(t, sg, t0).Status
				var reason, msg string
				if _, err := fmt.Sscanf(tc.prev, "1 %s", &reason); err != nil {
					t.Fatal(err)
				}
				reason = strings.TrimSuffix(reason, ":")
				msg = strings.TrimPrefix(tc.prev, "1 "+reason+": ")
				sg.Status.Units[1].Reason, sg.Status.Units[1].Message = reason, msg
			}
			p := w.compute(t, sg, t0.Add(time.Second))
			var units []string
			for _, u := range p.Status.Units {
				units = append(units, formatUnit(u))
			}
			if diff := cmp.Diff(tc.wantUnits, units); diff != "" {
				t.Errorf("units (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.progressing, summarizeConditions(p.Status).Progressing); diff != "" {
				t.Errorf("Progressing (-want +got):\n%s", diff)
			}
		})
	}
}

func formatUnit(u v1alpha1.UnitStatus) string {
	return fmt.Sprintf("%d %s %s: %s", u.Index, u.Phase, u.Reason, u.Message)
}
