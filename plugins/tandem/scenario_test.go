package tandem_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
	"github.com/tandem-serving/tandem/plugins/scenario"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// run runs one scheduling cycle through Volcano's actions and plugins with
// Tandem's (see plugins/scenario) and fails the test on any broken
// invariant (partial unit, hard topology, over-commit, accelerator type).
func run(t *testing.T, s scenario.Scenario) *scenario.Result {
	t.Helper()
	r, err := s.Run()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range scenario.Check(s.Fleet, r) {
		t.Errorf("invariant broken: %s", v)
	}
	return r
}

func describe(r *scenario.Result) string { return fmt.Sprint(r.Placed) }

// Fleet: racks of 4 nodes in domains of 2, 8 GPUs a node; rack r has
// products[r % len].
func fleet(racks int, products ...string) localcluster.Fleet {
	if len(products) == 0 {
		products = []string{"H100"}
	}
	return localcluster.Fleet{Racks: racks, NodesPerRack: 4, DomainSize: 2, GPUsPerNode: 8, Products: products, CPU: "96", Memory: "1Ti"}
}

// pd is a unit of prefill and decode instances, each a pod of gpus GPUs.
func pd(name string, gpus int32) *testutil.ServingGroupWrapper {
	return testutil.MakeServingGroup(name).Namespace("serve").
		Role(testutil.MakeRole("prefill").GPU(gpus).Obj()).
		Role(testutil.MakeRole("decode").GPU(gpus).Obj())
}

func TestUnitIsPlacedWhole(t *testing.T) {
	r := run(t, scenario.Scenario{Fleet: fleet(2), Groups: []*v1alpha1.ServingGroup{pd("chat", 8).Obj()}})
	if r.Bound() != 2 {
		t.Fatalf("want both pods placed: %s", describe(r))
	}
}

func TestUnitThatCannotFitBindsNothing(t *testing.T) {
	// Decode needs a 16-GPU pod: no node has it, so prefill must not be
	// placed alone either.
	sg := testutil.MakeServingGroup("big").Namespace("serve").
		Role(testutil.MakeRole("prefill").GPU(8).Obj()).
		Role(testutil.MakeRole("decode").GPU(16).Obj()).Obj()
	r := run(t, scenario.Scenario{Fleet: fleet(2), Groups: []*v1alpha1.ServingGroup{sg}})
	if r.Bound() != 0 {
		t.Errorf("part of a unit was placed: %s", describe(r))
	}
}

func TestAcceleratorTypesAreMatchedPerRole(t *testing.T) {
	sg := testutil.MakeServingGroup("mixed").Namespace("serve").
		Role(testutil.MakeRole("prefill").GPU(8, "H100").Obj()).
		Role(testutil.MakeRole("decode").GPU(8, "H200").Obj()).Obj()
	r := run(t, scenario.Scenario{Fleet: fleet(2, "H100", "H200"), Groups: []*v1alpha1.ServingGroup{sg}})
	if p, d := r.Placed["serve/mixed-0-prefill-0-0"], r.Placed["serve/mixed-0-decode-0-0"]; !strings.HasPrefix(p, "gpu-r0-") || !strings.HasPrefix(d, "gpu-r1-") {
		t.Errorf("prefill on %q (want an H100 node, rack 0), decode on %q (want an H200 node, rack 1)", p, d)
	}
}

func TestAcceleratorMismatchIsExplained(t *testing.T) {
	sg := testutil.MakeServingGroup("nofit").Namespace("serve").
		Role(testutil.MakeRole("decode").GPU(8, "B200").Obj()).Obj()
	r := run(t, scenario.Scenario{Fleet: fleet(1, "H100"), Groups: []*v1alpha1.ServingGroup{sg}})
	if r.Bound() != 0 {
		t.Fatalf("placed on a node without B200: %s", describe(r))
	}
	job := r.Jobs["nofit-0"]
	var msgs []string
	for _, fe := range job.NodesFitErrors {
		msgs = append(msgs, fe.Error())
	}
	joined := strings.Join(msgs, "\n")
	if !strings.Contains(joined, "role decode needs accelerator B200 (nvidia.com/gpu.product), node has H100") {
		t.Errorf("fit errors do not explain the mismatch:\n%s", joined)
	}
}

func TestHardTopologyIsNeverBroken(t *testing.T) {
	// Three 8-GPU pods inside one tier-1 domain (2 nodes): impossible, and
	// hard mode must leave the unit pending rather than spill over.
	sg := testutil.MakeServingGroup("tight").Namespace("serve").Topology(0, 1, v1alpha1.TopologyHard).
		Role(testutil.MakeRole("prefill").Replicas(2).GPU(8).Obj()).
		Role(testutil.MakeRole("decode").GPU(8).Obj()).Obj()
	r := run(t, scenario.Scenario{Fleet: fleet(2), Groups: []*v1alpha1.ServingGroup{sg}})
	if r.Bound() != 0 {
		t.Errorf("hard tier-1 unit of 3 nodes placed: %s", describe(r))
	}
}

