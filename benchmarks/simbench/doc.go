// Package simbench is `tandem-bench sim` (`make bench-sim`): what the
// simulated engine delivers through its HTTP API, beside what its model
// predicts and the figures the model was calibrated on, and how many
// engines one host core can simulate before the simulation itself bends the
// figures.
//
// Every measurement goes through real HTTP: in-process tandem-sim engines
// (package sim) on loopback, driven by package load's streaming client and
// closed loop (load.Execute), prompts from load's random workload sent to
// /v1/completions so that a prompt of n words is exactly n tokens with no
// chat template and no prefix shared between requests.
//
// # Three kinds of figure
//
// A table or chart labels each figure as one of:
//
//   - measured: the simulator over HTTP, wall-clock time divided by the time
//     scale, i.e. in the modelled GPU's time;
//   - model: the engine model itself, with no HTTP, no timers and no client
//     — IdleTTFT in closed form, or ClosedLoop, which steps engine.Core (the
//     scheduler and cost model the simulator runs) in virtual time;
//   - reference: a figure from benchmarks/sim/engine/doc.go, either a
//     published measurement of real GPUs (vLLM's CI latency benchmark: a
//     batch of 8 prompts of 32 tokens, 128 generated, 997.5 ms on H100) or
//     a calibration estimate derived from hardware peaks (idle TTFT 37 ms at
//     1,000 tokens, 253 ms at 8,192), which is the model's input and no
//     evidence about real GPUs.
//
// # TTFT against prompt length
//
// One engine at --time-scale (default 1, real time), idle: Reps requests per
// prompt length, one at a time, one generated token each, the prefix cache
// reset before each length. Lengths past the step budget (8,192 tokens) are
// prefilled in chunks, one step each; the closed form adds one step
// overhead per chunk and re-reads the earlier chunks' KV.
//
// # Throughput against concurrency
//
// A fresh engine per concurrency C, a closed loop of C requests in flight
// and RequestsPerSlot × C requests in all (at least 8). The model runs the
// same prompts with the same closed loop and a client that sends each next
// request ClientTurnaround (1 ms) after the last one ended. Any positive
// turnaround shorter than a step gives the same result — the successor
// misses the step the engine starts the instant its predecessor ends and
// joins the next — and that is what happens over HTTP; with no turnaround
// at all the model's TTFT at 64 or more in flight, where a step carries
// 8,192 prefill tokens, would be one step (250 ms) shorter than any client
// measures. Request counts are small multiples of C, so the loop starts in
// lockstep (all prompts prefill together) and the figures include that
// ramp, identically in model and measurement. TTFTs then cluster at
// multiples of the prefill step, so a median near a cluster boundary (32
// in flight) is fragile.
//
// # Engines per core
//
// N engines in one process at a small time scale s (default 0.1), each under
// its own closed loop of the same requests, N rising. An engine at scale s
// must do a real-time engine's host work (scheduling, timers, streaming
// tokens) 1/s times as fast, so N engines at s load the host like N/s
// real-time ones. The run's requests are sized so that it lasts Window of
// wall time if the host keeps up. Two ratios compare it with the model:
//
//	speed     = modelled span × s ÷ wall span
//	ITL ratio = mean client-measured inter-token gap ÷ s ÷ the model's mean
//	deviation = max(1 − speed, ITL ratio − 1)
//
// Both are needed. The engine loop sleeps to a deadline that advances by
// each step's modelled duration and runs late steps back to back until it
// has caught up (at most 20 ms behind), so steps that overrun cost latency
// but not throughput; a client too slow to send the next request instead
// leaves the batch short, which costs throughput while each step is on
// time (and shorter: a smaller batch). Means, not medians: this host's
// timers wake on about 1 ms boundaries, so the individual gaps of steps
// shorter than that scatter while their mean stays exact.
//
// The limit is where the deviation first exceeds Threshold (10 %), placed
// by linear interpolation between the last engine count within it and the
// first beyond (FindHostLimit, as load.FindKnee does for TTFT). It is
// reported as generated tokens per wall-clock second (the demand at the
// crossing: N × the model's per-engine rate ÷ s) per core of the machine,
// and as real-time engines per core under this per-engine load, N ÷ s ÷
// cores — assuming, as the engine's design intends, that host cost is per
// step and per streamed token and independent of the time scale. The
// process's CPU time (getrusage, every thread: engines, their HTTP servers
// and the load client, which share the host as they do in `tandem-bench
// load --sim`) is shown beside each run, with CPU per generated token.
// The sweep stops after two engine counts in a row beyond the threshold.
//
// # Outputs (--parts outputs, not run by default)
//
// One engine at time scale 0 with its default output lengths answers
// unique prompts without ignore_eos; the generated tokens its usage
// reports, as fractions of max_tokens, are set beside the analytic mean,
// median and capped share of the log-normal it draws from (mean 0.3
// before the cap, σ 1). Then texts of each style of the load harness
// (prose, code, records), written for a number of tokens by the harness's
// rule of thumb, go through the engine's POST /tokenize: bytes per token,
// and tokens per token asked.
package simbench
