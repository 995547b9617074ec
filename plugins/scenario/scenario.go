package scenario

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/types"
	schedulingv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"
	_ "volcano.sh/volcano/pkg/scheduler/actions" // registers Volcano's actions by name
	"volcano.sh/volcano/pkg/scheduler/actions/allocate"
	"volcano.sh/volcano/pkg/scheduler/actions/enqueue"
	"volcano.sh/volcano/pkg/scheduler/api"
	"volcano.sh/volcano/pkg/scheduler/conf"
	"volcano.sh/volcano/pkg/scheduler/framework"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/plan"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// Scenario is one scheduling cycle's input.
type Scenario struct {
	Fleet  localcluster.Fleet
	Groups []*v1alpha1.ServingGroup
	// Pods and PodGroups are added as they are, e.g. running batch pods
	// that already use GPUs (see RunningPod).
	Pods      []*corev1.Pod
	PodGroups []*schedulingv1beta1.PodGroup
	// Queues are Volcano queues besides DefaultQueue (weight 1), which
	// always exists.
	Queues []*schedulingv1beta1.Queue
	// PriorityClasses give PodGroups and pods their priorities.
	PriorityClasses []*schedulingv1.PriorityClass
	// Stock leaves Tandem's plugin out: Volcano's own plugins only.
	Stock bool
	// Enqueue runs the enqueue action before allocate; the units'
	// PodGroups then start Pending, as the controller creates them.
	// Without it they start Inqueue.
	Enqueue bool
	// Actions, when set, are run instead, by their registered names (e.g.
	// "allocate", "tandem-reclaim"); Enqueue still decides the PodGroups'
	// starting phase.
	Actions []string
	// Arguments are plugin arguments by plugin name ("tandem",
	// "binpack", ...); a plugin not named gets its defaults.
	Arguments map[string]framework.Arguments
}

// Timing is how long each phase of the session took.
type Timing struct {
	// Open is framework.OpenSession: the snapshot and every plugin's
	// OnSessionOpen.
	Open time.Duration
	// Actions is the time of each action run, by name (allocate, enqueue).
	Actions map[string]time.Duration
	// Close is framework.CloseSession: plugins' OnSessionClose and the
	// PodGroup status updates.
	Close time.Duration
	// CPU is the process's CPU time (user + system, every goroutine,
	// garbage collection included) from open to close: steadier than wall
	// time on a shared machine. Zero where not measured.
	CPU time.Duration
}

// Session is the whole session: open, every action, close.
func (t Timing) Session() time.Duration {
	d := t.Open + t.Close
	for _, a := range t.Actions {
		d += a
	}
	return d
}

// Result is what one cycle did.
type Result struct {
	// Placed maps every pod in the session (namespace/name) to the node it
	// holds or will hold: allocated, binding, bound, running or pipelined.
	// "" means nowhere.
	Placed map[string]string
	// Releasing are the pods the session evicts (namespace/name), sorted.
	Releasing []string
	// Pipelined are the pods placed only onto room that evicted pods are
	// still giving back (namespace/name), sorted; they are in Placed too.
	Pipelined []string
	// phases are the PodGroups' phases (namespace/name) as the session
	// left them, for Next.
	phases map[string]schedulingv1beta1.PodGroupPhase
	// Jobs are the session's jobs by PodGroup name, as the session left
	// them (fit errors, PodGroup status and conditions).
	Jobs map[string]*api.JobInfo
	// Pods and PodGroups are every object the scheduler was given, the
	// planned units' and the extra ones, by namespace/name.
	Pods      map[string]*corev1.Pod
	PodGroups map[string]*schedulingv1beta1.PodGroup
	Timing    Timing
}

// Bound counts the pods that hold a node (pre-existing ones included).
func (r *Result) Bound() int {
	n := 0
	for _, node := range r.Placed {
		if node != "" {
			n++
		}
	}
	return n
}

// sessionLock serializes Run: Volcano keeps plugin builders and the
// enabled actions in package globals.
var sessionLock sync.Mutex

