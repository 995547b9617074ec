// Package autoscalebench is `tandem-bench autoscale`: a day of serving
// load replayed in virtual time against three scalers on one cluster that
// serving shares with batch gangs. It is a MODEL, not the local cluster:
// no engine, router, API server or scheduler runs; the figures it prints
// are the model's, and say nothing about wall-clock behaviour. With
// --cluster the same three scalers run for real on the local cluster
// instead (last section).
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
//
// # The local-cluster run (--cluster; local_*.go)
//
// `tandem-bench autoscale --cluster` runs a compressed day in wall-clock
// time (240 s by default, --day to lengthen) once per scaler, each on a
// fresh test/localcluster: etcd, kube-apiserver, kube-controller-manager,
// kwok playing 8 nodes × 8 GPUs, tandem-scheduler (Volcano with the
// tandem plugin and tandem-reclaim), tandem-controller and tandem-router
// (restarted with its flow-control durations scaled to the engines' time
// scale, see routerFlowConfig). test/engineagent starts a simulated
// engine (benchmarks/sim, time scale 20) at each serving pod's address.
//
//  1. Set-up: a ServingGroup of one 2-GPU engine pod per unit, at serving
//     priority, whose pods carry a readiness gate; its first units are
//     made Ready at once (static: the day's peak need; the autoscalers:
//     the night's), then the day starts.
//  2. Load (load.Execute): Poisson arrivals following the Curve (thinning,
//     arrivalOffsets; the same seed for every scaler) of chat requests
//     with shared system prompts (load.Chat), through the router.
//  3. Cold start (readiness): a serving pod is made Ready ColdStart after
//     it was first seen Running with its engine listening; the router
//     routes only to Ready pods.
//  4. Batch (gangFeeder): GangsQueued Volcano PodGroups of 2-GPU kwok
//     pods are kept waiting at batch priority in the serving units' queue,
//     so they take every free GPU; a gang ends a drawn time after it is
//     whole; a gang tandem-reclaim evicted is torn down and counted.
//  5. Scalers: static (spec.replicas fixed); hpa-queue (hpaLoop: hpa.go's
//     HPA every Interval on the router's flow-control queue plus its
//     scale-from-zero hold per Ready unit, spec.replicas written through
//     the scale subresource); tandem (spec.autoscaling; the controller's
//     own loop reads the router's /metrics).
//  6. Accounting (local_account.go): every second the namespace's pods are
//     listed; serving and batch GPU-seconds are the bound pods' GPU
//     requests; a partial gang is a PodGroup with some but not all of its
//     pods bound (and not being deleted). SLO attainment is the share of
//     requests answered with TTFT within the bound (and mean ITL within
//     --itl-bound if set); requests with no answer are refused. Scale
//     events are the group's ScaledUp/ScaledDown Events (tandem) or the
//     HPA loop's writes. Burst→capacity is the seconds from a burst's start
//     until the Ready units reached ceil(peak rate ÷ --unit-rate).
//
// --unit-rate (6 req/s per unit by default) sizes static provisioning,
// the need line and burst→capacity. It comes from one measurement (noted
// in benchmarks/results/autoscale.md): `tandem-bench load --sim 1
// --sim-time-scale 20` with this chat workload served 6.8 req/s at a p99
// TTFT of 1.6 s and saturated near 8.5 req/s. --in-flight-per-unit 10 is
// about what that engine held at that rate (Little's law on its E2E),
// less headroom.
package autoscalebench
