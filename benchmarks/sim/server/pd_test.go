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
	prefillKV := &KVTransferParams{DoRemotePrefill: true}
	room := json.RawMessage("7")
	cases := []struct {
		role                    Role
		req                     Request
		wantPrefill, wantRemote bool
	}{
		{RoleBoth, Request{}, false, false},
		{RoleBoth, Request{KVTransferParams: decodeKV}, true, false},
		{RoleBoth, Request{KVTransferParams: prefillKV}, false, true},
		{RolePrefill, Request{KVTransferParams: decodeKV}, true, false},
		{RolePrefill, Request{KVTransferParams: prefillKV}, false, false},
		{RoleDecode, Request{KVTransferParams: decodeKV}, false, false},
		{RoleDecode, Request{KVTransferParams: prefillKV}, false, true},
		{RolePrefill, Request{BootstrapRoom: room}, true, false},
		{RoleDecode, Request{BootstrapRoom: room}, false, true},
		{RoleBoth, Request{BootstrapRoom: room}, false, false},
	}
	for i, tc := range cases {
		s := &Server{opts: Options{Role: tc.role}}
		p, r := s.handoff(&tc.req)
		if p != tc.wantPrefill || r != tc.wantRemote {
			t.Errorf("case %d (%s): prefill %v remote %v, want %v %v", i, tc.role, p, r, tc.wantPrefill, tc.wantRemote)
		}
	}
}
