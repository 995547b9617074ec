package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller"
	"github.com/tandem-serving/tandem/controller/autoscale/collect"
	"github.com/tandem-serving/tandem/controller/testutil"
	"github.com/tandem-serving/tandem/plugins/tandem"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// The batch backfill drills of issue 16: serving and batch gangs share a
// queue and a set of nodes, and tandem-controller's autoscaler, not a test
// editing spec.replicas, moves GPUs between them. A scale-up that finds
// the GPUs held by batch gangs gets them through tandem-reclaim (one whole
// gang, never part of one); a scale-down hands them to a waiting gang
// through Volcano's allocate.

const (
	batchPriority   = "autoscale-batch-low"
	servingPriority = "autoscale-serving-high"
	// batchGangLabel names the batch gang a pod belongs to.
	batchGangLabel = "tandem.dev/e2e-batch-gang"
)

// loadRouter is a tandem-router replica as tandem-controller's autoscaler
// finds one: a Running pod labelled app.kubernetes.io/name=tandem-router
// (the controller's default --autoscale-router-selector, all namespaces)
// with a port named metrics, whose /metrics the test serves at the address
// kwok gave the pod. The page has tandem_router_endpoint_in_flight_requests
// for the group's pods that exist at each scrape, summing to the load the
// test sets: the figure the inFlightRequestsPerUnit target reads. (The
// cluster's tandem-router process discovers only the scale-from-zero
// namespace, which TestScaleFromZeroThroughTheRouter creates and removes.)
type loadRouter struct {
	c         client.Client
	ns, group string
	inFlight  atomic.Int64
}

// startLoadRouter runs the router pod on node and serves its metrics; the
// pod is gone before the page stops answering, so no later round counts a
// router that failed.
func startLoadRouter(t *testing.T, c client.Client, ns, group, node string) *loadRouter {
	t.Helper()
	ctx := context.Background()
	_, port, err := net.SplitHostPort(freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	portNumber, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "router", Labels: map[string]string{"app.kubernetes.io/name": "tandem-router"}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{
			Name: "router", Image: "tandem-router:fake",
			Ports: []corev1.ContainerPort{{Name: collect.MetricsPortName, ContainerPort: int32(portNumber)}},
		}}},
	}
	if err := c.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	poll(t, "the router pod runs with an address", 30*time.Second, func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return err
		}
		if pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" {
			return fmt.Errorf("phase %s, address %q", pod.Status.Phase, pod.Status.PodIP)
		}
		return nil
	})
	l, err := net.Listen("tcp", net.JoinHostPort(pod.Status.PodIP, port))
	if err != nil {
		t.Fatal(err)
	}
	r := &loadRouter{c: c, ns: ns, group: group}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	t.Cleanup(func() {
		if err := c.Delete(ctx, pod); client.IgnoreNotFound(err) != nil {
			t.Error(err)
			return
		}
		poll(t, "the router pod is gone", 30*time.Second, func() error {
			err := c.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{})
			switch {
			case apierrors.IsNotFound(err):
				return nil
			case err != nil:
				return err
			}
			return errors.New("still there")
		})
	})
	return r
}

// set makes n the group's in-flight requests from the next scrape on.
func (r *loadRouter) set(n int64) { r.inFlight.Store(n) }

// ServeHTTP writes the page: the load spread evenly over the group's pods.
func (r *loadRouter) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var pods corev1.PodList
	if err := r.c.List(req.Context(), &pods, client.InNamespace(r.ns), client.MatchingLabels{v1alpha1.LabelGroup: r.group}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var names []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	total := r.inFlight.Load()
	var b strings.Builder
	b.WriteString("# TYPE tandem_router_endpoint_in_flight_requests gauge\n")
	for i, name := range names {
		n := total / int64(len(names))
		if int64(i) < total%int64(len(names)) {
			n++
		}
		fmt.Fprintf(&b, "tandem_router_endpoint_in_flight_requests{endpoint=%q} %d\n", r.ns+"/"+name, n)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = io.WriteString(w, b.String())
}

// batchNamespace is a namespace of its own for one drill; on cleanup it is
// deleted and waited for until it is gone, pods and all, so the nodes it
// used are free for the tests after it and a repeated run (-count) can
// create it again.
func batchNamespace(t *testing.T, c client.Client, ns string) {
	t.Helper()
	newNamespace(t, c, ns)
	t.Cleanup(func() {
		ctx := context.Background()
		if err := c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); client.IgnoreNotFound(err) != nil {
			t.Error(err)
			return
		}
		poll(t, "the drill's namespace is gone", 60*time.Second, func() error {
			var pods corev1.PodList
			if err := c.List(ctx, &pods, client.InNamespace(ns)); err != nil {
				return err
			}
			err := c.Get(ctx, types.NamespacedName{Name: ns}, &corev1.Namespace{})
			switch {
			case apierrors.IsNotFound(err):
				return nil
			case err != nil:
				return err
			}
			return fmt.Errorf("namespace %s terminating, %d pods left", ns, len(pods.Items))
		})
	})
}

