package engineagent

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestDrainTime(t *testing.T) {
	sleep := func(s int64) *corev1.Lifecycle {
		return &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: s}}}
	}
	exec := func(cmd ...string) *corev1.Lifecycle {
		return &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: cmd}}}
	}
	engine := func(l *corev1.Lifecycle) corev1.Container {
		return corev1.Container{Name: "engine", Lifecycle: l, Ports: []corev1.ContainerPort{{ContainerPort: 8000}}}
	}
	deleted := func(grace *int64, containers ...corev1.Container) *corev1.Pod {
		p := &corev1.Pod{Spec: corev1.PodSpec{Containers: containers}}
		if grace != nil {
			p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &metav1.Time{Time: time.Now()}, grace
		}
		return p
	}
	cases := []struct {
		name string
		pod  *corev1.Pod
		want time.Duration
	}{
		{"not terminating", deleted(nil, engine(sleep(60))), 0},
		{"sleep within the grace period", deleted(ptr.To[int64](90), engine(sleep(60))), 60 * time.Second},
		{"grace period shorter than the sleep", deleted(ptr.To[int64](30), engine(sleep(60))), 30 * time.Second},
		{"forced delete", deleted(ptr.To[int64](0), engine(sleep(60))), 0},
		{"no preStop hook", deleted(ptr.To[int64](30), engine(nil)), 0},
		{"exec sleep", deleted(ptr.To[int64](90), engine(exec("/bin/sleep", "20"))), 20 * time.Second},
		{"exec of something else", deleted(ptr.To[int64](90), engine(exec("/drain.sh", "20"))), 0},
		{"the engine container is the one on the engine port", deleted(ptr.To[int64](90),
			corev1.Container{Name: "sidecar", Lifecycle: sleep(5)}, engine(sleep(60))), 60 * time.Second},
		{"no container on the port: the first", deleted(ptr.To[int64](90),
			corev1.Container{Name: "a", Lifecycle: sleep(7)}, corev1.Container{Name: "b", Lifecycle: sleep(60)}), 7 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := drainTime(tc.pod, 8000); got != tc.want {
				t.Errorf("drainTime = %s, want %s", got, tc.want)
			}
		})
	}
}
