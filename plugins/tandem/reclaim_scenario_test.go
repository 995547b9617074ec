package tandem_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	schedulingv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"
	volcanoutil "volcano.sh/volcano/pkg/scheduler/util"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
	"github.com/tandem-serving/tandem/plugins/scenario"
	"github.com/tandem-serving/tandem/plugins/tandem"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// The reclaim scenarios run tandem-reclaim through Volcano's real
// framework and plugins (plugins/scenario: priority, gang, conformance,
// tandem | predicates, proportion, binpack, network-topology-aware): a
// cluster full of low-priority batch gangs, a high-priority serving unit
// waiting. A second session (Scenario.Next: evicted pods gone) shows the
// unit placed where the gangs were.

// reclaimFleet: one rack of 4 nodes (gpu-r0-n0..3), 8 H100 GPUs each.
var reclaimFleet = localcluster.Fleet{Racks: 1, NodesPerRack: 4, DomainSize: 2, GPUsPerNode: 8,
	Products: []string{"H100"}, CPU: "96", Memory: "1Ti"}

// mixedFleet: racks of 2 nodes, rack 0 H100 (gpu-r0-n0, gpu-r0-n1), rack 1
// H200 (gpu-r1-n0, gpu-r1-n1).
var mixedFleet = localcluster.Fleet{Racks: 2, NodesPerRack: 2, DomainSize: 2, GPUsPerNode: 8,
	Products: []string{"H100", "H200"}, CPU: "96", Memory: "1Ti"}

const batchQueue = "batch"

var created = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// reclaimScenario runs the shipped action order. With enqueue the units'
// PodGroups start Pending, as the controller creates them, and the
// enqueue action decides their admission; without it they start Inqueue.
func reclaimScenario(f localcluster.Fleet, enqueue bool) *scenario.Scenario {
	actions := []string{"allocate", tandem.ReclaimActionName}
	if enqueue {
		actions = append([]string{"enqueue"}, actions...)
	}
	return &scenario.Scenario{Fleet: f, Actions: actions, Enqueue: enqueue,
		Queues:          []*schedulingv1beta1.Queue{volcanoutil.BuildQueue(batchQueue, 1, nil)},
		PriorityClasses: []*schedulingv1.PriorityClass{priorityClass("high", 1000), priorityClass("low", 10)}}
}

// gang adds a running low-priority batch gang, one pod of gpus GPUs per
// node, created age before the others' reference time, and returns its
// PodGroup and pods for the test to adjust.
func gang(s *scenario.Scenario, name, queue string, age time.Duration, gpus int64, nodes ...string) (*schedulingv1beta1.PodGroup, []*corev1.Pod) {
	pods, pg := scenario.BatchGang(name, queue, "low", gpus, nodes...)
	pg.CreationTimestamp = metav1.NewTime(created.Add(-age))
	s.Pods = append(s.Pods, pods...)
	s.PodGroups = append(s.PodGroups, pg)
	return pg, pods
}

// servingUnit is a one-unit high-priority ServingGroup in queue of
// engines one-pod engines of 8 GPUs (of the given products, if any).
func servingUnit(name, queue string, engines int32, types ...string) *v1alpha1.ServingGroup {
	return testutil.MakeServingGroup(name).Namespace("serve").Queue(queue).PriorityClass("high").
		Role(testutil.MakeRole("engine").Replicas(engines).GPU(8, types...).Obj()).Obj()
}

// reclaimRun runs s and then the next cycle, fails on any broken
// invariant, and checks that no session leaves a batch gang in part:
// every PodGroup's running pods are all evicted or none.
func reclaimRun(t *testing.T, s *scenario.Scenario) (first, next *scenario.Result) {
	t.Helper()
	first = run(t, *s)
	checkWholeGangs(t, first)
	next = run(t, s.Next(first))
	checkWholeGangs(t, next)
	return first, next
}

func checkWholeGangs(t *testing.T, r *scenario.Result) {
	t.Helper()
	releasing := map[string]bool{}
	for _, key := range r.Releasing {
		releasing[key] = true
	}
	evicted, kept := map[string][]string{}, map[string][]string{}
	for key, pod := range r.Pods {
		if pod.Namespace != scenario.BatchNamespace || pod.Status.Phase != corev1.PodRunning {
			continue
		}
		pg := pod.Annotations[schedulingv1beta1.KubeGroupNameAnnotationKey]
		if releasing[key] {
			evicted[pg] = append(evicted[pg], key)
		} else {
			kept[pg] = append(kept[pg], key)
		}
	}
	for pg, pods := range evicted {
		if len(kept[pg]) > 0 {
			t.Errorf("batch gang %s evicted in part: %v evicted, %v kept", pg, pods, kept[pg])
		}
	}
}

