package controller

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// Controller metrics, on the manager's metrics endpoint next to
// controller-runtime's own (controller_runtime_reconcile_total by result,
// controller_runtime_reconcile_time_seconds).
var actions = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "tandem_controller_actions_total",
	Help: "Objects the controller created, updated in place or deleted. action: create, update or delete; kind: Pod, PodGroup or Service; reason: why it was deleted (ScaleDown, Rollout, RecreateUnit, RecreateInstance, NotInSpec, RoleScaleDown) or updated (ResizedUnit, Relabel), Error when the API call failed, empty for creates.",
}, []string{"action", "kind", "reason"})

func recordAction(action, kind, reason string) {
	actions.WithLabelValues(action, kind, reason).Inc()
}

// unitsCollector reports units by phase across all ServingGroups, read from
// their status in the cache at scrape time, so it never drifts from what
// the API shows.
type unitsCollector struct {
	reader client.Reader
	desc   *prometheus.Desc
}

func newUnitsCollector(reader client.Reader) *unitsCollector {
	return &unitsCollector{
		reader: reader,
		desc: prometheus.NewDesc("tandem_controller_units",
			"Units of all ServingGroups by phase, as their status reports. phase: the unit phase (e.g. Pending, Running, Failed).",
			[]string{"phase"}, nil),
	}
}

func (c *unitsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *unitsCollector) Collect(ch chan<- prometheus.Metric) {
	var list v1alpha1.ServingGroupList
	if err := c.reader.List(context.Background(), &list); err != nil {
		return
	}
	counts := map[string]float64{}
	for _, sg := range list.Items {
		for _, u := range sg.Status.Units {
			counts[string(u.Phase)]++
		}
	}
	for phase, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, n, phase)
	}
}

// RegisterMetrics adds the controller's metrics to controller-runtime's
// registry. reader should be the manager's cache.
func RegisterMetrics(reader client.Reader) {
	metrics.Registry.MustRegister(actions, newUnitsCollector(reader))
}
