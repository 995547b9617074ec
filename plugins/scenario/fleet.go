package scenario

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	schedulingv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"
	"volcano.sh/volcano/pkg/scheduler/util"

	"github.com/tandem-serving/tandem/plugins/tandem"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// BatchNamespace holds the pods RunningPod makes.
const BatchNamespace = "batch"

// RunningPod is a pod already running on node with gpus GPUs, in its own
// running PodGroup of one, so that it occupies capacity.
func RunningPod(name, node string, gpus int64) (*corev1.Pod, *schedulingv1beta1.PodGroup) {
	req := corev1.ResourceList{localcluster.GPUResource: *resource.NewQuantity(gpus, resource.DecimalSI)}
	pod := util.BuildPod(BatchNamespace, name, node, corev1.PodRunning, req, name, nil, nil)
	pod.UID = types.UID("uid-" + BatchNamespace + "-" + name)
	pg := util.BuildPodGroup(name, BatchNamespace, DefaultQueue, 1, nil, schedulingv1beta1.PodGroupRunning)
	return pod, pg
}

// Topology is the fleet's HyperNode tree as Tandem's plugin sees it (the
// tier-N HyperNode of every node, tier distances), for measuring
// placements.
func Topology(f localcluster.Fleet) *tandem.Topology {
	hns := f.HyperNodes()
	nodes := leafNodes(hns)
	members := map[int]map[string][]string{}
	for _, hn := range hns {
		if members[hn.Spec.Tier] == nil {
			members[hn.Spec.Tier] = map[string][]string{}
		}
		members[hn.Spec.Tier][hn.Name] = nodes[hn.Name]
	}
	return tandem.NewTopology(members)
}

// BatchGang is a running batch job as Volcano's job controller leaves it:
// a PodGroup in queue with minMember one per node and minResources their
// sum (which the enqueue action and proportion read), and on each node a
// running pod of gpus GPUs, all at priorityClass (which the scenario's
// PriorityClasses must define; "" for none). The pods are preemptable as
// Volcano's default has it (no annotation).
func BatchGang(name, queue, priorityClass string, gpus int64, nodes ...string) ([]*corev1.Pod, *schedulingv1beta1.PodGroup) {
	req := corev1.ResourceList{localcluster.GPUResource: *resource.NewQuantity(gpus, resource.DecimalSI)}
	pg := util.BuildPodGroup(name, BatchNamespace, queue, int32(len(nodes)), nil, schedulingv1beta1.PodGroupRunning)
	pg.Spec.PriorityClassName = priorityClass
	total := *resource.NewQuantity(gpus*int64(len(nodes)), resource.DecimalSI)
	pg.Spec.MinResources = &corev1.ResourceList{localcluster.GPUResource: total}
	var pods []*corev1.Pod
	for i, node := range nodes {
		pod := util.BuildPod(BatchNamespace, fmt.Sprintf("%s-%d", name, i), node, corev1.PodRunning, req, name, nil, nil)
		pod.UID = types.UID(fmt.Sprintf("uid-%s-%s-%d", BatchNamespace, name, i))
		pod.Spec.PriorityClassName = priorityClass
		pods = append(pods, pod)
	}
	return pods, pg
}
