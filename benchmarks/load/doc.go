// Package load is tandem-bench's serving load harness: it generates LLM
// workloads, sends them to OpenAI-compatible engines or a router over
// streaming HTTP, and reports latency, throughput and prefix-cache hit rate
// against the best hit rate the workload allows. Workload generation (Spec,
// Arrival, Oracle) is pure and deterministic; the HTTP side (Client,
// Execute, Scrape) is separate; Run ties them into repetitions, policies
// and sweeps.
//
// # Workloads
//
// Text is synthetic, from a counter-based generator (splitmix64 of the seed
// and a stream path): prose (pseudo-words of English-like lengths with
// capitals, commas, numbers and paragraphs), code (indented lines of
// identifiers, operators, brackets and numbers) or records (JSON objects
// and log lines, as tools return). The harness writes about as much text
// as its own rule of thumb says makes the asked number of tokens (4 bytes
// a token for prose, 3 for code and records); the engine's tokenizer
// decides what it is. On tandem-sim that comes to about 4.3 bytes a token
// for prose, 2.7 for code and 2.4 for records (TestTextAgainstEngineTokenizer),
// so no bytes-per-token constant fits every workload. A shared prefix is
// the same stream, so sharing is exact in text:
//
//   - shared: Groups tenant system prompts, Users questions per group;
//     rounds of a seeded Fisher–Yates shuffle of all Groups×Users prompts.
//   - chat: Conversations open at once; each request continues a random
//     open one with its whole history, the previous answer (synthetic text
//     of a seeded long-tailed length, mean 0.3 × OutputTokens, so the
//     workload does not depend on what an engine said) and a new question;
//     after Turns turns it is replaced.
//     A turn is sent only after the previous turn of its conversation ends.
//   - random: unique prompts; long: a few long documents, unique questions.
//   - agentic: sessions like chat, but after the task every turn appends
//     the agent's short action and a long tool output (records or code,
//     log-normal size averaging ToolTokens) to the growing context: many
//     short turns, little output, a context that keeps growing.
//   - rag: a pool of documents; each request carries Docs of them drawn
//     by Zipf popularity, in the order drawn, after fixed instructions,
//     and a unique question. Only the instructions and a shared first
//     document are a shared prefix.
//   - trace: Mooncake-style JSONL records (timestamp ms, input_length,
//     output_length, hash_ids): block id h becomes prose written for
//     TraceBlockTokens tokens from stream h, so records sharing ids share
//     text block by block;
//     output_length is sent only with FixedOutput. DefaultSpec(Trace)
//     replays the shipped sample, traces/synthetic-mooncake.jsonl: 2,000
//     synthetic records in that layout from the seeded TraceGen (not
//     Mooncake data; TestShippedTrace checks the file is its output).
//
// Every request's max_tokens is OutputTokens, a cap: the engine ends the
// answer where it likes (tandem-sim draws a long-tailed length averaging
// about 0.27 of the cap), so a router that reads max_tokens learns only the
// cap. Spec.FixedOutput sends vLLM's ignore_eos instead and every request
// generates exactly OutputTokens (a trace record its output_length): for
// calibration, since the router then knows each output in advance.
//
// # Arrivals
//
// Poisson, constant and burst arrivals spend an amount of "work" per gap (an
// Exp(1) draw, 1, or the burst size) at the rate of the current step of a
// piecewise-constant rate schedule, carrying what is left into the next step
// — for Poisson exactly a non-homogeneous Poisson process. Closed-loop
// concurrency keeps N requests in flight; trace arrivals replay the
// timestamps. Targets are assigned in request order by the policy (random
// from a seeded stream, round-robin, or sticky: a hash of the request's
// prefix family), so a run's routing depends only on seed and workload.
//
// # Measures
//
// The client reads server-sent events: TTFT is the time to the first chunk
// with text, inter-token latency every later gap between text chunks (pooled
// over requests), end-to-end the time to data: [DONE]. Token counts come
// from the usage chunk (stream_options.include_usage). Throughput is
// successful requests, output tokens and all tokens over the span from the
// first send to the last end. Errors are counted by kind: connect, timeout,
// http_<status>, stream_cut, bad_stream, no_tokens. Percentiles interpolate
// linearly between closest ranks (numpy's default).
//
// The measured hit rate is the fleet's change in vllm:prefix_cache_hits_total
// over the change in vllm:prefix_cache_queries_total during the run, summed
// over engines (both count prompt tokens at a request's first scheduling).
//
// # Oracle
//
// Oracle replays the workload's prompts in order, as token ids the first
// engine's POST /tokenize returns (vLLM's format: its tokenizer and chat
// template, on tandem-sim and on vLLM alike; with a lone router target
// and no engines named, which cannot be asked, a run has no oracle), cut
// into blocks with chained
// hashes (package kv). A request hits the longest run of its leading full
// blocks that an earlier request brought in, at most (len−1)/blockSize
// blocks since an engine always computes the last prompt token. With an
// infinite cache this is an upper bound on what any routing can measure on
// the simulator. The LRU variant pools the fleet's KV blocks (summed
// num_gpu_blocks from vllm:cache_config_info) into one LRU cache, touching a
// prompt's blocks tail first and adding the blocks its output fills: what a
// perfect router could approach, but not a bound (separate engines evict
// differently).
//
// # Repetitions, ratios and knees
//
// Within each repetition the policies run back to back on fresh state
// (fresh simulated engines, or /reset_prefix_cache), so a shared machine's
// drift hits them alike. Ratios are the median over repetitions of each
// repetition's policy ÷ baseline. A sweep runs Poisson arrivals at each rate;
// the knee is the throughput where p90 TTFT crosses a bound, interpolated
// linearly between the last rate under it and the first over it (FindKnee).
package load
