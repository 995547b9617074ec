package sim

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/sim/kv"
	"github.com/tandem-serving/tandem/benchmarks/sim/tokenizer"
	"github.com/tandem-serving/tandem/router/kvevents"
)

func TestEventBatchGroupsRuns(t *testing.T) {
	const seed = 99
	toks := func(from uint32) []uint32 { return []uint32{from, from + 1} }
	evs := []kv.Event{
		{Kind: kv.Removed, Hash: 5},
		{Kind: kv.Removed, Hash: 6},
		{Kind: kv.Stored, Hash: 10, Parent: seed, Tokens: toks(1)},
		{Kind: kv.Stored, Hash: 11, Parent: 10, Tokens: toks(3)},
		{Kind: kv.Stored, Hash: 20, Parent: 8, Tokens: toks(5)}, // another sequence, mid-chain
		{Kind: kv.Cleared},
	}
	parent := uint64(8)
	rank := int64(0)
	want := kvevents.Batch{TS: 1.5, DataParallelRank: &rank, Events: []kvevents.Event{
		{Kind: kvevents.BlockRemoved, BlockHashes: []uint64{5, 6}, Medium: "GPU"},
		{Kind: kvevents.BlockStored, BlockHashes: []uint64{10, 11}, TokenIDs: []uint32{1, 2, 3, 4}, BlockSize: 2, Medium: "GPU"},
		{Kind: kvevents.BlockStored, BlockHashes: []uint64{20}, ParentBlockHash: &parent, TokenIDs: []uint32{5, 6}, BlockSize: 2, Medium: "GPU"},
		{Kind: kvevents.AllBlocksCleared},
	}}
	got := eventBatch(time.Unix(1, 5e8), seed, 2, evs)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("eventBatch (-want +got):\n%s", diff)
	}
}

func TestOffsetEndpoint(t *testing.T) {
	cases := []struct{ in, want string }{
		{"tcp://127.0.0.1:5557", "tcp://127.0.0.1:5559"},
		{"tcp://*:5557", "tcp://*:5559"},
		{"tcp://127.0.0.1:0", "tcp://127.0.0.1:0"},
	}
	for _, tc := range cases {
		if got, err := offsetEndpoint(tc.in, 2); err != nil || got != tc.want {
			t.Errorf("offsetEndpoint(%q, 2) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"ipc:///tmp/x", "tcp://nohost", "tcp://h:65535"} {
		if _, err := offsetEndpoint(bad, 2); err == nil {
			t.Errorf("offsetEndpoint(%q) succeeded", bad)
		}
	}
}

// recvEvents collects events until pred holds or the deadline passes.
func recvEvents(t *testing.T, sub *kvevents.Subscriber, pred func([]kvevents.Event) bool) []kvevents.Event {
	t.Helper()
	var all []kvevents.Event
	for !pred(all) {
		msg, err := sub.Recv()
		if err != nil {
			t.Fatalf("after %d events: %v", len(all), err)
		}
		all = append(all, msg.Batch.Events...)
	}
	return all
}

func hasKind(k kvevents.Kind) func([]kvevents.Event) bool {
	return func(evs []kvevents.Event) bool {
		for _, e := range evs {
			if e.Kind == k {
				return true
			}
		}
		return false
	}
}

// An engine's KV events over real ZeroMQ: a prompt's full blocks arrive as
// one BlockStored whose hashes a subscriber can recompute from the prompt,
// a reset arrives as AllBlocksCleared, and evictions as BlockRemoved.
func TestEngineKVEvents(t *testing.T) {
	c := testConfig()
	c.Engine.NumBlocks = 8
	c.KVEventsEndpoint = "tcp://127.0.0.1:0"
	engines, err := StartMany(context.Background(), c, []string{"127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	e := engines[0]
	t.Cleanup(func() { e.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub, err := kvevents.Subscribe(ctx, e.KVEventsEndpoint(), DefaultKVEventsTopic)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for len(e.pub.Subscribers()) == 0 {
		if ctx.Err() != nil {
			t.Fatal("subscription never arrived")
		}
		time.Sleep(5 * time.Millisecond)
	}

	prompt := strings.Repeat(" ab", 40) // 40 tokens: 2 full blocks of 16
	postText(t, e.URL(), completion(prompt, 1, false))
	stored := recvEvents(t, sub, hasKind(kvevents.BlockStored))
	toks := tokenizer.Encode(prompt)
	want := kvevents.Event{
		Kind:        kvevents.BlockStored,
		BlockHashes: kv.AppendBlockHashes(nil, kv.Seed(c.Engine.Model), toks, 16),
		TokenIDs:    toks[:32], BlockSize: 16, Medium: "GPU",
	}
	if diff := cmp.Diff([]kvevents.Event{want}, stored); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}

	resp, err := http.Post(e.URL()+"/reset_prefix_cache", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := recvEvents(t, sub, hasKind(kvevents.AllBlocksCleared)); len(got) != 1 {
		t.Errorf("after reset: %+v, want one AllBlocksCleared", got)
	}

	// 8 blocks, 3 per request: the fourth different prompt evicts the
	// first one's cached blocks.
	for _, w := range []string{" cd", " ef", " gh", " ij"} {
		postText(t, e.URL(), completion(strings.Repeat(w, 40), 1, false))
	}
	if got := recvEvents(t, sub, hasKind(kvevents.BlockRemoved)); len(got) < 4 {
		t.Errorf("events %+v: want stores before the first removal", got)
	}
}
