// Package autoscalebench is `tandem-bench autoscale`: a day of serving
// load replayed in virtual time against three scalers on one cluster that
// serving shares with batch gangs. It is a MODEL, not the local cluster:
// no engine, router, API server or scheduler runs; the figures it prints
// are the model's, and say nothing about wall-clock behaviour.
//
// # What is simulated
//
// One ServingGroup and batch work on N GPUs, one step per simulated
// second, seeded:
//
//  1. Load (curve.go): a diurnal cosine from a night trough to a mid-day
//     peak over a compressed day, with bursts that triple the rate in 30 s,
//     hold, and fall back in 30 s. Each second's arrivals are Poisson
//     counts of two classes, shared-prefix and chat. The same arrivals
//     feed every scaler.
//  2. Serving (queue.go): every ready engine is a server of one M/M/c
//     queue (the router spreads load over all engines). Work beyond what
//     the engines serve in a second waits in a FIFO backlog; a request that
//     has waited more than MaxWait (60 s, the router's scale-from-zero hold,
//     router/hold.go) is refused. A request's TTFT is its class's idle
//     prefill time + whole seconds in the backlog + the M/M/c wait of the
//     second it is served in, P(W > x) = C(c, a)·e^(−cμ(1−ρ)x) (Erlang C;
//     ρ capped at 0.99, past which the backlog carries the overload). SLO
//     attainment is the expected share of requests within the TTFT bound,
//     computed in closed form per second, not sampled. ITL is not modelled:
//     the SLO here is the TTFT bound only.
//  3. Units (cluster.go): a unit is UnitGPUs GPUs. A new unit takes free
//     GPUs, or reclaims whole batch gangs as tandem-reclaim does (the
//     fewest gangs, the youngest among equally few:
//     plugins/tandem/reclaim.go ChooseVictims), then serves ColdStart
//     seconds later (image pull + weight load). A removed unit frees its
//     GPUs at once (in-flight drain is not modelled).
//  4. Batch (cluster.go): an endless seeded queue of gangs (sizes drawn
//     from GangSizes, exponential durations) that want every free GPU: each
//     second, gangs start in queue order wherever all of a gang's GPUs are
//     free, smaller later gangs passing a head that does not fit. A gang
//     never runs partly; an evicted gang goes back to the head of the queue
//     and starts over (the work it loses is reported). Every second the
//     per-GPU owner record is checked against the gang list
//     (PartialGangs).
//
// # The scalers
//
//   - static-peak: the fewest units meeting the bound for 99% of requests
//     (NeedUnits) at the day's highest one-second rate, all day.
//   - hpa-queue: Kubernetes' HPA algorithm (hpa.go cites the documented
//     rules: ceil(current × metric/target), 10% tolerance, missing metrics
//     of starting units, 300 s scale-down stabilisation, the default
//     scale-up limit, 15 s period) on waiting requests per unit.
//   - hpa-in-flight (with --hpa-in-flight): the same HPA on requests in
//     flight per unit with tandem's in-flight target, to separate the
//     metric from the algorithm.
//   - tandem: controller/autoscale.Decide every 15 s with the signals the
//     routers give it (in-flight, queued uncached tokens, requests held
//     while no unit is ready, requests and the p90 TTFT over a 60 s window
//     interpolated in the router's own TTFT buckets by autoscale.Quantile),
//     and the previous decision fed back as status keeps it.
//
// # Calibration (per engine = one modelled H100, Llama-3.1-8B)
//
//   - μ, requests per second one engine sustains: tandem's knees (p90 TTFT
//     crosses 200 ms) on 8 tandem-sim engines at time scale 0.25 in
//     benchmarks/results/router.md, section "Routing quality on 8 engines":
//     shared system prompts ≥ 1,028 req/s (the knee table's `tandem` row;
//     never crossed, so a lower bound) and multi-turn chat 919 req/s (its
//     table's `tandem` row); ÷ 8 engines ÷ 4 for the time scale: 32.1 and
//     28.7 req/s. Those workloads' outputs are 64 tokens.
//   - Idle prefill time: benchmarks/results/sim.md, TTFT vs uncached
//     prompt tokens, rows 128 (12.3 ms: a shared-prefix request's 100-token
//     question) and 256 (16.2 ms: a chat turn's question plus the last
//     answer, ~164 tokens uncached; both assumed cache hits on the rest).
//   - Decode time: 64 tokens at the mean ITL 8.528 ms of sim.md's
//     throughput table at concurrency 16.
//
// A knee is where queueing already shows, so μ is a little above the rate
// an M/M/c server of exponential service would carry at that p90; the
// model's capacity is therefore optimistic for every scaler alike.
//
// # Accounting
//
// Serving GPU-hours count GPUs held by units (starting or ready). The GPU
// hours serving does not need, per scaler, are the cluster's minus that
// scaler's serving GPU-hours; batch share is batch GPU-hours over those.
// Burst→capacity is the seconds from a burst's start until the ready units
// reach NeedUnits at the burst's peak rate (0 if they already did; "-" if
// not before the burst ended).
package autoscalebench
