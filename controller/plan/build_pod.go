package plan

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// unitName names a unit's PodGroup and headless Service: <group>-<unit>.
func unitName(group string, unit int32) string {
	return group + "-" + strconv.Itoa(int(unit))
}

// instanceName is <group>-<unit>-<role>-<instance>, the value of
// LabelInstance: unique per instance within the namespace.
func instanceName(group string, unit int32, role string, instance int32) string {
	return fmt.Sprintf("%s-%d-%s-%d", group, unit, role, instance)
}

// podName is <group>-<unit>-<role>-<instance>-<rank>. Stable names make a
// duplicate create fail with AlreadyExists instead of doubling a unit.
func podName(group string, unit int32, role string, instance, rank int32) string {
	return fmt.Sprintf("%s-%d", instanceName(group, unit, role, instance), rank)
}

// podSlot identifies one pod of a unit.
type podSlot struct {
	role     *v1alpha1.RoleSpec
	instance int32
	rank     int32
}

// buildPod renders the pod of one slot from the current spec.
func (p *planner) buildPod(unit int32, s podSlot) *corev1.Pod {
	tmpl := &s.role.Template
	if s.rank > 0 && s.role.WorkerTemplate != nil {
		tmpl = s.role.WorkerTemplate
	}
	tmpl = tmpl.DeepCopy()
	group := p.sg.Name
	name := podName(group, unit, s.role.Name, s.instance, s.rank)
	service := unitName(group, unit)

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       p.sg.Namespace,
			Labels:          mergeMaps(tmpl.Labels, p.podLabels(unit, s)),
			Annotations:     mergeMaps(tmpl.Annotations, map[string]string{schedv1beta1.KubeGroupNameAnnotationKey: service}),
			OwnerReferences: p.ownerRefs(),
		},
		Spec: tmpl.Spec,
	}
	spec := &pod.Spec
	// Hostname + subdomain give the pod the DNS name
	// <pod>.<service>.<namespace> through the unit's headless Service.
	spec.Hostname = name
	spec.Subdomain = service
	spec.SchedulerName = p.cfg.SchedulerName
	if p.spec.PriorityClassName != "" {
		spec.PriorityClassName = p.spec.PriorityClassName
	}
	if a := s.role.Accelerator; a != nil {
		injectAccelerator(spec, a)
		if len(a.Types) > 0 {
			requireNodeLabel(spec, p.cfg.AcceleratorTypeLabel, a.Types)
		}
	}
	leader := podName(group, unit, s.role.Name, s.instance, 0)
	setEnv(spec, []corev1.EnvVar{
		{Name: v1alpha1.EnvLeaderAddress, Value: p.dnsName(leader, service)},
		{Name: v1alpha1.EnvRank, Value: strconv.Itoa(int(s.rank))},
		{Name: v1alpha1.EnvWorldSize, Value: strconv.Itoa(int(s.role.Size))},
	})
	return pod
}

func (p *planner) podLabels(unit int32, s podSlot) map[string]string {
	return map[string]string{
		v1alpha1.LabelGroup:    p.sg.Name,
		v1alpha1.LabelUnit:     strconv.Itoa(int(unit)),
		v1alpha1.LabelRole:     s.role.Name,
		v1alpha1.LabelInstance: instanceName(p.sg.Name, unit, s.role.Name, s.instance),
		v1alpha1.LabelRank:     strconv.Itoa(int(s.rank)),
		v1alpha1.LabelRevision: p.revision,
	}
}

func (p *planner) dnsName(pod, service string) string {
	name := pod + "." + service + "." + p.sg.Namespace
	if p.cfg.ClusterDomain != "" {
		name += ".svc." + p.cfg.ClusterDomain
	}
	return name
}

// ownerRefs makes the ServingGroup the controller of an object, so garbage
// collection removes it with the group and the controller's watches map it
// back to its group.
func (p *planner) ownerRefs() []metav1.OwnerReference {
	return []metav1.OwnerReference{{
		APIVersion:         v1alpha1.GroupVersion.String(),
		Kind:               "ServingGroup",
		Name:               p.sg.Name,
		UID:                p.sg.UID,
		Controller:         ptrTo(true),
		BlockOwnerDeletion: ptrTo(true),
	}}
}

// injectAccelerator sets the accelerator request and limit on the first
// container. Extended resources cannot be overcommitted, so both are equal.
func injectAccelerator(spec *corev1.PodSpec, a *v1alpha1.AcceleratorSpec) {
	if len(spec.Containers) == 0 {
		return
	}
	c := &spec.Containers[0]
	q := *resource.NewQuantity(int64(a.Count), resource.DecimalSI)
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	if c.Resources.Limits == nil {
		c.Resources.Limits = corev1.ResourceList{}
	}
	c.Resources.Requests[corev1.ResourceName(a.Resource)] = q
	c.Resources.Limits[corev1.ResourceName(a.Resource)] = q
}

// requireNodeLabel adds "key In values" to every required node selector term.
// Terms are ORed, so the expression must go into each of them; with no terms
// it becomes the only one.
func requireNodeLabel(spec *corev1.PodSpec, key string, values []string) {
	expr := corev1.NodeSelectorRequirement{Key: key, Operator: corev1.NodeSelectorOpIn, Values: append([]string(nil), values...)}
	if spec.Affinity == nil {
		spec.Affinity = &corev1.Affinity{}
	}
	if spec.Affinity.NodeAffinity == nil {
		spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	na := spec.Affinity.NodeAffinity
	if na.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
	}
	sel := na.RequiredDuringSchedulingIgnoredDuringExecution
	if len(sel.NodeSelectorTerms) == 0 {
		sel.NodeSelectorTerms = []corev1.NodeSelectorTerm{{}}
	}
	for i := range sel.NodeSelectorTerms {
		t := &sel.NodeSelectorTerms[i]
		t.MatchExpressions = append(t.MatchExpressions, expr)
	}
}

// setEnv sets vars in every container and init container, replacing any
// variable of the same name from the template: the controller's values are
// the ones the engine must see.
func setEnv(spec *corev1.PodSpec, vars []corev1.EnvVar) {
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			cs[i].Env = replaceEnv(cs[i].Env, vars)
		}
	}
}

func replaceEnv(env, vars []corev1.EnvVar) []corev1.EnvVar {
	out := make([]corev1.EnvVar, 0, len(env)+len(vars))
	for _, e := range env {
		if !hasEnv(vars, e.Name) {
			out = append(out, e)
		}
	}
	return append(out, vars...)
}

func hasEnv(vars []corev1.EnvVar, name string) bool {
	for _, v := range vars {
		if v.Name == name {
			return true
		}
	}
	return false
}

// mergeMaps returns base overlaid with over; over wins.
func mergeMaps(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}
