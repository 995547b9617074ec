package tandem

import (
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"volcano.sh/volcano/pkg/scheduler/api"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// EventReclaimedGangs is the reason of the event tandem-reclaim records on
// a ServingGroup whose unit took GPUs from batch gangs, so an operator sees
// it with `kubectl describe sg`, beside the autoscaler's ScaledUp; Volcano's
// own Evict events are on the gangs' PodGroups and pods.
const EventReclaimedGangs = "ReclaimedBatchGangs"

// groupEvents records events on a unit's ServingGroup. Volcano's session
// recorder is private and only records on PodGroups (framework/session.go,
// RecordPodGroupEvent, v1.14.1), and its scheme does not know ServingGroup,
// so the action keeps its own recorder, made once from the first session's
// client, and names the group by an ObjectReference built from the unit
// PodGroup's controller owner (record accepts a reference as the object).
type groupEvents struct {
	once sync.Once
	rec  record.EventRecorder
}

// reclaimEvents is tandem-reclaim's recorder (the action is registered
// once, so one recorder serves every session).
var reclaimEvents groupEvents

// recorder is nil when the session has no client (scenario tests).
func (g *groupEvents) recorder(client kubernetes.Interface) record.EventRecorder {
	g.once.Do(func() {
		if client == nil {
			return
		}
		b := record.NewBroadcaster()
		b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
		g.rec = b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "tandem-scheduler"})
	})
	return g.rec
}

// groupOf is the ServingGroup owning unit's PodGroup, nil when none does.
func groupOf(unit *api.JobInfo) *corev1.ObjectReference {
	if unit.PodGroup == nil {
		return nil
	}
	for _, o := range unit.PodGroup.OwnerReferences {
		if o.Kind == "ServingGroup" && o.APIVersion == v1alpha1.GroupVersion.String() {
			return &corev1.ObjectReference{
				APIVersion: o.APIVersion, Kind: o.Kind, Namespace: unit.Namespace, Name: o.Name, UID: o.UID,
			}
		}
	}
	return nil
}

// reclaimMessage names the unit and the gangs, with the pods each lost.
func reclaimMessage(unit *api.JobInfo, jobs []*api.JobInfo) string {
	names := make([]string, len(jobs))
	for i, j := range jobs {
		names[i] = fmt.Sprintf("%s/%s (%d pods)", j.Namespace, j.Name, len(runningTasks(j)))
	}
	gangs := "gang"
	if len(jobs) > 1 {
		gangs = "gangs"
	}
	return fmt.Sprintf("unit %s evicted whole batch %s %s for their GPUs", unit.Name, gangs, strings.Join(names, ", "))
}
