package integration

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller"
)

var (
	scheme  = runtime.NewScheme()
	nsCount atomic.Int32
)

func init() {
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, schedv1beta1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
}

// env is one test's view: its own namespace, a direct (uncached) client,
// and a controller running in-process until stop is called or the test ends.
type env struct {
	t      *testing.T
	ctx    context.Context
	c      client.Client
	ns     string
	cancel context.CancelFunc
	done   chan error
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c, err := client.New(cluster.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: context.Background(), c: c, ns: fmt.Sprintf("it-%d", nsCount.Add(1))}
	if err := c.Create(e.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}); err != nil {
		t.Fatal(err)
	}
	e.startController()
	t.Cleanup(e.stopController)
	return e
}

// startController runs a manager watching only this test's namespace, so
// tests in parallel do not see each other's objects.
func (e *env) startController() {
	e.t.Helper()
	mgr, err := ctrl.NewManager(cluster.RESTConfig(), ctrl.Options{
		Scheme:         scheme,
		Metrics:        metricsserver.Options{BindAddress: "0"},
		Cache:          cache.Options{DefaultNamespaces: map[string]cache.Config{e.ns: {}}},
		LeaderElection: false,
		// Every test runs its own manager with the same controller name.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	r := &controller.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor("tandem-controller")}
	if err := r.SetupWithManager(mgr, 2); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- mgr.Start(ctx) }()
}

func (e *env) stopController() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	if err := <-e.done; err != nil {
		e.t.Errorf("controller stopped with error: %v", err)
	}
	e.cancel = nil
}

// eventually polls cond until it holds or 30 s pass; on timeout the test
// fails with cond's last complaint.
func (e *env) eventually(what string, cond func() error) {
	e.t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(e.ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		last = cond()
		return last == nil, nil
	})
	if err != nil {
		e.t.Fatalf("%s: %v", what, last)
	}
}

func (e *env) pods() []corev1.Pod {
	e.t.Helper()
	var list corev1.PodList
	if err := e.c.List(e.ctx, &list, client.InNamespace(e.ns)); err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

func (e *env) podGroups() []schedv1beta1.PodGroup {
	e.t.Helper()
	var list schedv1beta1.PodGroupList
	if err := e.c.List(e.ctx, &list, client.InNamespace(e.ns)); err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

func (e *env) get(name string) *v1alpha1.ServingGroup {
	e.t.Helper()
	sg := &v1alpha1.ServingGroup{}
	if err := e.c.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, sg); err != nil {
		e.t.Fatal(err)
	}
	return sg
}

// podNames lists live (not terminating) pod names, sorted by the API.
func podNames(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			out = append(out, p.Name)
		}
	}
	return out
}

// setPodStatus plays kubelet: it binds nothing but writes the pod's phase
// and readiness through the status subresource.
func (e *env) setPodStatus(name string, phase corev1.PodPhase, ready bool) {
	e.t.Helper()
	pod := &corev1.Pod{}
	if err := e.c.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, pod); err != nil {
		e.t.Fatal(err)
	}
	readyStatus := corev1.ConditionFalse
	if ready {
		readyStatus = corev1.ConditionTrue
	}
	now := metav1.Now()
	pod.Status.Phase = phase
	pod.Status.PodIP = "10.0.0.1"
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: readyStatus, LastTransitionTime: now}}
	if phase == corev1.PodFailed {
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name:  pod.Spec.Containers[0].Name,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", FinishedAt: now}},
		}}
	}
	if err := e.c.Status().Update(e.ctx, pod); err != nil {
		e.t.Fatal(err)
	}
}

// readyAll marks every live pod Running and ready.
func (e *env) readyAll() {
	e.t.Helper()
	for _, p := range e.pods() {
		if p.DeletionTimestamp == nil && !isReady(&p) {
			e.setPodStatus(p.Name, corev1.PodRunning, true)
		}
	}
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func condition(sg *v1alpha1.ServingGroup, typ string) *metav1.Condition {
	for i := range sg.Status.Conditions {
		if sg.Status.Conditions[i].Type == typ {
			return &sg.Status.Conditions[i]
		}
	}
	return nil
}

func describe(sg *v1alpha1.ServingGroup) string {
	var b strings.Builder
	fmt.Fprintf(&b, "gen %d observed %d replicas %d ready %d updated %d;", sg.Generation, sg.Status.ObservedGeneration,
		sg.Status.Replicas, sg.Status.ReadyReplicas, sg.Status.UpdatedReplicas)
	for _, c := range sg.Status.Conditions {
		fmt.Fprintf(&b, " %s=%s(%s)", c.Type, c.Status, c.Reason)
	}
	return b.String()
}

// update applies mutate to the latest copy of a ServingGroup, retrying
// when the controller's status writes get in between.
func (e *env) update(name string, mutate func(*v1alpha1.ServingGroup)) {
	e.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sg := e.get(name)
		mutate(sg)
		return e.c.Update(e.ctx, sg)
	})
	if err != nil {
		e.t.Fatal(err)
	}
}
