package scenario

import (
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	schedulingv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"
	topologyv1alpha1 "volcano.sh/apis/pkg/apis/topology/v1alpha1"
	"volcano.sh/volcano/pkg/scheduler/api"
	"volcano.sh/volcano/pkg/scheduler/cache"
	"volcano.sh/volcano/pkg/scheduler/framework"
	"volcano.sh/volcano/pkg/scheduler/plugins/binpack"
	"volcano.sh/volcano/pkg/scheduler/plugins/conformance"
	"volcano.sh/volcano/pkg/scheduler/plugins/gang"
	networktopologyaware "volcano.sh/volcano/pkg/scheduler/plugins/network-topology-aware"
	"volcano.sh/volcano/pkg/scheduler/plugins/predicates"
	"volcano.sh/volcano/pkg/scheduler/plugins/priority"
	"volcano.sh/volcano/pkg/scheduler/plugins/proportion"
	"volcano.sh/volcano/pkg/scheduler/uthelper"
	"volcano.sh/volcano/pkg/scheduler/util"

	"github.com/tandem-serving/tandem/plugins/tandem"
)

// DefaultQueue is the Volcano queue every unit goes to unless its
// ServingGroup names another.
const DefaultQueue = "default"

func registerPlugins() {
	uthelper.RegisterPlugins(map[string]framework.PluginBuilder{
		gang.PluginName: gang.New, priority.PluginName: priority.New, conformance.PluginName: conformance.New, predicates.PluginName: predicates.New,
		proportion.PluginName: proportion.New, binpack.PluginName: binpack.New,
		networktopologyaware.PluginName: networktopologyaware.New, tandem.Name: tandem.New,
	})
}

// newCache fills Volcano's mock scheduler cache as uthelper does, with a
// binder and an evictor that never block, and without starting the
// cache's informers and workers. Closing the returned channel stops the
// goroutine that drains the binds.
func newCache(nodes []corev1.Node, hyperNodes []topologyv1alpha1.HyperNode, pods []*corev1.Pod, pgs []*schedulingv1beta1.PodGroup,
	queues []*schedulingv1beta1.Queue, priorityClasses []*schedulingv1.PriorityClass) (*cache.SchedulerCache, chan struct{}) {
	// An unbuffered FakeRecorder drops events instead of blocking binds.
	c := cache.NewCustomMockSchedulerCache("tandem-scenario", binder{}, evictor{}, &util.FakeStatusUpdater{}, nil, &record.FakeRecorder{})
	// Not c.Run: its informers (of empty fake clients) take a 100 ms sync
	// poll, and its workers only matter after the session. Binds the
	// session dispatches are drained here instead, so that a session with
	// more than the channel's 5,000 binds does not block.
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-c.BindFlowChannel:
			case <-stop:
				return
			}
		}
	}()
	for _, pc := range priorityClasses {
		c.AddPriorityClass(pc.DeepCopy())
	}
	for i := range nodes {
		_ = c.AddOrUpdateNode(nodes[i].DeepCopy())
	}
	for _, p := range pods {
		c.AddPod(p.DeepCopy())
	}
	for _, pg := range pgs {
		c.AddPodGroupV1beta1(pg.DeepCopy())
	}
	c.AddQueueV1beta1(util.BuildQueue(DefaultQueue, 1, nil))
	for _, q := range queues {
		c.AddQueueV1beta1(q.DeepCopy())
	}
	c.HyperNodesInfo = hyperNodesInfo(hyperNodes)
	return c, stop
}

// hyperNodesInfo gives the cache the HyperNodes in the three shapes it
// wants: HyperNodeInfos linked to parents and children, the names per
// tier, and the leaf nodes under each.
func hyperNodesInfo(hns []topologyv1alpha1.HyperNode) *api.HyperNodesInfo {
	byTier := map[int]sets.Set[string]{}
	infos := map[string]*api.HyperNodeInfo{}
	for i := range hns {
		hn := hns[i].DeepCopy()
		if byTier[hn.Spec.Tier] == nil {
			byTier[hn.Spec.Tier] = sets.New[string]()
		}
		byTier[hn.Spec.Tier].Insert(hn.Name)
		infos[hn.Name] = api.NewHyperNodeInfo(hn)
	}
	for _, info := range infos {
		for _, m := range info.HyperNode.Spec.Members {
			if m.Type != topologyv1alpha1.MemberTypeHyperNode || m.Selector.ExactMatch == nil {
				continue
			}
			child := m.Selector.ExactMatch.Name
			info.Children.Insert(child)
			if c, ok := infos[child]; ok {
				c.Parent = info.Name
			}
		}
	}
	leaves := map[string]sets.Set[string]{}
	for name, nodes := range leafNodes(hns) {
		leaves[name] = sets.New(nodes...)
	}
	ready := new(atomic.Bool)
	ready.Store(true)
	return api.NewHyperNodesInfoWithCache(infos, byTier, leaves, ready)
}

// leafNodes maps every HyperNode to the nodes under it.
func leafNodes(hns []topologyv1alpha1.HyperNode) map[string][]string {
	byName := map[string]*topologyv1alpha1.HyperNode{}
	for i := range hns {
		byName[hns[i].Name] = &hns[i]
	}
	out := map[string][]string{}
	var walk func(name string) []string
	walk = func(name string) []string {
		if nodes, ok := out[name]; ok {
			return nodes
		}
		nodes := []string{}
		for _, m := range byName[name].Spec.Members {
			switch {
			case m.Selector.ExactMatch == nil:
			case m.Type == topologyv1alpha1.MemberTypeNode:
				nodes = append(nodes, m.Selector.ExactMatch.Name)
			case byName[m.Selector.ExactMatch.Name] != nil:
				nodes = append(nodes, walk(m.Selector.ExactMatch.Name)...)
			}
		}
		out[name] = nodes
		return nodes
	}
	for name := range byName {
		walk(name)
	}
	return out
}

// binder and evictor return at once and do nothing: the session's own
// task states say what was placed and evicted. (uthelper's FakeBinder
// blocks until a test reads each bind.)
type binder struct{}

func (binder) Bind(kubernetes.Interface, []*api.TaskInfo) map[api.TaskID]string { return nil }

type evictor struct{}

func (evictor) Evict(*corev1.Pod, string) error { return nil }
