package tandem

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"volcano.sh/volcano/pkg/scheduler/api"
	"volcano.sh/volcano/pkg/scheduler/framework"
	"volcano.sh/volcano/pkg/scheduler/plugins/util"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// Name is the plugin name used in the scheduler config's tiers.
const Name = "tandem"

func init() {
	framework.RegisterPluginBuilder(Name, New)
}

type plugin struct {
	args Args
}

// New builds the plugin for one session. tandem-scheduler checks the
// arguments at start (CheckConfigFile); should a reloaded config carry bad
// ones, the session logs them and runs with the defaults.
func New(arguments framework.Arguments) framework.Plugin {
	args, err := ParseArgs(arguments)
	if err != nil {
		klog.ErrorS(err, "Using default arguments for the tandem plugin")
		args = DefaultArgs()
	}
	return &plugin{args: args}
}

func (p *plugin) Name() string { return Name }

func (p *plugin) OnSessionOpen(ssn *framework.Session) {
	s := newSessionState(ssn, p.args)
	ssn.AddJobReadyFn(Name, func(obj interface{}) bool {
		ready, _ := s.unitReady(obj.(*api.JobInfo), false)
		return ready
	})
	ssn.AddJobPipelinedFn(Name, func(obj interface{}) int {
		job := obj.(*api.JobInfo)
		if !isServing(job) {
			return util.Abstain
		}
		if ready, _ := s.unitReady(job, true); ready {
			return util.Permit
		}
		return util.Reject
	})
	ssn.AddPredicateFn(Name, s.predicate)
	ssn.AddBatchNodeOrderFn(Name, s.scoreNodes)
	if p.args.ServingFirst {
		ssn.AddJobOrderFn(Name, func(l, r interface{}) int {
			return ServingFirst(jobKind(l.(*api.JobInfo)), jobKind(r.(*api.JobInfo)))
		})
	}
	ssn.AddEventHandler(&framework.EventHandler{
		AllocateFunc:   func(e *framework.Event) { s.account(e.Task, 1) },
		DeallocateFunc: func(e *framework.Event) { s.account(e.Task, -1) },
	})
	klog.V(4).InfoS("Tandem plugin session opened", "session", ssn.UID, "jobs", len(ssn.Jobs), "nodes", len(ssn.Nodes),
		"maxTier", s.scorer.Topology.MaxTier(), "wholeFreeDomains", WholeFreeDomains(s.scorer.Domains))
}

func (p *plugin) OnSessionClose(_ *framework.Session) {}

// isServing reports whether the job is a unit made by the ServingGroup
// controller.
func isServing(job *api.JobInfo) bool {
	return job.PodGroup != nil && job.PodGroup.Labels[v1alpha1.LabelGroup] != ""
}

func jobKind(job *api.JobInfo) JobKind {
	return JobKind{Serving: isServing(job), Priority: job.Priority}
}

// member describes a task of a unit.
func member(t *api.TaskInfo) Member {
	l := t.Pod.Labels
	return Member{Role: l[v1alpha1.LabelRole], Instance: l[v1alpha1.LabelInstance], Node: t.NodeName}
}

// placed reports whether a task holds a node in this session (allocated,
// binding, bound, running) or, when pipelined counts, will hold one.
func placed(status api.TaskStatus, pipelined bool) bool {
	return api.AllocatedStatus(status) || (pipelined && status == api.Pipelined)
}

func acceleratorRequest(t *api.TaskInfo, resource string) float64 {
	if t.Resreq == nil {
		return 0
	}
	return t.Resreq.Get(corev1.ResourceName(resource))
}
