package discovery

import (
	"context"
	"errors"
	"fmt"
	"os"
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
)

// defaultEnginePort is the ServingGroup API's default engine port.
const defaultEnginePort = 8000

// settle coalesces bursts of pod events into one registry update.
const settle = 50 * time.Millisecond

// Kubernetes discovers endpoints from ServingGroups and their pods: every
// ready leader pod (rank 0) with an IP, owned by its ServingGroup, is an
// endpoint, with its role and unit from the pod's labels and the engine
// kind, ports and model names from its ServingGroup (spec.engine: port,
// bootstrapPort, kvEventsPort). Which groups count is Scope's rule.
type Kubernetes struct {
	Config *rest.Config
	// Namespace is the namespace whose ServingGroups serve the router's
	// requests; required (see OwnNamespace).
	Namespace string
	// Shared also takes other namespaces' groups that share their models
	// (Scope); it watches every namespace, so it needs cluster-wide
	// list/watch. Without it only Namespace is watched.
	Shared bool
	Sink   Sink
	// Models, if set, hears the model names the groups of the scope
	// declare, ready pods or not (Scope.Models), after every change.
	Models ModelSink
	Log    logr.Logger
}

// ModelSink receives the model names known from ServingGroups, including
// those of groups with no ready endpoint (the router's SetKnownModels).
type ModelSink interface {
	SetKnownModels(models []string)
}

// serviceAccountNamespace is where a pod's own namespace is mounted.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// OwnNamespace is the namespace the router runs in: $POD_NAMESPACE (the
// downward API), else the service account's namespace file.
func OwnNamespace() (string, error) {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns, nil
	}
	data, err := os.ReadFile(serviceAccountNamespace)
	if err != nil {
		return "", fmt.Errorf("the router's own namespace (set discovery.kubernetes.namespace or --namespace): %w", err)
	}
	if ns := strings.TrimSpace(string(data)); ns != "" {
		return ns, nil
	}
	return "", errors.New("the router's own namespace: " + serviceAccountNamespace + " is empty")
}

func (k *Kubernetes) scope() Scope { return Scope{Namespace: k.Namespace, Shared: k.Shared} }

// watched is the namespace listed and watched; "" is all.
func (k *Kubernetes) watched() string {
	if k.Shared {
		return ""
	}
	return k.Namespace
}

// Run watches until ctx ends. It returns once the informers fail to sync,
// or when ctx ends.
func (k *Kubernetes) Run(ctx context.Context) error {
	if k.Namespace == "" {
		return errors.New("kubernetes discovery: no namespace: model pools are per namespace")
	}
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
	if ns := k.watched(); ns != "" {
		opts.DefaultNamespaces = map[string]cache.Config{ns: {}}
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
	k.Log.Info("Kubernetes discovery synced", "namespace", k.Namespace, "sharedModels", k.Shared)
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
	if err := c.List(ctx, &groups, client.InNamespace(k.watched())); err != nil {
		return err
	}
	if err := c.List(ctx, &pods, client.InNamespace(k.watched())); err != nil {
		return err
	}
	specs := k.scope().Endpoints(groups.Items, pods.Items)
	if k.Models != nil {
		// Before the endpoints: a request held for a model that just lost
		// its group is answered 404, not let through to a stale pool.
		k.Models.SetKnownModels(k.scope().Models(groups.Items))
	}
	added, removed := k.Sink.Update(specs)
	if len(added)+len(removed) > 0 {
		k.Log.Info("Endpoints changed", "endpoints", len(specs), "added", len(added), "removed", len(removed))
	}
	return nil
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
