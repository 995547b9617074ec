package sim

import (
	"flag"
	"fmt"
	"strings"

	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
	"github.com/tandem-serving/tandem/benchmarks/sim/server"
)

type roleFlag struct{ r *server.Role }

func (f roleFlag) String() string {
	if f.r == nil {
		return ""
	}
	return string(*f.r)
}

func (f roleFlag) Set(s string) error {
	r, err := server.ParseRole(s)
	if err == nil {
		*f.r = r
	}
	return err
}

type policyFlag struct{ p *engine.Policy }

func (f policyFlag) String() string {
	if f.p == nil {
		return ""
	}
	return string(*f.p)
}

func (f policyFlag) Set(s string) error {
	p, err := engine.ParsePolicy(s)
	if err == nil {
		*f.p = p
	}
	return err
}

// KV memory settings (--kv-memory).
const (
	// KVCalibrated is the calibrated engine's pool, engine.DefaultParams'
	// NumBlocks: Llama-3.1-8B on one H100.
	KVCalibrated = "calibrated"
	// KVMemoryPressured is engine.MemoryPressuredBlocks, named as such.
	KVMemoryPressured = "memory-pressured"
)

// KVBlocks is the number of KV blocks of a --kv-memory setting.
func KVBlocks(setting string) (int, error) {
	switch setting {
	case KVCalibrated:
		return engine.DefaultParams().NumBlocks, nil
	case KVMemoryPressured:
		return engine.MemoryPressuredBlocks, nil
	}
	return 0, fmt.Errorf("KV memory %q: want %s (%d blocks) or %s (%d blocks)", setting,
		KVCalibrated, engine.DefaultParams().NumBlocks, KVMemoryPressured, engine.MemoryPressuredBlocks)
}

// BindKVMemory registers PREFIXnum-gpu-blocks and PREFIXkv-memory, both
// setting *blocks (the one given last wins); *blocks' current value is the
// default.
func BindKVMemory(fs *flag.FlagSet, prefix string, blocks *int) {
	fs.IntVar(blocks, prefix+"num-gpu-blocks", *blocks, "KV blocks of 16 tokens per engine (see --"+prefix+"kv-memory)")
	fs.Func(prefix+"kv-memory", fmt.Sprintf("KV memory per engine by name: %s (%d blocks, the calibrated H100's) or %s (%d blocks, 22.5× less: a stress setting)",
		KVCalibrated, engine.DefaultParams().NumBlocks, KVMemoryPressured, engine.MemoryPressuredBlocks), func(v string) error {
		n, err := KVBlocks(v)
		if err == nil {
			*blocks = n
		}
		return err
	})
}

