package engine

import (
	"time"

	"github.com/tandem-serving/tandem/benchmarks/sim/kv"
)

// Request is one generation the engine runs.
type Request struct {
	// Prompt is the prompt's token ids; it must not be empty.
	Prompt []uint32
	// MaxTokens caps the tokens generated (max_tokens).
	MaxTokens int
	// StopAfter, if positive and below MaxTokens, is where the sequence
	// samples its end of sequence: it stops after that many tokens, with
	// finish reason "stop". 0 generates exactly MaxTokens (ignore_eos).
	StopAfter int
	// OutputSeed picks the generated words (see OutputWord).
	OutputSeed uint64
	// RemotePrefill says the prompt's KV comes from a prefill instance: the
	// engine pays a transfer instead of computing the prompt.
	RemotePrefill bool
	// Priority is the OpenAI request's vLLM extension field: under
	// PolicyPriority lower values are served first; PolicyFCFS ignores it.
	Priority int
}

type seqState uint8

const (
	stateWaiting seqState = iota
	stateRunning
	stateFinished
	stateAborted
)

// Seq is one request inside the engine: its tokens (prompt, then generated),
// how many of them have KV computed, and the blocks holding that KV.
type Seq struct {
	id        uint64
	req       Request
	toks      []uint32
	numPrompt int
	// numComputed tokens have KV in blocks; the next step computes from here.
	numComputed int
	blocks      []kv.BlockID
	// hashes are the chain hashes of the full blocks of toks computed so far;
	// blocks[:numCachedBlocks] are registered in the prefix cache.
	hashes          []uint64
	numCachedBlocks int
	state           seqState

	// Remote prefill: the KV of transferTarget tokens arrives at readyAt.
	transferring   bool
	transferDone   bool
	transferTarget int
	readyAt        time.Duration

	admitted     bool
	cachedTokens int
	preemptions  int
	finalBlocks  []kv.BlockID

	handle *Handle // set by the Engine; nil in pure scheduler tests
}

func newSeq(req Request) *Seq {
	toks := make([]uint32, len(req.Prompt), len(req.Prompt)+req.outputLen())
	copy(toks, req.Prompt)
	return &Seq{req: req, toks: toks, numPrompt: len(req.Prompt)}
}

// outputLen is how many tokens the request generates.
func (r Request) outputLen() int {
	if r.StopAfter > 0 && r.StopAfter < r.MaxTokens {
		return r.StopAfter
	}
	return r.MaxTokens
}

// Stopped reports whether the sequence ended on its own end of sequence
// rather than at max_tokens.
func (s *Seq) Stopped() bool { return s.state == stateFinished && s.NumOutput() < s.req.MaxTokens }

// before orders sequences by (priority, arrival), vLLM's Request.__lt__.
func (s *Seq) before(t *Seq) bool {
	if s.req.Priority != t.req.Priority {
		return s.req.Priority < t.req.Priority
	}
	return s.id < t.id
}

// ID is the engine's arrival number of the sequence, from 1.
func (s *Seq) ID() uint64 { return s.id }

// NumOutput counts generated tokens.
func (s *Seq) NumOutput() int { return len(s.toks) - s.numPrompt }

// NumComputed counts tokens whose KV is computed.
func (s *Seq) NumComputed() int { return s.numComputed }

// Blocks are the KV blocks the sequence holds.
func (s *Seq) Blocks() []kv.BlockID { return s.blocks }

// CachedTokens counts prompt tokens that needed no prefill at the first
// admission: prefix-cache hits plus KV received from a remote prefill.
func (s *Seq) CachedTokens() int { return s.cachedTokens }

// Preemptions counts how often the sequence lost its KV and was recomputed.
func (s *Seq) Preemptions() int { return s.preemptions }

// FinalBlocks are the blocks the sequence held when it finished, the block
// ids a prefill instance hands to a decode instance.
func (s *Seq) FinalBlocks() []kv.BlockID { return s.finalBlocks }

// Finished reports whether all tokens were generated.
func (s *Seq) Finished() bool { return s.state == stateFinished }
