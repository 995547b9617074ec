// Package sim is tandem-sim: simulated LLM inference engines that speak
// vLLM's OpenAI-compatible HTTP API and Prometheus metrics, so routers,
// controllers and benchmarks can be exercised on a machine without GPUs.
// Dozens of engines fit in one process, each with its own address, KV cache
// and queue.
//
// An engine is three layers:
//
//   - package tokenizer: a deterministic byte tokenizer (at most 4 bytes a
//     token, a new token at every whitespace byte) and a Llama-3 style chat
//     template;
//   - package engine: vLLM V1's scheduler and memory in miniature
//     (continuous batching, chunked prefill within a per-step token budget,
//     KV blocks of 16 tokens with a chained-hash prefix cache and LRU
//     eviction, preemption by recompute, remote-prefill KV transfers,
//     --scheduling-policy fcfs or priority on the request's priority
//     field) and a
//     step-time model calibrated on Llama-3.1-8B on one H100, with sources in
//     that package's documentation;
//   - package server: the HTTP API, metrics, prefill/decode hand-off and
//     fault injection.
//
// KV memory defaults to the calibrated engine's, 27,000 blocks of 16 tokens
// (--kv-memory calibrated); --kv-memory memory-pressured is 1,200 blocks,
// 22.5× less, the stress setting earlier router results used
// (engine.MemoryPressuredBlocks says why it is no GPU's). --num-gpu-blocks
// sets any other size.
//
// This package wires them to a listener: Start one engine, StartMany for a
// fleet, Close, Crash, and SetRefuse to close and reopen the listener.
//
//	e, err := sim.Start(ctx, sim.Config{...})
//	resp, err := http.Post(e.URL()+"/v1/completions", "application/json", body)
//
// Every latency is the modelled one times Config.TimeScale; with 0 the
// engine runs as fast as the host allows. Given the same requests in the same
// order the engine schedules them identically (its state changes only at
// steps), generated text and where it ends (a seeded log-normal length
// capped by max_tokens, or exactly max_tokens with ignore_eos or
// --output-lengths fixed) depend only on the seed and the prompt, and faults
// are drawn from a generator seeded per engine.
//
// With Config.KVEventsEndpoint set, an engine publishes vLLM's KV-cache
// events on a ZeroMQ PUB socket through the router's wire-format package
// (router/kvevents, with its vLLM sources), in vLLM v0.11.2's array layout
// or, with KVEventsFormat "map", the map layout of vLLM after PR #42892:
// after every step that changed the prefix cache, one batch (data-parallel
// rank 0) with a BlockStored per newly cached run of blocks (hashes, parent
// hash, exactly their token ids, block size, medium GPU) and a BlockRemoved
// per run of evictions, and an AllBlocksCleared when POST
// /reset_prefix_cache empties the cache. The block hashes are kv.ChainHash
// over package tokenizer's token ids, seeded with kv.SeedWith(model,
// Engine.HashSeed): like vLLM's under different PYTHONHASHSEEDs, two
// engines with different hash seeds name the same blocks differently, and a
// subscriber must match blocks by their token ids.
//
// POST /tokenize answers in vLLM's TokenizeRequest/TokenizeResponse format
// (server/tokenize.go) with the token ids a completion request with the
// same prompt or messages and add_generation_prompt /
// continue_final_message is computed from, so a router's exact mode with
// kvEvents.tokenizer engine works against tandem-sim as against vLLM.
//
// Not implemented: vLLM's replay socket for missed KV events; logprobs;
// n > 1; tool calls; kv_transfer_params in streamed prefill answers.
package sim
