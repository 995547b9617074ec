package tandem

import (
	"sort"

	"volcano.sh/volcano/pkg/scheduler/api"
	"volcano.sh/volcano/pkg/scheduler/conf"
	"volcano.sh/volcano/pkg/scheduler/framework"
	"volcano.sh/volcano/pkg/scheduler/plugins/drf"
	"volcano.sh/volcano/pkg/scheduler/plugins/gang"
	"volcano.sh/volcano/pkg/scheduler/plugins/util"
)

// probeName is the name under which the voter registers its probe's
// victim functions in the session. No scheduler config lists it, so no
// other action ever calls them.
const probeName = "tandem-reclaim-probe"

// voter asks the session's plugins whether a set of whole gangs may be
// evicted for a serving unit (see reclaimAction for the rule). Its
// methods run inside tandem-reclaim's Execute, which Volcano runs alone:
// nothing else reads the session while the voter swaps its tiers.
type voter struct {
	ssn   *framework.Session
	tiers []conf.Tier
	probe conf.PluginOption
}

func newVoter(ssn *framework.Session) *voter {
	// The probe approves every victim it is asked about.
	approveAll := func(_ *api.TaskInfo, victims []*api.TaskInfo) ([]*api.TaskInfo, int) { return victims, util.Permit }
	ssn.AddReclaimableFn(probeName, approveAll)
	ssn.AddPreemptableFn(probeName, approveAll)
	yes := true
	return &voter{ssn: ssn, tiers: ssn.Tiers,
		probe: conf.PluginOption{Name: probeName, EnabledReclaimable: &yes, EnabledPreemptable: &yes}}
}

// skipped says whether a plugin's vote is left out, and why it has to be:
// both votes below refuse the last tasks of every job, so they would
// forbid any whole-job eviction, and what they protect is what remains of
// a job evicted in part, which tandem-reclaim never leaves.
//
//   - gang (volcano.sh/volcano v1.14.1 pkg/scheduler/plugins/gang/gang.go,
//     preemptableFn, registered for both questions):
//     approves a job's tasks only while more than minAvailable of them
//     would remain ready. Its own TODO beside that function asks for
//     preempting and reclaiming batch jobs, which is what this action
//     does.
//   - drf (plugins/drf/drf.go, preemptableFn, the preemptable question
//     only; its hierarchical reclaimable function is asked):
//     approves a task only while its job's dominant share after losing it
//     stays at least the preemptor's; a job's last task takes its share to
//     0. drf weighs jobs of equal standing; across priorities, priority's
//     vote (victims of lower priority only) is the one that applies, and
//     it is asked.
func skipped(plugin string, sameQueue bool) bool {
	return plugin == gang.PluginName || (sameQueue && plugin == drf.PluginName)
}

// refusal asks every plugin of the session's tiers, one at a time,
// whether all of victims may go for reclaimer: the preemptable question
// when they are in reclaimer's queue, the reclaimable one otherwise. It
// returns the first plugin that keeps any victim back, or "" when none
// does.
//
// Each plugin is asked through the session's own Reclaimable or
// Preemptable (so the config's enable flags hold) with a one-tier view of
// the plugin followed by the probe. The session gives nil both when a
// plugin abstains and when it refuses everything; with the probe after
// it, abstaining yields every victim (the probe's answer), refusing
// everything still yields nil, refusing some yields the rest. (A vote
// that itself asked the session something that walks the tiers would see
// that one-plugin view; in Volcano v1.14.1 none of gang, conformance,
// proportion, priority, drf and capacity does.)
func (v *voter) refusal(reclaimer *api.TaskInfo, victims []*api.TaskInfo, sameQueue bool) string {
	if len(victims) == 0 {
		return ""
	}
	defer func() { v.ssn.Tiers = v.tiers }()
	for _, tier := range v.tiers {
		for _, p := range tier.Plugins {
			if skipped(p.Name, sameQueue) {
				continue
			}
			v.ssn.Tiers = []conf.Tier{{Plugins: []conf.PluginOption{p, v.probe}}}
			var kept []*api.TaskInfo
			if sameQueue {
				kept = v.ssn.Preemptable(reclaimer, victims)
			} else {
				kept = v.ssn.Reclaimable(reclaimer, victims)
			}
			if !allOf(victims, kept) {
				return p.Name
			}
		}
	}
	return ""
}

// setRefusal splits the tasks of jobs into those in the unit's queue and
// the others, and asks refusal of each part; "" when both may go.
func (v *voter) setRefusal(unit *api.JobInfo, reclaimer *api.TaskInfo, jobs []*api.JobInfo) string {
	var same, other []*api.TaskInfo
	for _, job := range jobs {
		tasks := runningTasks(job)
		if job.Queue == unit.Queue {
			same = append(same, tasks...)
		} else {
			other = append(other, tasks...)
		}
	}
	if why := v.refusal(reclaimer, same, true); why != "" {
		return why
	}
	return v.refusal(reclaimer, other, false)
}

// runningTasks are the job's running tasks, smallest request first (ties
// by name). proportion's vote counts down its queue's allocation in the
// order asked and approves a task while the queue is still above its
// deserved share before that task goes, so in this order the last, the
// one that may take the queue below it, is the largest: the same leeway of
// one task that proportion gives Volcano's own reclaim.
func runningTasks(job *api.JobInfo) []*api.TaskInfo {
	var out []*api.TaskInfo
	for _, t := range job.Tasks {
		if t.Status == api.Running {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		si, sj := size(resources(out[i].Resreq)), size(resources(out[j].Resreq))
		if si != sj {
			return si < sj
		}
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out
}

// allOf reports whether got holds every task of want.
func allOf(want, got []*api.TaskInfo) bool {
	in := make(map[api.TaskID]bool, len(got))
	for _, t := range got {
		in[t.UID] = true
	}
	for _, t := range want {
		if !in[t.UID] {
			return false
		}
	}
	return true
}
