package autoscalebench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// The objects of the local-cluster run and the loops that play the
// world around them: the engines' readiness (cold start) and the batch
// users who keep gangs queued.

const (
	benchNamespace  = "autoscale-bench"
	benchGroup      = "chat"
	benchModel      = "bench/chat-model"
	servingPriority = "bench-serving-high"
	batchPriority   = "bench-batch-low"
	// gangLabel names the batch gang a pod belongs to.
	gangLabel = "tandem.dev/bench-batch-gang"
	// engineGate is the readiness gate of the serving pods: kwok runs them
	// but leaves them not Ready until the run, playing the readinessProbe,
	// sets it a cold start after the engine listens.
	engineGate  = "tandem.dev/engine-listening"
	gangPodGPUs = 2
	gpuResource = localcluster.GPUResource
	// drainSeconds and graceSeconds are the serving pods' drain, the vLLM
	// samples' own (deploy/samples/README.md, "Draining"): a preStop sleep
	// that keeps a deleted pod's engine serving its open streams (the
	// engine agent plays it), inside the grace period. Not scaled by
	// TimeScale like the router's durations: the samples' 60 s covers a
	// 2,048-token answer at H100 speed, and the day's longest answer,
	// MaxTokens (32) at TimeScale (20) times the H100's step, is 640
	// H100 token-times. The agent stops a drained engine as soon as its
	// streams have ended, so the bound costs nothing on the local cluster.
	drainSeconds = 60
	graceSeconds = 90
)

func createBasics(ctx context.Context, c client.Client) error {
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}); err != nil {
		return fmt.Errorf("namespace: %w", err)
	}
	for name, value := range map[string]int32{batchPriority: 100, servingPriority: 10000} {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
		if err := c.Create(ctx, pc); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("priority class %s: %w", name, err)
		}
	}
	return nil
}

// servingGroup is the benchmark's group: one engine pod of unitGPUs GPUs
// per unit, at serving priority, with the engine gate and the samples'
// drain; autoscaling is set only for Tandem's run.
func servingGroup(units int32, unitGPUs int32, as *v1alpha1.AutoscalingSpec) *v1alpha1.ServingGroup {
	w := testutil.MakeServingGroup(benchGroup).Namespace(benchNamespace).Replicas(units).
		ServedModelNames(benchModel).PriorityClass(servingPriority).
		Role(testutil.MakeRole("engine").GPU(unitGPUs).Obj())
	if as != nil {
		w = w.Autoscaling(*as)
	}
	sg := w.Obj()
	sg.UID, sg.Generation = "", 0 // the builder's test identity; the API server sets its own
	spec := &sg.Spec.Roles[0].Template.Spec
	spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: engineGate}}
	spec.TerminationGracePeriodSeconds = ptr.To[int64](graceSeconds)
	spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: drainSeconds}}}
	return sg
}

// markServing sets the pod's engine gate and Ready conditions.
func markServing(ctx context.Context, c client.Client, key client.ObjectKey) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := &corev1.Pod{}
		if err := c.Get(ctx, key, cur); err != nil {
			return err
		}
		now := metav1.Now()
		var conds []corev1.PodCondition
		for _, cond := range cur.Status.Conditions {
			if cond.Type != corev1.PodReady && cond.Type != engineGate {
				conds = append(conds, cond)
			}
		}
		conds = append(conds,
			corev1.PodCondition{Type: engineGate, Status: corev1.ConditionTrue, LastTransitionTime: now},
			corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now})
		cur.Status.Conditions = conds
		return c.Status().Update(ctx, cur)
	})
}

// readiness plays the engines' readinessProbe: a serving pod becomes
// Ready coldStart after it was first seen Running with its simulated
// engine listening.
type readiness struct {
	c         client.Client
	coldStart time.Duration
	listening func(*corev1.Pod) bool
	since     map[string]time.Time // pod UID → first seen running and listening
	logf      func(string, ...any)
}

func (r *readiness) run(ctx context.Context) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		r.once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (r *readiness) once(ctx context.Context) {
	var pods corev1.PodList
	if err := r.c.List(ctx, &pods, client.InNamespace(benchNamespace), client.MatchingLabels{v1alpha1.LabelGroup: benchGroup}); err != nil {
		return
	}
	now := time.Now()
	for i := range pods.Items {
		p := &pods.Items[i]
		if !runs(p) || p.Status.PodIP == "" || podReady(p) || !r.listening(p) {
			continue
		}
		first, seen := r.since[string(p.UID)]
		if !seen {
			r.since[string(p.UID)] = now
			first = now
		}
		if now.Sub(first) < r.coldStart {
			continue
		}
		if err := markServing(ctx, r.c, client.ObjectKeyFromObject(p)); err != nil && ctx.Err() == nil {
			r.logf("marking %s ready: %v", p.Name, err)
		}
	}
}

