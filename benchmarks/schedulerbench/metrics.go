package schedulerbench

import (
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
	schedulingv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/plugins/scenario"
	"github.com/tandem-serving/tandem/plugins/tandem"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// Measurement is what one session did, by the benchmark's measures.
type Measurement struct {
	// Session phases (scenario.Timing); Session is their sum, CPU the
	// process's CPU time over them.
	Open, Allocate, Close, Session, CPU time.Duration
	// TandemAllocate is the tandem-allocate action's part of the session
	// (zero where it did not run).
	TandemAllocate time.Duration
	// Units are the benchmark's units; Placed those with any pod placed
	// (whole, as Violations would say otherwise).
	Units, Placed int
	// Pods and GPUs placed for the units (the running batch pods left out).
	Pods int
	GPUs float64
	// PD is the mean P↔D tier distance over the placed units that have
	// both roles (PDUnits of them): per unit, the mean over its decode
	// pods of the tier distance to the nearest prefill pod of the unit
	// (0 same node, 1 same tier-1 domain, 2 same rack, 3 across the
	// spine). NaN when no such unit was placed.
	PD      float64
	PDUnits int
	// FreeDomains are the tier-1 HyperNodes none of whose GPUs are in use
	// after the session, of Domains.
	FreeDomains, Domains int
	// Violations are scenario.Check's findings; none is expected.
	Violations []string
}

// Measure reads a session's result.
func Measure(f localcluster.Fleet, topo *tandem.Topology, r *scenario.Result) Measurement {
	m := Measurement{
		Open:     r.Timing.Open,
		Allocate: r.Timing.Actions["allocate"],
		Close:    r.Timing.Close,
		Session:  r.Timing.Session(),
		CPU:      r.Timing.CPU,
	}
	members := map[string][]*corev1.Pod{} // PodGroup name -> its pods
	used := map[string]float64{}          // node -> GPUs in use
	for key, pod := range r.Pods {
		node := r.Placed[key]
		if node == "" {
			continue
		}
		gpus := gpuRequest(pod)
		used[node] += gpus
		if pod.Namespace == Namespace {
			m.Pods++
			m.GPUs += gpus
			g := pod.Annotations[schedulingv1beta1.KubeGroupNameAnnotationKey]
			members[g] = append(members[g], pod)
		}
	}
	sumPD := 0.0
	for _, pg := range r.PodGroups {
		if pg.Namespace != Namespace {
			continue
		}
		m.Units++
		pods := members[pg.Name]
		if len(pods) == 0 {
			continue
		}
		m.Placed++
		if d, ok := unitPD(topo, pods, r.Placed); ok {
			sumPD += d
			m.PDUnits++
		}
	}
	m.PD = math.NaN()
	if m.PDUnits > 0 {
		m.PD = sumPD / float64(m.PDUnits)
	}
	m.FreeDomains, m.Domains = freeDomains(f, topo, used)
	m.Violations = scenario.Check(f, r)
	return m
}

// unitPD is the unit's mean over decode pods of the distance to the
// nearest prefill pod; ok is false when either role has no pod placed.
func unitPD(topo *tandem.Topology, pods []*corev1.Pod, placed map[string]string) (float64, bool) {
	var prefill, decode []string
	for _, p := range pods {
		node := placed[p.Namespace+"/"+p.Name]
		switch p.Labels[v1alpha1.LabelRole] {
		case "prefill":
			prefill = append(prefill, node)
		case "decode":
			decode = append(decode, node)
		}
	}
	return meanNearest(topo.Distance, prefill, decode)
}

// meanNearest is the mean over decode of the distance to the nearest of
// prefill.
func meanNearest[N comparable](dist func(a, b N) int, prefill, decode []N) (float64, bool) {
	if len(prefill) == 0 || len(decode) == 0 {
		return 0, false
	}
	sum := 0
	for _, d := range decode {
		best := math.MaxInt
		for _, p := range prefill {
			best = min(best, dist(d, p))
		}
		sum += best
	}
	return float64(sum) / float64(len(decode)), true
}

// freeDomains counts the tier-1 HyperNodes with no GPU in use.
func freeDomains(f localcluster.Fleet, topo *tandem.Topology, used map[string]float64) (free, all int) {
	busy := map[string]bool{}
	for _, n := range f.Nodes() {
		d := topo.Domain(n.Name, 1)
		if _, seen := busy[d]; !seen {
			busy[d] = false
		}
		if used[n.Name] > 0 {
			busy[d] = true
		}
	}
	for _, b := range busy {
		if !b {
			free++
		}
	}
	return free, len(busy)
}

func gpuRequest(pod *corev1.Pod) float64 {
	q := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})[localcluster.GPUResource]
	return float64(q.Value())
}
