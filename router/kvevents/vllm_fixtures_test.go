package kvevents

import (
	"encoding/hex"
	"math"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/google/go-cmp/cmp"
)

// The fixtures below are written by hand from vLLM's sources (doc.go names
// files and versions), not produced by this package's encoder: what a real
// engine puts on the wire.

// fixtureV0112 is one KVEventBatch as vLLM v0.11.2 sends it: msgspec
// array_like structs (kv_events.py: EventBatch ts, events,
// data_parallel_rank; BlockStored block_hashes, parent_block_hash,
// token_ids, block_size, lora_id, medium; BlockRemoved block_hashes,
// medium), integers in msgpack's shortest form, floats as float64.
var fixtureV0112 = strings.Join([]string{
	"93",                                 // KVEventBatch: array of 3
	"cb41d954fc40200000",                 // ts 1700000000.5 (float64)
	"94",                                 // events: array of 4
	"97",                                 // BlockStored: array of 7
	"ab426c6f636b53746f726564",           // "BlockStored" (fixstr 11)
	"92cffedcba987654321007",             // block_hashes [0xfedcba9876543210 (uint64), 7]
	"c0",                                 // parent_block_hash None
	"9401020304",                         // token_ids [1, 2, 3, 4]
	"02",                                 // block_size 2
	"c0",                                 // lora_id None
	"a3475055",                           // medium "GPU"
	"97",                                 // BlockStored
	"ab426c6f636b53746f726564",           // "BlockStored"
	"9109",                               // block_hashes [9]
	"07",                                 // parent_block_hash 7
	"9305cd012cceffffffff",               // token_ids [5, 300 (uint16), 4294967295 (uint32)]
	"03",                                 // block_size 3
	"03",                                 // lora_id 3
	"a3475055",                           // medium "GPU"
	"93",                                 // BlockRemoved: array of 3
	"ac426c6f636b52656d6f766564",         // "BlockRemoved" (fixstr 12)
	"9107",                               // block_hashes [7]
	"a3475055",                           // medium "GPU"
	"91",                                 // AllBlocksCleared: array of 1
	"b0416c6c426c6f636b73436c6561726564", // "AllBlocksCleared" (fixstr 16)
	"00",                                 // data_parallel_rank 0 (the publisher fills in its rank)
}, "")

