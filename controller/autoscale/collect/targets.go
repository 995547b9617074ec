package collect

import (
	"context"
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// MetricsPortName is the container port name a router pod's metrics are
// looked for under before the configured default port.
const MetricsPortName = "metrics"

// PodTargets finds router replicas as running pods matching a label
// selector; each pod is one replica, so several replicas are summed, not
// sampled through a Service.
type PodTargets struct {
	Client    client.Reader
	Namespace string // empty: all
	Selector  labels.Selector
	// Port is used for pods without a container port named "metrics".
	Port int32
}

// Targets lists the pods' metrics URLs.
func (p PodTargets) Targets(ctx context.Context) ([]Target, error) {
	var pods corev1.PodList
	opts := []client.ListOption{client.MatchingLabelsSelector{Selector: p.Selector}}
	if p.Namespace != "" {
		opts = append(opts, client.InNamespace(p.Namespace))
	}
	if err := p.Client.List(ctx, &pods, opts...); err != nil {
		return nil, fmt.Errorf("list router pods: %w", err)
	}
	var out []Target
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" || pod.DeletionTimestamp != nil {
			continue
		}
		out = append(out, Target{
			Name: pod.Namespace + "/" + pod.Name,
			URL:  "http://" + net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(metricsPort(pod, p.Port)))) + "/metrics",
		})
	}
	return out, nil
}

func metricsPort(pod *corev1.Pod, fallback int32) int32 {
	for _, c := range pod.Spec.Containers {
		for _, port := range c.Ports {
			if port.Name == MetricsPortName {
				return port.ContainerPort
			}
		}
	}
	return fallback
}

// Static are router metrics URLs given by hand, for routers outside the
// cluster (the local cluster runs its router as a process).
func Static(urls []string) func(context.Context) ([]Target, error) {
	targets := make([]Target, len(urls))
	for i, u := range urls {
		targets[i] = Target{Name: u, URL: u}
	}
	return func(context.Context) ([]Target, error) { return targets, nil }
}

// Join lists the targets of every source; one failing source fails the
// round, so a partial list is never mistaken for fewer replicas.
func Join(sources ...func(context.Context) ([]Target, error)) func(context.Context) ([]Target, error) {
	return func(ctx context.Context) ([]Target, error) {
		var out []Target
		for _, s := range sources {
			t, err := s(ctx)
			if err != nil {
				return nil, err
			}
			out = append(out, t...)
		}
		return out, nil
	}
}
