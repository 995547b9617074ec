package collect

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/autoscale"
)

// engine-0.prom and engine-1.prom are a real tandem-sim engine's /metrics
// (model m, time scale 1), idle and then after 8 streamed completions of
// 32 tokens sent at once: 248 inter-token gaps, every one under 10 ms.

func TestParseITL(t *testing.T) {
	cases := []struct {
		name string
		page string
		want []autoscale.Bucket
	}{
		{
			name: "vLLM, summed over models",
			page: `vllm:inter_token_latency_seconds_bucket{model_name="a",le="0.05"} 3
vllm:inter_token_latency_seconds_bucket{model_name="a",le="+Inf"} 4
vllm:inter_token_latency_seconds_bucket{model_name="b",le="0.05"} 1
vllm:inter_token_latency_seconds_bucket{model_name="b",le="+Inf"} 1
vllm:time_to_first_token_seconds_bucket{model_name="a",le="0.05"} 9
`,
			want: []autoscale.Bucket{{UpperBound: 0.05, Count: 4}, {UpperBound: math.Inf(1), Count: 5}},
		},
		{
			name: "the current vLLM name wins over the deprecated one on the same page",
			page: `vllm:time_per_output_token_seconds_bucket{le="0.05"} 100
vllm:inter_token_latency_seconds_bucket{le="0.05"} 2
`,
			want: []autoscale.Bucket{{UpperBound: 0.05, Count: 2}},
		},
		{
			name: "an older vLLM with only the deprecated name",
			page: `vllm:time_per_output_token_seconds_bucket{le="0.1"} 7` + "\n",
			want: []autoscale.Bucket{{UpperBound: 0.1, Count: 7}},
		},
		{
			name: "SGLang",
			page: `sglang:inter_token_latency_seconds_bucket{model_name="m",le="0.02"} 5` + "\n",
			want: []autoscale.Bucket{{UpperBound: 0.02, Count: 5}},
		},
		{name: "no ITL histogram", page: "vllm:num_requests_running 3\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, parseITL([]byte(tc.page))); diff != "" {
				t.Errorf("buckets (-want +got):\n%s", diff)
			}
		})
	}
}

// Two scrapes of real engine pages: the first only records, the second
// gives the window's p90 (248 gaps under 10 ms: 9 ms interpolated); an
// engine that does not answer is counted as failed, not as zero tokens.
func TestEnginesITLOverTheWindow(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	a, down := newFakeRouter(t, "engine-0.prom"), newFakeRouter(t, "engine-0.prom")
	down.fail(http.StatusServiceUnavailable)
	e := &Engines{Client: http.DefaultClient, Window: 30 * time.Second, Timeout: time.Second, MaxBytes: 1 << 20, Now: clk.now}
	tgs := []Target{{Name: "ns/a", URL: a.srv.URL + "/metrics"}, {Name: "ns/down", URL: down.srv.URL + "/metrics"}}

	first := e.ITL(context.Background(), tgs)
	if diff := cmp.Diff(autoscale.ITL{Engines: 1, Failed: 1}, first); diff != "" {
		t.Errorf("first scrape (-want +got):\n%s", diff)
	}
	a.serve(t, "engine-1.prom")
	clk.step(5 * time.Second)
	second := e.ITL(context.Background(), tgs)
	if diff := cmp.Diff(autoscale.ITL{P90: 9 * time.Millisecond, OK: true, Engines: 1, Failed: 1}, second); diff != "" {
		t.Errorf("second scrape (-want +got):\n%s", diff)
	}
	// A window later with no new tokens: the base is the burst's sample,
	// so the window holds none.
	clk.step(40 * time.Second)
	if got := e.ITL(context.Background(), tgs); got.OK {
		t.Errorf("a window without tokens reported p90 %v", got.P90)
	}
}

func TestEngineTargets(t *testing.T) {
	pod := func(name, role, rank string, phase corev1.PodPhase, ip string) corev1.Pod {
		return corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{
				v1alpha1.LabelGroup: "g", v1alpha1.LabelRole: role, v1alpha1.LabelRank: rank,
			}},
			Status: corev1.PodStatus{Phase: phase, PodIP: ip},
		}
	}
	pods := []corev1.Pod{
		pod("g-0-prefill-0-0", "prefill", "0", corev1.PodRunning, "10.0.0.1"),
		pod("g-0-decode-0-0", "decode", "0", corev1.PodRunning, "10.0.0.2"),
		pod("g-0-decode-0-1", "decode", "1", corev1.PodRunning, "10.0.0.3"),
		pod("g-0-decode-1-0", "decode", "0", corev1.PodPending, ""),
	}
	group := func(port int32, roles ...string) *v1alpha1.ServingGroup {
		sg := &v1alpha1.ServingGroup{Spec: v1alpha1.ServingGroupSpec{Engine: v1alpha1.EngineSpec{Port: port}}}
		for _, r := range roles {
			sg.Spec.Roles = append(sg.Spec.Roles, v1alpha1.RoleSpec{Name: r})
		}
		return sg
	}
	cases := []struct {
		name string
		sg   *v1alpha1.ServingGroup
		pods []corev1.Pod
		want []Target
	}{
		{
			name: "disaggregated: the running decode leaders only",
			sg:   group(30000, "prefill", "decode"), pods: pods,
			want: []Target{{Name: "ns/g-0-decode-0-0", URL: "http://10.0.0.2:30000/metrics"}},
		},
		{
			name: "aggregated: every running leader, on the default port",
			sg:   group(0, "engine"), pods: []corev1.Pod{pod("g-0-engine-0-0", "engine", "0", corev1.PodRunning, "10.0.0.9"), pods[2]},
			want: []Target{{Name: "ns/g-0-engine-0-0", URL: "http://10.0.0.9:8000/metrics"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, EngineTargets(tc.sg, tc.pods)); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
		})
	}
}
