package router

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/expfmt"

	"github.com/tandem-serving/tandem/router/breaker"
	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/schedule"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The exposition of every tandem_router_* metric, names, help, labels and
// buckets, is fixed by a golden file: go test ./router -run Golden -update.
func TestMetricsGolden(t *testing.T) {
	cfg := testConfig()
	cfg.KVEvents.Enabled = true // the exact index's gauges too
	rt, err := New(cfg, Options{Plugins: schedule.DefaultPlugins()})
	if err != nil {
		t.Fatal(err)
	}
	p := endpoint.Spec{Name: "ns/p0", Address: "10.0.0.1:8000", Models: []string{"m"}, Role: endpoint.RolePrefill}
	d := endpoint.Spec{Name: "ns/d0", Address: "10.0.0.2:8000", Models: []string{"m"}, Role: endpoint.RoleDecode}
	for _, s := range []*endpoint.Spec{&p, &d} {
		if err := s.Normalize(); err != nil {
			t.Fatal(err)
		}
	}
	rt.Registry().Update([]endpoint.Spec{p, d})
	e := rt.Registry().Snapshot().Endpoint("ns/d0")
	e.InFlight.Store(3)
	e.QueuedTokens.Store(1200)
	e.Index.Insert([]uint64{1, 2, 3})

	m := rt.Metrics()
	m.requests.WithLabelValues("m", codeLabel(200)).Add(5)
	m.requests.WithLabelValues("", codeLabel(404)).Inc()
	m.duration.WithLabelValues("m").Observe(1.5)
	m.ttft.WithLabelValues("m").Observe(0.2)
	m.picks.WithLabelValues("tandem", string(schedule.ReasonCacheAffinity)).Add(4)
	m.retries.WithLabelValues("m", "connect").Inc()
	m.refused.WithLabelValues("unknown-model").Inc()
	m.pd.WithLabelValues("m", "disaggregated").Inc()
	m.scheduling.Observe(20e-6)
	m.promptTok.WithLabelValues("m").Add(1000)
	m.cachedTok.WithLabelValues("m").Add(750)
	m.breakerChanged(e, breaker.Closed, breaker.Open)
	m.scraped(e, nil)
	m.streamErrs.WithLabelValues("m").Inc()
	m.kvEvents.WithLabelValues("ns/d0", "gap").Inc()
	m.tokenSource.WithLabelValues("prefix-cache").Inc()
	m.tokFallback.WithLabelValues("timeout").Inc()
	m.tokenize.WithLabelValues("ok").Observe(0.004)
	m.tokMismatch.WithLabelValues("m").Inc()
	m.tenantRequests.WithLabelValues("team-a").Inc()
	m.flowQueue.WithLabelValues("m").Set(2)
	m.flowWait.WithLabelValues("m").Observe(0.03)
	m.flowDrops.WithLabelValues("m", "queue-timeout").Inc()
	m.zeroHeld.WithLabelValues("m").Set(1)
	m.zeroWait.WithLabelValues("m", holdServed).Observe(42)

	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	for _, mf := range families {
		if _, err := expfmt.MetricFamilyToText(&got, mf); err != nil {
			t.Fatal(err)
		}
	}
	const golden = "testdata/metrics.golden"
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got.String()); diff != "" {
		t.Errorf("exposition differs from %s (-want +got); rerun with -update if intended:\n%s", golden, diff)
	}
}
