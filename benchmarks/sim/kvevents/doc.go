// Package kvevents is vLLM's KV-cache event stream: the wire types, a
// msgpack encoder and a tolerant decoder, and ZeroMQ publisher and subscriber
// sockets. tandem-sim publishes with it; a router can subscribe with it to
// keep an exact index of which engine caches which prefix. It depends only
// on msgpack and a pure-Go ZeroMQ; nothing of the simulator.
//
// # Wire format
//
// As defined in vLLM's vllm/distributed/kv_events.py (read at
// vllm-project/vllm commit b4e69e0a, and the later fields at 0181ea31) and
// its subscriber example examples/online_serving/kv_events_subscriber.py:
//
// A publisher sends one ZeroMQ multipart message per engine step that
// changed the prefix cache:
//
//	frame 0  topic (UTF-8; vLLM's default is empty, its example uses "kv-events")
//	frame 1  sequence number, 8 bytes big-endian, from 0, +1 per message
//	frame 2  payload: one msgpack-encoded EventBatch
//
// The payload is a msgspec Struct with array_like=True, so an array:
//
//	EventBatch       [ts float64 (Unix seconds), events [...], data_parallel_rank int]
//	BlockStored      ["BlockStored", block_hashes [int...], parent_block_hash int|nil,
//	                  token_ids [int...], block_size int, lora_id int|nil, medium str|nil]
//	BlockRemoved     ["BlockRemoved", block_hashes [int...], medium str|nil]
//	AllBlocksCleared ["AllBlocksCleared"]
//
// Events are tagged unions (msgspec tag=True): the class name first. A
// BlockStored lists consecutive blocks of one chain: parent_block_hash is the
// hash before the first of them (nil when the first is the chain's first
// block) and token_ids are all their tokens, block_size per block. vLLM
// emits data_parallel_rank since its data-parallel support; older
// publishers send [ts, events]. medium ("GPU", "CPU", ...) came later still;
// lora_id is deprecated in favour of lora_name in the newest versions, which
// also append extra_keys, group_idx and kv_cache_spec fields.
//
// Encode writes exactly the layout above, with medium "GPU" when set. Decode
// accepts every variant seen in vLLM's history: two- or three-element
// batches; events with fewer or more trailing fields (extra ones are
// skipped); the map form ({"ts":…, "events":…} and {"type":"BlockStored",
// "block_hashes":…}) that msgspec produces without array_like, as vLLM main
// at 0181ea31 declares the structs; and block hashes sent as bytes (vLLM's
// default sha256 hashes) rather than integers, which become their low 64
// bits big-endian, the same value vLLM publishes with
// VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES (maybe_convert_block_hash in
// vllm/v1/core/kv_cache_utils.py). Unknown event tags are skipped. The
// decoder never panics on bad input and allocates at most in proportion to
// the payload (fuzzed).
//
// vLLM also offers a ROUTER socket that replays missed batches by sequence
// number; this package does not: a subscriber that sees a gap in sequence
// numbers should treat its view of that engine as stale.
package kvevents