// batchPriorities creates the batch and serving priority classes: a
// serving unit may reclaim only gangs of lower priority.
func batchPriorities(t *testing.T, c client.Client) {
	t.Helper()
	for name, value := range map[string]int32{batchPriority: 100, servingPriority: 10000} {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
		if err := c.Create(context.Background(), pc); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Delete(context.Background(), pc) })
	}
}

// labelNodes puts label=yes on the nodes for the test's duration.
func labelNodes(t *testing.T, c client.Client, label string, nodes []string) {
	t.Helper()
	for _, n := range nodes {
		labelNode(t, c, n, label)
		t.Cleanup(func() {
			patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"`+label+`":null}}}`))
			if err := c.Patch(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}, patch); err != nil {
				t.Error(err)
			}
		})
	}
}

// autoscaledNeighbour is a group of one 8-GPU pod per unit on the nodes
// labelled label, at 1 unit, that the autoscaler sizes between 1 and 2
// units at 4 in-flight requests per unit, removing a unit after 2 s below
// that.
func autoscaledNeighbour(name, ns, label string) *testutil.ServingGroupWrapper {
	w := testutil.MakeServingGroup(name).Namespace(ns).Replicas(1).ServedModelNames(name + "-model").
		PriorityClass(servingPriority).
		Role(testutil.MakeRole("engine").GPU(8).Obj()).
		Autoscaling(v1alpha1.AutoscalingSpec{MinReplicas: 1, MaxReplicas: 2, ScaleDownWindowSeconds: 2,
			Targets: v1alpha1.AutoscalingTargets{InFlightRequestsPerUnit: ptr.To[int32](4)}})
	w.Spec.Roles[0].Template.Spec.NodeSelector = map[string]string{label: "yes"}
	return w
}

// createBatchGang creates a Volcano batch job: a PodGroup of two 4-GPU
// pods (minMember 2) in the default queue, the serving units' too, at
// batch priority, placed by tandem-scheduler on the nodes nodeSelector
// allows.
func createBatchGang(t *testing.T, c client.Client, ns, name string, nodeSelector map[string]string) {
	t.Helper()
	ctx := context.Background()
	pg := &schedv1beta1.PodGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       schedv1beta1.PodGroupSpec{MinMember: 2, Queue: "default", PriorityClassName: batchPriority},
	}
	if err := c.Create(ctx, pg); err != nil {
		t.Fatal(err)
	}
	gpus := *resource.NewQuantity(4, resource.DecimalSI)
	for i := range 2 {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d", name, i),
				Labels:      map[string]string{batchGangLabel: name},
				Annotations: map[string]string{schedv1beta1.KubeGroupNameAnnotationKey: name}},
			Spec: corev1.PodSpec{
				SchedulerName:     cluster.Options().SchedulerName,
				PriorityClassName: batchPriority,
				NodeSelector:      nodeSelector,
				Containers: []corev1.Container{{Name: "train", Image: "trainer:fake", Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{localcluster.GPUResource: gpus}, Limits: corev1.ResourceList{localcluster.GPUResource: gpus},
				}}},
			},
		}
		if err := c.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
}

// gangPods are the batch gang's pods, terminating ones included.
func gangPods(t *testing.T, c client.Client, ns, gang string) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := c.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{batchGangLabel: gang}); err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

// gangRunsWhole says why the gang is not running whole: its PodGroup
// Running and both pods bound, Running and not terminating.
func gangRunsWhole(t *testing.T, c client.Client, ns, gang string) error {
	t.Helper()
	pg := &schedv1beta1.PodGroup{}
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: gang}, pg); err != nil {
		return err
	}
	pods := gangPods(t, c, ns, gang)
	if len(pods) != 2 {
		return fmt.Errorf("gang %s has %d pods, want 2", gang, len(pods))
	}
	for _, p := range pods {
		if p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			return fmt.Errorf("gang %s pod %s on %q is %s (deleting %v)", gang, p.Name, p.Spec.NodeName, p.Status.Phase, p.DeletionTimestamp != nil)
		}
	}
	if pg.Status.Phase != schedv1beta1.PodGroupRunning {
		return fmt.Errorf("gang %s PodGroup is %s", gang, pg.Status.Phase)
	}
	return nil
}

// waitEvent waits for an event of reason on the object of kind and name
// whose message holds every one of parts, and returns its message.
func waitEvent(t *testing.T, c client.Client, ns, kind, name, reason string, parts ...string) string {
	t.Helper()
	var msg string
	poll(t, fmt.Sprintf("a %s event on %s %s", reason, kind, name), 30*time.Second, func() error {
		var seen []string
		for _, ev := range objectEvents(t, c, ns, kind, name) {
			if ev.Reason != reason {
				continue
			}
			seen = append(seen, ev.Message)
			if containsAll(ev.Message, parts) {
				msg = ev.Message
				return nil
			}
		}
		return fmt.Errorf("want a message with %q; %s messages %q", parts, reason, seen)
	})
	return msg
}

func objectEvents(t *testing.T, c client.Client, ns, kind, name string) []corev1.Event {
	t.Helper()
	var list corev1.EventList
	if err := c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, ev := range list.Items {
		if ev.InvolvedObject.Kind == kind && ev.InvolvedObject.Name == name {
			out = append(out, ev)
		}
	}
	return out
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// replicasSet says why spec.replicas is not n, with the autoscaler's
// last reason.
func replicasSet(sg *v1alpha1.ServingGroup, n int32) error {
	got := ptr.Deref(sg.Spec.Replicas, 1)
	if got == n {
		return nil
	}
	if s := sg.Status.Autoscaling; s != nil {
		return fmt.Errorf("spec.replicas %d, want %d; autoscaler %s: %s", got, n, s.Reason, s.Message)
	}
	return fmt.Errorf("spec.replicas %d, want %d; no status.autoscaling", got, n)
}

// runningPods are the group's pods that run, not terminating.
func runningPods(t *testing.T, c client.Client, ns, group string) []corev1.Pod {
	t.Helper()
	var out []corev1.Pod
	for _, p := range groupPods(t, c, ns, group) {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// TestAutoscaleBatchScaleUpReclaimsWholeGang: three nodes, one holding an
// autoscaled group's only unit and two each holding a batch gang (every
// GPU in use). The load at the router rises to two units' worth; the
// autoscaler sets 2 units, and since no GPU is free tandem-reclaim evicts
// one batch gang whole (both pods) and leaves the other alone; the new
// unit runs on the evicted gang's node and the first unit is untouched.
// The ServingGroup records the scale-up and the GPUs it asked its queue
// for; Volcano records the eviction on the gang's PodGroup, naming the
// unit it made room for.
func TestAutoscaleBatchScaleUpReclaimsWholeGang(t *testing.T) {
	ctx := context.Background()
	c := sgClient(t)
	const ns, label = "autoscale-reclaim", "tandem.dev/e2e-autoscale-reclaim"
	batchNamespace(t, c, ns)
	batchPriorities(t, c)
	nodes := freeNodes(t, c, 3)
	labelNodes(t, c, label, nodes)
	router := startLoadRouter(t, c, ns, "chat", nodes[0])
	sg := createGroup(t, c, autoscaledNeighbour("chat", ns, label))
	key := client.ObjectKeyFromObject(sg)
	get := func() *v1alpha1.ServingGroup {
		t.Helper()
		cur := &v1alpha1.ServingGroup{}
		if err := c.Get(ctx, key, cur); err != nil {
			t.Fatal(err)
		}
		return cur
	}

	waitAvailable(t, c, key)
	first := runningPods(t, c, ns, "chat")
	if len(first) != 1 {
		t.Fatalf("want 1 running pod at 1 unit: %v", describeGroup(t, c, ns, "chat"))
	}
	gangNode := map[string]string{}
	for _, n := range nodes {
		if n != first[0].Spec.NodeName {
			gangNode[fmt.Sprintf("gang-%d", len(gangNode))] = n
		}
	}
	for gang, node := range gangNode {
		createBatchGang(t, c, ns, gang, map[string]string{corev1.LabelHostname: node})
	}
	uids := map[types.UID]bool{}
	for gang := range gangNode {
		poll(t, "batch gang "+gang+" runs", 60*time.Second, func() error { return gangRunsWhole(t, c, ns, gang) })
		for _, p := range gangPods(t, c, ns, gang) {
			uids[p.UID] = true
		}
	}
	if got := get(); ptr.Deref(got.Spec.Replicas, 1) != 1 {
		t.Fatalf("the idle group left 1 unit: %v", replicasSet(got, 1))
	}

	// Two units' worth of open requests: every GPU of the three nodes is
	// held, by the first unit or a batch gang.
	router.set(8)
	poll(t, "the autoscaler adds a unit", 30*time.Second, func() error { return replicasSet(get(), 2) })
	var second corev1.Pod
	poll(t, "the new unit runs", 60*time.Second, func() error {
		pods := runningPods(t, c, ns, "chat")
		if len(pods) != 2 {
			return fmt.Errorf("%d pods run, want 2: %v", len(pods), describeGroup(t, c, ns, "chat"))
		}
		for _, p := range pods {
			if p.UID != first[0].UID {
				second = p
			}
		}
		return nil
	})
	if second.Name == "" {
		t.Fatalf("the first unit's pod %s was replaced: %v", first[0].Name, describeGroup(t, c, ns, "chat"))
	}

	var reclaimed, kept string
	poll(t, "one batch gang is reclaimed whole", 30*time.Second, func() error {
		reclaimed, kept = "", ""
		for gang := range gangNode {
			switch pods := gangPods(t, c, ns, gang); {
			case len(pods) == 0:
				reclaimed = gang
			case gangRunsWhole(t, c, ns, gang) == nil && uids[pods[0].UID] && uids[pods[1].UID]:
				kept = gang
			}
		}
		if reclaimed == "" || kept == "" {
			var state []string
			for gang := range gangNode {
				for _, p := range gangPods(t, c, ns, gang) {
					state = append(state, fmt.Sprintf("%s uid=%s phase=%s deleting=%v", p.Name, p.UID, p.Status.Phase, p.DeletionTimestamp != nil))
				}
			}
			return fmt.Errorf("want one gang gone and one untouched; batch pods %v", state)
		}
		return nil
	})
	if second.Spec.NodeName != gangNode[reclaimed] {
		t.Errorf("the new unit runs on %s, want the reclaimed gang %s's node %s", second.Spec.NodeName, reclaimed, gangNode[reclaimed])
	}

	t.Logf("ScaledUp: %s", waitEvent(t, c, ns, "ServingGroup", "chat", controller.EventScaledUp,
		"1 to 2 units", "asks queue default for 8 nvidia.com/gpu"))
	unit := second.Annotations[schedv1beta1.KubeGroupNameAnnotationKey]
	t.Logf("Evict on PodGroup %s: %s", reclaimed,
		waitEvent(t, c, ns, "PodGroup", reclaimed, "Evict", "reclaimed whole for serving unit "+ns+"/"+unit))
	// The group says it too (kubectl describe sg), naming the gang.
	t.Logf("%s on the ServingGroup: %s", tandem.EventReclaimedGangs,
		waitEvent(t, c, ns, "ServingGroup", "chat", tandem.EventReclaimedGangs, "unit "+unit, "batch gang "+ns+"/"+reclaimed+" (2 pods)"))
	for _, ev := range objectEvents(t, c, ns, "PodGroup", kept) {
		if ev.Reason == "Evict" {
			t.Errorf("the kept gang %s has an Evict event: %s", kept, ev.Message)
		}
	}
}

// TestAutoscaleBatchScaleDownBackfillsGang: an autoscaled group grows to
// two units on two nodes under load, filling them; a batch gang that may
// only use those nodes waits, unschedulable for want of GPUs. The load
// ends; after the 2 s down window the autoscaler removes a unit, and
// Volcano places the whole gang on the GPUs the unit gave back, while the
// other unit keeps running. The ServingGroup records both scale events,
// the scale-down naming the GPUs it freed in the queue.
func TestAutoscaleBatchScaleDownBackfillsGang(t *testing.T) {
	ctx := context.Background()
	c := sgClient(t)
	const ns, label = "autoscale-backfill", "tandem.dev/e2e-autoscale-backfill"
	batchNamespace(t, c, ns)
	batchPriorities(t, c)
	nodes := freeNodes(t, c, 2)
	labelNodes(t, c, label, nodes)
	router := startLoadRouter(t, c, ns, "chat", nodes[0])
	// Two units' worth of open requests from the first unit's first
	// scrape on.
	router.set(8)
	sg := createGroup(t, c, autoscaledNeighbour("chat", ns, label))
	key := client.ObjectKeyFromObject(sg)
	get := func() *v1alpha1.ServingGroup {
		t.Helper()
		cur := &v1alpha1.ServingGroup{}
		if err := c.Get(ctx, key, cur); err != nil {
			t.Fatal(err)
		}
		return cur
	}

	poll(t, "the autoscaler grows the group to the load", 30*time.Second, func() error { return replicasSet(get(), 2) })
	var units []corev1.Pod
	poll(t, "both units run", 60*time.Second, func() error {
		units = runningPods(t, c, ns, "chat")
		if len(units) != 2 {
			return fmt.Errorf("%d pods run, want 2: %v", len(units), describeGroup(t, c, ns, "chat"))
		}
		return nil
	})

	createBatchGang(t, c, ns, "gang", map[string]string{label: "yes"})
	var pending string
	poll(t, "the batch gang waits for GPUs", 30*time.Second, func() error {
		pods := gangPods(t, c, ns, "gang")
		if len(pods) != 2 {
			return fmt.Errorf("%d gang pods, want 2", len(pods))
		}
		for _, p := range pods {
			if p.Spec.NodeName != "" {
				return fmt.Errorf("gang pod %s was bound to %s with both units running", p.Name, p.Spec.NodeName)
			}
			var why string
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
					why = cond.Message
				}
			}
			if !strings.Contains(why, string(localcluster.GPUResource)) {
				return fmt.Errorf("gang pod %s: PodScheduled message %q does not name %s", p.Name, why, localcluster.GPUResource)
			}
			pending = why
		}
		return nil
	})
	t.Logf("batch gang pending: %s", pending)
	if got := get(); ptr.Deref(got.Spec.Replicas, 1) != 2 {
		t.Fatalf("the group shrank while loaded: %v", replicasSet(got, 2))
	}

	router.set(0)
	poll(t, "the autoscaler removes a unit after the down window", 30*time.Second, func() error { return replicasSet(get(), 1) })
	var left corev1.Pod
	poll(t, "one unit is left", 30*time.Second, func() error {
		pods := groupPods(t, c, ns, "chat")
		if len(pods) != 1 || pods[0].Status.Phase != corev1.PodRunning {
			return fmt.Errorf("want one running pod: %v", describeGroup(t, c, ns, "chat"))
		}
		left = pods[0]
		return nil
	})
	if !slices.ContainsFunc(units, func(p corev1.Pod) bool { return p.UID == left.UID }) {
		t.Errorf("the unit left, %s, is not one that ran before the scale-down", left.Name)
	}
	poll(t, "the batch gang runs whole on the freed GPUs", 30*time.Second, func() error { return gangRunsWhole(t, c, ns, "gang") })
	for _, p := range gangPods(t, c, ns, "gang") {
		if p.Spec.NodeName == left.Spec.NodeName {
			t.Errorf("gang pod %s shares node %s with the unit that stayed (its GPUs are all the unit's)", p.Name, left.Spec.NodeName)
		}
	}

	t.Logf("ScaledUp: %s", waitEvent(t, c, ns, "ServingGroup", "chat", controller.EventScaledUp,
		"1 to 2 units", "asks queue default for 8 nvidia.com/gpu"))
	t.Logf("ScaledDown: %s", waitEvent(t, c, ns, "ServingGroup", "chat", controller.EventScaledDown,
		"2 to 1 units", "frees 8 nvidia.com/gpu in queue default for other jobs"))
}
