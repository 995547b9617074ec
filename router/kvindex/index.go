// Package kvindex is the router's exact prefix index: per endpoint, which
// blocks of which token sequences the engine reports holding, kept current
// by vLLM's KV-cache events (BlockStored, BlockRemoved, AllBlocksCleared
// over ZeroMQ, msgpack; package kvevents has the format and its sources).
//
// # Keys: the router's own chain over token ids
//
// Engines name blocks by hashes the router cannot reproduce (vLLM: sha256
// of the parent hash, the block's tokens and extra keys, seeded by
// NONE_HASH, random unless PYTHONHASHSEED is set). So the index ignores
// them except as links: every BlockStored carries its blocks' token_ids,
// and the index keys each block by the router's own chained hash of token
// ids (AppendHashes: xxhash64 of parent hash and the block's tokens). The
// engine's hash of the event's parent block is looked up to find the
// parent's router hash; the engine hash of every stored block is kept so
// that BlockRemoved (which names only engine hashes) can find it. A request
// is looked up by the same chain over its token ids (from the engine's own
// tokenizer, package tokenize), so the engine's hash algorithm and seed
// never matter.
//
// Blocks are kept apart
//
//   - per endpoint (one Index each);
//   - per LoRA adapter: lora_name when the engine sends it (vLLM >= 0.15),
//     else "lora-id:N" from the deprecated integer id (which no request
//     names, so those blocks never match), else the base model. A request
//     for model M is matched against adapter M's blocks when the engine
//     has reported any, else against the base model's;
//   - per tier: medium "GPU" (or none) is the GPU block pool; any other
//     medium ("CPU" from vLLM's OffloadingConnector or LMCache) is an
//     offloaded tier. Match reports the GPU prefix and, after it, how many
//     more blocks an offloaded tier holds: those load instead of
//     recomputing, a cheaper miss (schedule: cost.offloadedTokens).
//
// A block whose engine hash covered extra keys (multimodal inputs,
// cache_salt) gets a router hash no plain token chain produces: the engine
// would not reuse it for a request without them either. Events of KV cache
// groups other than full attention (sliding window, mamba: kv_cache_spec_kind)
// are skipped; their blocks do not decide prefix reuse.
//
// # Degraded state
//
// Events can stop: the engine restarts, the subscription breaks, messages
// are dropped. An Index is exact only while it can be trusted; otherwise
// Match says so and the router falls back to the approximate index. It is
// degraded
//
//   - until the subscription is connected;
//   - after a gap in sequence numbers (lost batches): the set is cleared and
//     rebuilt from new events, and stays degraded for the silence window;
//   - when the router sent uncached work to the engine more than the
//     silence window ago and no event has arrived since: the engine must
//     have stored blocks for that work, so its events are not reaching us.
//
// Mere silence is not degradation: an idle engine publishes nothing.
package kvindex

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandem-serving/tandem/router/kvevents"
)

// Tier is where an engine holds a block.
type Tier uint8

const (
	// GPU is the engine's GPU block pool: a hit.
	GPU Tier = iota
	// Offloaded is any other medium (CPU memory, disk): a cheaper miss.
	Offloaded
	numTiers
)

// TierOf maps an event's medium to a tier.
func TierOf(medium string) Tier {
	if medium == "" || strings.EqualFold(medium, kvevents.MediumGPU) {
		return GPU
	}
	return Offloaded
}

// engineKey names a block as the engine does: its hash, KV cache group and
// tier (an offloaded copy of a GPU block has the same hash).
type engineKey struct {
	hash  uint64
	group int64
	tier  Tier
}

type engineBlock struct {
	set  *blockSet
	ours uint64
}

// blockSet is one adapter's blocks: router hash → copies held per tier.
type blockSet struct {
	held map[uint64][numTiers]uint32
}

// Index is one endpoint's exact block set. It is safe for concurrent use.
type Index struct {
	silence time.Duration

	mu          sync.Mutex
	sets        map[string]*blockSet
	engine      map[engineKey]engineBlock
	blockTokens int
	buf         []byte
	subscribed  bool
	seen        bool
	lastSeq     uint64
	lastEvent   time.Time
	lastWork    time.Time
	resyncUntil time.Time
	gaps        int
	dropped     int
}

// New returns an empty, degraded index; silence is the window described in
// the package documentation.
func New(silence time.Duration) *Index {
	return &Index{silence: silence, sets: map[string]*blockSet{}, engine: map[engineKey]engineBlock{}}
}

// State is an index's trust level.
type State string

const (
	Exact        State = "exact"
	Disconnected State = "disconnected"
	Resyncing    State = "resyncing"
	Silent       State = "silent"
)

// State reports whether Match can be trusted at now, and if not why.
func (x *Index) State(now time.Time) State {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.state(now)
}

func (x *Index) state(now time.Time) State {
	switch {
	case !x.subscribed:
		return Disconnected
	case now.Before(x.resyncUntil):
		return Resyncing
	case !x.lastWork.IsZero() && !x.lastWork.Before(x.lastEvent) && now.Sub(x.lastWork) > x.silence:
		return Silent
	}
	return Exact
}

// Match is what an endpoint holds of a request's chain.
type Match struct {
	// GPU is the number of leading blocks in the GPU pool.
	GPU int
	// Offloaded is the number of blocks after those held in an
	// offloaded tier (GPU ones past a gap included).
	Offloaded int
	// BlockTokens is the engine's block size in tokens (0 before any
	// BlockStored).
	BlockTokens int
}

