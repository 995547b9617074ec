package tandem

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"volcano.sh/apis/pkg/apis/scheduling"
	"volcano.sh/volcano/pkg/scheduler/api"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

func TestGroupOfNamesTheOwningServingGroup(t *testing.T) {
	owned := func(refs ...metav1.OwnerReference) *api.JobInfo {
		return &api.JobInfo{Namespace: "team", Name: "chat-1", PodGroup: &api.PodGroup{PodGroup: scheduling.PodGroup{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "chat-1", OwnerReferences: refs},
		}}}
	}
	sg := metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ServingGroup", Name: "chat", UID: "u1"}
	other := metav1.OwnerReference{APIVersion: "batch.volcano.sh/v1alpha1", Kind: "Job", Name: "train", UID: "u2"}
	for _, tc := range []struct {
		name string
		unit *api.JobInfo
		want *corev1.ObjectReference
	}{
		{name: "owned by a ServingGroup", unit: owned(other, sg),
			want: &corev1.ObjectReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ServingGroup", Namespace: "team", Name: "chat", UID: "u1"}},
		{name: "a batch job's PodGroup", unit: owned(other)},
		{name: "same kind of another API group", unit: owned(metav1.OwnerReference{APIVersion: "example.com/v1", Kind: "ServingGroup", Name: "x"})},
		{name: "no PodGroup", unit: &api.JobInfo{Namespace: "team", Name: "chat-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, groupOf(tc.unit)); diff != "" {
				t.Errorf("groupOf (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReclaimMessageNamesGangsAndPods(t *testing.T) {
	gang := func(name string, running, pending int) *api.JobInfo {
		j := &api.JobInfo{Namespace: "batch", Name: name, Tasks: map[api.TaskID]*api.TaskInfo{}}
		for i := range running + pending {
			st := api.Running
			if i >= running {
				st = api.Pending
			}
			id := api.TaskID(name + string(rune('a'+i)))
			j.Tasks[id] = &api.TaskInfo{UID: id, Namespace: "batch", Name: string(id), TransactionContext: api.TransactionContext{Status: st}, Resreq: api.EmptyResource()}
		}
		return j
	}
	unit := &api.JobInfo{Namespace: "team", Name: "chat-1"}
	if got, want := reclaimMessage(unit, []*api.JobInfo{gang("train", 2, 0)}),
		"unit chat-1 evicted whole batch gang batch/train (2 pods) for their GPUs"; got != want {
		t.Errorf("one gang: got %q, want %q", got, want)
	}
	if got, want := reclaimMessage(unit, []*api.JobInfo{gang("a", 4, 0), gang("b", 1, 1)}),
		"unit chat-1 evicted whole batch gangs batch/a (4 pods), batch/b (1 pods) for their GPUs"; got != want {
		t.Errorf("two gangs: got %q, want %q", got, want)
	}
}
