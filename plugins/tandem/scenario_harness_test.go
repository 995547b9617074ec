package tandem_test

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	schedulingv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"
	_ "volcano.sh/volcano/pkg/scheduler/actions" // registers actions
	"volcano.sh/volcano/pkg/scheduler/actions/allocate"
	"volcano.sh/volcano/pkg/scheduler/actions/enqueue"
	"volcano.sh/volcano/pkg/scheduler/api"
	"volcano.sh/volcano/pkg/scheduler/conf"
	"volcano.sh/volcano/pkg/scheduler/framework"
	"volcano.sh/volcano/pkg/scheduler/plugins/binpack"
	"volcano.sh/volcano/pkg/scheduler/plugins/gang"
	networktopologyaware "volcano.sh/volcano/pkg/scheduler/plugins/network-topology-aware"
	"volcano.sh/volcano/pkg/scheduler/plugins/predicates"
	"volcano.sh/volcano/pkg/scheduler/plugins/priority"
	"volcano.sh/volcano/pkg/scheduler/plugins/proportion"
	"volcano.sh/volcano/pkg/scheduler/uthelper"
	"volcano.sh/volcano/pkg/scheduler/util"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/plan"
	"github.com/tandem-serving/tandem/plugins/tandem"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// scenario is one scheduling cycle through Volcano's own actions and
// plugins (gang, priority, predicates, proportion, binpack,
// network-topology-aware) with or without Tandem's, on a fake fleet of
// HyperNodes, with units exactly as the ServingGroup controller builds them.
type scenario struct {
	fleet   localcluster.Fleet
	groups  []*v1alpha1.ServingGroup
	extra   []*corev1.Pod // e.g. running pods that already use GPUs
	pgs     []*schedulingv1beta1.PodGroup
	stock   bool // leave Tandem's plugin out
	enqueue bool // run enqueue before allocate (PodGroups start Pending)
}

// result is where every pod landed: namespace/name -> node ("" = nowhere).
type result struct {
	placed map[string]string
	jobs   map[string]*api.JobInfo // by PodGroup name
}

