package plan

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	resourcehelper "k8s.io/component-helpers/resource"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// buildPodGroup renders the gang of one unit from the current spec.
//
//   - minMember is Σ minReplicas × size: the unit starts only if every role
//     can place its minimum.
//   - one subGroupPolicy per role groups that role's pods by LabelInstance,
//     with subGroupSize = size and minSubGroups = minReplicas, so each
//     multi-pod instance is itself a gang (and, with instanceTier, stays
//     inside one HyperNode tier).
//   - networkTopology holds the whole unit within unitTier.
func (p *planner) buildPodGroup(unit int32) *schedv1beta1.PodGroup {
	var minMember int32
	for _, r := range p.spec.Roles {
		minMember += *r.MinReplicas * r.Size
	}
	annotations := map[string]string{v1alpha1.AnnotationRoleReplicas: formatShape(p.spec)}
	topo := p.spec.Topology
	if topo != nil && topo.SpreadUnits {
		annotations[v1alpha1.AnnotationSpreadUnits] = "true"
	}
	pg := &schedv1beta1.PodGroup{
		ObjectMeta: metav1.ObjectMeta{
			Name:            unitName(p.sg.Name, unit),
			Namespace:       p.sg.Namespace,
			Labels:          p.unitLabels(unit, true),
			Annotations:     annotations,
			OwnerReferences: p.ownerRefs(),
		},
		Spec: schedv1beta1.PodGroupSpec{
			MinMember:         minMember,
			MinResources:      p.minResources(unit),
			Queue:             p.spec.Queue,
			PriorityClassName: p.spec.PriorityClassName,
		},
	}
	if topo != nil && topo.UnitTier != nil {
		pg.Spec.NetworkTopology = networkTopology(topo.Mode, *topo.UnitTier)
	}
	for i := range p.spec.Roles {
		pg.Spec.SubGroupPolicy = append(pg.Spec.SubGroupPolicy, p.subGroupPolicy(&p.spec.Roles[i]))
	}
	return pg
}

func (p *planner) subGroupPolicy(r *v1alpha1.RoleSpec) schedv1beta1.SubGroupPolicySpec {
	sg := schedv1beta1.SubGroupPolicySpec{
		Name:         r.Name,
		SubGroupSize: ptrTo(r.Size),
		MinSubGroups: ptrTo(*r.MinReplicas),
		// The selector keeps each policy to its own role's pods; without it
		// every pod of the unit would be counted in every policy.
		LabelSelector:  &metav1.LabelSelector{MatchLabels: map[string]string{v1alpha1.LabelRole: r.Name}},
		MatchLabelKeys: []string{v1alpha1.LabelInstance},
	}
	if t := p.spec.Topology; t != nil && t.InstanceTier != nil {
		sg.NetworkTopology = networkTopology(t.Mode, *t.InstanceTier)
	}
	return sg
}

func networkTopology(mode v1alpha1.TopologyMode, tier int32) *schedv1beta1.NetworkTopologySpec {
	return &schedv1beta1.NetworkTopologySpec{
		Mode:               schedv1beta1.NetworkTopologyMode(mode),
		HighestTierAllowed: ptrTo(int(tier)),
	}
}

// minResources sums the requests of the pods the gang needs at minimum:
// minReplicas instances of every role, each a leader and size-1 workers,
// including the injected accelerators. Requests use the Kubernetes formula
// (sidecars, init containers, overhead) from component-helpers.
func (p *planner) minResources(unit int32) *corev1.ResourceList {
	total := corev1.ResourceList{}
	for i := range p.spec.Roles {
		r := &p.spec.Roles[i]
		leader := podRequests(p.buildPod(unit, podSlot{role: r, rank: 0}))
		addScaled(total, leader, int64(*r.MinReplicas))
		if r.Size > 1 {
			worker := podRequests(p.buildPod(unit, podSlot{role: r, rank: 1}))
			addScaled(total, worker, int64(*r.MinReplicas)*int64(r.Size-1))
		}
	}
	return &total
}

// podRequests is the pod's effective request. A container with a limit but
// no request gets request = limit from the API server; do the same here so
// minResources matches what the scheduler will see.
func podRequests(pod *corev1.Pod) corev1.ResourceList {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			res := &cs[i].Resources
			for name, q := range res.Limits {
				if _, ok := res.Requests[name]; !ok {
					if res.Requests == nil {
						res.Requests = corev1.ResourceList{}
					}
					res.Requests[name] = q
				}
			}
		}
	}
	return resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
}

func addScaled(total, add corev1.ResourceList, n int64) {
	for name, q := range add {
		q = q.DeepCopy()
		q.Mul(n)
		sum := total[name]
		sum.Add(q)
		total[name] = sum
	}
}

// buildService renders the unit's headless Service. It publishes pods that
// are not ready yet: workers must reach their leader while it starts.
// It has no ports, so nothing in it goes stale when the engine port changes.
func (p *planner) buildService(unit int32) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:            unitName(p.sg.Name, unit),
			Namespace:       p.sg.Namespace,
			Labels:          p.unitLabels(unit, false),
			OwnerReferences: p.ownerRefs(),
		},
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			Selector:                 p.unitLabels(unit, false),
			PublishNotReadyAddresses: true,
		},
	}
}

func (p *planner) unitLabels(unit int32, withRevision bool) map[string]string {
	l := map[string]string{
		v1alpha1.LabelGroup: p.sg.Name,
		v1alpha1.LabelUnit:  strconv.Itoa(int(unit)),
	}
	if withRevision {
		l[v1alpha1.LabelRevision] = p.revision
	}
	return l
}
