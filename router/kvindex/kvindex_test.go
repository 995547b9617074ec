package kvindex

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/router/kvevents"
)

var t0 = time.Unix(1_700_000_000, 0)

const bs = 4 // tokens per block in these tests

// seq is n blocks of distinct tokens, starting at token base.
func seq(base, n int) []uint32 {
	out := make([]uint32, n*bs)
	for i := range out {
		out[i] = uint32(base + i)
	}
	return out
}

// stored is a BlockStored of tokens under engine hashes that have nothing
// to do with the router's: engineSeed stands for vLLM's random NONE_HASH.
func stored(engineSeed uint64, parent *uint64, tokens []uint32) kvevents.Event {
	e := kvevents.Event{Kind: kvevents.BlockStored, TokenIDs: tokens, BlockSize: bs, Medium: kvevents.MediumGPU, ParentBlockHash: parent}
	for i := range len(tokens) / bs {
		e.BlockHashes = append(e.BlockHashes, engineSeed*1000+uint64(tokens[i*bs]))
	}
	return e
}

func last(e kvevents.Event) *uint64 { h := e.BlockHashes[len(e.BlockHashes)-1]; return &h }

func removed(hashes ...uint64) kvevents.Event {
	return kvevents.Event{Kind: kvevents.BlockRemoved, BlockHashes: hashes}
}

func msg(seq uint64, evs ...kvevents.Event) kvevents.Message {
	return kvevents.Message{Seq: seq, Batch: kvevents.Batch{Events: evs}}
}

func exactIndex(t *testing.T, evs ...kvevents.Event) *Index {
	t.Helper()
	x := New(time.Second)
	x.setSubscribed(true, t0)
	for i, e := range evs {
		x.Apply(msg(uint64(i), e), t0)
	}
	return x
}

func match(t *testing.T, x *Index, model string, tokens []uint32) Match {
	t.Helper()
	m, ok := x.Match(model, AppendHashes(nil, tokens, bs), t0)
	if !ok {
		t.Fatal("index not exact")
	}
	return m
}

func TestIndexKeysBlocksByTokens(t *testing.T) {
	prompt := seq(0, 4) // 4 blocks
	first := stored(7, nil, prompt[:2*bs])
	second := stored(7, last(first), prompt[2*bs:3*bs])
	other := stored(7, nil, seq(100, 2))
	cases := []struct {
		name   string
		events []kvevents.Event
		tokens []uint32
		want   Match
	}{
		{"nothing stored", nil, prompt, Match{}},
		{"two blocks of one event", []kvevents.Event{first}, prompt, Match{GPU: 2, BlockTokens: bs}},
		{"a later event chains on its parent", []kvevents.Event{first, second}, prompt, Match{GPU: 3, BlockTokens: bs}},
		{"a partial last block is not matched", []kvevents.Event{first, second}, prompt[:3*bs+1], Match{GPU: 3, BlockTokens: bs}},
		{"other tokens do not match", []kvevents.Event{other}, prompt, Match{BlockTokens: bs}},
		{"removal by engine hash", []kvevents.Event{first, second, removed(second.BlockHashes...)}, prompt, Match{GPU: 2, BlockTokens: bs}},
		{"every block removed", []kvevents.Event{first, removed(first.BlockHashes...)}, prompt, Match{BlockTokens: bs}},
		{"all cleared", []kvevents.Event{first, {Kind: kvevents.AllBlocksCleared}}, prompt, Match{BlockTokens: bs}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := exactIndex(t, tc.events...)
			if diff := cmp.Diff(tc.want, match(t, x, "m", tc.tokens)); diff != "" {
				t.Errorf("Match (-want +got):\n%s", diff)
			}
		})
	}
}

