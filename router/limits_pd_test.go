package router

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/sim/server"
	"github.com/tandem-serving/tandem/router/endpoint"
)

// A prefill endpoint that never answers is given timeouts.firstByte, as a
// stream's first event is, and the request is then prefilled by its decode
// endpoint (noPrefill: aggregated), for vLLM's sequential hand-off and for
// SGLang's, where prefill and decode run at once.
func TestStalledPrefillTimesOut(t *testing.T) {
	// tandem-sim's SGLang decode does not wait for the KV, so its answer
	// stands and the hand-off counts as disaggregated; what the SGLang
	// cases check is that the request ends, and the prefill is closed, at
	// timeouts.firstByte: the router waits for the prefill half after the
	// decode half.
	cases := []struct {
		name     string
		kind     endpoint.Kind
		stream   bool
		decision string
	}{
		{"vllm whole", endpoint.VLLM, false, "prefill-failed-aggregated"},
		{"vllm streamed", endpoint.VLLM, true, "prefill-failed-aggregated"},
		{"sglang whole", endpoint.SGLang, false, "disaggregated"},
		{"sglang streamed", endpoint.SGLang, true, "disaggregated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stall := startStallEngine(t, -1)
			dec := startEngine(t, role(server.RoleDecode), engineID("d0"))
			ds := spec(dec, endpoint.RoleDecode, "0")
			ds.Kind = tc.kind
			ps := stall.specAs("p-stall", endpoint.RolePrefill, tc.kind)
			if tc.kind == endpoint.SGLang {
				ps.BootstrapPort = 8998
			}
			cfg := testConfig()
			cfg.Timeouts.FirstByte = Duration{300 * time.Millisecond}
			cfg.Timeouts.Request = Duration{time.Hour} // only firstByte can end the wait
			f := startServed(t, cfg, []endpoint.Spec{ps, ds})
			extra := `,"max_tokens":3`
			if tc.stream {
				extra += `,"stream":true`
			}
			client := &http.Client{Timeout: 30 * time.Second} // a hang fails the test
			resp, err := client.Post(f.url+"/v1/completions", "application/json", strings.NewReader(completionBody(longPrompt, extra)))
			if err != nil {
				t.Fatalf("the request never ended: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d %s (%v), want 200 from the decode endpoint prefilling itself", resp.StatusCode, body, err)
			}
			if tc.stream {
				if evs := events(body); len(evs) == 0 || evs[len(evs)-1] != "[DONE]" {
					t.Errorf("stream %q does not end with [DONE]", evs)
				}
			}
			select {
			case <-stall.closed:
			case <-time.After(20 * time.Second):
				t.Fatal("the router never closed its connection to the stalled prefill endpoint")
			}
			if v := counterValue(t, f.rt, "tandem_router_prefill_decode_total", map[string]string{"model": testModel, "decision": tc.decision}); v != 1 {
				t.Errorf("prefill_decode_total{%s} = %g, want 1", tc.decision, v)
			}
		})
	}
}
