package scenario

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	schedulingv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/plugins/tandem"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// Check returns every invariant the result breaks, one line each, sorted;
// none for a correct placement, whatever the scheduler configuration:
//
//   - capacity: on every node, the requests of the pods placed there
//     (pre-existing ones included) fit its allocatable, accelerators
//     first among them;
//   - affinity: every placed pod's required node affinity (the role's
//     accelerator types) matches its node;
//   - gang: a PodGroup has nothing placed or at least minMember pods, and
//     each of its sub-group policies (a role) has at least minSubGroups
//     whole instances; no instance is placed in part;
//   - hard topology: all placed pods of a unit whose networkTopology is
//     hard at tier T lie in one tier-T HyperNode, and likewise the pods of
//     each instance for a role's hard sub-group topology.
func Check(f localcluster.Fleet, r *Result) []string {
	var out []string
	out = append(out, checkNodes(f, r)...)
	topo := Topology(f)
	members := unitMembers(r)
	for key, pg := range r.PodGroups {
		out = append(out, checkUnit(topo, key, pg, members[key], r)...)
	}
	sort.Strings(out)
	return out
}

func checkNodes(f localcluster.Fleet, r *Result) []string {
	var out []string
	nodes := map[string]*corev1.Node{}
	for _, n := range f.Nodes() {
		nodes[n.Name] = &n
	}
	used := map[string]corev1.ResourceList{}
	for key, node := range r.Placed {
		if node == "" {
			continue
		}
		pod, n := r.Pods[key], nodes[node]
		switch {
		case pod == nil:
			out = append(out, fmt.Sprintf("pod %s: placed but never given to the scheduler", key))
			continue
		case n == nil:
			out = append(out, fmt.Sprintf("pod %s: placed on unknown node %s", key, node))
			continue
		}
		if ok, _ := nodeaffinity.GetRequiredNodeAffinity(pod).Match(n); !ok {
			out = append(out, fmt.Sprintf("pod %s: node %s (%s=%s) does not match its required node affinity",
				key, node, localcluster.GPUProductLabel, n.Labels[localcluster.GPUProductLabel]))
		}
		if used[node] == nil {
			used[node] = corev1.ResourceList{}
		}
		for name, q := range resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{}) {
			sum := used[node][name]
			sum.Add(q)
			used[node][name] = sum
		}
	}
	for node, u := range used {
		for name, q := range u {
			if alloc, ok := nodes[node].Status.Allocatable[name]; ok && q.Cmp(alloc) > 0 {
				out = append(out, fmt.Sprintf("node %s: %s over-committed, %s requested of %s", node, name, q.String(), alloc.String()))
			}
		}
	}
	return out
}

// unitMembers maps a PodGroup (namespace/name) to its pods' keys.
func unitMembers(r *Result) map[string][]string {
	out := map[string][]string{}
	for key, pod := range r.Pods {
		if g := pod.Annotations[schedulingv1beta1.KubeGroupNameAnnotationKey]; g != "" {
			pg := pod.Namespace + "/" + g
			out[pg] = append(out[pg], key)
		}
	}
	for _, pods := range out {
		sort.Strings(pods) // stable messages
	}
	return out
}

func checkUnit(topo *tandem.Topology, key string, pg *schedulingv1beta1.PodGroup, pods []string, r *Result) []string {
	var out []string
	var nodes []string
	for _, p := range pods {
		if n := r.Placed[p]; n != "" {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 0 {
		return nil
	}
	if int32(len(nodes)) < pg.Spec.MinMember {
		out = append(out, fmt.Sprintf("unit %s: partial, %d of minMember %d pods placed", key, len(nodes), pg.Spec.MinMember))
	}
	if nt := pg.Spec.NetworkTopology; nt != nil && nt.Mode == schedulingv1beta1.HardNetworkTopologyMode && nt.HighestTierAllowed != nil {
		if why := spans(topo, nodes, *nt.HighestTierAllowed); why != "" {
			out = append(out, fmt.Sprintf("unit %s: hard unit topology broken, %s", key, why))
		}
	}
	u := &unitCheck{key: key, pods: pods, result: r, topo: topo}
	for i := range pg.Spec.SubGroupPolicy {
		out = append(out, u.policy(&pg.Spec.SubGroupPolicy[i])...)
	}
	return out
}

type unitCheck struct {
	key    string
	pods   []string // namespace/name of the unit's pods
	result *Result
	topo   *tandem.Topology
}

// policy checks one sub-group policy (a role): whole instances, none in
// part, and the instance's hard topology.
func (u *unitCheck) policy(p *schedulingv1beta1.SubGroupPolicySpec) []string {
	var out []string
	sel := labels.Everything()
	if p.LabelSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(p.LabelSelector)
		if err != nil {
			return []string{fmt.Sprintf("unit %s: role %s: bad label selector: %v", u.key, p.Name, err)}
		}
		sel = s
	}
	size, minGroups := int32(1), int32(1)
	if p.SubGroupSize != nil {
		size = *p.SubGroupSize
	}
	if p.MinSubGroups != nil {
		minGroups = *p.MinSubGroups
	}
	instances := map[string][]string{} // instance -> nodes of its placed pods
	for _, key := range u.pods {
		l := u.result.Pods[key].Labels
		if !sel.Matches(labels.Set(l)) {
			continue
		}
		var values []string
		for _, k := range p.MatchLabelKeys {
			values = append(values, l[k])
		}
		inst := strings.Join(values, ",")
		if _, ok := instances[inst]; !ok {
			instances[inst] = nil
		}
		if n := u.result.Placed[key]; n != "" {
			instances[inst] = append(instances[inst], n)
		}
	}
	whole := int32(0)
	for inst, nodes := range instances {
		switch n := int32(len(nodes)); {
		case n >= size:
			whole++
		case n > 0:
			out = append(out, fmt.Sprintf("unit %s: role %s: instance %s placed in part, %d of %d pods", u.key, p.Name, inst, n, size))
		}
		if nt := p.NetworkTopology; nt != nil && nt.Mode == schedulingv1beta1.HardNetworkTopologyMode && nt.HighestTierAllowed != nil {
			if why := spans(u.topo, nodes, *nt.HighestTierAllowed); why != "" {
				out = append(out, fmt.Sprintf("unit %s: role %s: hard instance topology broken for %s, %s", u.key, p.Name, inst, why))
			}
		}
	}
	if whole < minGroups {
		out = append(out, fmt.Sprintf("unit %s: partial, role %s has %d of %d whole instances", u.key, p.Name, whole, minGroups))
	}
	return out
}

// spans explains why nodes do not lie in one tier-T HyperNode, or returns
// "". A tier above the topology's top holds everything.
func spans(topo *tandem.Topology, nodes []string, tier int) string {
	if tier > topo.MaxTier() || len(nodes) == 0 {
		return ""
	}
	first := topo.Domain(nodes[0], tier)
	for _, n := range nodes {
		if d := topo.Domain(n, tier); d == "" || d != first {
			return fmt.Sprintf("nodes %s (tier-%d %q) and %s (tier-%d %q) differ", nodes[0], tier, first, n, tier, d)
		}
	}
	return ""
}
