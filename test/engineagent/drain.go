package engineagent

import (
	"context"
	"net"
	"path"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tandem-serving/tandem/benchmarks/sim"
)

// What the kubelet does with a deleted pod, and what the agent plays of
// it: the kubelet runs each container's preStop hook, and only when the
// hook returns sends the container SIGTERM; the hook and the signal's
// aftermath share the deletion's grace period (deletionGracePeriodSeconds,
// the pod's terminationGracePeriodSeconds unless the deleter chose
// another). A preStop sleep therefore keeps the engine serving for its
// length. kwok removes a deleted pod at once (test/localcluster's
// pod-delete stage), so the agent cannot wait for the kubelet's verdict on
// the object: it decides when it first sees the pod terminating.
//
//  1. The pod's engine container (the one exposing the engine's port) has
//     a preStop sleep of N s and the deletion a grace period of G s > 0:
//     the engine drains for up to min(N, G) s.
//  2. Otherwise (no preStop sleep, a forced delete with grace 0, or a pod
//     that vanished without being seen terminating) it stops at once.
//
// A draining engine closes its listener, so new connections are refused
// while open ones carry on: routers drop a terminating pod by themselves
// (router/discovery/kubernetes.go), and kwok hands the freed address to the
// next pod at once, whose engine must be able to listen there. It stops
// when it has had no request in its queue or batch for drainSettle, or when
// the drain time has passed, whichever is first, cutting what is still
// open then, as SIGTERM would cut vLLM v0.12.0's streams.
const (
	drainPoll = 20 * time.Millisecond
	// drainSettle covers the last write of a stream after the engine
	// finished its request: the response's final chunk and [DONE].
	drainSettle = 200 * time.Millisecond
)

// end stops the engine of a pod that is terminating or gone: it drains
// when the pod's spec asks for it, else stops at once. An engine already
// draining carries on: kwok's own final delete (grace 0) is the kubelet's
// "containers have exited", not a shorter deadline.
func (a *Agent) end(ctx context.Context, pod *corev1.Pod) {
	a.mu.Lock()
	e, ok := a.engines[pod.UID]
	if !ok || a.draining[pod.UID] {
		a.mu.Unlock()
		return
	}
	d := drainTime(pod, enginePortOf(e))
	if d <= 0 {
		a.mu.Unlock()
		a.stop(pod)
		return
	}
	a.draining[pod.UID] = true
	a.mu.Unlock()
	name := pod.Namespace + "/" + pod.Name
	a.opts.Logf("engine drain %-33s %s (up to %s)", name, e.Addr(), d)
	a.drains.Go(func() { a.drain(ctx, pod.UID, name, e, d) })
}

// drain serves the engine's open requests for up to d, then stops it.
func (a *Agent) drain(ctx context.Context, uid types.UID, name string, e *sim.Engine, d time.Duration) {
	_ = e.SetRefuse(true)
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	why := "its requests ended"
	var idleSince time.Time
wait:
	for {
		select {
		case <-ctx.Done():
			why = "the agent stopped"
			break wait
		case <-e.Done():
			why = "it stopped"
			break wait
		case <-deadline.C:
			why = "the drain time passed"
			break wait
		case now := <-tick.C:
			if s := e.Snapshot(); s.Running+s.Waiting > 0 {
				idleSince = time.Time{}
				continue
			}
			if idleSince.IsZero() {
				idleSince = now
			}
			if now.Sub(idleSince) >= drainSettle {
				break wait
			}
		}
	}
	a.mu.Lock()
	if a.engines[uid] == e {
		delete(a.engines, uid)
	}
	delete(a.draining, uid)
	a.mu.Unlock()
	s := e.Snapshot()
	_ = e.Close()
	a.opts.Logf("engine down %-34s %s (drained: %s; %d requests cut)", name, e.Addr(), why, s.Running+s.Waiting)
}

// drainTime is how long the kubelet would keep the pod's engine serving
// after the deletion: the engine container's preStop sleep, at most the
// deletion's grace period; zero when the engine stops at once.
func drainTime(pod *corev1.Pod, port int32) time.Duration {
	if pod.DeletionTimestamp == nil || pod.DeletionGracePeriodSeconds == nil {
		return 0
	}
	c := engineContainer(pod, port)
	if c == nil {
		return 0
	}
	return min(preStopSleep(c), time.Duration(*pod.DeletionGracePeriodSeconds)*time.Second)
}

// engineContainer is the container that exposes port, else the first.
func engineContainer(pod *corev1.Pod, port int32) *corev1.Container {
	for i := range pod.Spec.Containers {
		for _, p := range pod.Spec.Containers[i].Ports {
			if p.ContainerPort == port {
				return &pod.Spec.Containers[i]
			}
		}
	}
	if len(pod.Spec.Containers) == 0 {
		return nil
	}
	return &pod.Spec.Containers[0]
}

// preStopSleep is the container's preStop sleep: the sleep action
// (KEP-3960, GA in Kubernetes v1.34) or an exec hook that only runs
// `sleep N`. Any other hook counts as none: its length is unknown.
func preStopSleep(c *corev1.Container) time.Duration {
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		return 0
	}
	h := c.Lifecycle.PreStop
	switch {
	case h.Sleep != nil:
		return time.Duration(h.Sleep.Seconds) * time.Second
	case h.Exec != nil && len(h.Exec.Command) == 2 && path.Base(h.Exec.Command[0]) == "sleep":
		if n, err := strconv.ParseFloat(h.Exec.Command[1], 64); err == nil && n > 0 {
			return time.Duration(n * float64(time.Second))
		}
	}
	return 0
}

// enginePortOf is the port the engine listens on.
func enginePortOf(e *sim.Engine) int32 {
	_, text, _ := net.SplitHostPort(e.Addr())
	port, _ := strconv.Atoi(text)
	return int32(port)
}
