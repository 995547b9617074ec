// Package engineagent stands in for the kubelet's container runtime on the
// local cluster: for every running leader pod of a ServingGroup it starts a
// simulated vLLM engine (benchmarks/sim) listening on the pod's own address
// and the group's engine port, and stops it when the pod stops running or
// goes away. kwok gives pods addresses inside 127.0.0.0/8, so the engines
// answer on loopback exactly where the router expects the pods to be.
//
// A deleted pod's engine drains as a kubelet would keep it serving
// (drain.go): when the engine container has a preStop sleep of N s, the
// engine keeps answering its open requests for up to N s (cut to the
// deletion's grace period) and stops once they have all ended. Without a
// preStop sleep, or when the pod is force-deleted, the engine stops at
// once, cutting its streams, as a container killed without a hook would.
//
// Only rank-0 pods serve HTTP; workers of a multi-pod instance have no
// engine of their own, as with vLLM's multi-node serving.
package engineagent

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/benchmarks/sim"
	"github.com/tandem-serving/tandem/benchmarks/sim/server"
)

// Options tune the simulated engines.
type Options struct {
	// TimeScale multiplies every simulated latency (1 = a real H100).
	TimeScale float64
	// Logf, when set, receives a line per engine started or stopped.
	Logf func(format string, args ...any)
}

// Agent runs one simulated engine per running leader pod.
type Agent struct {
	opts     Options
	kube     kubernetes.Interface
	groups   client.Client
	mu       sync.Mutex
	engines  map[types.UID]*sim.Engine
	draining map[types.UID]bool // engines of deleted pods serving their last requests
	drains   sync.WaitGroup
	seed     uint64
}

// New builds an agent for the cluster behind cfg.
func New(cfg *rest.Config, opts Options) (*Agent, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	groups, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	return &Agent{opts: opts, kube: kube, groups: groups, engines: map[types.UID]*sim.Engine{}, draining: map[types.UID]bool{}}, nil
}

// Run watches leader pods until ctx ends, then stops every engine,
// draining ones too.
func (a *Agent) Run(ctx context.Context) error {
	sel := labels.SelectorFromSet(labels.Set{v1alpha1.LabelRank: "0"}).String()
	factory := informers.NewSharedInformerFactoryWithOptions(a.kube, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel }))
	pods := factory.Core().V1().Pods().Informer()
	_, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.sync(ctx, obj) },
		UpdateFunc: func(_, obj any) { a.sync(ctx, obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				a.end(ctx, pod)
			}
		},
	})
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	<-ctx.Done()
	factory.Shutdown()
	a.mu.Lock()
	for uid, e := range a.engines {
		_ = e.Close()
		delete(a.engines, uid)
		delete(a.draining, uid)
	}
	a.mu.Unlock()
	a.drains.Wait()
	return nil
}

// Engine returns the engine serving the pod with uid, or nil when none
// runs. A deleted pod's engine is returned while it drains.
func (a *Agent) Engine(uid types.UID) *sim.Engine {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.engines[uid]
}

func (a *Agent) sync(ctx context.Context, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Labels[v1alpha1.LabelGroup] == "" {
		return
	}
	if pod.DeletionTimestamp != nil {
		a.end(ctx, pod)
		return
	}
	if pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" {
		a.stop(pod)
		return
	}
	a.mu.Lock()
	_, running := a.engines[pod.UID]
	a.mu.Unlock()
	if running {
		return
	}
	if err := a.start(ctx, pod); err != nil {
		klog.ErrorS(err, "Starting a simulated engine failed", "pod", klog.KObj(pod))
	}
}

func (a *Agent) start(ctx context.Context, pod *corev1.Pod) error {
	sg := &v1alpha1.ServingGroup{}
	key := client.ObjectKey{Namespace: pod.Namespace, Name: pod.Labels[v1alpha1.LabelGroup]}
	if err := a.groups.Get(ctx, key, sg); err != nil {
		return fmt.Errorf("ServingGroup of pod: %w", err)
	}
	cfg := sim.DefaultConfig()
	cfg.Listen = net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(enginePort(sg))))
	cfg.Role = roleOf(pod.Labels[v1alpha1.LabelRole])
	cfg.TimeScale = a.opts.TimeScale
	cfg.EngineID = pod.Name
	if len(sg.Spec.ServedModelNames) > 0 {
		cfg.Engine.Model = sg.Spec.ServedModelNames[0]
	}
	a.mu.Lock()
	a.seed++
	cfg.Seed = a.seed
	a.mu.Unlock()
	e, err := sim.Start(context.Background(), cfg)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.engines[pod.UID] = e
	a.mu.Unlock()
	a.opts.Logf("engine up   %-34s %s (%s, %s)", pod.Namespace+"/"+pod.Name, e.Addr(), cfg.Role, cfg.Engine.Model)
	return nil
}

func (a *Agent) stop(pod *corev1.Pod) {
	a.mu.Lock()
	e, ok := a.engines[pod.UID]
	delete(a.engines, pod.UID)
	a.mu.Unlock()
	if ok {
		_ = e.Close()
		a.opts.Logf("engine down %-34s %s", pod.Namespace+"/"+pod.Name, e.Addr())
	}
}

func enginePort(sg *v1alpha1.ServingGroup) int32 {
	if sg.Spec.Engine.Port != 0 {
		return sg.Spec.Engine.Port
	}
	return 8000
}

// roleOf maps a ServingGroup role name to the simulator's part.
func roleOf(role string) server.Role {
	switch role {
	case "prefill":
		return server.RolePrefill
	case "decode":
		return server.RoleDecode
	}
	return server.RoleBoth
}