// unitNodes are the nodes the unit's pods hold in r, sorted by pod name.
func unitNodes(r *scenario.Result, unit string) []string {
	var out []string
	for _, key := range slices.Sorted(maps.Keys(r.Placed)) {
		if strings.HasPrefix(key, "serve/"+unit+"-") && r.Placed[key] != "" {
			out = append(out, r.Placed[key])
		}
	}
	return out
}

func priorityClass(name string, value int32) *schedulingv1.PriorityClass {
	return &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
}

func TestReclaimInTheUnitsOwnQueue(t *testing.T) {
	// Two batch gangs of two 8-GPU pods fill the cluster, both in the
	// unit's own queue; the unit needs one node. The younger gang goes
	// whole (both nodes), and the next session places the unit there.
	// Allocate skips the full queue (proportion: overused), so the
	// predicates' pre-filter state exists only if tandem-reclaim runs the
	// pre-predicates itself; with enqueue the unit is first refused
	// admission (its queue's quota is held by the gangs) and is admitted
	// once they are gone.
	for _, tc := range []struct {
		name    string
		enqueue bool
	}{
		{name: "unit admitted", enqueue: false},
		{name: "unit refused admission by its full queue", enqueue: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := reclaimScenario(reclaimFleet, tc.enqueue)
			gang(s, "old", scenario.DefaultQueue, 2*time.Hour, 8, "gpu-r0-n0", "gpu-r0-n1")
			gang(s, "young", scenario.DefaultQueue, time.Hour, 8, "gpu-r0-n2", "gpu-r0-n3")
			s.Groups = []*v1alpha1.ServingGroup{servingUnit("chat", scenario.DefaultQueue, 1)}
			first, next := reclaimRun(t, s)
			if diff := cmp.Diff([]string{"batch/young-0", "batch/young-1"}, first.Releasing); diff != "" {
				t.Errorf("evicted pods (-want +got):\n%s", diff)
			}
			if got := unitNodes(next, "chat"); len(got) != 1 || (got[0] != "gpu-r0-n2" && got[0] != "gpu-r0-n3") {
				t.Errorf("unit on %v in the next session, want one of the young gang's nodes", got)
			}
			if len(next.Releasing) != 0 {
				t.Errorf("the next session evicted again: %v", next.Releasing)
			}
		})
	}
}

func TestReclaimFromAnotherQueue(t *testing.T) {
	// Four batch gangs, each two 4-GPU pods on one node, fill the cluster
	// from a reclaimable queue over its deserved share (24 of 32 GPUs once
	// the unit asks for 8); the youngest gang goes and the unit takes its
	// node.
	s := reclaimScenario(reclaimFleet, true)
	for i, node := range []string{"gpu-r0-n0", "gpu-r0-n1", "gpu-r0-n2", "gpu-r0-n3"} {
		gang(s, fmt.Sprintf("g%d", i), batchQueue, time.Duration(4-i)*time.Hour, 4, node, node)
	}
	s.Groups = []*v1alpha1.ServingGroup{servingUnit("chat", scenario.DefaultQueue, 1)}
	first, next := reclaimRun(t, s)
	if diff := cmp.Diff([]string{"batch/g3-0", "batch/g3-1"}, first.Releasing); diff != "" {
		t.Errorf("evicted pods (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"gpu-r0-n3"}, unitNodes(next, "chat")); diff != "" {
		t.Errorf("unit's nodes in the next session (-want +got):\n%s", diff)
	}
}

func TestProportionForbidsTheReclaim(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(s *scenario.Scenario)
	}{
		{
			// The batch queue holds both H100 nodes (16 GPUs), no more than
			// it asks for, with the H200 rack free: it is at its deserved
			// share, so proportion keeps every pod although the H100-only
			// unit cannot run anywhere else.
			name: "victim queue at its deserved share",
			build: func(s *scenario.Scenario) {
				gang(s, "g0", batchQueue, 2*time.Hour, 4, "gpu-r0-n0", "gpu-r0-n0")
				gang(s, "g1", batchQueue, time.Hour, 4, "gpu-r0-n1", "gpu-r0-n1")
				s.Groups = []*v1alpha1.ServingGroup{servingUnit("chat", scenario.DefaultQueue, 1, "H100")}
			},
		},
		{
			// One-pod 8-GPU gangs on both H100 nodes and one H200 node: the
			// batch queue holds 24 GPUs and deserves 16 once the unit asks
			// for two H100 nodes. Either H100 gang alone could go (24 > 16),
			// but the unit needs both, which would take the queue to 8.
			name: "each gang alone may go, both together may not",
			build: func(s *scenario.Scenario) {
				gang(s, "h100a", batchQueue, 3*time.Hour, 8, "gpu-r0-n0")
				gang(s, "h100b", batchQueue, 2*time.Hour, 8, "gpu-r0-n1")
				gang(s, "h200", batchQueue, time.Hour, 8, "gpu-r1-n0")
				s.Groups = []*v1alpha1.ServingGroup{servingUnit("pair", scenario.DefaultQueue, 2, "H100")}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := reclaimScenario(mixedFleet, true)
			tc.build(s)
			first, _ := reclaimRun(t, s)
			if len(first.Releasing) != 0 {
				t.Errorf("evicted %v although proportion keeps the batch queue's share", first.Releasing)
			}
		})
	}
}