// Match looks up hashes (AppendHashes of the prompt's token ids) for a
// request to model; ok is false when the index is degraded. Engines evict a
// sequence's tail before its head, so held blocks form a prefix and a binary
// search finds its end, first in the GPU tier, then in any tier.
func (x *Index) Match(model string, hashes []uint64, now time.Time) (m Match, ok bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.state(now) != Exact {
		return Match{}, false
	}
	m.BlockTokens = x.blockTokens
	set := x.sets[model]
	if set == nil {
		set = x.sets[""]
	}
	if set == nil {
		return m, true
	}
	m.GPU = prefixLen(hashes, 0, func(h uint64) bool { return set.held[h][GPU] > 0 })
	any := prefixLen(hashes, m.GPU, func(h uint64) bool { c := set.held[h]; return c[GPU]+c[Offloaded] > 0 })
	m.Offloaded = any - m.GPU
	return m, true
}

// prefixLen is the end of the prefix of hashes, from lo on, whose blocks
// are held.
func prefixLen(hashes []uint64, lo int, held func(uint64) bool) int {
	hi := len(hashes)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if held(hashes[mid]) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// Worked records that the router sent the engine work that will store
// blocks (see the package documentation).
func (x *Index) Worked(now time.Time) {
	x.mu.Lock()
	x.lastWork = now
	x.mu.Unlock()
}

// Len is the number of engine blocks held, all tiers.
func (x *Index) Len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.engine)
}

// Gaps is the number of sequence gaps seen.
func (x *Index) Gaps() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.gaps
}

// Dropped is the number of BlockStored events that could not be indexed:
// their parent block was unknown (its event was lost) or their tokens did
// not fill their blocks.
func (x *Index) Dropped() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.dropped
}

// setSubscribed marks the subscription up or down. A new subscription
// starts from an empty set: what the engine held before is unknown.
func (x *Index) setSubscribed(up bool, now time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if up && !x.subscribed {
		x.clear()
		x.seen = false
		x.lastEvent = now
	}
	x.subscribed = up
}

func (x *Index) clear() {
	clear(x.sets)
	clear(x.engine)
}

// Apply folds one message into the set. It returns false when the message
// revealed a gap in sequence numbers.
func (x *Index) Apply(m kvevents.Message, now time.Time) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	ok := true
	if x.seen && m.Seq != x.lastSeq+1 {
		ok = false
		x.gaps++
		x.clear()
		x.resyncUntil = now.Add(x.silence)
	}
	x.seen, x.lastSeq, x.lastEvent = true, m.Seq, now
	for i := range m.Batch.Events {
		e := &m.Batch.Events[i]
		switch e.Kind {
		case kvevents.BlockStored:
			if !x.stored(e) {
				x.dropped++
			}
		case kvevents.BlockRemoved:
			x.removed(e)
		case kvevents.AllBlocksCleared:
			x.clear()
		}
	}
	return ok
}

// indexedKinds are the KV cache groups whose blocks decide prefix reuse.
var indexedKinds = map[string]bool{"": true, "full_attention": true, "mla_attention": true}

func adapter(e *kvevents.Event) string {
	switch {
	case e.LoRAName != "":
		return e.LoRAName
	case e.LoRAID != nil:
		return "lora-id:" + strconv.FormatInt(*e.LoRAID, 10)
	}
	return ""
}

func group(e *kvevents.Event) int64 {
	if e.GroupIdx == nil {
		return 0
	}
	return *e.GroupIdx
}

// stored indexes a BlockStored; false when it cannot be.
func (x *Index) stored(e *kvevents.Event) bool {
	if !indexedKinds[e.SpecKind] {
		return true // another group's blocks: not ours to index
	}
	bs, n := e.BlockSize, len(e.BlockHashes)
	if bs <= 0 || len(e.TokenIDs) != n*bs || (e.ExtraKeys != nil && len(e.ExtraKeys) != n) {
		return false
	}
	g, tier := group(e), TierOf(e.Medium)
	parent := root
	if e.ParentBlockHash != nil {
		p, found := x.engine[engineKey{*e.ParentBlockHash, g, GPU}]
		if !found {
			p, found = x.engine[engineKey{*e.ParentBlockHash, g, Offloaded}]
		}
		if !found {
			return false
		}
		parent = p.ours
	}
	name := adapter(e)
	set := x.sets[name]
	if set == nil {
		set = &blockSet{held: map[uint64][numTiers]uint32{}}
		x.sets[name] = set
	}
	x.blockTokens = bs
	for i, h := range e.BlockHashes {
		var ours uint64
		ours, x.buf = chainHash(x.buf, parent, e.TokenIDs[i*bs:(i+1)*bs])
		if e.ExtraKeys != nil && e.ExtraKeys[i] != 0 {
			ours = mixExtra(ours, e.ExtraKeys[i])
		}
		parent = ours
		k := engineKey{h, g, tier}
		if _, dup := x.engine[k]; dup {
			continue // stored again without a removal: already counted
		}
		x.engine[k] = engineBlock{set: set, ours: ours}
		c := set.held[ours]
		c[tier]++
		set.held[ours] = c
	}
	return true
}

func (x *Index) removed(e *kvevents.Event) {
	g, tier := group(e), TierOf(e.Medium)
	for _, h := range e.BlockHashes {
		k := engineKey{h, g, tier}
		b, found := x.engine[k]
		if !found {
			continue
		}
		delete(x.engine, k)
		c := b.set.held[b.ours]
		if c[tier] > 0 {
			c[tier]--
		}
		if c == ([numTiers]uint32{}) {
			delete(b.set.held, b.ours)
		} else {
			b.set.held[b.ours] = c
		}
	}
}
