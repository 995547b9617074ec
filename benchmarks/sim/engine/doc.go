// Package engine is the simulated inference engine behind tandem-sim: a
// model of vLLM V1's scheduler, KV memory and step time that runs without a
// GPU, many engines to a core.
//
// # The model
//
// A request is a sequence of token ids: its prompt, then the tokens it
// generates. The engine works in steps, like a real one. Each step:
//
//   - Schedule (a deterministic function of the engine's state; see its doc)
//     chooses which sequences compute how many tokens within the step's token
//     budget, admits queued sequences with their prefix-cache hits, allocates
//     KV blocks, and preempts the newest sequences when memory runs out
//     (recompute: they lose their KV and queue again).
//   - The step lasts the time the cost model gives (below), scaled by the time
//     scale.
//   - Complete marks the scheduled tokens computed, adds newly full blocks to
//     the prefix cache, appends one generated token to every sequence whose
//     tokens are all computed (so prefill's last chunk yields the first
//     token), and frees the blocks of sequences that reached max_tokens.
//
// KV memory is package kv: blocks of 16 tokens, chained block hashes seeded by
// the model name, reference counts and LRU eviction of unreferenced blocks.
//
// A decode instance given a remote prefill reserves blocks for the prompt's
// KV and waits for a transfer (latency plus bytes over bandwidth, one link
// per engine, transfers queued) instead of prefilling; then it computes the
// last prompt token itself and decodes.
//
// Generated text is a deterministic function of a seed and the token index
// (OutputWord). Where a request ends is decided when it arrives
// (Request.StopAfter, drawn by Lengths from the same seed): by default a
// log-normal number of tokens with a mean of 0.3 × max_tokens and σ = 1,
// capped by max_tokens, so most requests end on their own (finish reason
// "stop") long before the cap a router sees, and a few run to it
// ("length"); with ignore_eos or LengthsFixed, exactly max_tokens. The last
// token is an ordinary word: no end-of-sequence text is produced.
//
// # Scheduling policy
//
// Params.Policy is vLLM's --scheduling-policy, with vLLM V1's semantics
// (vllm/v1/core/sched/request_queue.py at local-inference-lab/vllm commit
// 4c346da, a vLLM main fork; vllm/v1/core/sched/scheduler.py, the
// preemption in Scheduler.schedule):
//
//   - fcfs (the default): the waiting queue is a deque in arrival order, a
//     preempted request goes back to its front, and the victim of a
//     memory shortage is the newest running request. Request priorities
//     are ignored.
//   - priority: the waiting queue is a heap on (priority, arrival time),
//     lower first, and a preempted request re-enters it by that key. The
//     victim is the running request with the largest (priority, arrival);
//     if it was already scheduled this step it leaves the step and gives
//     its tokens back to the budget, and if it is the request asking for
//     memory the running loop stops there. A more urgent waiting request
//     does not preempt a running one: preemption happens only when a
//     running request needs blocks.
//
// The request's priority is the OpenAI request's integer "priority" field
// (default 0). vLLM V1 accepts a non-zero priority under fcfs and ignores
// it: InputProcessor.process_inputs (vllm/v1/engine/input_processor.py at
// local-inference-lab/vllm commit 79121b1; Processor.process_inputs in
// vllm/v1/engine/processor.py of the v0.11 line, njhill/vllm commit
// 7db3690) passes it on without looking at the policy. Only the V0 engine
// (vllm/engine/llm_engine.py and async_llm_engine.py) refused it with
// ValueError "Got priority N but Priority scheduling is not enabled.",
// which the OpenAI server answers with 400; vllm-project/vllm PR #23043,
// which would have restored that check in V1, was closed unmerged. The
// simulator follows V1: fcfs accepts and ignores the field.
//
// # Step time
//
//	step = StepOverhead + PrefillPerToken × prefill tokens
//	     + DecodePerSeq × decoding sequences + KVReadPerToken × context tokens
//
// Context tokens are, summed over the step's sequences, the tokens whose KV
// attention reads (already computed plus this step's). Prefill cost is linear
// in tokens; attention's quadratic share is carried by the KV-read term.
//
// # Calibration: Llama-3.1-8B-Instruct, BF16, one H100 SXM 80GB, vLLM V1
//
// StepOverhead 7.4 ms. vLLM's CI latency benchmark (vllm bench latency;
// input 32, output 128, batch 8; llama-3.1 8B, tensor parallel 1) measured a
// mean end-to-end latency of 997.5 ms on H100 and 833.4 ms on H200
// (buildkite.com/vllm/performance-benchmark). That is 7.8 ms per step on
// H100; less 8 × DecodePerSeq and the small KV reads leaves 7.4 ms. The split
// is physical: reading 16.06 GB of weights at H100's 3.35 TB/s takes 4.8 ms,
// plus about 2.6 ms of CPU and kernel-launch time; the H100–H200 gap the CI
// measured (1.3 ms per step) matches the bandwidth difference (1.45 ms).
//
// PrefillPerToken 30 µs — an estimate, not a measurement: a token costs
// 2 × 8.03e9 = 16.1 GFLOP, and 30 µs is 55 % of the H100's 989 TFLOPS dense
// BF16 peak (33k prompt tokens/s). An idle engine's TTFT for an uncached
// 1,000-token prompt is then 37 ms; for 8,192 tokens (one full step) 253 ms.
//
// DecodePerSeq 35 µs — an estimate: the same FLOPs at about 45 % utilisation
// plus sampling. It matters only for large batches.
//
// KVReadPerToken 49 ns: 128 KiB of KV per token read at 80 % (an estimate)
// of 3.35 TB/s. A batch of 64 sequences with 2,000-token contexts then steps
// in 7.4 + 2.2 + 6.3 ≈ 16 ms.
//
// KVBytesPerToken 131,072, exact: 32 layers × 8 KV heads × 128 head
// dimensions × 2 (K and V) × 2 bytes.
//
// NumBlocks 27,000 — an estimate by memory arithmetic: 0.9 (vLLM's
// gpu_memory_utilization) × 79.6 GiB − 14.96 GiB of weights − about 2.5 GiB of
// activations and CUDA graphs ≈ 54 GiB, ÷ 128 KiB ≈ 440k tokens ≈ 27.5k
// blocks.
//
// MaxNumSeqs 1,024 and MaxBatchedTokens 8,192: vLLM's defaults for its OpenAI
// server on GPUs with at least 70 GiB other than A100
// (EngineArgs.get_batch_defaults in vllm/engine/arg_utils.py). BlockSize 16
// and prefix caching on are vLLM V1 defaults; MaxModelLen 131,072 is
// Llama-3.1's context.
//
// TransferBandwidth 25 GB/s and TransferLatency 1 ms — estimates for NIXL
// over one 200–400 Gb/s RDMA NIC.
//
// Not modelled: output lengths that depend on the prompt's content (they
// depend only on its seed), speculative decoding, CUDA-graph
// batch padding, CPU tokenisation, asynchronous scheduling, and a prefill
// instance pinning finished blocks until the decode instance pulls them
// (here they simply stay in the prefix cache, evictable).
package engine
