package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func complete(t *testing.T, url, body string) completionResponse {
	t.Helper()
	status, b := post(t, url+"/v1/completions", body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, b)
	}
	var r completionResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// The vLLM NIXL handshake: prefill with do_remote_decode and max_tokens 1,
// then hand the returned kv_transfer_params to the decode instance.
func TestPrefillDecodeHandshake(t *testing.T) {
	prefill := startEngine(t, RolePrefill, nil)
	decode := startEngine(t, RoleDecode, nil)
	prompt := strings.Repeat(" dog", 100) // 100 tokens: 6 full blocks and 4 tokens

	first := complete(t, prefill.url, fmt.Sprintf(
		`{"model":"test-model","prompt":%q,"max_tokens":1,"stream":false,"kv_transfer_params":{"do_remote_decode":true}}`, prompt))
	wantParams := &KVTransferParams{
		DoRemotePrefill: true,
		RemoteEngineID:  "engine-prefill",
		RemoteBlockIDs:  []int{0, 1, 2, 3, 4, 5, 6},
		RemoteHost:      "127.0.0.1",
		RemotePort:      1,
		TPSize:          1,
	}
	if diff := cmp.Diff(wantParams, first.KVTransferParams); diff != "" {
		t.Errorf("prefill kv_transfer_params (-want +got):\n%s", diff)
	}
	if first.Usage.CompletionTokens != 1 {
		t.Errorf("prefill generated %d tokens, want 1", first.Usage.CompletionTokens)
	}

	params, _ := json.Marshal(first.KVTransferParams)
	second := complete(t, decode.url, fmt.Sprintf(
		`{"model":"test-model","prompt":%q,"max_tokens":4,"kv_transfer_params":%s}`, prompt, params))
	if second.KVTransferParams != nil {
		t.Errorf("decode answer carries kv_transfer_params %+v", second.KVTransferParams)
	}
	type summary struct {
		Cached, Completion     int
		PrefillPromptComputed  uint64
		DecodePrefixHits       uint64
		SameFirstWord          bool
		DecodeGenerationTokens uint64
	}
	got := summary{
		Cached:                 second.Usage.PromptTokensDetails.CachedTokens,
		Completion:             second.Usage.CompletionTokens,
		PrefillPromptComputed:  prefill.eng.Snapshot().Stats.PromptTokens,
		DecodePrefixHits:       decode.eng.Snapshot().Stats.PrefixHits,
		SameFirstWord:          strings.HasPrefix(*second.Choices[0].Text, *first.Choices[0].Text),
		DecodeGenerationTokens: decode.eng.Snapshot().Stats.GenerationTokens,
	}
	want := summary{
		Cached:                 96, // the full blocks arrived by transfer
		Completion:             4,
		PrefillPromptComputed:  100,
		DecodePrefixHits:       0, // transferred KV is not a local cache hit
		SameFirstWord:          true,
		DecodeGenerationTokens: 4,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// SGLang sends the same request with bootstrap fields to both sides; each
// engine's role decides what it does.
func TestBootstrapFields(t *testing.T) {
	prefill := startEngine(t, RolePrefill, nil)
	decode := startEngine(t, RoleDecode, nil)
	both := startEngine(t, RoleBoth, nil)
	body := fmt.Sprintf(`{"model":"test-model","prompt":%q,"max_tokens":3,`+
		`"bootstrap_host":"10.0.0.1","bootstrap_port":8998,"bootstrap_room":12345}`, strings.Repeat(" egg", 40))
	got := map[string]int{}
	for name, e := range map[string]testEngine{"prefill": prefill, "decode": decode, "both": both} {
		r := complete(t, e.url, body)
		got[name+" completion"] = r.Usage.CompletionTokens
		got[name+" cached"] = r.Usage.PromptTokensDetails.CachedTokens
	}
	want := map[string]int{
		"prefill completion": 1, "prefill cached": 0, // answers after prefill
		"decode completion": 3, "decode cached": 32, // receives the prompt's KV
		"both completion": 3, "both cached": 0, // serves the request whole
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestHandoffByRole(t *testing.T) {
	decodeKV := &KVTransferParams{DoRemoteDecode: true}
	pullable := &KVTransferParams{DoRemotePrefill: true, RemoteEngineID: "p", RemoteBlockIDs: []int{1}, RemoteHost: "h", RemotePort: 5600}
	noBlocks := &KVTransferParams{DoRemotePrefill: true, RemoteEngineID: "p", RemoteBlockIDs: []int{}, RemoteHost: "h", RemotePort: 5600}
	noHost := &KVTransferParams{DoRemotePrefill: true, RemoteEngineID: "p", RemoteBlockIDs: []int{1}, RemotePort: 5600}
	room := json.RawMessage("7")
	cases := []struct {
		name string
		role Role
		req  Request
		want handoffPlan
	}{
		{"no P/D fields", RoleBoth, Request{}, handoffPlan{}},
		{"vllm prefill on an aggregated engine", RoleBoth, Request{KVTransferParams: decodeKV}, handoffPlan{answerKV: true}},
		{"vllm decode on an aggregated engine", RoleBoth, Request{KVTransferParams: pullable}, handoffPlan{remote: true}},
		{"vllm prefill", RolePrefill, Request{KVTransferParams: decodeKV}, handoffPlan{answerKV: true}},
		{"vllm decode sent to a prefill engine", RolePrefill, Request{KVTransferParams: pullable}, handoffPlan{}},
		{"vllm prefill sent to a decode engine", RoleDecode, Request{KVTransferParams: decodeKV}, handoffPlan{}},
		{"vllm decode", RoleDecode, Request{KVTransferParams: pullable}, handoffPlan{remote: true}},
		{"vllm decode without blocks computes the prompt", RoleDecode, Request{KVTransferParams: noBlocks}, handoffPlan{}},
		{"vllm decode without remote_host computes the prompt", RoleDecode, Request{KVTransferParams: noHost}, handoffPlan{}},
		{"sglang prefill", RolePrefill, Request{BootstrapRoom: room}, handoffPlan{firstTokenOnly: true}},
		{"sglang decode", RoleDecode, Request{BootstrapRoom: room}, handoffPlan{remote: true}},
		{"sglang fields on an aggregated engine", RoleBoth, Request{BootstrapRoom: room}, handoffPlan{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{opts: Options{Role: tc.role}}
			if diff := cmp.Diff(tc.want, s.handoff(&tc.req), cmp.AllowUnexported(handoffPlan{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// A prefill answer's kv_transfer_params has exactly the members vLLM
// v0.11.2's NixlConnectorScheduler.request_finished returns, and the
// prefill generates what max_tokens asks before it hands over (vLLM hands
// over at the length cap, whatever it is; a router sends 1).
func TestPrefillAnswerFormat(t *testing.T) {
	prefill := startEngine(t, RolePrefill, nil)
	const routerKV = `"kv_transfer_params":{"do_remote_decode":true,"do_remote_prefill":false,` +
		`"remote_engine_id":null,"remote_block_ids":null,"remote_host":null,"remote_port":null}`
	status, b := post(t, prefill.url+"/v1/completions",
		fmt.Sprintf(`{"model":"test-model","prompt":%q,"max_tokens":3,"stream":false,%s}`, strings.Repeat(" cat", 40), routerKV))
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, b)
	}
	var answer struct {
		KV    map[string]json.RawMessage `json:"kv_transfer_params"`
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(b, &answer); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{"completion_tokens": fmt.Sprint(answer.Usage.CompletionTokens)}
	for k, v := range answer.KV {
		got[k] = string(v)
	}
	want := map[string]string{
		"completion_tokens": "3",
		"do_remote_prefill": "true", "do_remote_decode": "false", "remote_block_ids": "[0,1,2]",
		"remote_engine_id": `"engine-prefill"`, "remote_host": `"127.0.0.1"`, "remote_port": "1", "tp_size": "1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