func TestSoftTopologyFallsBack(t *testing.T) {
	sg := testutil.MakeServingGroup("loose").Namespace("serve").Topology(0, 1, v1alpha1.TopologySoft).
		Role(testutil.MakeRole("prefill").Replicas(2).GPU(8).Obj()).
		Role(testutil.MakeRole("decode").GPU(8).Obj()).Obj()
	r := run(t, scenario.Scenario{Fleet: fleet(2), Groups: []*v1alpha1.ServingGroup{sg}})
	if r.Bound() != 3 {
		t.Errorf("soft unit should spill over its tier: %s", describe(r))
	}
}

func TestDecodeLandsNearPrefill(t *testing.T) {
	// 4-GPU pods: with nothing else placed, decode should share the
	// prefill's node or at least its tier-1 domain.
	r := run(t, scenario.Scenario{Fleet: fleet(3), Groups: []*v1alpha1.ServingGroup{pd("near", 4).Obj()}})
	p, d := r.Placed["serve/near-0-prefill-0-0"], r.Placed["serve/near-0-decode-0-0"]
	if p == "" || d == "" || domainOf(p) != domainOf(d) {
		t.Errorf("prefill on %q, decode on %q: want the same tier-1 domain", p, d)
	}
}

func TestTensorParallelRanksStayTogether(t *testing.T) {
	sg := testutil.MakeServingGroup("tp").Namespace("serve").
		Role(testutil.MakeRole("decode").Size(2).GPU(8).Obj()).Obj()
	r := run(t, scenario.Scenario{Fleet: fleet(3), Groups: []*v1alpha1.ServingGroup{sg}})
	a, b := r.Placed["serve/tp-0-decode-0-0"], r.Placed["serve/tp-0-decode-0-1"]
	if a == "" || b == "" || domainOf(a) != domainOf(b) {
		t.Errorf("ranks on %q and %q: want one tier-1 domain", a, b)
	}
}

func TestPackingKeepsWholeDomainsFree(t *testing.T) {
	// Domain r0-d0 already runs a 4-GPU pod. A 4-GPU unit should go next to
	// it rather than open one of the three empty domains.
	pod, pg := scenario.RunningPod("busy", "gpu-r0-n0", 4)
	sg := testutil.MakeServingGroup("small").Namespace("serve").Role(testutil.MakeRole("engine").GPU(4).Obj()).Obj()
	s := scenario.Scenario{Fleet: fleet(2), Groups: []*v1alpha1.ServingGroup{sg}}
	s.Pods, s.PodGroups = append(s.Pods, pod), append(s.PodGroups, pg)
	r := run(t, s)
	if got := domainOf(r.Placed["serve/small-0-engine-0-0"]); got != "r0-n0" {
		t.Errorf("placed in domain %q, want the partly used one (r0-n0)", got)
	}
}

func TestUnitsOfAGroupSpreadAcrossRacks(t *testing.T) {
	sg := testutil.MakeServingGroup("ha").Namespace("serve").Replicas(2).SpreadUnits().
		Role(testutil.MakeRole("engine").GPU(4).Obj()).Obj()
	r := run(t, scenario.Scenario{Fleet: fleet(2), Groups: []*v1alpha1.ServingGroup{sg}})
	a, b := r.Placed["serve/ha-0-engine-0-0"], r.Placed["serve/ha-1-engine-0-0"]
	if a == "" || b == "" || rackOf(a) == rackOf(b) {
		t.Errorf("units on %q and %q: want different racks", a, b)
	}
}

func TestRoleMinimumIsEnough(t *testing.T) {
	// Room for two 8-GPU pods: decode plus one of the two prefill instances
	// (minReplicas 1) is a ready unit; the second prefill waits.
	sg := testutil.MakeServingGroup("min").Namespace("serve").
		Role(testutil.MakeRole("prefill").Replicas(2).MinReplicas(1).GPU(8).Obj()).
		Role(testutil.MakeRole("decode").GPU(8).Obj()).Obj()
	f := localcluster.Fleet{Racks: 1, NodesPerRack: 2, DomainSize: 1, GPUsPerNode: 8, Products: []string{"H100"}, CPU: "96", Memory: "1Ti"}
	r := run(t, scenario.Scenario{Fleet: f, Groups: []*v1alpha1.ServingGroup{sg}})
	if r.Placed["serve/min-0-decode-0-0"] == "" || r.Bound() != 2 {
		t.Errorf("want decode and one prefill placed: %s", describe(r))
	}
}

// domainOf and rackOf read the fleet's node names gpu-r<R>-n<N>.
func domainOf(node string) string {
	if node == "" {
		return ""
	}
	parts := strings.Split(strings.TrimPrefix(node, "gpu-"), "-") // r0, n3
	n := parts[1][1:]
	return parts[0] + "-n" + map[string]string{"0": "0", "1": "0", "2": "2", "3": "2"}[n]
}

func rackOf(node string) string {
	return strings.Split(strings.TrimPrefix(node, "gpu-"), "-")[0]
}
