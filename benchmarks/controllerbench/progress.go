package controllerbench

import (
	"math"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// Stage is a point in the life of a pod or a group that the benchmark
// times.
type Stage int

const (
	// PodCreated: the controller created the pod.
	PodCreated Stage = iota
	// PodBound: the scheduler bound it to a node.
	PodBound
	// PodRunning: kwok reported it Running.
	PodRunning
	// GroupUnitsReady: the group's status counts every unit ready.
	GroupUnitsReady
	// GroupAvailable: the group's Available condition is True.
	GroupAvailable
	numStages
)

var stageNames = [numStages]string{"pods created", "pods bound", "pods Running", "groups all units ready", "groups Available"}

func (s Stage) String() string { return stageNames[s] }

// podStages are the stages a pod has reached, as the object shows them.
func podStages(p *corev1.Pod) []Stage {
	out := []Stage{PodCreated}
	if p.Spec.NodeName != "" {
		out = append(out, PodBound)
	}
	if p.Status.Phase == corev1.PodRunning {
		out = append(out, PodRunning)
	}
	return out
}

// groupStages are the stages a group has reached, as its status shows
// them for its current generation.
func groupStages(sg *v1alpha1.ServingGroup) []Stage {
	if sg.Status.ObservedGeneration != sg.Generation {
		return nil
	}
	var out []Stage
	if sg.Spec.Replicas != nil && sg.Status.ReadyReplicas >= *sg.Spec.Replicas {
		out = append(out, GroupUnitsReady)
	}
	if meta.IsStatusConditionTrue(sg.Status.Conditions, v1alpha1.ConditionAvailable) {
		out = append(out, GroupAvailable)
	}
	return out
}

// Progress records, per stage, when each object first reached it,
// counted from Start. Safe for concurrent use (informer handlers).
type Progress struct {
	Start time.Time

	mu    sync.Mutex
	first [numStages]map[string]time.Duration
	uids  map[string]map[types.UID]bool
}

// NewProgress starts recording at start.
func NewProgress(start time.Time) *Progress {
	p := &Progress{Start: start, uids: map[string]map[types.UID]bool{}}
	for i := range p.first {
		p.first[i] = map[string]time.Duration{}
	}
	return p
}

// Mark records that key reached stages at time at, unless it already had.
func (p *Progress) Mark(key string, at time.Time, stages ...Stage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range stages {
		if _, ok := p.first[s][key]; !ok {
			p.first[s][key] = at.Sub(p.Start)
		}
	}
}

// SeePod records the stages pod has reached and its UID, so pods that
// were deleted and created again under the same name are counted.
func (p *Progress) SeePod(pod *corev1.Pod, at time.Time) {
	p.Mark(pod.Name, at, podStages(pod)...)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.uids[pod.Name] == nil {
		p.uids[pod.Name] = map[types.UID]bool{}
	}
	p.uids[pod.Name][pod.UID] = true
}

// SeeGroup records the stages sg has reached.
func (p *Progress) SeeGroup(sg *v1alpha1.ServingGroup, at time.Time) {
	p.Mark(sg.Name, at, groupStages(sg)...)
}

// Count is how many objects have reached stage s.
func (p *Progress) Count(s Stage) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.first[s])
}

// Recreated counts pods seen with more than one UID under one name.
func (p *Progress) Recreated() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, uids := range p.uids {
		n += len(uids) - 1
	}
	return n
}

// Times returns when each object reached stage s, in no order.
func (p *Progress) Times(s Stage) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]time.Duration, 0, len(p.first[s]))
	for _, d := range p.first[s] {
		out = append(out, d)
	}
	return out
}

// Milestone is the time by which a fraction frac of total objects had
// reached a stage, given when each that did reached it. ok is false when
// too few got there.
func Milestone(times []time.Duration, total int, frac float64) (at time.Duration, ok bool) {
	need := int(math.Ceil(frac * float64(total)))
	if need < 1 {
		need = 1
	}
	if total == 0 || len(times) < need {
		return 0, false
	}
	sorted := append([]time.Duration(nil), times...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	return sorted[need-1], true
}
