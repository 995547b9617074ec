package router

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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

// wireEngine records the requests it receives and answers them the way
// vLLM (v0.11.2, NIXL connector) or SGLang would, so tests can assert the
// exact bodies the router sends. GETs (/metrics, /v1/models) get 404: the
// router then goes by its own counters.
type wireEngine struct {
	t   *testing.T
	srv *httptest.Server
	// kvAnswer is the kv_transfer_params a prefill answers a
	// do_remote_decode request with; empty: none (the connector is off).
	kvAnswer string
	// before runs before each answer, with the request's X-Request-Id.
	before func(id string)

	mu       sync.Mutex
	got      []received
	arrivals map[string]chan struct{}
}

type received struct {
	RequestID string
	Path      string
	Body      []byte
}

func startWire(t *testing.T, kvAnswer string) *wireEngine {
	e := &wireEngine{t: t, kvAnswer: kvAnswer, arrivals: map[string]chan struct{}{}}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *wireEngine) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.Header.Get("X-Request-Id")
	e.mu.Lock()
	e.got = append(e.got, received{RequestID: id, Path: r.URL.Path, Body: body})
	close(e.arrivalLocked(id))
	e.mu.Unlock()
	if e.before != nil {
		e.before(id)
	}
	var req struct {
		Stream    bool `json:"stream"`
		MaxTokens *int `json:"max_tokens"`
		MaxCompl  *int `json:"max_completion_tokens"`
		MinTokens int  `json:"min_tokens"`
		KV        *struct {
			DoRemoteDecode bool `json:"do_remote_decode"`
		} `json:"kv_transfer_params"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// vLLM's SamplingParams check (the chat API's cap is
	// max_completion_tokens, else max_tokens).
	limit := req.MaxTokens
	if req.MaxCompl != nil {
		limit = req.MaxCompl
	}
	if limit != nil && req.MinTokens > *limit {
		http.Error(w, fmt.Sprintf("min_tokens must be less than or equal to max_tokens=%d, got %d.", *limit, req.MinTokens), http.StatusBadRequest)
		return
	}
	choice := `{"index":0,"text":"ok","finish_reason":"length"}`
	if r.URL.Path == "/v1/chat/completions" {
		choice = `{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"length"}`
	}
	answer := `{"id":"cmpl-` + id + `","object":"text_completion","model":"` + testModel + `","choices":[` + choice + `],` +
		`"usage":{"prompt_tokens":600,"completion_tokens":1,"total_tokens":601}`
	if req.KV != nil && req.KV.DoRemoteDecode && e.kvAnswer != "" {
		answer += `,"kv_transfer_params":` + e.kvAnswer
	}
	answer += "}"
	if req.Stream {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: "+answer+"\n\ndata: [DONE]\n\n")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, answer)
}

// arrivalLocked is closed when a request with X-Request-Id id arrives.
func (e *wireEngine) arrivalLocked(id string) chan struct{} {
	ch := e.arrivals[id]
	if ch == nil {
		ch = make(chan struct{})
		e.arrivals[id] = ch
	}
	return ch
}

func (e *wireEngine) arrival(id string) <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.arrivalLocked(id)
}

func (e *wireEngine) requests() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.got)
}

func (e *wireEngine) spec(r endpoint.Role, kind endpoint.Kind, bootstrapPort int) endpoint.Spec {
	s := endpoint.Spec{
		Address: strings.TrimPrefix(e.srv.URL, "http://"), Models: []string{testModel},
		Role: r, Group: "g", Unit: "0", Kind: kind, BootstrapPort: bootstrapPort,
	}
	if err := s.Normalize(); err != nil {
		panic(err)
	}
	return s
}

// jsonOf parses a JSON object for comparison; numbers stay exact
// (json.Number), so 63-bit rooms survive. A top-level key that appears
// twice fails the test: engines (Python's json) take the last, so a
// parsed map alone would hide a forged member left in front of ours.
func jsonOf(t *testing.T, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s: not a JSON object (%v)", b, err)
	}
	v := map[string]any{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		key := tok.(string)
		var val any
		if err := d.Decode(&val); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if _, dup := v[key]; dup {
			t.Errorf("key %q appears twice in %.300s", key, b)
		}
		v[key] = val
	}
	return v
}

// withLong puts the long prompt where LONG stands.
func withLong(s string) string { return strings.ReplaceAll(s, "LONG", strconv.Quote(longPrompt)) }

// What the client put in the hand-off fields never reaches an engine (the
// second kv_transfer_params is the same key, escaped).
const forgedHandoff = `,"kv_transfer_params":{"do_remote_prefill":true,"remote_engine_id":"x","remote_block_ids":[1],` +
	`"remote_host":"203.0.113.7","remote_port":1},"kv\u005ftransfer_params":{"do_remote_decode":true},` +
	`"bootstrap_host":"203.0.113.7","bootstrap_port":1,"bootstrap_room":1`

// The vLLM NIXL hand-off on the wire: the prefill engine gets the toy
// proxy's request shape, the decode engine the client's request with the
// prefill's kv_transfer_params copied in whole, and both the same
// X-Request-Id (vLLM v0.11.2 frees the prefill's blocks by that id).
func TestNIXLWireFormat(t *testing.T) {
	// As vLLM v0.11.2's NixlConnectorScheduler.request_finished returns it.
	const v0112 = `{"do_remote_prefill":true,"do_remote_decode":false,"remote_block_ids":[3,4,5],` +
		`"remote_engine_id":"0c9a8e1e-prefill","remote_host":"10.9.8.7","remote_port":5600,"tp_size":2}`
	const prefillKV = `"kv_transfer_params":{"do_remote_decode":true,"do_remote_prefill":false,` +
		`"remote_engine_id":null,"remote_block_ids":null,"remote_host":null,"remote_port":null}`
	cases := []struct {
		name, path, client, kvAnswer string
		wantPrefill, wantDecode      string
	}{
		{
			name:        "streamed completion",
			path:        "/v1/completions",
			client:      `{"model":"test-model","prompt":LONG,"max_tokens":7,"temperature":0.5,"stream":true,"stream_options":{"include_usage":true}}`,
			kvAnswer:    v0112,
			wantPrefill: `{"model":"test-model","prompt":LONG,"temperature":0.5,"stream":false,"max_tokens":1,` + prefillKV + `}`,
			wantDecode: `{"model":"test-model","prompt":LONG,"max_tokens":7,"temperature":0.5,"stream":true,"stream_options":{"include_usage":true},` +
				`"kv_transfer_params":` + v0112 + `}`,
		},
		{
			name:     "chat with max_completion_tokens; a later vLLM's extra member passes through",
			path:     "/v1/chat/completions",
			client:   `{"model":"test-model","messages":[{"role":"user","content":LONG}],"max_completion_tokens":9}`,
			kvAnswer: `{"do_remote_prefill":true,"do_remote_decode":false,"remote_block_ids":[8],"remote_engine_id":"e","remote_request_id":"chatcmpl-7","remote_host":"h","remote_port":5601,"tp_size":1}`,
			wantPrefill: `{"model":"test-model","messages":[{"role":"user","content":LONG}],"stream":false,"max_tokens":1,` +
				prefillKV + `,"max_completion_tokens":1}`,
			wantDecode: `{"model":"test-model","messages":[{"role":"user","content":LONG}],"max_completion_tokens":9,` +
				`"kv_transfer_params":{"do_remote_prefill":true,"do_remote_decode":false,"remote_block_ids":[8],"remote_engine_id":"e","remote_request_id":"chatcmpl-7","remote_host":"h","remote_port":5601,"tp_size":1}}`,
		},
		{
			name:        "min_tokens dropped from the prefill copy, kept for decode",
			path:        "/v1/completions",
			client:      `{"model":"test-model","prompt":LONG,"max_tokens":16,"min_tokens":8,"seed":3}`,
			kvAnswer:    v0112,
			wantPrefill: `{"model":"test-model","prompt":LONG,"seed":3,"stream":false,"max_tokens":1,` + prefillKV + `}`,
			wantDecode:  `{"model":"test-model","prompt":LONG,"max_tokens":16,"min_tokens":8,"seed":3,"kv_transfer_params":` + v0112 + `}`,
		},
		{
			name:     "chat min_tokens with max_completion_tokens",
			path:     "/v1/chat/completions",
			client:   `{"model":"test-model","min_tokens":4,"messages":[{"role":"user","content":LONG}],"max_completion_tokens":9,"stream":true}`,
			kvAnswer: v0112,
			wantPrefill: `{"model":"test-model","messages":[{"role":"user","content":LONG}],"stream":false,"max_tokens":1,` +
				prefillKV + `,"max_completion_tokens":1}`,
			wantDecode: `{"model":"test-model","min_tokens":4,"messages":[{"role":"user","content":LONG}],"max_completion_tokens":9,"stream":true,` +
				`"kv_transfer_params":` + v0112 + `}`,
		},
		{
			name:        "the client's hand-off fields are dropped",
			path:        "/v1/completions",
			client:      `{"model":"test-model","prompt":LONG,"max_tokens":3` + forgedHandoff + `}`,
			kvAnswer:    v0112,
			wantPrefill: `{"model":"test-model","prompt":LONG,"stream":false,"max_tokens":1,` + prefillKV + `}`,
			wantDecode:  `{"model":"test-model","prompt":LONG,"max_tokens":3,"kv_transfer_params":` + v0112 + `}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, d := startWire(t, tc.kvAnswer), startWire(t, "")
			f := startRouter(t, testConfig(), []endpoint.Spec{
				p.spec(endpoint.RolePrefill, endpoint.VLLM, 0), d.spec(endpoint.RoleDecode, endpoint.VLLM, 0),
			})
			resp, body := f.post(t, tc.path, withLong(tc.client))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			pr, dr := p.requests(), d.requests()
			if len(pr) != 1 || len(dr) != 1 {
				t.Fatalf("prefill got %d requests, decode %d; want 1 each", len(pr), len(dr))
			}
			if diff := cmp.Diff(jsonOf(t, []byte(withLong(tc.wantPrefill))), jsonOf(t, pr[0].Body)); diff != "" {
				t.Errorf("prefill body (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(jsonOf(t, []byte(withLong(tc.wantDecode))), jsonOf(t, dr[0].Body)); diff != "" {
				t.Errorf("decode body (-want +got):\n%s", diff)
			}
			type route struct{ PrefillPath, DecodePath, PrefillID, DecodeID string }
			got := route{pr[0].Path, dr[0].Path, pr[0].RequestID, dr[0].RequestID}
			if got.PrefillID == "" {
				t.Error("no X-Request-Id on the prefill request")
			}
			want := route{tc.path, tc.path, got.PrefillID, got.PrefillID}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("paths and request ids (-want +got):\n%s", diff)
			}
		})
	}
}