// gangFeeder keeps batch work queued that wants every free GPU: it keeps
// Queued gangs waiting (not all pods running), ends a gang its drawn
// duration after it started whole, and tears down a gang tandem-reclaim
// evicted (its pods are deleted; the PodGroup would wait for them
// forever), counting it.
type gangFeeder struct {
	c         client.Client
	scheduler string
	sizes     []int // GPUs per gang
	mean      time.Duration
	queued    int
	rng       *rand.Rand
	next      int
	live      map[string]*gang
	retired   map[string]bool
	reclaimed int
	completed int
}

type gang struct {
	pods     int
	duration time.Duration
	started  time.Time // zero until first seen whole
}

func newGangFeeder(c client.Client, scheduler string, sizes []int, mean time.Duration, queued int, seed uint64) *gangFeeder {
	return &gangFeeder{c: c, scheduler: scheduler, sizes: sizes, mean: mean, queued: queued,
		rng: rand.New(rand.NewPCG(seed, 0x9a96)), live: map[string]*gang{}, retired: map[string]bool{}}
}

// view is each live gang's pod count and the retired gangs, copies for
// the sampler.
func (f *gangFeeder) view() (map[string]int, map[string]bool) {
	size := make(map[string]int, len(f.live))
	for name, g := range f.live {
		size[name] = g.pods
	}
	retired := make(map[string]bool, len(f.retired))
	for name := range f.retired {
		retired[name] = true
	}
	return size, retired
}

// step is one second of the batch users: pods is the namespace's pods.
func (f *gangFeeder) step(ctx context.Context, pods []corev1.Pod, now time.Time) error {
	exist, running := map[string]int{}, map[string]int{}
	for i := range pods {
		p := &pods[i]
		name := p.Labels[gangLabel]
		if name == "" || p.DeletionTimestamp != nil {
			continue
		}
		exist[name]++
		if runs(p) {
			running[name]++
		}
	}
	waiting := 0
	for name, g := range f.live {
		switch {
		case exist[name] < g.pods: // evicted: Volcano deleted its pods
			f.reclaimed++
			if err := f.retire(ctx, name); err != nil {
				return err
			}
		case running[name] == g.pods && g.started.IsZero():
			g.started = now
		case !g.started.IsZero() && now.Sub(g.started) >= g.duration:
			f.completed++
			if err := f.retire(ctx, name); err != nil {
				return err
			}
		case running[name] < g.pods:
			waiting++
		}
	}
	for ; waiting < f.queued; waiting++ {
		if err := f.create(ctx); err != nil {
			return err
		}
	}
	return nil
}

// retire marks the gang for the sampler first, then deletes it.
func (f *gangFeeder) retire(ctx context.Context, name string) error {
	f.retired[name] = true
	delete(f.live, name)
	pg := &schedv1beta1.PodGroup{ObjectMeta: metav1.ObjectMeta{Namespace: benchNamespace, Name: name}}
	if err := f.c.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(benchNamespace), client.MatchingLabels{gangLabel: name},
		client.GracePeriodSeconds(0)); err != nil {
		return fmt.Errorf("delete gang %s pods: %w", name, err)
	}
	if err := f.c.Delete(ctx, pg); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete PodGroup %s: %w", name, err)
	}
	return nil
}

// create queues one gang: a PodGroup (minMember = its pods) of 2-GPU pods
// at batch priority in the default queue, the serving units' queue too.
func (f *gangFeeder) create(ctx context.Context) error {
	f.next++
	name := fmt.Sprintf("batch-%04d", f.next)
	size := f.sizes[f.rng.IntN(len(f.sizes))]
	pods := max(1, size/gangPodGPUs)
	dur := max(10*time.Second, time.Duration(f.rng.ExpFloat64()*float64(f.mean)))
	pg := &schedv1beta1.PodGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: benchNamespace, Name: name},
		Spec:       schedv1beta1.PodGroupSpec{MinMember: int32(pods), Queue: "default", PriorityClassName: batchPriority},
	}
	if err := f.c.Create(ctx, pg); err != nil {
		return fmt.Errorf("create PodGroup %s: %w", name, err)
	}
	gpus := *resource.NewQuantity(gangPodGPUs, resource.DecimalSI)
	for i := range pods {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: benchNamespace, Name: fmt.Sprintf("%s-%d", name, i),
				Labels:      map[string]string{gangLabel: name},
				Annotations: map[string]string{schedv1beta1.KubeGroupNameAnnotationKey: name}},
			Spec: corev1.PodSpec{
				SchedulerName:                 f.scheduler,
				PriorityClassName:             batchPriority,
				TerminationGracePeriodSeconds: ptr.To[int64](0),
				Containers: []corev1.Container{{Name: "train", Image: "trainer:fake", Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{gpuResource: gpus}, Limits: corev1.ResourceList{gpuResource: gpus},
				}}},
			},
		}
		if err := f.c.Create(ctx, pod); err != nil {
			return fmt.Errorf("create pod %s: %w", pod.Name, err)
		}
	}
	f.live[name] = &gang{pods: pods, duration: dur}
	return nil
}
