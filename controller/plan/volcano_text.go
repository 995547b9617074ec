package plan

import (
	"regexp"
	"strconv"
	"strings"
)

// Volcano explains an unplaced gang only in free text. The formats parsed
// here are those of volcano.sh/volcano v1.14.1 (the version go.mod pins):
//
//   - PodGroup condition Unschedulable, written by the gang plugin at
//     session close (pkg/scheduler/plugins/gang/gang.go OnSessionClose):
//     "<n>/<tasks> tasks in gang unschedulable: <JobInfo.FitError>".
//   - JobInfo.FitError (pkg/scheduler/api/job_info.go): "pod group is not
//     ready, 2 Pending, 3 minAvailable; Pending: 1 Unschedulable, 1
//     Schedulable", then ". Origin reason is <task>: <FitErrors>" for the
//     first task with fit errors, or ". Origin reason is: <text>".
//   - FitErrors.Error (pkg/scheduler/api/unschedule_info.go): "[In
//     hyperNode <name>: ]0/<nodes> nodes are unavailable: <count> <reason>,
//     <count> <reason>." (a histogram of the per-node reasons), or a bare
//     message when no node was tried.
//   - Per-node reasons: "Insufficient <resource>" from the allocate
//     action's resource check (pkg/scheduler/actions/allocate/allocate.go
//     predicate, api.WrapInsufficientResourceReason), and Tandem's own
//     "role <r> needs accelerator <t1 or t2> (<label>), node has <t>"
//     (plugins/tandem/accelerator.go AcceleratorMismatch).
//   - Pod condition PodScheduled=False, reason Unschedulable
//     (pkg/scheduler/cache/cache.go RecordJobStatusEvent): the task's own
//     FitErrors text, or the job's FitError when the task has none, or
//     "Pod <ns>/<name> can possibly be assigned to <node>, once ..." for a
//     task that fits but waits for the rest of its gang.
//
// Every parser returns ok=false on text it does not recognize, so a
// changed format degrades to quoting Volcano, never to a wrong statement.

// gangText is the gang plugin's Unschedulable message taken apart.
type gangText struct {
	// unschedulable and tasks: "<unschedulable>/<tasks> tasks in gang
	// unschedulable".
	unschedulable, tasks int
	job                  jobText
}

// jobText is JobInfo.FitError taken apart.
type jobText struct {
	// summary is the task histogram, e.g. "pod group is not ready, 2
	// Pending, 3 minAvailable; Pending: 2 Unschedulable".
	summary string
	// originTask is the pod named in "Origin reason is <task>: ..." (empty
	// for the job-wide "Origin reason is: ..." form); origin is the text
	// after it, usually a FitErrors text.
	originTask, origin string
}

// fitText is FitErrors.Error taken apart.
type fitText struct {
	hyperNode string // "In hyperNode <name>: " prefix, when scoped to one
	nodes     int    // the N of "0/N nodes are unavailable"
	reasons   []reasonCount
}

// reasonCount is one entry of a FitErrors histogram: count nodes gave text.
type reasonCount struct {
	count int
	text  string
}

var (
	gangPrefix   = regexp.MustCompile(`^(\d+)/(\d+) tasks in gang unschedulable: `)
	nodesPrefix  = regexp.MustCompile(`^0/(\d+) nodes are unavailable: `)
	countedEntry = regexp.MustCompile(`^(\d+) (.+)$`)
	// mismatchText is Tandem's AcceleratorMismatch format.
	mismatchText = regexp.MustCompile(`^role (\S+) needs accelerator (.+) \((\S+)\), node has (.+)$`)
)

const (
	originMarker  = ". Origin reason is"
	hyperNodeText = "In hyperNode "
	insufficient  = "Insufficient "
)

func parseGang(msg string) (gangText, bool) {
	m := gangPrefix.FindStringSubmatch(msg)
	if m == nil {
		return gangText{}, false
	}
	n, _ := strconv.Atoi(m[1])
	tasks, _ := strconv.Atoi(m[2])
	return gangText{unschedulable: n, tasks: tasks, job: parseJob(msg[len(m[0]):])}, true
}

// parseJob splits JobInfo.FitError at its origin marker. It accepts any
// text: without the marker all of it is the summary.
func parseJob(msg string) jobText {
	summary, rest, found := strings.Cut(msg, originMarker)
	if !found {
		return jobText{summary: msg}
	}
	if origin, ok := strings.CutPrefix(rest, ": "); ok {
		return jobText{summary: summary, origin: origin}
	}
	task, origin, ok := strings.Cut(strings.TrimPrefix(rest, " "), ": ")
	if !ok || strings.Contains(task, " ") {
		return jobText{summary: msg}
	}
	return jobText{summary: summary, originTask: task, origin: origin}
}

// isJobText reports whether msg is a JobInfo.FitError (a pod's message
// when the pod has no fit errors of its own).
func isJobText(msg string) bool {
	return strings.HasPrefix(msg, "pod group is not ready") || strings.HasPrefix(msg, "pod group is ready")
}

// waitsForGang reports whether msg says the pod fits but waits for the
// rest of its gang: no reason to report for that pod.
func waitsForGang(msg string) bool {
	return strings.HasPrefix(msg, "Pod ") && strings.Contains(msg, " can possibly be assigned to ")
}

func parseFit(msg string) (fitText, bool) {
	var f fitText
	if rest, ok := strings.CutPrefix(msg, hyperNodeText); ok {
		name, body, ok := strings.Cut(rest, ": ")
		if !ok {
			return fitText{}, false
		}
		f.hyperNode, msg = name, body
	}
	m := nodesPrefix.FindStringSubmatch(msg)
	if m == nil || !strings.HasSuffix(msg, ".") {
		return fitText{}, false
	}
	f.nodes, _ = strconv.Atoi(m[1])
	f.reasons = splitHistogram(strings.TrimSuffix(msg[len(m[0]):], "."))
	return f, f.reasons != nil
}

// splitHistogram splits "<n> <reason>, <n> <reason>" where a reason may
// itself hold ", " (Tandem's does): a new entry starts only where a chunk
// begins with a count.
func splitHistogram(s string) []reasonCount {
	var out []reasonCount
	for _, chunk := range strings.Split(s, ", ") {
		if m := countedEntry.FindStringSubmatch(chunk); m != nil {
			n, _ := strconv.Atoi(m[1])
			out = append(out, reasonCount{count: n, text: m[2]})
			continue
		}
		if len(out) == 0 {
			return nil
		}
		out[len(out)-1].text += ", " + chunk
	}
	return out
}

// mismatch is one of Tandem's accelerator mismatch reasons.
type mismatch struct {
	role, want, label, have string
}

func parseMismatch(reason string) (mismatch, bool) {
	m := mismatchText.FindStringSubmatch(reason)
	if m == nil {
		return mismatch{}, false
	}
	return mismatch{role: m[1], want: m[2], label: m[3], have: m[4]}, true
}

// insufficientResource returns the resource of an "Insufficient <name>"
// reason.
func insufficientResource(reason string) (string, bool) {
	name, ok := strings.CutPrefix(reason, insufficient)
	return name, ok && name != "" && !strings.Contains(name, " ")
}