// critical makes the pods critical to the cluster: conformance keeps them.
func critical(pods ...*corev1.Pod) {
	for _, p := range pods {
		p.Spec.PriorityClassName = "system-cluster-critical"
	}
}

func TestConformanceKeepsCriticalPods(t *testing.T) {
	// One 4-GPU-pod pair per node in the batch queue (as in
	// TestReclaimFromAnotherQueue), or two 8-GPU gangs in the unit's queue
	// (as in TestReclaimInTheUnitsOwnQueue).
	otherQueue := func(s *scenario.Scenario) [][]*corev1.Pod {
		var gangs [][]*corev1.Pod
		for i, node := range []string{"gpu-r0-n0", "gpu-r0-n1", "gpu-r0-n2", "gpu-r0-n3"} {
			_, pods := gang(s, fmt.Sprintf("g%d", i), batchQueue, time.Duration(4-i)*time.Hour, 4, node, node)
			gangs = append(gangs, pods)
		}
		return gangs
	}
	sameQueue := func(s *scenario.Scenario) [][]*corev1.Pod {
		_, old := gang(s, "old", scenario.DefaultQueue, 2*time.Hour, 8, "gpu-r0-n0", "gpu-r0-n1")
		_, young := gang(s, "young", scenario.DefaultQueue, time.Hour, 8, "gpu-r0-n2", "gpu-r0-n3")
		return [][]*corev1.Pod{old, young}
	}
	for _, tc := range []struct {
		name     string
		gangs    func(s *scenario.Scenario) [][]*corev1.Pod
		critical func(gangs [][]*corev1.Pod)
		want     []string
	}{
		{
			name:     "other queue: one critical pod keeps the youngest gang, the next youngest goes",
			gangs:    otherQueue,
			critical: func(g [][]*corev1.Pod) { critical(g[3][1]) },
			want:     []string{"batch/g2-0", "batch/g2-1"},
		},
		{
			// Volcano's session would hand conformance's empty answer on
			// to proportion's tier, which approves.
			name:  "other queue: every pod critical, nothing goes",
			gangs: otherQueue,
			critical: func(g [][]*corev1.Pod) {
				for _, pods := range g {
					critical(pods...)
				}
			},
		},
		{
			name:     "same queue: one critical pod keeps the young gang, the old one goes",
			gangs:    sameQueue,
			critical: func(g [][]*corev1.Pod) { critical(g[1][0]) },
			want:     []string{"batch/old-0", "batch/old-1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := reclaimScenario(reclaimFleet, true)
			tc.critical(tc.gangs(s))
			s.Groups = []*v1alpha1.ServingGroup{servingUnit("chat", scenario.DefaultQueue, 1)}
			first, _ := reclaimRun(t, s)
			if diff := cmp.Diff(tc.want, first.Releasing); diff != "" {
				t.Errorf("evicted pods (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNeverHalfAGang(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(s *scenario.Scenario)
		want  []string
	}{
		{
			// One pod of the young gang may not be preempted: the young
			// gang stays whole, the old one goes instead.
			name: "a pod that is not preemptable keeps its whole gang",
			build: func(s *scenario.Scenario) {
				gang(s, "old", scenario.DefaultQueue, 2*time.Hour, 8, "gpu-r0-n0", "gpu-r0-n1")
				_, young := gang(s, "young", scenario.DefaultQueue, time.Hour, 8, "gpu-r0-n2", "gpu-r0-n3")
				young[1].Annotations[schedulingv1beta1.PodPreemptable] = "false"
			},
			want: []string{"batch/old-0", "batch/old-1"},
		},
		{
			// minMember 1 of 2 running: gang's own vote would let one pod
			// go, which is all the unit needs; the whole gang goes.
			name: "a gang above its minimum still goes whole",
			build: func(s *scenario.Scenario) {
				gang(s, "old", scenario.DefaultQueue, 2*time.Hour, 8, "gpu-r0-n0", "gpu-r0-n1")
				pg, _ := gang(s, "young", scenario.DefaultQueue, time.Hour, 8, "gpu-r0-n2", "gpu-r0-n3")
				pg.Spec.MinMember = 1
			},
			want: []string{"batch/young-0", "batch/young-1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := reclaimScenario(reclaimFleet, true)
			tc.build(s)
			s.Groups = []*v1alpha1.ServingGroup{servingUnit("chat", scenario.DefaultQueue, 1)}
			first, next := reclaimRun(t, s)
			if diff := cmp.Diff(tc.want, first.Releasing); diff != "" {
				t.Errorf("evicted pods (-want +got):\n%s", diff)
			}
			if got := unitNodes(next, "chat"); len(got) != 1 {
				t.Errorf("unit on %v in the next session, want one node", got)
			}
		})
	}
}

func TestRefusedUnitTakesOnlyTheQuotaItsGangsGiveBack(t *testing.T) {
	// Queue "capped" may hold 12 GPUs: a resident job of the unit's own
	// priority holds 8 on gpu-r0-n0, a low one-pod gang 4 on gpu-r0-n1;
	// the other nodes belong to a queue that may not be reclaimed from.
	// Enqueue refuses the 8-GPU unit (12 + 8 > 12). Evicting the small
	// gang would make room on gpu-r0-n1, but give back only 4 GPUs of the
	// queue's quota: the unit would still not fit in it, so nothing goes.
	s := reclaimScenario(reclaimFleet, true)
	capped := volcanoutil.BuildQueue("capped", 1, corev1.ResourceList{localcluster.GPUResource: resource.MustParse("12")})
	locked := volcanoutil.BuildQueue("locked", 1, nil)
	no := false
	locked.Spec.Reclaimable = &no
	s.Queues = append(s.Queues, capped, locked)
	s.PriorityClasses = append(s.PriorityClasses, priorityClass("resident", 1000))
	resident, residentPG := scenario.BatchGang("resident", "capped", "resident", 8, "gpu-r0-n0")
	s.Pods, s.PodGroups = append(s.Pods, resident...), append(s.PodGroups, residentPG)
	gang(s, "small", "capped", time.Hour, 4, "gpu-r0-n1")
	gang(s, "locked", "locked", time.Hour, 8, "gpu-r0-n2", "gpu-r0-n3")
	s.Groups = []*v1alpha1.ServingGroup{servingUnit("chat", "capped", 1)}
	first, _ := reclaimRun(t, s)
	if len(first.Releasing) != 0 {
		t.Errorf("evicted %v for a unit its queue's capability still refuses", first.Releasing)
	}
	if phase := first.Jobs["chat-0"].PodGroup.Status.Phase; phase == "Inqueue" {
		t.Errorf("unit admitted (phase %s) beyond its queue's capability", phase)
	}
}

func TestReclaimKeepsTheUnitsHardTier(t *testing.T) {
	// A two-node tensor-parallel unit held hard in one tier-1 domain
	// (gpu-r0-n0/n1 or gpu-r0-n2/n3), by its unit's or its instance's
	// topology; one-node gangs everywhere. The two youngest gangs (c, b)
	// sit in different domains and would free two nodes the unit cannot
	// use together; c and d free a whole domain.
	for _, tc := range []struct {
		name                   string
		instanceTier, unitTier int32
	}{
		{name: "unit tier", unitTier: 1},
		{name: "instance tier", instanceTier: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := reclaimScenario(reclaimFleet, true)
			gang(s, "a", scenario.DefaultQueue, 4*time.Hour, 8, "gpu-r0-n0")
			gang(s, "b", scenario.DefaultQueue, 2*time.Hour, 8, "gpu-r0-n1")
			gang(s, "c", scenario.DefaultQueue, 1*time.Hour, 8, "gpu-r0-n2")
			gang(s, "d", scenario.DefaultQueue, 3*time.Hour, 8, "gpu-r0-n3")
			s.Groups = []*v1alpha1.ServingGroup{testutil.MakeServingGroup("tp").Namespace("serve").Queue(scenario.DefaultQueue).
				PriorityClass("high").Topology(tc.instanceTier, tc.unitTier, v1alpha1.TopologyHard).
				Role(testutil.MakeRole("engine").Size(2).GPU(8).Obj()).Obj()}
			first, next := reclaimRun(t, s)
			if diff := cmp.Diff([]string{"batch/c-0", "batch/d-0"}, first.Releasing); diff != "" {
				t.Errorf("evicted pods (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"gpu-r0-n2", "gpu-r0-n3"}, slices.Sorted(slices.Values(unitNodes(next, "tp")))); diff != "" {
				t.Errorf("unit's nodes in the next session (-want +got):\n%s", diff)
			}
		})
	}
}