// Two engines with different hash seeds store the same tokens under
// different hashes; the router matches both alike.
func TestEngineHashSeedDoesNotMatter(t *testing.T) {
	prompt := seq(0, 3)
	var got []Match
	for _, engineSeed := range []uint64{1, 99991} {
		a := stored(engineSeed, nil, prompt[:bs])
		b := stored(engineSeed, last(a), prompt[bs:])
		got = append(got, match(t, exactIndex(t, a, b), "m", prompt))
	}
	want := []Match{{GPU: 3, BlockTokens: bs}, {GPU: 3, BlockTokens: bs}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestIndexSeparatesAdaptersTiersAndExtraKeys(t *testing.T) {
	prompt := seq(0, 3)
	lora := stored(1, nil, prompt)
	lora.LoRAName = "sql-lora"
	loraID := stored(2, nil, prompt)
	loraID.LoRAID = ptr[int64](3)
	cpu := stored(3, nil, prompt)
	cpu.Medium = "CPU"
	gpuHead := stored(4, nil, prompt[:bs])
	salted := stored(5, nil, prompt)
	salted.ExtraKeys = []uint64{0, 77, 0}
	window := stored(6, nil, prompt)
	window.SpecKind = "sliding_window"
	cases := []struct {
		name   string
		events []kvevents.Event
		model  string
		want   Match
	}{
		{"an adapter's blocks match its model", []kvevents.Event{lora}, "sql-lora", Match{GPU: 3, BlockTokens: bs}},
		{"not the base model", []kvevents.Event{lora}, "base", Match{BlockTokens: bs}},
		{"integer lora ids match no model", []kvevents.Event{loraID}, "base", Match{BlockTokens: bs}},
		{"CPU blocks are offloaded", []kvevents.Event{cpu}, "m", Match{Offloaded: 3, BlockTokens: bs}},
		{"offloaded after the GPU prefix", []kvevents.Event{gpuHead, cpu}, "m", Match{GPU: 1, Offloaded: 2, BlockTokens: bs}},
		{"extra keys end the matchable chain", []kvevents.Event{salted}, "m", Match{GPU: 1, BlockTokens: bs}},
		{"sliding-window groups are not indexed", []kvevents.Event{window}, "m", Match{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := exactIndex(t, tc.events...)
			if diff := cmp.Diff(tc.want, match(t, x, tc.model, prompt)); diff != "" {
				t.Errorf("Match (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIndexDropsWhatItCannotChain(t *testing.T) {
	orphan := stored(1, ptr[uint64](12345), seq(0, 1))
	short := stored(1, nil, seq(0, 2))
	short.TokenIDs = short.TokenIDs[:bs+1]
	x := exactIndex(t, orphan, short)
	if x.Dropped() != 2 || x.Len() != 0 {
		t.Errorf("dropped %d, held %d; want 2, 0", x.Dropped(), x.Len())
	}
}

func ptr[T any](v T) *T { return &v }

func TestIndexDegradedStates(t *testing.T) {
	cases := []struct {
		name  string
		steps func(x *Index)
		at    time.Duration
		want  State
	}{
		{"not subscribed", func(*Index) {}, 0, Disconnected},
		{"subscribed and idle", func(x *Index) { x.setSubscribed(true, t0) }, time.Hour, Exact},
		{"a gap resyncs for the silence window", func(x *Index) {
			x.setSubscribed(true, t0)
			x.Apply(msg(0, stored(1, nil, seq(0, 1))), t0)
			x.Apply(msg(5, stored(1, nil, seq(10, 1))), t0)
		}, 999 * time.Millisecond, Resyncing},
		{"after the window it is exact again", func(x *Index) {
			x.setSubscribed(true, t0)
			x.Apply(msg(0, stored(1, nil, seq(0, 1))), t0)
			x.Apply(msg(5, stored(1, nil, seq(10, 1))), t0)
		}, time.Second, Exact},
		{"work without events goes silent", func(x *Index) {
			x.setSubscribed(true, t0)
			x.Worked(t0)
		}, 1001 * time.Millisecond, Silent},
		{"work followed by events stays exact", func(x *Index) {
			x.setSubscribed(true, t0)
			x.Worked(t0)
			x.Apply(msg(0, stored(1, nil, seq(0, 1))), t0.Add(10*time.Millisecond))
		}, time.Hour, Exact},
		{"a lost subscription", func(x *Index) {
			x.setSubscribed(true, t0)
			x.setSubscribed(false, t0)
		}, 0, Disconnected},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := New(time.Second)
			tc.steps(x)
			if got := x.State(t0.Add(tc.at)); got != tc.want {
				t.Errorf("state %s, want %s", got, tc.want)
			}
		})
	}
}

func TestGapClearsTheSet(t *testing.T) {
	x := New(time.Second)
	x.setSubscribed(true, t0)
	x.Apply(msg(7, stored(1, nil, seq(0, 2))), t0)
	if ok := x.Apply(msg(9, stored(1, nil, seq(10, 1))), t0); ok || x.Gaps() != 1 || x.Len() != 1 {
		t.Errorf("after a gap: ok %v, gaps %d, blocks %d; want false, 1, 1", ok, x.Gaps(), x.Len())
	}
}

// Follow applies a real publisher's messages over ZeroMQ.
func TestFollowPublisher(t *testing.T) {
	pub, err := kvevents.NewPublisher("tcp://127.0.0.1:0", "kv-events")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	x := New(time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	results := make(chan string, 100)
	go func() {
		Follow(ctx, pub.Endpoint(), "kv-events", x, logr.Discard(), func(r string) { results <- r })
		close(done)
	}()
	deadline := time.Now().Add(20 * time.Second)
	// PUB drops messages until the subscriber has joined: publish until
	// one arrives.
	for x.Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no event arrived")
		}
		pub.Publish(kvevents.Batch{Events: []kvevents.Event{stored(1, nil, seq(0, 3))}})
		time.Sleep(20 * time.Millisecond)
	}
	if m, ok := x.Match("m", AppendHashes(nil, seq(0, 4), bs), time.Now()); !ok || m.GPU != 3 {
		t.Errorf("Match = %+v, %v; want 3 GPU blocks, true", m, ok)
	}
	cancel()
	<-done
	if got := x.State(time.Now()); got != Disconnected {
		t.Errorf("state after the subscription ended: %s", got)
	}
}
