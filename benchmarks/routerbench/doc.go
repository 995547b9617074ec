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
// least-request, prefix, tandem), policies alternating within each
// repetition, each run on fresh in-process tandem-sim engines with small KV
// memory and a fresh router. load.Run drives every run (arrivals, streaming
// client, engine hit rate, oracle); this package gathers the runs, adds the
// router's own figures (CPU, peak RSS, estimated hit rate, picks by reason,
// retries) and prints a headline per policy: TTFT p50/p90/p99, throughput,
// hit rate and hit rate against the oracle, errors, and the medians of
// per-repetition ratios to the first policy; with a sweep, the knee per
// policy. The pure parts (configs, metric parsing, medians, ratios, tables)
// are separate from the process and HTTP I/O (StartRouter, Loop,
// RunOverhead, RunPolicies).
package routerbench