// BindFlags registers flags for every setting of c except the listen
// address, with c's current values as defaults. Names follow vLLM's where
// vLLM has the setting.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	p, cost, f := &c.Engine, &c.Engine.Cost, &c.Faults
	fs.StringVar(&p.Model, "model", p.Model, "served model name; requests must name it; seeds block hashes")
	fs.Var(roleFlag{&c.Role}, "role", "disaggregation role: prefill, decode or both")
	fs.StringVar(&c.EngineID, "engine-id", c.EngineID, "remote_engine_id a prefill instance reports (default tandem-sim-<address>; -<i> appended per engine)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of generated text, response ids and fault draws")
	fs.Float64Var(&c.TimeScale, "time-scale", c.TimeScale, "multiplies every latency: 1 real time, 0.01 a hundred times faster, 0 no waiting")
	fs.IntVar(&c.DefaultMaxTokens, "default-max-tokens", c.DefaultMaxTokens, "max_tokens of a request that sets none")
	fs.StringVar(&c.Lengths.Dist, "output-lengths", c.Lengths.Dist,
		"lognormal: a request without ignore_eos stops on its own after a seeded log-normal number of tokens, capped by max_tokens; fixed: every request generates max_tokens")
	fs.Float64Var(&c.Lengths.MeanFraction, "output-mean-fraction", c.Lengths.MeanFraction, "mean of the log-normal output length as a fraction of max_tokens, before the cap")
	fs.Float64Var(&c.Lengths.Sigma, "output-sigma", c.Lengths.Sigma, "shape of the log-normal output length (standard deviation of its logarithm)")
	fs.StringVar(&c.KVEventsEndpoint, "kv-events-endpoint", c.KVEventsEndpoint,
		"publish vLLM-format KV events (ZeroMQ PUB, msgpack) bound at this endpoint, e.g. tcp://127.0.0.1:5557; engine i uses port+i (empty: off)")
	fs.StringVar(&c.KVEventsTopic, "kv-events-topic", c.KVEventsTopic, "topic frame of KV events messages")
	fs.StringVar(&c.KVEventsFormat, "kv-events-format", c.KVEventsFormat, "KV events payload: array (vLLM v0.11.2) or map (events as maps, vLLM after PR #42892)")
	fs.Uint64Var(&p.HashSeed, "hash-seed", p.HashSeed, "seed of block hashes beyond the model name, as PYTHONHASHSEED fixes vLLM's (0: the model name alone)")

	fs.IntVar(&p.BlockSize, "block-size", p.BlockSize, "tokens per KV block")
	BindKVMemory(fs, "", &p.NumBlocks)
	fs.IntVar(&p.MaxNumSeqs, "max-num-seqs", p.MaxNumSeqs, "most sequences in the running batch")
	fs.IntVar(&p.MaxBatchedTokens, "max-num-batched-tokens", p.MaxBatchedTokens, "token budget of one step (chunked prefill)")
	fs.IntVar(&p.MaxModelLen, "max-model-len", p.MaxModelLen, "most prompt plus output tokens of a request")
	fs.Var(policyFlag{&p.Policy}, "scheduling-policy", "waiting-queue order: fcfs (arrival; request priority ignored) or priority (by the request's priority field, lower first, then arrival)")
	fs.BoolVar(&p.PrefixCaching, "enable-prefix-caching", p.PrefixCaching, "reuse cached KV blocks of equal prefixes")

	fs.DurationVar(&cost.StepOverhead, "step-overhead", cost.StepOverhead, "fixed time of every step (weights read, launches)")
	fs.DurationVar(&cost.PrefillPerToken, "prefill-per-token", cost.PrefillPerToken, "step time per prompt token computed")
	fs.DurationVar(&cost.DecodePerSeq, "decode-per-seq", cost.DecodePerSeq, "step time per sequence decoding one token")
	fs.DurationVar(&cost.KVReadPerToken, "kv-read-per-token", cost.KVReadPerToken, "step time per context token attention reads")
	fs.Int64Var(&cost.KVBytesPerToken, "kv-bytes-per-token", cost.KVBytesPerToken, "KV size of one token, for transfers")
	fs.Float64Var(&cost.TransferBandwidth, "kv-transfer-bandwidth", cost.TransferBandwidth, "KV transfer rate into a decode instance, bytes per second")
	fs.DurationVar(&cost.TransferLatency, "kv-transfer-latency", cost.TransferLatency, "fixed cost of one KV transfer")

	fs.Float64Var(&f.ErrorRate, "error-rate", f.ErrorRate, "fraction of requests answered with HTTP 500 before any output")
	fs.Float64Var(&f.SpikeRate, "spike-rate", f.SpikeRate, "fraction of requests delayed by --spike-latency before they start")
	fs.DurationVar(&f.SpikeLatency, "spike-latency", f.SpikeLatency, "delay of a latency spike (scaled by --time-scale)")
	fs.Float64Var(&f.HangRate, "hang-rate", f.HangRate, "fraction of requests accepted and never answered")
	fs.IntVar(&f.CrashAfter, "crash-after", f.CrashAfter, "crash when request N+1 arrives: listener closed, open streams cut (0: never)")
	fs.BoolVar(&c.Refuse, "refuse", c.Refuse, "start with the listener closed, refusing connections")
}

// FleetAddresses picks the engines' addresses: the comma-separated list if
// given, else n consecutive ports from listen.
func FleetAddresses(listen string, n int, list string) ([]string, error) {
	if list == "" {
		return Addresses(listen, n)
	}
	var addrs []string
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("--addresses %q names no address", list)
	}
	return addrs, nil
}
