package kvevents

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmihailenco/msgpack/v5"
)

func ptr[T any](v T) *T { return &v }

func sampleBatch() Batch {
	return Batch{
		TS: 1732238983.25,
		Events: []Event{
			{Kind: BlockStored, BlockHashes: []uint64{1, 1 << 63, 42}, TokenIDs: []uint32{1, 2, 3, 4, 5, 6}, BlockSize: 2, Medium: MediumGPU},
			{Kind: BlockStored, BlockHashes: []uint64{7}, ParentBlockHash: ptr[uint64](42), TokenIDs: []uint32{7, 4294967295}, BlockSize: 2, LoRAID: ptr[int64](3)},
			{Kind: BlockRemoved, BlockHashes: []uint64{1, 7}, Medium: MediumGPU},
			{Kind: AllBlocksCleared},
		},
		DataParallelRank: ptr[int64](0),
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	cases := map[string]Batch{
		"all kinds":          sampleBatch(),
		"no rank, no events": {TS: 0.5, Events: []Event{}},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Decode(Encode(want))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Other publishers' layouts, built with a generic msgpack encoder: older
// vLLM (no rank, no medium), negative Python hashes, unknown event types
// and trailing fields. vllm_fixtures_test.go has the byte-exact ones.
func TestDecodeVariants(t *testing.T) {
	cases := []struct {
		name    string
		payload any
		want    Batch
	}{{
		name:    "vLLM 0.9: [ts, events], BlockStored without medium",
		payload: []any{1.5, []any{[]any{"BlockStored", []any{10, 11}, nil, []any{1, 2}, 1, nil}, []any{"BlockRemoved", []any{10}}}},
		want: Batch{TS: 1.5, Events: []Event{
			{Kind: BlockStored, BlockHashes: []uint64{10, 11}, TokenIDs: []uint32{1, 2}, BlockSize: 1},
			{Kind: BlockRemoved, BlockHashes: []uint64{10}},
		}},
	}, {
		name:    "negative hashes and unknown trailing fields",
		payload: []any{1.0, []any{[]any{"BlockRemoved", []any{int64(-1)}, "GPU", 0, "future"}}, 0, "future"},
		want: Batch{TS: 1, DataParallelRank: ptr[int64](0), Events: []Event{
			{Kind: BlockRemoved, BlockHashes: []uint64{1<<64 - 1}, Medium: "GPU", GroupIdx: ptr[int64](0)},
		}},
	}, {
		name:    "unknown event types are skipped",
		payload: []any{1.0, []any{[]any{"BlockMoved", []any{1, []any{2}}}, map[string]any{"type": "Other", "x": 1}, []any{"AllBlocksCleared"}}},
		want:    Batch{TS: 1, Events: []Event{{Kind: AllBlocksCleared}}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(marshal(t, tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := map[string][]byte{
		"empty":                 nil,
		"not a container":       {0x01},
		"short batch":           {0x91, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0},
		"huge array header":     {0x92, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xff},
		"stored without fields": marshal(t, []any{1.0, []any{[]any{"BlockStored", []any{1}}}}),
		"hash of wrong type":    marshal(t, []any{1.0, []any{[]any{"BlockRemoved", []any{[]any{1}}}}}),
		"deep nesting":          deep(t, 100),
	}
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			if b, err := Decode(payload); err == nil {
				t.Errorf("Decode succeeded: %+v", b)
			}
		})
	}
}

// deep is a batch with one unknown event whose field nests depth arrays.
func deep(t *testing.T, depth int) []byte {
	var v any = 1
	for range depth {
		v = []any{v}
	}
	return marshal(t, []any{1.0, []any{[]any{"Unknown", v}}})
}

func TestDecodeSkipsModestNesting(t *testing.T) {
	if _, err := Decode(deep(t, 8)); err != nil {
		t.Errorf("Decode of an unknown event nested 8 deep: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(sampleBatch()))
	f.Add(EncodeLayout(sampleBatch(), LayoutMap))
	f.Add(Encode(Batch{}))
	f.Add([]byte{0x92, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x82, 0xa2, 't', 's', 0x00, 0xa6, 'e', 'v', 'e', 'n', 't', 's', 0x90})
	f.Fuzz(func(t *testing.T, payload []byte) {
		b, err := Decode(payload)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to something that decodes the same.
		again, err := Decode(Encode(b))
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		if diff := cmp.Diff(normal(b), normal(again)); diff != "" {
			t.Errorf("re-decode (-first +second):\n%s", diff)
		}
	})
}

// normal fills the fields Encode writes for every kind, so batches decoded
// from other layouts compare equal to their re-encoding.
func normal(b Batch) Batch {
	b.Events = slices.Clone(b.Events)
	for i := range b.Events {
		e := &b.Events[i]
		if e.BlockHashes == nil && e.Kind != AllBlocksCleared {
			e.BlockHashes = []uint64{}
		}
		if e.Kind == BlockStored && e.TokenIDs == nil {
			e.TokenIDs = []uint32{}
		}
		// Encode writes the v0.11.2 fields only.
		e.LoRAName, e.ExtraKeys, e.GroupIdx, e.SpecKind = "", nil, nil, ""
		if e.Kind == AllBlocksCleared {
			*e = Event{Kind: AllBlocksCleared}
		}
	}
	if b.Events == nil {
		b.Events = []Event{}
	}
	return b
}

func TestParseMessage(t *testing.T) {
	payload := Encode(sampleBatch())
	got, err := ParseMessage(Frames("kv-events", 258, payload))
	if err != nil {
		t.Fatal(err)
	}
	if got.Topic != "kv-events" || got.Seq != 258 {
		t.Errorf("topic %q seq %d, want kv-events 258", got.Topic, got.Seq)
	}
	if f := Frames("", 258, nil)[1]; !bytes.Equal(f, []byte{0, 0, 0, 0, 0, 0, 1, 2}) {
		t.Errorf("sequence frame %v, want 8 bytes big-endian", f)
	}
	for name, frames := range map[string][][]byte{
		"two frames":    {[]byte("t"), payload},
		"short seq":     {[]byte("t"), {1}, payload},
		"bad payload":   {[]byte("t"), make([]byte, 8), {0xc1}},
		"empty payload": {[]byte("t"), make([]byte, 8), nil},
	} {
		if _, err := ParseMessage(frames); err == nil {
			t.Errorf("%s: ParseMessage succeeded", name)
		}
	}
}

// A real PUB → SUB round trip over loopback TCP.
func TestPublishSubscribeLoopback(t *testing.T) {
	pub, err := NewPublisher("tcp://127.0.0.1:0", "kv-events")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub, err := Subscribe(ctx, pub.Endpoint(), "kv-events")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	// PUB drops messages until the subscription has arrived.
	for len(pub.Subscribers()) == 0 {
		if ctx.Err() != nil {
			t.Fatal("subscription never reached the publisher")
		}
		time.Sleep(5 * time.Millisecond)
	}
	want := []Batch{sampleBatch(), {TS: 9, Events: []Event{{Kind: AllBlocksCleared}}}}
	for _, b := range want {
		pub.Publish(b)
	}
	for i, w := range want {
		msg, err := sub.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if msg.Topic != "kv-events" || msg.Seq != uint64(i) {
			t.Errorf("message %d: topic %q seq %d, want kv-events %d", i, msg.Topic, msg.Seq, i)
		}
		if diff := cmp.Diff(w, msg.Batch); diff != "" {
			t.Errorf("message %d (-want +got):\n%s", i, diff)
		}
	}
}
