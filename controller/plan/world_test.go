package plan

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// t0 is the start of every test's clock.
var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

var testConfig = Config{}

// world is a fake cluster for the planner: what the executor, the
// scheduler and the kubelet would have done, reduced to what the planner
// reads.
type world struct {
	pods map[string]*corev1.Pod
	pgs  map[string]*schedv1beta1.PodGroup
	svcs map[string]*corev1.Service
	uids int
}

func newWorld() *world {
	return &world{pods: map[string]*corev1.Pod{}, pgs: map[string]*schedv1beta1.PodGroup{}, svcs: map[string]*corev1.Service{}}
}

func (w *world) observed() Observed {
	var obs Observed
	for _, n := range sortedNames(w.pods) {
		obs.Pods = append(obs.Pods, w.pods[n])
	}
	for _, n := range sortedNames(w.pgs) {
		obs.PodGroups = append(obs.PodGroups, w.pgs[n])
	}
	for _, n := range sortedNames(w.svcs) {
		obs.Services = append(obs.Services, w.svcs[n])
	}
	return obs
}

func (w *world) uid() types.UID {
	w.uids++
	return types.UID(fmt.Sprintf("uid-%d", w.uids))
}

func stamp(m *metav1.ObjectMeta, uid types.UID, now time.Time) {
	m.UID = uid
	m.CreationTimestamp = metav1.NewTime(now)
}

// apply performs a plan the way the executor and the API server would:
// creates at time now, deletes removed at once (no graceful termination).
func (w *world) apply(p *Plan, now time.Time) {
	for _, pg := range p.PodGroups {
		pg = pg.DeepCopy()
		stamp(&pg.ObjectMeta, w.uid(), now)
		w.pgs[pg.Name] = pg
	}
	for _, svc := range p.Services {
		svc = svc.DeepCopy()
		stamp(&svc.ObjectMeta, w.uid(), now)
		w.svcs[svc.Name] = svc
	}
	for _, pod := range p.Pods {
		pod = pod.DeepCopy()
		stamp(&pod.ObjectMeta, w.uid(), now)
		w.pods[pod.Name] = pod
	}
	for _, u := range p.Updates {
		w.update(u)
	}
	for _, d := range p.Deletes {
		w.remove(d.Kind, d.Name)
	}
}

// update merges an Update's labels and annotations into the object, as
// the executor's merge patch does.
func (w *world) update(u Update) {
	var meta *metav1.ObjectMeta
	switch u.Kind {
	case KindPod:
		meta = &w.pods[u.Name].ObjectMeta
	case KindPodGroup:
		meta = &w.pgs[u.Name].ObjectMeta
	}
	for k, v := range u.Labels {
		meta.Labels[k] = v
	}
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	for k, v := range u.Annotations {
		meta.Annotations[k] = v
	}
}

// applyGraceful is apply, but deleted pods stay as terminating.
func (w *world) applyGraceful(p *Plan, now time.Time) {
	deletes := p.Deletes
	p2 := *p
	p2.Deletes = nil
	w.apply(&p2, now)
	for _, d := range deletes {
		if d.Kind == KindPod {
			w.pods[d.Name].DeletionTimestamp = &metav1.Time{Time: now}
			continue
		}
		w.remove(d.Kind, d.Name)
	}
}

func (w *world) remove(kind Kind, name string) {
	switch kind {
	case KindPod:
		delete(w.pods, name)
	case KindPodGroup:
		delete(w.pgs, name)
	case KindService:
		delete(w.svcs, name)
	}
}

// finishTermination removes every terminating pod.
func (w *world) finishTermination() {
	for n, pod := range w.pods {
		if pod.DeletionTimestamp != nil {
			delete(w.pods, n)
		}
	}
}

// runAll binds every pending pod and makes it running and ready.
func (w *world) runAll(now time.Time) {
	for _, pod := range w.pods {
		if pod.Status.Phase == "" || pod.Status.Phase == corev1.PodPending {
			w.run(pod, now)
		}
	}
}

func (w *world) run(pod *corev1.Pod, now time.Time) {
	pod.Spec.NodeName = "node-" + pod.Name
	pod.Status.Phase = corev1.PodRunning
	pod.Status.StartTime = &metav1.Time{Time: now}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now)}}
}

// fail makes a pod's engine exit with code 1 at time at.
func (w *world) fail(t *testing.T, name string, at time.Time) {
	t.Helper()
	pod := w.pods[name]
	if pod == nil {
		t.Fatalf("no pod %s to fail", name)
	}
	pod.Status.Phase = corev1.PodFailed
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(at)}}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name:  "engine",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: metav1.NewTime(at)}},
	}}
}

// compute plans sg against the world and fails the test on error.
func (w *world) compute(t *testing.T, sg *v1alpha1.ServingGroup, now time.Time) *Plan {
	t.Helper()
	p, err := Compute(testConfig, sg, w.observed(), now)
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	return p
}

// converge plans and applies until the plan is empty, running every pod
// after each step, and returns the world. It fails after 20 rounds.
func (w *world) converge(t *testing.T, sg *v1alpha1.ServingGroup, now time.Time) {
	t.Helper()
	for i := 0; i < 20; i++ {
		p := w.compute(t, sg, now)
		if p.Empty() {
			return
		}
		w.apply(p, now)
		w.runAll(now)
	}
	t.Fatalf("no convergence after 20 plans")
}

// actions summarizes a plan as readable lines, for cmp.Diff.
type actions struct {
	Create []string
	Update []string
	Delete []string
}

func summarizePlan(p *Plan) actions {
	var a actions
	for _, pg := range p.PodGroups {
		a.Create = append(a.Create, "PodGroup "+pg.Name)
	}
	for _, s := range p.Services {
		a.Create = append(a.Create, "Service "+s.Name)
	}
	for _, pod := range p.Pods {
		a.Create = append(a.Create, "Pod "+pod.Name)
	}
	for _, u := range p.Updates {
		line := fmt.Sprintf("%s %s (%s)", u.Kind, u.Name, u.Reason)
		if u.Message != "" {
			line += ": " + u.Message
		}
		a.Update = append(a.Update, line)
	}
	for _, d := range p.Deletes {
		a.Delete = append(a.Delete, fmt.Sprintf("%s %s (%s)", d.Kind, d.Name, d.Reason))
	}
	return a
}

// unitRevisions maps unit index to the revision label of its PodGroup.
func (w *world) unitRevisions() map[string]string {
	out := map[string]string{}
	for _, pg := range w.pgs {
		out[pg.Labels[v1alpha1.LabelUnit]] = pg.Labels[v1alpha1.LabelRevision]
	}
	return out
}