func (s scenario) run(t *testing.T) result {
	t.Helper()
	test := &uthelper.TestCommonStruct{
		Name: t.Name(),
		Plugins: map[string]framework.PluginBuilder{
			gang.PluginName: gang.New, priority.PluginName: priority.New, predicates.PluginName: predicates.New,
			proportion.PluginName: proportion.New, binpack.PluginName: binpack.New,
			networktopologyaware.PluginName: networktopologyaware.New, tandem.Name: tandem.New,
		},
		Queues:           []*schedulingv1beta1.Queue{util.BuildQueue("default", 1, nil)},
		MinimalBindCheck: true,
	}
	for _, n := range s.fleet.Nodes() {
		test.Nodes = append(test.Nodes, n.DeepCopy())
	}
	s.addHyperNodes(test)
	test.Pods = append(test.Pods, s.extra...)
	test.PodGroups = append(test.PodGroups, s.pgs...)
	for _, sg := range s.groups {
		p, err := plan.Compute(plan.Config{}, sg, plan.Observed{}, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		for _, pg := range p.PodGroups {
			if !s.enqueue {
				pg.Status.Phase = schedulingv1beta1.PodGroupInqueue
			}
			test.PodGroups = append(test.PodGroups, pg)
		}
		for _, pod := range p.Pods {
			pod.UID = types.UID("uid-" + pod.Namespace + "-" + pod.Name)
			pod.Status.Phase = corev1.PodPending
			test.Pods = append(test.Pods, pod)
		}
	}
	ssn := test.RegisterSession(s.tiers(), nil)
	defer test.Close()
	actions := []framework.Action{allocate.New()}
	if s.enqueue {
		actions = append([]framework.Action{enqueue.New()}, actions...)
	}
	test.Run(actions)
	out := result{placed: map[string]string{}, jobs: map[string]*api.JobInfo{}}
	for _, job := range ssn.Jobs {
		out.jobs[job.Name] = job
		for _, task := range job.Tasks {
			node := ""
			if api.AllocatedStatus(task.Status) || task.Status == api.Pipelined {
				node = task.NodeName
			}
			out.placed[task.Namespace+"/"+task.Name] = node
		}
	}
	return out
}

func (s scenario) tiers() []conf.Tier {
	on := func() *bool { v := true; return &v }
	first := []conf.PluginOption{
		{Name: priority.PluginName, EnabledJobOrder: on(), EnabledTaskOrder: on()},
		{Name: gang.PluginName, EnabledJobOrder: on(), EnabledJobReady: on(), EnabledJobPipelined: on(), EnabledJobStarving: on()},
	}
	if !s.stock {
		first = append(first, conf.PluginOption{Name: tandem.Name, EnabledJobOrder: on(), EnabledJobReady: on(),
			EnabledJobPipelined: on(), EnabledPredicate: on(), EnabledNodeOrder: on()})
	}
	second := []conf.PluginOption{
		{Name: predicates.PluginName, EnabledPredicate: on()},
		{Name: proportion.PluginName, EnabledQueueOrder: on(), EnabledJobEnqueued: on(), EnabledAllocatable: on(), EnabledOverused: on()},
		{Name: binpack.PluginName, EnabledNodeOrder: on()},
		{Name: networktopologyaware.PluginName, EnabledNodeOrder: on(), EnabledHyperNodeOrder: on(), EnabledHyperNodeGradient: on()},
	}
	return []conf.Tier{{Plugins: first}, {Plugins: second}}
}

// addHyperNodes gives the uthelper the fleet's HyperNodes in the three
// shapes it wants: per tier, leaf nodes per HyperNode, and HyperNodeInfos.
func (s scenario) addHyperNodes(test *uthelper.TestCommonStruct) {
	test.HyperNodesSetByTier = map[int]sets.Set[string]{}
	test.HyperNodes = map[string]sets.Set[string]{}
	test.HyperNodesMap = map[string]*api.HyperNodeInfo{}
	hns := s.fleet.HyperNodes()
	children := map[string][]string{}
	for i := range hns {
		hn := &hns[i]
		if test.HyperNodesSetByTier[hn.Spec.Tier] == nil {
			test.HyperNodesSetByTier[hn.Spec.Tier] = sets.New[string]()
		}
		test.HyperNodesSetByTier[hn.Spec.Tier].Insert(hn.Name)
		test.HyperNodesMap[hn.Name] = api.NewHyperNodeInfo(hn)
		for _, m := range hn.Spec.Members {
			children[hn.Name] = append(children[hn.Name], m.Selector.ExactMatch.Name)
		}
	}
	var leaves func(name string) []string
	leaves = func(name string) []string {
		info, ok := test.HyperNodesMap[name]
		if !ok {
			return []string{name} // a node
		}
		var out []string
		for _, c := range children[info.Name] {
			out = append(out, leaves(c)...)
		}
		return out
	}
	for name := range test.HyperNodesMap {
		test.HyperNodes[name] = sets.New(leaves(name)...)
	}
	test.HyperNodesReadyToSchedule = true
}

// runningPod is a pod already running on node with gpus GPUs, in its own
// running PodGroup, so that it occupies capacity.
func runningPod(name, node string, gpus int64) (*corev1.Pod, *schedulingv1beta1.PodGroup) {
	req := corev1.ResourceList{localcluster.GPUResource: *resource.NewQuantity(gpus, resource.DecimalSI)}
	pod := util.BuildPod("batch", name, node, corev1.PodRunning, req, name, nil, nil)
	pg := util.BuildPodGroup(name, "batch", "default", 1, nil, schedulingv1beta1.PodGroupRunning)
	return pod, pg
}

func (r result) bound() int {
	n := 0
	for _, node := range r.placed {
		if node != "" {
			n++
		}
	}
	return n
}

func describe(r result) string { return fmt.Sprint(r.placed) }