func fixtureV0112Batch() Batch {
	return Batch{
		TS: 1700000000.5,
		Events: []Event{
			{Kind: BlockStored, BlockHashes: []uint64{0xfedcba9876543210, 7}, TokenIDs: []uint32{1, 2, 3, 4}, BlockSize: 2, Medium: MediumGPU},
			{Kind: BlockStored, BlockHashes: []uint64{9}, ParentBlockHash: ptr[uint64](7), TokenIDs: []uint32{5, 300, math.MaxUint32},
				BlockSize: 3, LoRAID: ptr[int64](3), Medium: MediumGPU},
			{Kind: BlockRemoved, BlockHashes: []uint64{7}, Medium: MediumGPU},
			{Kind: AllBlocksCleared},
		},
		DataParallelRank: ptr[int64](0),
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeVLLM0112(t *testing.T) {
	got, err := Decode(unhex(t, fixtureV0112))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fixtureV0112Batch(), got); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
}

// The simulator publishes through Encode: it must write vLLM's bytes.
func TestEncodeIsVLLM0112ByteForByte(t *testing.T) {
	if got := hex.EncodeToString(Encode(fixtureV0112Batch())); got != fixtureV0112 {
		t.Errorf("Encode\n got %s\nwant %s", got, fixtureV0112)
	}
}

// mp appends raw msgpack by the specification's type bytes, for fixtures
// too long to write out in hex.
type mp []byte

func (b mp) arr(n int) mp  { return append(b, 0x90|byte(n)) } // fixarray, n < 16
func (b mp) mapn(n int) mp { return append(b, 0x80|byte(n)) } // fixmap, n < 16
func (b mp) nil() mp       { return append(b, 0xc0) }
func (b mp) fix(v int) mp  { return append(b, byte(v)) } // positive fixint, v < 128
func (b mp) str(s string) mp { // fixstr or str8
	if len(s) < 32 {
		return append(append(b, 0xa0|byte(len(s))), s...)
	}
	return append(append(b, 0xd9, byte(len(s))), s...)
}
func (b mp) f64(hexBits string) mp { // float64 from its IEEE bits
	v, _ := hex.DecodeString(hexBits)
	return append(append(b, 0xcb), v...)
}
func (b mp) bin(v []byte) mp { return append(append(b, 0xc4, byte(len(v))), v...) } // bin8

// A vLLM main BlockStored in array form with every later field: lora_name,
// extra_keys (None for the first block, a cache_salt tuple for the
// second), group_idx, kv_cache_spec_kind; kv_cache_spec_sliding_window
// holds its default (None) and is left out, as omit_defaults does with a
// trailing default. Medium "CPU" (an offloading connector), DP rank 1.
func TestDecodeArrayWithNewerFields(t *testing.T) {
	salt := mp(nil).arr(1).str("tenant-a")
	payload := mp(nil).arr(3).f64("3ff8000000000000").arr(2).
		arr(11).str("BlockStored").arr(2).fix(1).fix(2).nil().arr(4).fix(1).fix(2).fix(3).fix(4).fix(2).
		fix(3).str("CPU").str("sql-lora").arr(2).nil()
	payload = append(payload, salt...)
	payload = payload.fix(0).str("full_attention").
		arr(4).str("BlockRemoved").arr(1).fix(1).str("CPU").fix(0).
		fix(1)
	got, err := Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	want := Batch{TS: 1.5, DataParallelRank: ptr[int64](1), Events: []Event{
		{Kind: BlockStored, BlockHashes: []uint64{1, 2}, TokenIDs: []uint32{1, 2, 3, 4}, BlockSize: 2, LoRAID: ptr[int64](3),
			Medium: "CPU", LoRAName: "sql-lora", ExtraKeys: []uint64{0, xxhash.Sum64(salt) | 1}, GroupIdx: ptr[int64](0), SpecKind: "full_attention"},
		{Kind: BlockRemoved, BlockHashes: []uint64{1}, Medium: "CPU", GroupIdx: ptr[int64](0)},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
}

// After vLLM PR #42892 each event is a map keyed by field name, tagged by
// "type", in declaration order; the batch stays an array (the shape of the
// vLLM 0.26.0 capture in kthena issue #1535). Hashes as 32 sha256 bytes
// (VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=0) become their low 64 bits.
func TestDecodeMapEvents(t *testing.T) {
	sha := make([]byte, 32)
	for i := range sha {
		sha[i] = byte(0xa0 + i)
	}
	payload := mp(nil).arr(3).f64("4000000000000000").arr(3).
		mapn(11).str("type").str("BlockStored").str("block_hashes").arr(1).bin(sha).str("parent_block_hash").nil().
		str("token_ids").arr(2).fix(7).fix(8).str("block_size").fix(2).str("lora_id").nil().str("medium").str("GPU").
		str("lora_name").nil().str("extra_keys").arr(1).nil().str("group_idx").fix(0).str("kv_cache_spec_kind").str("full_attention").
		mapn(4).str("type").str("BlockRemoved").str("block_hashes").arr(1).bin(sha).str("medium").str("GPU").str("group_idx").fix(0).
		mapn(1).str("type").str("AllBlocksCleared").
		fix(0)
	got, err := Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	const low = 0xb8b9babbbcbdbebf // sha[24:32]
	want := Batch{TS: 2, DataParallelRank: ptr[int64](0), Events: []Event{
		{Kind: BlockStored, BlockHashes: []uint64{low}, TokenIDs: []uint32{7, 8}, BlockSize: 2, Medium: MediumGPU,
			ExtraKeys: []uint64{0}, GroupIdx: ptr[int64](0), SpecKind: "full_attention"},
		{Kind: BlockRemoved, BlockHashes: []uint64{low}, Medium: MediumGPU, GroupIdx: ptr[int64](0)},
		{Kind: AllBlocksCleared},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
	// The simulator's map layout writes the same fields in the same order.
	sim := want
	sim.Events = []Event{{Kind: BlockStored, BlockHashes: []uint64{5}, TokenIDs: []uint32{7, 8}, BlockSize: 2, Medium: MediumGPU}}
	wantSim := mp(nil).arr(3).f64("4000000000000000").arr(1).
		mapn(8).str("type").str("BlockStored").str("block_hashes").arr(1).fix(5).str("parent_block_hash").nil().
		str("token_ids").arr(2).fix(7).fix(8).str("block_size").fix(2).str("lora_id").nil().str("medium").str("GPU").
		str("lora_name").nil().fix(0)
	if got := hex.EncodeToString(EncodeLayout(sim, LayoutMap)); got != hex.EncodeToString(wantSim) {
		t.Errorf("EncodeLayout(LayoutMap)\n got %s\nwant %s", got, hex.EncodeToString(wantSim))
	}
}

// The struct definition on vLLM main at 0181ea31 has no array_like on the
// batch either: then it is a map too.
func TestDecodeMapBatch(t *testing.T) {
	payload := mp(nil).mapn(3).str("ts").f64("3ff8000000000000").
		str("events").arr(1).mapn(1).str("type").str("AllBlocksCleared").
		str("data_parallel_rank").fix(1)
	got, err := Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	want := Batch{TS: 1.5, DataParallelRank: ptr[int64](1), Events: []Event{{Kind: AllBlocksCleared}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
}

// ZmqEventPublisher._publisher_thread: send_multipart((topic, seq 8 bytes
// big-endian, payload)).
func TestParseVLLMFrames(t *testing.T) {
	frames := [][]byte{[]byte("kv-events"), unhex(t, "0000000000000102"), unhex(t, fixtureV0112)}
	got, err := ParseMessage(frames)
	if err != nil {
		t.Fatal(err)
	}
	want := Message{Topic: "kv-events", Seq: 258, Batch: fixtureV0112Batch()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseMessage (-want +got):\n%s", diff)
	}
}
