// Package routerbench holds tandem-bench's two router benchmarks. Both
// start the real tandem-router binary as a child process with a generated
// configuration and static endpoints file (MakeRouterFiles), wait until it
// has fresh metrics from every engine (tandem_router_endpoint_metrics_fresh),
// and read its CPU time and memory from /proc. The package never imports
// the router: the files and the HTTP API are the whole interface.
//
// # router-overhead
//
// The same closed-loop load, Concurrency small non-streaming chat requests
// in flight, is run DIRECT (the client takes the engines in turn) and
// THROUGH a fresh router process per policy, alternating within each
// repetition. Engines are in-process tandem-sim engines at time scale 0, or
// stub engines (a fixed answer, StubEngine); a non-zero engine delay makes a
// second case (for the simulator: time scale 1e-6 and an injected latency
// spike of the delay on every request). Each run warms up, then measures a
// window: requests completed inside it give req/s and latency percentiles
// (send to last byte); the router's CPU seconds are the difference of its
// /proc/<pid>/stat times across the window, its RSS is VmRSS and VmHWM at
// the window's end. The client's and engines' CPU (this process) and the
// whole machine's busy share (/proc/stat) are reported beside them: on a
// shared 2-core machine they say who had the cores. Ratios router ÷ direct
// are medians of per-repetition ratios.
//
// # router-policies
//
// Each workload of package load (shared system prompts, no sharing, ...)
// is run through the router once per policy (random, round-robin,
// least-request, prefix, the peer baselines llm-d, llm-d-sticky and kthena,
// tandem), policies alternating within each repetition and sweep rate
// (A, B, C, A, B, C, ...), each run on fresh in-process tandem-sim engines with small KV
// memory and a fresh router. load.Run drives every run (arrivals, streaming
// client, engine hit rate, oracle); this package gathers the runs, adds the
// router's own figures (CPU, peak RSS, estimated hit rate, picks by reason,
// retries) and prints a headline per policy: TTFT p50/p90/p99, throughput,
// hit rate and hit rate against the oracle, errors, and the medians of
// per-repetition ratios to the first policy; with a sweep, the knee per
// policy. The pure parts (configs, metric parsing, medians, ratios, tables)
// are separate from the process and HTTP I/O (StartRouter, Loop,
// RunOverhead, RunPolicies).
//
// A sweep point is, by default, 30 s of Poisson arrivals or 5,000 requests,
// whichever comes first (--sweep-for, --sweep-max-requests), measured
// after a 10 s warm-up at the same rate (--warmup): the same workload under
// another seed, so queues, caches and learned rates reach their steady
// state without the measured prompts being pre-cached. The warm-up is not
// drained: its stragglers are the queue the first measured requests meet,
// and the router's and engines' counters start after its arrivals. Knees
// are looked for where they are: while some policy's p90 TTFT has not
// crossed --ttft-bound at the highest rate (or crossed it already at the
// lowest), the sweep extends one step for those policies, up to
// --sweep-extend rates, and the report says which knees stayed outside
// (KneeNotes). --short is a smoke run (3 s points, 1 s warm-up), not a
// measurement.
//
// # router-policies --overload: flow control
//
// Given the knee K (req/s, from a plain --sweep of the same fleet and
// workload), the workload (multi-turn chat by default) runs at K × each
// --overload-factors (0.5, 1, 2, 4), the same requests at every rate,
// through the tandem preset with flow control off (tandem-noflow) and on
// (tandem-flow), alternating within each repetition and rate. The goals
// are read from the medians (OverloadGoals): at the highest factor,
// throughput against the same policy's peak over the sweep, p90 TTFT of
// the requests served against --ttft-bound, and the fleet's hit rate
// against its value at factor 1. Then the fairness case: on a fresh fleet
// per run, a light tenant alone (--fairness-light × K), then beside a heavy
// one (--fairness-heavy × K), each stream a Poisson schedule of its own
// conversations whose requests carry the tenant header, which the router
// config of these runs trusts (tenants.header); the goal compares the
// light tenant's p90 TTFT beside the heavy one with its own alone.
//
// # router-pd
//
// Prefill/decode disaggregation against aggregated serving, both through
// the router: one workload (by default unique 4,000-token prompts, 192
// output tokens) at each rate of a Poisson sweep, against two fleets
// alternating within each repetition and rate: "aggregated", Engines
// engines that serve whole requests, and e.g. "2P2D", Prefill prefill plus
// Decode decode engines (PDLayout: engine i of each role in unit i, so
// the router's same-unit preference pairs them), each run on fresh
// engines and a fresh router. It is the policies benchmark with two
// labels that name the same router configuration, the second with a
// layout: tandem-sim engines play their role, the endpoints file gives
// role, group and unit, and the router does the hand-off (a prefill copy
// with max_tokens 1, its kv_transfer_params into the decode request).
//
// The comparison is fair by construction: the same engine count (Validate
// insists), the same engine model, time scale and KV memory per engine,
// the same router policy and workload; only the roles differ. The
// disaggregated fleet pays for a KV transfer into the decode engine
// (tandem-sim's model: latency plus bytes over an assumed bandwidth, one
// link per engine) that the aggregated one does not. Decode engines never
// run prefill chunks, so their steps stay short: inter-token latency is
// where disaggregation should win; the aggregated fleet has every engine
// for prefill, so its TTFT and its knee should be better when prompts
// dominate the work. The report gives TTFT, ITL and E2E percentiles,
// throughput and errors per fleet and rate with ratios to the aggregated
// fleet, the knee per fleet, and evidence that the path was taken: the
// router's tandem_router_prefill_decode_total decisions and the requests
// each engine role finished (with the busiest engine's share, which shows
// how evenly the router spread the load).
package routerbench
