// Package kvevents is vLLM's KV-cache event stream: the wire types, a
// msgpack encoder and a tolerant decoder, and ZeroMQ publisher and
// subscriber sockets. The router subscribes with it to keep its exact
// prefix index (package kvindex); tandem-sim publishes with it. It lives on
// the product side so that no product binary links the simulator; it
// depends only on msgpack, xxhash and a pure-Go ZeroMQ.
//
// # Sources
//
// The format is vLLM's, read from its sources (file and version named):
//
//   - vllm/distributed/kv_events.py at v0.11.2 (the file as last changed
//     on main by commit c528b9006, 2025-10-24, before that release; the
//     same listing is in the v0.11.2 API reference): EventBatch, the event
//     structs and ZmqEventPublisher.
//   - the same file at v0.15.0 (lora_name, PR #27577) and on main after
//     PR #33304 (extra_keys), #37688 (group_idx), #40984
//     (kv_cache_spec_kind, kv_cache_spec_sliding_window) and #42892
//     (events as maps, merged 2026-06-09; a vLLM 0.26.0 stream captured in
//     volcano-sh/kthena issue #1535 shows that shape).
//   - vllm/v1/core/block_pool.py and kv_cache_utils.py at v0.11.2: how
//     BlockStored is filled and how block hashes become integers.
//
// # Frames
//
// ZmqEventPublisher sends one ZeroMQ multipart message per engine step
// that changed the prefix cache:
//
//	frame 0  topic, UTF-8 (KVEventsConfig.topic; default empty, vLLM's
//	         subscriber example uses "kv-events")
//	frame 1  sequence number, 8 bytes big-endian, from 0, +1 per message
//	frame 2  payload: one msgpack-encoded KVEventBatch (msgspec Encoder)
//
// on a PUB socket bound at KVEventsConfig.endpoint (default tcp://*:5557);
// data-parallel rank r binds that port plus r (offset_endpoint_port). An
// optional ROUTER socket (replay_endpoint) answers a request frame of an
// 8-byte big-endian start sequence with (seq, payload) pairs of its buffer
// and an end marker of seq -1 and an empty payload. This package does not
// use replay: a subscriber that sees a gap in sequence numbers treats its
// view of that engine as stale and rebuilds it from new events.
//
// # Payload
//
// Up to #42892 every struct is a msgspec Struct with array_like=True,
// omit_defaults=True, and the events tag=True: each struct is a positional
// array, an event's first element its class name, and trailing fields that
// hold their default are left out. At v0.11.2:
//
//	KVEventBatch     [ts float64, events [...], data_parallel_rank int]
//	BlockStored      ["BlockStored", block_hashes [hash...], parent_block_hash hash|nil,
//	                  token_ids [int...], block_size int, lora_id int|nil, medium str|nil]
//	BlockRemoved     ["BlockRemoved", block_hashes [hash...], medium str|nil]
//	AllBlocksCleared ["AllBlocksCleared"]
//
// data_parallel_rank defaults to None but the publisher always fills it
// with its rank, so it is sent (0 on rank 0). Publishers before its
// introduction (v0.9) send [ts, events], and BlockStored without medium.
// A hash is an integer: the low 64 bits, big-endian, of vLLM's sha256
// block hash (maybe_convert_block_hash, on by default through
// VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=1), so it may exceed the int64 range;
// with that variable 0 it is the hash's bytes. A BlockStored lists
// consecutive new full blocks of one request: parent_block_hash is the
// block before the first (nil when the first is the request's first
// block), token_ids are exactly their tokens (len = blocks × block_size),
// medium is "GPU" for the GPU block pool; KV connectors that offload
// (vLLM's OffloadingConnector, LMCache) publish their tiers, e.g. "CPU".
//
// Later versions append to BlockStored, in this order: lora_name str|nil
// (v0.15.0), extra_keys [tuple|nil per block]|nil (multimodal hashes,
// cache_salt: what the engine mixed into each block's hash), group_idx
// int|nil, kv_cache_spec_kind str|nil, kv_cache_spec_sliding_window
// int|nil; and group_idx to BlockRemoved. After #42892 each event is a map
// keyed by field name with the tag under "type" (the batch stays an
// array); the struct definition on vLLM main at 0181ea31 also drops
// array_like from the batch, making it {"ts":…, "events":…,
// "data_parallel_rank":…}.
//
// # What this package does with it
//
// Encode writes the v0.11.2 array layout; EncodeLayout(LayoutMap) the
// post-#42892 one. Decode accepts every shape above: batches of two or
// three elements or a map; events as arrays with fewer or more trailing
// fields (unknown ones are skipped) or as maps (unknown keys skipped);
// hashes as integers (negative ones, Python's signed hashes of old
// versions, kept as their two's complement) or bytes (the low 64 bits,
// as vLLM converts them). Unknown event tags are skipped. extra_keys
// entries become digests (Event.ExtraKeys). The decoder never panics on bad
// input and allocates at most in proportion to the payload (fuzzed).
package kvevents
