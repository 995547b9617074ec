package server

import (
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The exposition of a fixed state is a golden file: names, help, labels and
// buckets a router or dashboard reads must not drift by accident.
func TestMetricsGolden(t *testing.T) {
	snap := engine.Snapshot{
		Running: 3, Waiting: 2, KVUsage: 0.25, NumBlocks: 27000, BlockSize: 16, PrefixCaching: true,
		Stats: engine.Stats{PrefixQueries: 1000, PrefixHits: 640, Preemptions: 1, PromptTokens: 1000,
			GenerationTokens: 80, Finished: 4},
	}
	m := NewMetrics("meta-llama/Llama-3.1-8B-Instruct", func() engine.Snapshot { return snap })
	m.FirstToken(30 * time.Millisecond)
	m.InterToken(8 * time.Millisecond)
	m.InterToken(12 * time.Millisecond)
	m.Finished(900 * time.Millisecond)

	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	got := rec.Body.String()
	path := filepath.Join("testdata", "metrics.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("exposition (-want +got):\n%s", diff)
	}
}

func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse as Prometheus text: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			labelled := false
			for _, l := range m.GetLabel() {
				labelled = labelled || (l.GetName() == "model_name" && l.GetValue() == model)
			}
			if !labelled {
				t.Errorf("%s lacks model_name=%q", name, model)
			}
			switch {
			case m.Gauge != nil:
				out[name] += m.GetGauge().GetValue()
			case m.Counter != nil:
				out[name] += m.GetCounter().GetValue()
			case m.Histogram != nil:
				out[name+"_count"] += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func TestMetricsMove(t *testing.T) {
	e := startEngine(t, RoleBoth, nil)
	before := scrape(t, e.url)
	prompt := strings.Repeat(" cat", 40)
	for i := 0; i < 2; i++ {
		post(t, e.url+"/v1/completions", `{"model":"test-model","prompt":"`+prompt+`","max_tokens":3}`)
	}
	after := scrape(t, e.url)
	got := map[string]float64{}
	for name := range after {
		got[name] = after[name] - before[name]
	}
	want := map[string]float64{
		"vllm:num_requests_running":              0,
		"vllm:num_requests_waiting":              0,
		"vllm:kv_cache_usage_perc":               0,
		"vllm:gpu_cache_usage_perc":              0,
		"vllm:prefix_cache_queries_total":        80,
		"vllm:prefix_cache_hits_total":           32, // second request: 2 of its 2.5 blocks
		"vllm:prompt_tokens_total":               80,
		"vllm:generation_tokens_total":           6,
		"vllm:num_preemptions_total":             0,
		"vllm:request_success_total":             2,
		"vllm:time_to_first_token_seconds_count": 2,
		"vllm:inter_token_latency_seconds_count": 4,
		"vllm:e2e_request_latency_seconds_count": 2,
		"vllm:cache_config_info":                 0, // constant 1
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metric changes after two requests (-want +got):\n%s", diff)
	}
	if after["vllm:cache_config_info"] != 1 {
		t.Errorf("cache_config_info = %v, want 1", after["vllm:cache_config_info"])
	}
}

func TestCacheConfigLabels(t *testing.T) {
	e := startEngine(t, RoleBoth, nil)
	resp, err := http.Get(e.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	want := `vllm:cache_config_info{block_size="16",cache_dtype="auto",enable_prefix_caching="true",model_name="test-model",num_gpu_blocks="256"} 1`
	if !strings.Contains(string(body), want) {
		t.Errorf("metrics lack %s", want)
	}
}
