// Package flow is the router's flow control: when every endpoint serving a
// model is at its efficient load, a request waits in the router, in a
// queue per model, instead of piling into engines whose KV caches would
// then thrash (issue 13 measured 8 simulated engines serving 0.37× their
// peak at 3.6× the knee, hit rate 0.84 → 0.28, with no flow control).
//
// # Efficient load
//
// An endpoint is at its efficient load (Rule.AtLoad) when any holds:
//
//  1. the router's own queued prefill work there, the uncached prompt
//     tokens of requests it sent that have produced no first token yet
//     (endpoint.Endpoint.QueuedTokens), is at least its learned prefill
//     rate times QueueDelay: a new request would wait longer than
//     QueueDelay before its own prefill starts. QueueDelay is a share of
//     the TTFT the operator wants (default 100 ms, half of the benchmarks'
//     200 ms bound), so the backlog the router lets through never costs
//     more than that share of the bound; the rate is the one the TTFT
//     model learns (endpoint.Rate), so the limit follows the knee the
//     router observes rather than a constant. Its counters move the moment
//     a request is sent, so it reacts faster than any scrape.
//  2. the engine's last fresh scrape shows requests waiting (the engine
//     itself is queueing) while its KV cache usage is at least KVUsage
//     (default 0.9): anything more sent now either waits inside the engine
//     or evicts cached prefixes that running and returning conversations
//     need: the thrash that collapses goodput. A stale scrape says nothing.
//  3. the requests open there reach the concurrency limit its first tokens
//     taught (endpoint.Limit: additive increase, multiplicative decrease
//     on first tokens later than the TTFT target plus their own prefill):
//     the knee learned from TTFT rising, for congestion no gauge shows,
//     such as a decode batch past its good regime.
//  4. the KV the router's requests open there will hold, each counted as
//     its prompt tokens plus its max_tokens (endpoint.Endpoint.
//     ContextTokens), reaches KVFill times the KV cache size the engine
//     reports (vLLM's cache_config_info num_gpu_blocks × block_size,
//     SGLang's max_total_num_tokens) on a fresh scrape: past it the engine
//     runs out of blocks mid-answer and preempts running requests (vLLM V1
//     recomputes them later), the thrash behind the collapse. Shared
//     prefixes are counted once per request and outputs at their cap, so
//     the count runs high; KVFill above 1 allows for that. Only this
//     router's requests are counted (peers do not report it).
//
// Counts include the other router replicas' share of the endpoint (package
// peers). A request let go counts against room until its endpoint's
// counters see it (Ticket.Placed), so one reading never lets go more than
// fit.
//
// Endpoints whose circuit breaker is open are not candidates; a model with
// no candidate is never held (the router answers 503 as before).
//
// # The queue
//
// Gate.Admit, for a request of model m, tenant t and priority p:
//
//  1. If m's queue is empty and some candidate is below its efficient load,
//     the request goes on at once (the fast path: one lock, no wait).
//  2. Otherwise it joins m's queue, unless the queue already holds
//     MaxQueue requests (then 429, reason queue-full).
//  3. Whenever a request of m joins or ends, and every Tick while m's
//     queue is not empty, the gate dispatches as many waiting requests as
//     there are candidates below their efficient load (in the next one's
//     lane, "Quiet endpoints" below). No more: a dispatched request
//     moves the router's counters only when it is sent, so releasing more
//     on one reading would overshoot, and each one released adds its
//     backlog to one endpoint.
//  4. The one dispatched is chosen by Queue.Pop: the most important
//     priority first (lower values first, vLLM's convention); within it,
//     the waiting tenant with the fewest of m's requests in flight through
//     the gate (ties: the tenant served longest ago), so a tenant never
//     takes more than an even share while others wait; within the tenant,
//     its oldest request, unless that one has waited LIFOAfter or more,
//     then its newest (adaptive LIFO: under sustained overload the oldest
//     would time out anyway, and serving the newest keeps the TTFT of the
//     requests that are served near the bound instead of near MaxWait;
//     Facebook's "Fail at Scale", ACM Queue 13(8), 2015, describes the
//     same policy).
//  5. A request that waited MaxWait (default 5 s) leaves with 429 and
//     Retry-After (reason queue-timeout); for a stream this is before its
//     first byte, as nothing was sent. A client that goes away leaves the
//     queue at once (reason canceled).
//  6. Sustained overload: once m's queue has not emptied for
//     OverloadAfter (default 1 s), every request in it that has waited
//     OverloadWait (default 50 ms, a quarter of the 200 ms TTFT bound) is
//     refused the same way (reason queue-overload), except those of
//     tenants with fewer requests in flight than an even share
//     (Queue.WithinShare): they did not cause the overload. A burst shorter than
//     OverloadAfter is absorbed by the queue, up to MaxWait; a demand the
//     fleet cannot serve is turned away fast instead of being served late.
//     Waiting cannot be traded for throughput here: with clients that send
//     again when answered (conversations), Little's law fixes the mean
//     time in the system at clients ÷ throughput, so only refusals keep
//     the TTFT of the requests served near the bound. This is the
//     controlled-delay queue Facebook's "Fail at Scale" describes beside
//     adaptive LIFO (there: 100 ms and 5 ms).
//
// # Quiet endpoints
//
// Fair order in the queue does not make a light tenant's requests fast:
// once let go, they share engine steps with the heavy tenant's, and a
// step's time grows with the prefill tokens, sequences and context it
// carries (the simulator's cost model, benchmarks/sim/engine/params.go,
// follows vLLM V1's scheduler, which schedules running requests before
// waiting ones). So while a model's queue holds requests, or did within
// the last second, and some active tenant is over an even share beside
// others within theirs (Queue.Shares), the gate keeps the first k of the
// model's endpoints, in the pool's order by name, for the tenants within
// their share (Reserve):
//
//	k = ⌈ F·f·n / (1 − f + F·f) ⌉, at least 1, at most the within-share
//	    tenants' even share of the n endpoints and n − 1,
//
// where f is the share of the model's requests in flight that the
// within-share tenants hold and F is QuietFactor: a quiet endpoint then
// carries about 1/F of the requests a busy one does. Requests of tenants
// over their share go only to the other n − k (LaneBusy); within-share
// tenants' go to the quiet k (LaneQuiet), or to any endpoint when every
// quiet one is at its efficient load, so they never wait behind the
// split. Room is counted per lane, and the queue's dispatch stops at the
// first request whose lane has none. When no tenant is over its share,
// or nobody waits, every request may use every endpoint (LaneAll). The
// order by name makes every router replica keep the same endpoints quiet
// when they see the same shares. k grows at once and shrinks only after
// quietKeep (10 s) of asking for fewer: f moves with every request, and
// an endpoint that leaves the quiet lane is filled by the heavy tenant for
// the length of its answers. The price is the heavy tenant's: it
// loses the quiet endpoints' spare capacity while the split holds.
//
// The queue (Queue) is plain data with no clock or goroutine of its own;
// Gate adds the lock, the timers and the waiting.
package flow
