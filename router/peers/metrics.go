package peers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descKnown = prometheus.NewDesc("tandem_router_peers_known",
		"Other router replicas heard from within peers.ttl: their load counts in this replica's estimates.", nil, nil)
	descLag = prometheus.NewDesc("tandem_router_peer_exchange_lag_seconds",
		"Age of the newest batch from each peer replica (label peer: its replica id), by the sender's clock: the delay "+
			"before this replica knows what that one routed. It grows without bound while the peer is unreachable.",
		[]string{"peer"}, nil)
	descLearned = prometheus.NewDesc("tandem_router_peer_index_entries_learned_total",
		"Prefix index blocks learned from peer replicas (batches and snapshots).", nil, nil)
	descBatches = prometheus.NewDesc("tandem_router_peer_batches_total",
		"Batches this replica pushed to its peers, by result: sent, failed (the peer did not answer 2xx) or dropped "+
			"(the peer's queue was full, or the interval's insertions exceeded the batch bound).", []string{"result"}, nil)
	descSnapshots = prometheus.NewDesc("tandem_router_peer_snapshots_total",
		"Whole prefix indexes pulled from a peer at start.", nil, nil)
)

// Collector exposes the exchange's metrics.
func (x *Exchange) Collector() prometheus.Collector { return collector{x} }

type collector struct{ x *Exchange }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descKnown, descLag, descLearned, descBatches, descSnapshots} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	x := c.x
	now := time.Now()
	known := 0
	x.pmu.Lock()
	for id, r := range x.from {
		if now.Sub(r.received) <= x.cfg.TTL {
			known++
		}
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, max(now.Sub(r.sent).Seconds(), 0), id)
	}
	x.pmu.Unlock()
	ch <- prometheus.MustNewConstMetric(descKnown, prometheus.GaugeValue, float64(known))
	ch <- prometheus.MustNewConstMetric(descLearned, prometheus.CounterValue, float64(x.stats.learned.Load()))
	ch <- prometheus.MustNewConstMetric(descBatches, prometheus.CounterValue, float64(x.stats.sent.Load()), "sent")
	ch <- prometheus.MustNewConstMetric(descBatches, prometheus.CounterValue, float64(x.stats.failed.Load()), "failed")
	ch <- prometheus.MustNewConstMetric(descBatches, prometheus.CounterValue, float64(x.stats.dropped.Load()), "dropped")
	ch <- prometheus.MustNewConstMetric(descSnapshots, prometheus.CounterValue, float64(x.stats.snapshots.Load()))
}