// Requests served without a hand-off reach the engine without the
// client's hand-off fields too.
func TestHandoffFieldsNeverReachAnEngine(t *testing.T) {
	const clean = `{"model":"test-model","prompt":PROMPT,"max_tokens":3}`
	cases := []struct {
		name   string
		prompt string
		// pd: a prefill (answering with kvAnswer) and a decode endpoint;
		// otherwise one aggregated endpoint.
		pd       bool
		kvAnswer string
	}{
		{name: "aggregated endpoint", prompt: longPrompt},
		{name: "short prompt prefilled by the decode endpoint", prompt: shortPrompt, pd: true},
		{name: "prefill answered without kv_transfer_params", prompt: longPrompt, pd: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			serving := startWire(t, "")
			specs := []endpoint.Spec{serving.spec(endpoint.RoleBoth, endpoint.VLLM, 0)}
			if tc.pd {
				p := startWire(t, tc.kvAnswer)
				specs = []endpoint.Spec{p.spec(endpoint.RolePrefill, endpoint.VLLM, 0), serving.spec(endpoint.RoleDecode, endpoint.VLLM, 0)}
			}
			f := startRouter(t, testConfig(), specs)
			prompt := strconv.Quote(tc.prompt)
			client := strings.Replace(clean, "PROMPT", prompt, 1)
			forged := strings.TrimSuffix(client, "}") + forgedHandoff + "}"
			if resp, body := f.post(t, "/v1/completions", forged); resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			got := serving.requests()
			if len(got) != 1 {
				t.Fatalf("the serving endpoint got %d requests, want 1", len(got))
			}
			if diff := cmp.Diff(jsonOf(t, []byte(client)), jsonOf(t, got[0].Body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// SGLang's hand-off on the wire: prefill and decode get the same body, the
// client's with bootstrap_host = the prefill endpoint's address,
// bootstrap_port = its bootstrap port and a bootstrap_room in [0, 2^63)
// that no other request shares; decode is sent while prefill is still
// open (the prefill engine answers only once the decode request arrived).
func TestSGLangBootstrapWireFormat(t *testing.T) {
	const requests = 40
	p, d := startWire(t, ""), startWire(t, "")
	p.before = func(id string) {
		select {
		case <-d.arrival(id):
		case <-time.After(10 * time.Second):
			t.Errorf("%s: the decode request did not arrive while prefill was open", id)
		}
	}
	const bootstrapPort = 18998 // not SGLang's default: it must be the endpoint's own
	f := startRouter(t, testConfig(), []endpoint.Spec{
		p.spec(endpoint.RolePrefill, endpoint.SGLang, bootstrapPort), d.spec(endpoint.RoleDecode, endpoint.SGLang, 0),
	})
	host, _, err := net.SplitHostPort(p.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	prompts := make(map[string]string, requests)
	for i := range requests {
		id := fmt.Sprintf("req-%d", i)
		// A new prompt each time: a repeated one would be cached on the
		// decode endpoint and prefilled there.
		prompts[id] = strings.Repeat(fmt.Sprintf("word%d ", i), 400)
		extra := `,"max_tokens":5`
		if i%2 == 1 {
			extra += forgedHandoff
		}
		if resp, body := f.post(t, "/v1/completions", completionBody(prompts[id], extra), "X-Request-Id", id); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", id, resp.StatusCode, body)
		}
	}
	byID := func(rs []received) map[string]received {
		m := map[string]received{}
		for _, r := range rs {
			m[r.RequestID] = r
		}
		return m
	}
	pr, dr := byID(p.requests()), byID(d.requests())
	rooms := map[int64]string{}
	for id, prompt := range prompts {
		pb, db := jsonOf(t, pr[id].Body), jsonOf(t, dr[id].Body)
		room := roomOf(t, id, pb)
		if droom := roomOf(t, id, db); droom != room {
			t.Errorf("%s: bootstrap_room %d to prefill, %d to decode", id, room, droom)
		}
		if other, dup := rooms[room]; dup {
			t.Errorf("%s and %s share bootstrap_room %d", other, id, room)
		}
		rooms[room] = id
		want := jsonOf(t, fmt.Appendf(nil, `{"model":"test-model","prompt":%s,"max_tokens":5,"bootstrap_host":%q,"bootstrap_port":%d,"bootstrap_room":%d}`,
			strconv.Quote(prompt), host, bootstrapPort, room))
		if diff := cmp.Diff(want, pb); diff != "" {
			t.Errorf("%s: prefill body (-want +got):\n%s", id, diff)
		}
		if diff := cmp.Diff(want, db); diff != "" {
			t.Errorf("%s: decode body (-want +got):\n%s", id, diff)
		}
	}
	if len(rooms) != requests {
		t.Errorf("%d distinct rooms over %d requests", len(rooms), requests)
	}
}

// roomOf reads bootstrap_room as an int64, failing outside [0, 2^63).
func roomOf(t *testing.T, id string, body map[string]any) int64 {
	t.Helper()
	n, ok := body["bootstrap_room"].(json.Number)
	if !ok {
		t.Fatalf("%s: bootstrap_room %v (%T), want an integer", id, body["bootstrap_room"], body["bootstrap_room"])
	}
	room, err := n.Int64()
	if err != nil || room < 0 {
		t.Fatalf("%s: bootstrap_room %s is not in [0, 2^63): %v", id, n, err)
	}
	return room
}

func TestAppendBootstrap(t *testing.T) {
	cases := []struct {
		name, host string
		want       string
	}{
		{"IPv4", "10.1.2.3", `"bootstrap_host":"10.1.2.3","bootstrap_port":8998,"bootstrap_room":9223372036854775807`},
		{"IPv6 in brackets, as SGLang dials host:port", "fd00::7", `"bootstrap_host":"[fd00::7]","bootstrap_port":8998,"bootstrap_room":9223372036854775807`},
		{"DNS name", "p-0.llama.ns.svc", `"bootstrap_host":"p-0.llama.ns.svc","bootstrap_port":8998,"bootstrap_room":9223372036854775807`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendBootstrap(nil, tc.host, 8998, math.MaxInt64))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
