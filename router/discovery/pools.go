package discovery

import (
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/router/endpoint"
)

// AnnotationShareModel, "true" on a ServingGroup, offers its served model
// names to routers of other namespaces that accept shared models
// (Scope.Shared). An annotation, not a spec field: it changes nothing the
// controller builds, only who may route to the group.
const AnnotationShareModel = "serving.tandem.dev/share-model-across-namespaces"

// Scope says which ServingGroups serve a router's requests. Model pools
// are per namespace:
//
//  1. Every ServingGroup of Namespace serves its model names ("home"
//     groups). An empty Namespace makes every group given a home group;
//     callers that listed one namespace use that.
//  2. With Shared, a group of another namespace annotated
//     AnnotationShareModel also serves, but only the model names no home
//     group serves, so a group elsewhere naming the same model never takes
//     this namespace's traffic. Such a group must list servedModelNames,
//     and if any home group leaves them to its engine (so its models are
//     not known here) no shared group is used at all.
//  3. A pod counts only if its controller owner reference is its
//     ServingGroup (kind ServingGroup, apiVersion serving.tandem.dev/v1alpha1,
//     the name in its group label, the group's UID): a label anyone can
//     write, an owner reference only the controller sets, and an impostor
//     pod with the label but no such reference would otherwise receive
//     prompts.
type Scope struct {
	Namespace string
	Shared    bool
}

// Endpoints turns ServingGroups and their pods into endpoint specs for
// the scope: ready, not terminating leader pods with an IP, owned by a
// group of the scope.
func (sc Scope) Endpoints(groups []v1alpha1.ServingGroup, pods []corev1.Pod) []endpoint.Spec {
	serving := sc.models(groups)
	var specs []endpoint.Spec
	for i := range pods {
		p := &pods[i]
		key := p.Namespace + "/" + p.Labels[v1alpha1.LabelGroup]
		sg, models := serving[key].group, serving[key].models
		if sg == nil || !ownedBy(p, sg) || !servable(p) {
			continue
		}
		if s, ok := spec(p, sg, key, models); ok {
			specs = append(specs, s)
		}
	}
	slices.SortFunc(specs, func(a, b endpoint.Spec) int { return strings.Compare(a.Name, b.Name) })
	return specs
}

// Endpoints is Scope{}.Endpoints: groups and pods of one namespace.
func Endpoints(groups []v1alpha1.ServingGroup, pods []corev1.Pod) []endpoint.Spec {
	return Scope{}.Endpoints(groups, pods)
}

// Models are the model names the scope's groups declare
// (servedModelNames), sorted, whether or not any of their pods is ready:
// the router holds a request for one of them while its group scales up
// from zero, and answers 404 for any other name without endpoints. A
// group that leaves its names to the engine declares none.
func (sc Scope) Models(groups []v1alpha1.ServingGroup) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range sc.models(groups) {
		for _, m := range s.models {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	slices.Sort(out)
	return out
}

type served struct {
	group  *v1alpha1.ServingGroup
	models []string // nil: the engine's own list
}

// models is, per "namespace/name", each group of the scope and the model
// names it serves here.
func (sc Scope) models(groups []v1alpha1.ServingGroup) map[string]served {
	out := make(map[string]served, len(groups))
	home := map[string]bool{}
	homeUnknown := false
	for i := range groups {
		g := &groups[i]
		if sc.Namespace != "" && g.Namespace != sc.Namespace {
			continue
		}
		out[g.Namespace+"/"+g.Name] = served{group: g, models: g.Spec.ServedModelNames}
		homeUnknown = homeUnknown || len(g.Spec.ServedModelNames) == 0
		for _, m := range g.Spec.ServedModelNames {
			home[m] = true
		}
	}
	if !sc.Shared || sc.Namespace == "" || homeUnknown {
		return out
	}
	for i := range groups {
		g := &groups[i]
		if g.Namespace == sc.Namespace || g.Annotations[AnnotationShareModel] != "true" {
			continue
		}
		var models []string
		for _, m := range g.Spec.ServedModelNames {
			if !home[m] {
				models = append(models, m)
			}
		}
		if len(models) > 0 {
			out[g.Namespace+"/"+g.Name] = served{group: g, models: models}
		}
	}
	return out
}

// ownedBy reports whether sg is p's controller, as the ServingGroup
// controller sets it (controller/plan: ownerRefs).
func ownedBy(p *corev1.Pod, sg *v1alpha1.ServingGroup) bool {
	ref := metav1.GetControllerOf(p)
	return ref != nil && ref.APIVersion == v1alpha1.GroupVersion.String() && ref.Kind == "ServingGroup" &&
		ref.Name == sg.Name && ref.Name == p.Labels[v1alpha1.LabelGroup] && ref.UID == sg.UID
}

func spec(p *corev1.Pod, sg *v1alpha1.ServingGroup, key string, models []string) (endpoint.Spec, bool) {
	port := int(sg.Spec.Engine.Port)
	if port == 0 {
		port = defaultEnginePort
	}
	s := endpoint.Spec{
		Name:    p.Namespace + "/" + p.Name,
		Address: net.JoinHostPort(p.Status.PodIP, strconv.Itoa(port)),
		Models:  models,
		Role:    endpoint.RoleFromName(p.Labels[v1alpha1.LabelRole]),
		Group:   key,
		Unit:    p.Labels[v1alpha1.LabelUnit],
		Kind:    endpoint.Kind(sg.Spec.Engine.Kind),
		// Zero (a group built without the CRD's defaults) leaves the
		// router's own defaults: SGLang's 8998 (Spec.Normalize) and the
		// configured kvEvents.port.
		BootstrapPort: int(sg.Spec.Engine.BootstrapPort),
		KVEventsPort:  int(sg.Spec.Engine.KVEventsPort),
	}
	if s.Kind != endpoint.SGLang {
		s.BootstrapPort = 0 // vLLM's prefill reports its own side channel
	}
	return s, s.Normalize() == nil
}
