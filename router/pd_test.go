package router

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/sim"
	"github.com/tandem-serving/tandem/benchmarks/sim/server"
	"github.com/tandem-serving/tandem/router/endpoint"
)

// longPrompt is well above the 256-token hand-off threshold (about 4 bytes
// a token); shortPrompt well below.
var (
	longPrompt  = strings.Repeat("The quick brown fox jumps over the lazy dog. ", 60)
	shortPrompt = "Hi there"
)

type pdFleet struct {
	prefill, decode *sim.Engine
	f               *fixture
}

func startPD(t *testing.T, cfg Config, kind endpoint.Kind) *pdFleet {
	p := startEngine(t, role(server.RolePrefill), engineID("p0"))
	d := startEngine(t, role(server.RoleDecode), engineID("d0"))
	ps, ds := spec(p, endpoint.RolePrefill, "0"), spec(d, endpoint.RoleDecode, "0")
	ps.Kind, ds.Kind = kind, kind
	return &pdFleet{prefill: p, decode: d, f: startRouter(t, cfg, []endpoint.Spec{ps, ds})}
}

// The vLLM NIXL hand-off: the prefill endpoint computes the prompt (and
// answers with kv_transfer_params), the decode endpoint receives the KV
// and generates, and the client sees one ordinary answer.
func TestPrefillDecodeHandshake(t *testing.T) {
	for _, stream := range []bool{false, true} {
		name := map[bool]string{false: "whole", true: "streamed"}[stream]
		t.Run(name, func(t *testing.T) {
			fl := startPD(t, testConfig(), endpoint.VLLM)
			extra := `,"max_tokens":6,"stream_options":{"include_usage":true}`
			if stream {
				extra += `,"stream":true`
			}
			resp, body := fl.f.post(t, "/v1/completions", completionBody(longPrompt, extra))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			var usage = decodeLast(t, body, stream).Usage
			ps, ds := fl.prefill.Snapshot().Stats, fl.decode.Snapshot().Stats
			type summary struct {
				PrefillComputedPrompt bool
				PrefillGenerated      uint64
				DecodeGenerated       uint64
				DecodeGotKV           bool
			}
			got := summary{
				PrefillComputedPrompt: ps.PromptTokens > 0,
				PrefillGenerated:      ps.GenerationTokens,
				DecodeGenerated:       ds.GenerationTokens,
				DecodeGotKV:           usage != nil && usage.PromptTokensDetails.CachedTokens > 0,
			}
			want := summary{PrefillComputedPrompt: true, PrefillGenerated: 1, DecodeGenerated: 6, DecodeGotKV: true}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if v := fl.f.metric(t, `tandem_router_prefill_decode_total{decision="disaggregated",model="test-model"}`); v != 1 {
				t.Errorf("disaggregated decisions = %g, want 1", v)
			}
			if resp.Header.Get(headerEndpoint) == "" || resp.Header.Get(headerPrefill) == "" || resp.Header.Get(headerEndpoint) == resp.Header.Get(headerPrefill) {
				t.Errorf("route headers: %s=%q %s=%q, want the decode and the prefill endpoint",
					headerEndpoint, resp.Header.Get(headerEndpoint), headerPrefill, resp.Header.Get(headerPrefill))
			}
		})
	}
}

// decodeLast decodes a whole answer, or a stream's last data event (the
// usage chunk).
func decodeLast(t *testing.T, body []byte, stream bool) completion {
	t.Helper()
	if !stream {
		return decodeCompletion(t, body)
	}
	evs := events(body)
	return decodeCompletion(t, []byte(evs[len(evs)-2]))
}