// Run plans the units, fills a scheduler cache and runs one session.
func (s Scenario) Run() (*Result, error) {
	if err := s.Fleet.Validate(); err != nil {
		return nil, err
	}
	actions, err := s.actions()
	if err != nil {
		return nil, err
	}
	pods, pgs, err := s.objects()
	if err != nil {
		return nil, err
	}
	nodes := s.Fleet.Nodes()
	hyperNodes := s.Fleet.HyperNodes()

	sessionLock.Lock()
	defer sessionLock.Unlock()

	registerPlugins()
	c, stop := newCache(nodes, hyperNodes, pods, pgs, s.Queues, s.PriorityClasses)
	defer close(stop)

	conf.EnabledActionMap = make(map[string]bool, len(actions))
	for _, a := range actions {
		conf.EnabledActionMap[a.Name()] = true
	}

	// Start every session from a collected heap, so that one session's
	// garbage is not charged to the next.
	runtime.GC()
	timing := Timing{Actions: map[string]time.Duration{}}
	cpu := processCPU()
	start := time.Now()
	ssn := framework.OpenSession(c, s.tiers(), nil)
	timing.Open = time.Since(start)
	for _, a := range actions {
		start = time.Now()
		a.Initialize()
		a.Execute(ssn)
		a.UnInitialize()
		timing.Actions[a.Name()] = time.Since(start)
	}
	out := &Result{
		Placed:    map[string]string{},
		Jobs:      map[string]*api.JobInfo{},
		Pods:      map[string]*corev1.Pod{},
		PodGroups: map[string]*schedulingv1beta1.PodGroup{},
	}
	for _, job := range ssn.Jobs {
		out.Jobs[job.Name] = job
		for _, task := range job.Tasks {
			node := ""
			if api.AllocatedStatus(task.Status) || task.Status == api.Pipelined {
				node = task.NodeName
			}
			out.Placed[task.Namespace+"/"+task.Name] = node
			switch task.Status {
			case api.Releasing:
				out.Releasing = append(out.Releasing, task.Namespace+"/"+task.Name)
			case api.Pipelined:
				out.Pipelined = append(out.Pipelined, task.Namespace+"/"+task.Name)
			}
		}
	}
	sort.Strings(out.Releasing)
	sort.Strings(out.Pipelined)
	jobs := make([]*api.JobInfo, 0, len(ssn.Jobs))
	for _, job := range ssn.Jobs {
		jobs = append(jobs, job)
	}
	start = time.Now()
	framework.CloseSession(ssn)
	timing.Close = time.Since(start)
	out.phases = map[string]schedulingv1beta1.PodGroupPhase{}
	for _, job := range jobs { // closing the session wrote their status
		if job.PodGroup != nil {
			out.phases[job.Namespace+"/"+job.Name] = schedulingv1beta1.PodGroupPhase(job.PodGroup.Status.Phase)
		}
	}
	timing.CPU = processCPU() - cpu
	out.Timing = timing
	for _, p := range pods {
		out.Pods[p.Namespace+"/"+p.Name] = p
	}
	for _, pg := range pgs {
		out.PodGroups[pg.Namespace+"/"+pg.Name] = pg
	}
	return out, nil
}

// Next is the scenario of the cycle after r, the result of running s:
// the same fleet, configuration and actions, with every pod and PodGroup
// s had, already planned (no Groups), except that the pods r evicted are
// gone, the pods r allocated (not those only pipelined) are bound and
// running on their nodes, and every PodGroup is in the phase the session
// left it.
func (s Scenario) Next(r *Result) Scenario {
	next := s
	next.Groups, next.Pods, next.PodGroups = nil, nil, nil
	gone := map[string]bool{}
	for _, key := range append(append([]string(nil), r.Releasing...), r.Pipelined...) {
		gone[key] = true
	}
	for _, key := range sortedKeys(r.Pods) {
		if slices.Contains(r.Releasing, key) {
			continue
		}
		pod := r.Pods[key].DeepCopy()
		if node := r.Placed[key]; node != "" && !gone[key] {
			pod.Spec.NodeName = node
			pod.Status.Phase = corev1.PodRunning
		}
		next.Pods = append(next.Pods, pod)
	}
	for _, key := range sortedKeys(r.PodGroups) {
		pg := r.PodGroups[key].DeepCopy()
		if phase, ok := r.phases[key]; ok {
			pg.Status.Phase = phase
		}
		next.PodGroups = append(next.PodGroups, pg)
	}
	return next
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// actions resolves the actions to run.
func (s Scenario) actions() ([]framework.Action, error) {
	if len(s.Actions) == 0 {
		if s.Enqueue {
			return []framework.Action{enqueue.New(), allocate.New()}, nil
		}
		return []framework.Action{allocate.New()}, nil
	}
	var out []framework.Action
	for _, name := range s.Actions {
		a, ok := framework.GetAction(name)
		if !ok {
			return nil, fmt.Errorf("no Volcano action %q is registered", name)
		}
		out = append(out, a)
	}
	return out, nil
}

// objects plans every ServingGroup with the controller's planner and adds
// the extra pods and PodGroups.
func (s Scenario) objects() ([]*corev1.Pod, []*schedulingv1beta1.PodGroup, error) {
	pods := append([]*corev1.Pod(nil), s.Pods...)
	pgs := append([]*schedulingv1beta1.PodGroup(nil), s.PodGroups...)
	for _, sg := range s.Groups {
		p, err := plan.Compute(plan.Config{}, sg, plan.Observed{}, time.Unix(0, 0))
		if err != nil {
			return nil, nil, fmt.Errorf("planning %s/%s: %w", sg.Namespace, sg.Name, err)
		}
		for _, pg := range p.PodGroups {
			if !s.Enqueue {
				pg.Status.Phase = schedulingv1beta1.PodGroupInqueue
			}
			pgs = append(pgs, pg)
		}
		for _, pod := range p.Pods {
			pod.UID = types.UID("uid-" + pod.Namespace + "-" + pod.Name)
			pod.Status.Phase = corev1.PodPending
			pods = append(pods, pod)
		}
	}
	return pods, pgs, nil
}
