package engine

import (
	"errors"
	"fmt"
	"time"
)

// Params are the engine's scheduler limits, memory and latency model.
type Params struct {
	// Model names the served model; it seeds block hashes.
	Model string
	// HashSeed further seeds block hashes, as PYTHONHASHSEED fixes vLLM's
	// NONE_HASH (random per process otherwise): engines with different
	// seeds name the same blocks differently. 0 leaves the model seed.
	HashSeed uint64
	// BlockSize is tokens per KV block (vLLM: --block-size, default 16).
	BlockSize int
	// NumBlocks is the KV pool size (vLLM reports it as num_gpu_blocks).
	NumBlocks int
	// MaxNumSeqs caps running sequences (vLLM: --max-num-seqs).
	MaxNumSeqs int
	// MaxBatchedTokens is the token budget of one step (vLLM:
	// --max-num-batched-tokens); long prompts are prefilled in chunks.
	MaxBatchedTokens int
	// MaxModelLen caps prompt plus output tokens (vLLM: --max-model-len).
	MaxModelLen int
	// PrefixCaching turns the prefix cache on (vLLM V1 default: on).
	PrefixCaching bool
	// Policy orders the waiting queue and picks preemption victims (vLLM:
	// --scheduling-policy, default fcfs). Empty means PolicyFCFS.
	Policy Policy
	// Cost is the step-time model.
	Cost CostModel
}

// CostModel gives the duration of one engine step:
//
//	step = StepOverhead
//	     + PrefillPerToken × tokens prefilled (or recomputed) this step
//	     + DecodePerSeq    × sequences decoding one token this step
//	     + KVReadPerToken  × context tokens whose KV attention reads this step
//
// and the time a decode instance waits for a remote prefill's KV:
//
//	transfer = TransferLatency + KVBytesPerToken × tokens / TransferBandwidth
//
// Transfers share one link per engine: they queue behind each other.
type CostModel struct {
	StepOverhead    time.Duration
	PrefillPerToken time.Duration
	DecodePerSeq    time.Duration
	KVReadPerToken  time.Duration
	// KVBytesPerToken is the KV size of one token (all layers, K and V).
	KVBytesPerToken int64
	// TransferBandwidth is the KV transfer rate in bytes per second.
	TransferBandwidth float64
	// TransferLatency is the fixed cost of one KV transfer (handshake).
	TransferLatency time.Duration
}

// Shape is what one step computes: the inputs of the cost model.
type Shape struct {
	PrefillTokens int
	DecodeSeqs    int
	ContextTokens int
}

// StepTime is the duration of a step of the given shape.
func (c CostModel) StepTime(s Shape) time.Duration {
	ns := float64(c.StepOverhead) +
		float64(c.PrefillPerToken)*float64(s.PrefillTokens) +
		float64(c.DecodePerSeq)*float64(s.DecodeSeqs) +
		float64(c.KVReadPerToken)*float64(s.ContextTokens)
	return time.Duration(ns)
}

// TransferTime is how long moving the KV of n tokens takes.
func (c CostModel) TransferTime(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	secs := float64(c.KVBytesPerToken) * float64(n) / c.TransferBandwidth
	return c.TransferLatency + time.Duration(secs*float64(time.Second))
}

// MemoryPressuredBlocks is the KV pool of the memory-pressured setting:
// 1,200 blocks of 16 tokens, 19,200 tokens, 22.5× less than DefaultParams'
// 27,000 (the calibrated H100's memory). A few long prompts fill it, so
// every routing decision evicts something: a stress test of prefix reuse
// under memory pressure, not a model of any GPU (an engine this small
// would be a 24 GB card serving a much smaller model). Router results
// recorded before issue 15 used it.
const MemoryPressuredBlocks = 1200

// DefaultModel is the model the defaults are calibrated for.
const DefaultModel = "meta-llama/Llama-3.1-8B-Instruct"

// DefaultParams models Llama-3.1-8B-Instruct in BF16 on one H100 SXM 80GB
// served by vLLM V1 with its default settings. Sources and the arithmetic
// behind every figure are in the package documentation.
func DefaultParams() Params {
	return Params{
		Model:            DefaultModel,
		BlockSize:        16,
		NumBlocks:        27000,
		MaxNumSeqs:       1024,
		MaxBatchedTokens: 8192,
		MaxModelLen:      131072,
		PrefixCaching:    true,
		Policy:           PolicyFCFS,
		Cost: CostModel{
			StepOverhead:      7400 * time.Microsecond,
			PrefillPerToken:   30 * time.Microsecond,
			DecodePerSeq:      35 * time.Microsecond,
			KVReadPerToken:    49 * time.Nanosecond,
			KVBytesPerToken:   131072,
			TransferBandwidth: 25e9,
			TransferLatency:   time.Millisecond,
		},
	}
}

// Policy is vLLM's scheduling policy (SchedulerConfig.policy).
type Policy string

const (
	// PolicyFCFS serves the waiting queue in arrival order and preempts
	// the newest running sequence; request priorities are ignored.
	PolicyFCFS Policy = "fcfs"
	// PolicyPriority serves the waiting queue by (priority, arrival),
	// lower values first, and preempts the running sequence with the
	// largest (priority, arrival).
	PolicyPriority Policy = "priority"
)

// ParsePolicy reads a --scheduling-policy value.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case PolicyFCFS, PolicyPriority:
		return p, nil
	}
	return "", fmt.Errorf("scheduling policy %q: must be fcfs or priority", s)
}

func (p Params) priority() bool { return p.Policy == PolicyPriority }

// Validate reports the first impossible setting.
func (p Params) Validate() error {
	switch {
	case p.Model == "":
		return errors.New("model name is empty")
	case p.Policy != "" && p.Policy != PolicyFCFS && p.Policy != PolicyPriority:
		return fmt.Errorf("scheduling policy %q: must be fcfs or priority", p.Policy)
	case p.BlockSize <= 0:
		return fmt.Errorf("block size %d: must be positive", p.BlockSize)
	case p.NumBlocks <= 0:
		return fmt.Errorf("num blocks %d: must be positive", p.NumBlocks)
	case p.MaxNumSeqs <= 0:
		return fmt.Errorf("max num seqs %d: must be positive", p.MaxNumSeqs)
	case p.MaxBatchedTokens <= 0:
		return fmt.Errorf("max batched tokens %d: must be positive", p.MaxBatchedTokens)
	case p.MaxModelLen <= 1:
		return fmt.Errorf("max model len %d: must be above 1", p.MaxModelLen)
	case p.Cost.StepOverhead < 0 || p.Cost.PrefillPerToken < 0 || p.Cost.DecodePerSeq < 0 ||
		p.Cost.KVReadPerToken < 0 || p.Cost.TransferLatency < 0:
		return errors.New("step costs must not be negative")
	case p.Cost.KVBytesPerToken <= 0:
		return fmt.Errorf("KV bytes per token %d: must be positive", p.Cost.KVBytesPerToken)
	case p.Cost.TransferBandwidth <= 0:
		return fmt.Errorf("transfer bandwidth %g: must be positive", p.Cost.TransferBandwidth)
	}
	return nil
}

// BlocksFor is the number of blocks n tokens occupy.
func (p Params) BlocksFor(n int) int { return (n + p.BlockSize - 1) / p.BlockSize }
