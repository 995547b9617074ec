package kvindex

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/sim/kvevents"
	"github.com/tandem-serving/tandem/router/request"
)

var t0 = time.Unix(1_700_000_000, 0)

func stored(hashes ...uint64) kvevents.Event {
	return kvevents.Event{Kind: kvevents.BlockStored, BlockHashes: hashes, BlockSize: 16}
}

func removed(hashes ...uint64) kvevents.Event {
	return kvevents.Event{Kind: kvevents.BlockRemoved, BlockHashes: hashes}
}

func msg(seq uint64, evs ...kvevents.Event) kvevents.Message {
	return kvevents.Message{Seq: seq, Batch: kvevents.Batch{Events: evs}}
}

func TestIndexAppliesEvents(t *testing.T) {
	x := New(time.Second)
	if _, _, ok := x.Match([]uint64{1}, t0); ok {
		t.Fatal("an index without a subscription claims to be exact")
	}
	x.setSubscribed(true, t0)
	x.Apply(msg(0, stored(1, 2, 3, 4)), t0)
	x.Apply(msg(1, removed(4), stored(9)), t0)
	type match struct{ Blocks, BlockTokens int }
	got := []match{}
	for _, q := range [][]uint64{{1, 2, 3, 4}, {1, 2, 5}, {7}, {9}} {
		n, bt, ok := x.Match(q, t0)
		if !ok {
			t.Fatal("not exact")
		}
		got = append(got, match{n, bt})
	}
	want := []match{{3, 16}, {2, 16}, {0, 16}, {1, 16}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	x.Apply(msg(2, kvevents.Event{Kind: kvevents.AllBlocksCleared}), t0)
	if x.Len() != 0 {
		t.Errorf("%d blocks after AllBlocksCleared", x.Len())
	}
}

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
			x.Apply(msg(0, stored(1)), t0)
			x.Apply(msg(5, stored(2)), t0)
		}, 999 * time.Millisecond, Resyncing},
		{"after the window it is exact again", func(x *Index) {
			x.setSubscribed(true, t0)
			x.Apply(msg(0, stored(1)), t0)
			x.Apply(msg(5, stored(2)), t0)
		}, time.Second, Exact},
		{"work without events goes silent", func(x *Index) {
			x.setSubscribed(true, t0)
			x.Worked(t0)
		}, 1001 * time.Millisecond, Silent},
		{"work followed by events stays exact", func(x *Index) {
			x.setSubscribed(true, t0)
			x.Worked(t0)
			x.Apply(msg(0, stored(1)), t0.Add(10*time.Millisecond))
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
	x.Apply(msg(7, stored(1, 2)), t0)
	if ok := x.Apply(msg(9, stored(3)), t0); ok || x.Gaps() != 1 || x.Len() != 1 {
		t.Errorf("after a gap: ok %v, gaps %d, blocks %d; want false, 1, 1", ok, x.Gaps(), x.Len())
	}
}

func parse(t *testing.T, kind request.Kind, body string) *request.Request {
	t.Helper()
	var r request.Request
	if err := request.Parse(kind, []byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestSimTokenizer(t *testing.T) {
	long := strings.Repeat(" dog", 40) // 40 tokens: 2 full blocks of 16
	cases := []struct {
		name       string
		kind       request.Kind
		body       string
		wantTokens int
		wantBlocks int
	}{
		{"completion string", request.Completion, `{"model":"m","prompt":"` + long + `"}`, 40, 2},
		{"completion token ids", request.Completion, `{"model":"m","prompt":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}`, 17, 1},
		{"chat", request.Chat, `{"model":"m","messages":[{"role":"user","content":"` + long + `"}]}`, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hashes, tokens, ok := SimTokenizer{}.Hashes(nil, parse(t, tc.kind, tc.body), 16)
			if !ok {
				t.Fatal("not tokenized")
			}
			if tc.wantTokens > 0 && (tokens != tc.wantTokens || len(hashes) != tc.wantBlocks) {
				t.Errorf("%d tokens, %d blocks; want %d, %d", tokens, len(hashes), tc.wantTokens, tc.wantBlocks)
			}
			if tc.kind == request.Chat && tokens <= 40 {
				t.Errorf("chat of 40 content tokens gave %d tokens: the template is missing", tokens)
			}
		})
	}
	// A conversation's next turn extends the previous turn's hashes.
	first := parse(t, request.Chat, `{"model":"m","messages":[{"role":"system","content":"`+long+`"},{"role":"user","content":"a"}]}`)
	second := parse(t, request.Chat, `{"model":"m","messages":[{"role":"system","content":"`+long+`"},{"role":"user","content":"b"}]}`)
	h1, _, _ := SimTokenizer{}.Hashes(nil, first, 16)
	h2, _, _ := SimTokenizer{}.Hashes(nil, second, 16)
	if h1[0] != h2[0] || h1[1] != h2[1] {
		t.Error("a shared system prompt does not share leading block hashes")
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
		pub.Publish(kvevents.Batch{Events: []kvevents.Event{stored(1, 2, 3)}})
		time.Sleep(20 * time.Millisecond)
	}
	if n, _, ok := x.Match([]uint64{1, 2, 3, 4}, time.Now()); !ok || n != 3 {
		t.Errorf("Match = %d, %v; want 3, true", n, ok)
	}
	cancel()
	<-done
	if got := x.State(time.Now()); got != Disconnected {
		t.Errorf("state after the subscription ended: %s", got)
	}
}
