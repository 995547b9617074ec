package controllerbench

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

func TestMilestone(t *testing.T) {
	s := time.Second
	times := []time.Duration{4 * s, 1 * s, 3 * s, 2 * s}
	cases := []struct {
		name   string
		times  []time.Duration
		total  int
		frac   float64
		want   time.Duration
		wantOK bool
	}{
		{"all four of four", times, 4, 1, 4 * s, true},
		{"half of four is the second", times, 4, 0.5, 2 * s, true},
		{"90% of four rounds up to all four", times, 4, 0.9, 4 * s, true},
		{"all of five not reached", times, 5, 1, 0, false},
		{"half of five needs three", times, 5, 0.5, 3 * s, true},
		{"zero fraction is the first", times, 4, 0, 1 * s, true},
		{"nothing to reach", nil, 0, 1, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Milestone(tc.times, tc.total, tc.frac)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("Milestone() = %s, %v; want %s, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func pod(name, uid, node string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(uid)},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

func group(gen, observed int64, replicas, ready int32, available metav1.ConditionStatus) *v1alpha1.ServingGroup {
	return &v1alpha1.ServingGroup{
		ObjectMeta: metav1.ObjectMeta{Name: "g", Generation: gen},
		Spec:       v1alpha1.ServingGroupSpec{Replicas: &replicas},
		Status: v1alpha1.ServingGroupStatus{
			ObservedGeneration: observed,
			ReadyReplicas:      ready,
			Conditions:         []metav1.Condition{{Type: v1alpha1.ConditionAvailable, Status: available}},
		},
	}
}

func TestStages(t *testing.T) {
	cases := []struct {
		name string
		got  []Stage
		want []Stage
	}{
		{"new pod", podStages(pod("p", "1", "", corev1.PodPending)), []Stage{PodCreated}},
		{"bound pod", podStages(pod("p", "1", "n", corev1.PodPending)), []Stage{PodCreated, PodBound}},
		{"running pod", podStages(pod("p", "1", "n", corev1.PodRunning)), []Stage{PodCreated, PodBound, PodRunning}},
		{"group with status of an older generation", groupStages(group(2, 1, 2, 2, metav1.ConditionTrue)), nil},
		{"group Available with one of two units ready", groupStages(group(1, 1, 2, 1, metav1.ConditionTrue)), []Stage{GroupAvailable}},
		{"group fully ready", groupStages(group(1, 1, 2, 2, metav1.ConditionTrue)), []Stage{GroupUnitsReady, GroupAvailable}},
		{"group not Available", groupStages(group(1, 1, 2, 0, metav1.ConditionFalse)), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("stages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProgress(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewProgress(t0)
	p.SeePod(pod("a", "1", "", corev1.PodPending), t0.Add(1*time.Second))
	p.SeePod(pod("a", "1", "n", corev1.PodRunning), t0.Add(3*time.Second))
	p.SeePod(pod("a", "1", "n", corev1.PodRunning), t0.Add(9*time.Second)) // a later update
	p.SeePod(pod("b", "2", "n", corev1.PodPending), t0.Add(2*time.Second))
	p.SeePod(pod("b", "3", "", corev1.PodPending), t0.Add(4*time.Second)) // b again, new UID

	got := map[Stage][]time.Duration{}
	for s := range numStages {
		if times := p.Times(s); len(times) > 0 {
			at, _ := Milestone(times, len(times), 1)
			got[s] = []time.Duration{time.Duration(p.Count(s)), at}
		}
	}
	want := map[Stage][]time.Duration{
		PodCreated: {2, 2 * time.Second},
		PodBound:   {2, 3 * time.Second},
		PodRunning: {1, 3 * time.Second},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("count and last first-reach per stage (-want +got):\n%s", diff)
	}
	if n := p.Recreated(); n != 1 {
		t.Errorf("Recreated() = %d, want 1", n)
	}
}
