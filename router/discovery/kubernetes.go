package discovery

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/router/endpoint"
)

// defaultEnginePort is the ServingGroup API's default engine port.
const defaultEnginePort = 8000

// settle coalesces bursts of pod events into one registry update.
const settle = 50 * time.Millisecond

// Kubernetes discovers endpoints from ServingGroups and their pods: every
// ready leader pod (rank 0) with an IP is an endpoint, with its role and
// unit from the pod's labels and the engine kind, ports and model names
// from its ServingGroup (spec.engine: port, bootstrapPort, kvEventsPort).
type Kubernetes struct {
	Config *rest.Config
	// Namespace limits discovery to one namespace; empty means all.
	Namespace string
	Sink      Sink
	Log       logr.Logger
}

// Run watches until ctx ends. It returns once the informers fail to sync,
// or when ctx ends.
func (k *Kubernetes) Run(ctx context.Context) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	inGroup, err := labels.NewRequirement(v1alpha1.LabelGroup, selection.Exists, nil)
	if err != nil {
		return err
	}
	opts := cache.Options{
		Scheme:   scheme,
		ByObject: map[client.Object]cache.ByObject{&corev1.Pod{}: {Label: labels.NewSelector().Add(*inGroup)}},
	}
	if k.Namespace != "" {
		opts.DefaultNamespaces = map[string]cache.Config{k.Namespace: {}}
	}
	c, err := cache.New(k.Config, opts)
	if err != nil {
		return fmt.Errorf("kubernetes discovery: %w", err)
	}
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify() },
		UpdateFunc: func(any, any) { notify() },
		DeleteFunc: func(any) { notify() },
	}
	for _, obj := range []client.Object{&corev1.Pod{}, &v1alpha1.ServingGroup{}} {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("kubernetes discovery: informer: %w", err)
		}
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return fmt.Errorf("kubernetes discovery: caches did not sync")
	}
	k.Log.Info("Kubernetes discovery synced", "namespace", k.Namespace)
	notify()
	for {
		select {
		case <-ctx.Done():
			return <-errc
		case <-changed:
		}
		time.Sleep(settle)
		if err := k.sync(ctx, c); err != nil {
			k.Log.Error(err, "Listing ServingGroups and pods")
		}
	}
}

func (k *Kubernetes) sync(ctx context.Context, c client.Reader) error {
	var groups v1alpha1.ServingGroupList
	var pods corev1.PodList
	if err := c.List(ctx, &groups, client.InNamespace(k.Namespace)); err != nil {
		return err
	}
	if err := c.List(ctx, &pods, client.InNamespace(k.Namespace)); err != nil {
		return err
	}
	specs := Endpoints(groups.Items, pods.Items)
	added, removed := k.Sink.Update(specs)
	if len(added)+len(removed) > 0 {
		k.Log.Info("Endpoints changed", "endpoints", len(specs), "added", len(added), "removed", len(removed))
	}
	return nil
}

// Endpoints turns ServingGroups and their pods into endpoint specs: ready,
// not terminating leader pods with an IP whose group exists.
func Endpoints(groups []v1alpha1.ServingGroup, pods []corev1.Pod) []endpoint.Spec {
	byKey := make(map[string]*v1alpha1.ServingGroup, len(groups))
	for i := range groups {
		byKey[groups[i].Namespace+"/"+groups[i].Name] = &groups[i]
	}
	var specs []endpoint.Spec
	for i := range pods {
		p := &pods[i]
		key := p.Namespace + "/" + p.Labels[v1alpha1.LabelGroup]
		sg := byKey[key]
		if sg == nil || !servable(p) {
			continue
		}
		port := int(sg.Spec.Engine.Port)
		if port == 0 {
			port = defaultEnginePort
		}
		s := endpoint.Spec{
			Name:    p.Namespace + "/" + p.Name,
			Address: net.JoinHostPort(p.Status.PodIP, strconv.Itoa(port)),
			Models:  sg.Spec.ServedModelNames,
			Role:    endpoint.RoleFromName(p.Labels[v1alpha1.LabelRole]),
			Group:   key,
			Unit:    p.Labels[v1alpha1.LabelUnit],
			Kind:    endpoint.Kind(sg.Spec.Engine.Kind),
			// Zero (a group built without the CRD's defaults) leaves the
			// router's own defaults: SGLang's 8998 (Spec.Normalize) and
			// the configured kvEvents.port.
			BootstrapPort: int(sg.Spec.Engine.BootstrapPort),
			KVEventsPort:  int(sg.Spec.Engine.KVEventsPort),
		}
		if s.Kind != endpoint.SGLang {
			s.BootstrapPort = 0 // vLLM's prefill reports its own side channel
		}
		if s.Normalize() == nil {
			specs = append(specs, s)
		}
	}
	slices.SortFunc(specs, func(a, b endpoint.Spec) int { return strings.Compare(a.Name, b.Name) })
	return specs
}

// servable: the instance's leader (rank 0), running, ready, with an IP,
// not being deleted.
func servable(p *corev1.Pod) bool {
	if rank := p.Labels[v1alpha1.LabelRank]; rank != "" && rank != "0" {
		return false
	}
	if p.DeletionTimestamp != nil || p.Status.PodIP == "" || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