// A short prompt is not worth a hand-off: the decode endpoint prefills it.
func TestShortPromptPrefillsLocally(t *testing.T) {
	fl := startPD(t, testConfig(), endpoint.VLLM)
	resp, body := fl.f.post(t, "/v1/completions", completionBody(shortPrompt, ""))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if p := resp.Header.Get(headerPrefill); p != "" {
		t.Errorf("%s = %q on a locally prefilled request", headerPrefill, p)
	}
	if n := fl.prefill.Snapshot().Stats.PromptTokens; n != 0 {
		t.Errorf("prefill endpoint computed %d tokens, want 0", n)
	}
	if v := fl.f.metric(t, `tandem_router_prefill_decode_total{decision="local-prefill",model="test-model"}`); v != 1 {
		t.Errorf("local-prefill decisions = %g, want 1", v)
	}
}

// The prefill endpoint of the decode endpoint's unit is preferred.
func TestPrefillOfTheSameUnit(t *testing.T) {
	p0 := startEngine(t, role(server.RolePrefill), engineID("p0"))
	p1 := startEngine(t, role(server.RolePrefill), engineID("p1"))
	d1 := startEngine(t, role(server.RoleDecode), engineID("d1"))
	cfg := testConfig()
	// The engines run as fast as the host allows, so learned prefill rates
	// are noise; let the unit preference dominate.
	cfg.PD.SameUnitWeight = 10
	f := startRouter(t, cfg, []endpoint.Spec{
		spec(p0, endpoint.RolePrefill, "0"), spec(p1, endpoint.RolePrefill, "1"), spec(d1, endpoint.RoleDecode, "1"),
	})
	for i := range 4 {
		prompt := strings.Repeat(string(rune('a'+i))+" ", 600)
		if resp, body := f.post(t, "/v1/completions", completionBody(prompt, "")); resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	if a, b := p0.Snapshot().Stats.PromptTokens, p1.Snapshot().Stats.PromptTokens; a != 0 || b == 0 {
		t.Errorf("prefill tokens: unit 0 %d, unit 1 %d; want all on unit 1", a, b)
	}
}

// Without a working prefill endpoint the configured policy decides, and a
// metric says which.
func TestNoPrefillPolicy(t *testing.T) {
	cases := []struct {
		policy     string
		wantStatus int
		wantMetric string
	}{
		{"aggregated", http.StatusOK, `tandem_router_prefill_decode_total{decision="prefill-failed-aggregated",model="test-model"}`},
		{"fail", http.StatusServiceUnavailable, `tandem_router_prefill_decode_total{decision="prefill-failed-refused",model="test-model"}`},
	}
	for _, tc := range cases {
		t.Run(tc.policy, func(t *testing.T) {
			cfg := testConfig()
			cfg.PD.NoPrefill = tc.policy
			fl := startPD(t, cfg, endpoint.VLLM)
			if err := fl.prefill.SetRefuse(true); err != nil {
				t.Fatal(err)
			}
			resp, body := fl.f.post(t, "/v1/completions", completionBody(longPrompt, ""))
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if v := fl.f.metric(t, tc.wantMetric); v != 1 {
				t.Errorf("%s = %g, want 1", tc.wantMetric, v)
			}
		})
	}
}

// SGLang's hand-off: prefill and decode get the same request with the
// prefill endpoint's bootstrap address and one room.
func TestSGLangBootstrap(t *testing.T) {
	fl := startPD(t, testConfig(), endpoint.SGLang)
	resp, body := fl.f.post(t, "/v1/completions", completionBody(longPrompt, `,"max_tokens":5`))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	ps, ds := fl.prefill.Snapshot().Stats, fl.decode.Snapshot().Stats
	if ps.PromptTokens == 0 || ps.GenerationTokens != 1 {
		t.Errorf("prefill endpoint computed %d prompt tokens and generated %d, want the prompt and 1", ps.PromptTokens, ps.GenerationTokens)
	}
	if ds.GenerationTokens != 5 {
		t.Errorf("decode endpoint generated %d tokens, want 5", ds.GenerationTokens)
	}
	if got := decodeCompletion(t, body).Usage; got == nil || got.PromptTokensDetails.CachedTokens == 0 {
		t.Errorf("decode usage %+v: the KV did not arrive by transfer", got)
	}
}
