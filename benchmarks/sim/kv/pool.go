package kv

import "fmt"

// BlockID names one block of the pool: an index in [0, NumBlocks).
type BlockID int32

const none BlockID = -1

// EventKind says what happened to a cached block.
type EventKind int

const (
	// Stored: a full block was added to the prefix cache.
	Stored EventKind = iota
	// Removed: a cached block was evicted to make room.
	Removed
	// Cleared: the whole prefix cache was dropped (Reset).
	Cleared
)

// Event is one change of the prefix cache, in the order it happened; the
// shape of vLLM's BlockStored / BlockRemoved / AllBlocksCleared KV events.
type Event struct {
	Kind  EventKind
	Hash  uint64
	Block BlockID
	// Parent and Tokens are set on Stored events recorded by CacheBlock:
	// the hash of the previous block of the chain (the chain's seed for a
	// first block) and the block's token ids.
	Parent uint64
	Tokens []uint32
}

type block struct {
	ref        int32
	cached     bool
	hash       uint64
	prev, next BlockID // free queue links, none when not queued
	queued     bool
}

// Pool is the KV memory of one engine. It is not safe for concurrent use; the
// engine serialises access.
type Pool struct {
	blockSize  int
	blocks     []block
	head, tail BlockID // free queue: head is evicted first
	numFree    int
	cache      map[uint64]BlockID
	caching    bool
	events     []Event
	keepEvents bool
}

// NewPool returns a pool of numBlocks empty blocks of blockSize tokens. With
// caching false the prefix cache is off: nothing is stored or found.
func NewPool(numBlocks, blockSize int, caching bool) (*Pool, error) {
	if numBlocks <= 0 || blockSize <= 0 {
		return nil, fmt.Errorf("kv pool needs positive blocks and block size, got %d and %d", numBlocks, blockSize)
	}
	p := &Pool{
		blockSize: blockSize,
		blocks:    make([]block, numBlocks),
		head:      none,
		tail:      none,
		cache:     make(map[uint64]BlockID),
		caching:   caching,
	}
	for i := range p.blocks {
		p.blocks[i].prev, p.blocks[i].next = none, none
		p.pushBack(BlockID(i))
	}
	return p, nil
}

// BlockSize is the number of tokens per block.
func (p *Pool) BlockSize() int { return p.blockSize }

// NumBlocks is the pool's size.
func (p *Pool) NumBlocks() int { return len(p.blocks) }

// NumFree counts blocks no sequence holds, cached or not.
func (p *Pool) NumFree() int { return p.numFree }

// NumCached counts blocks findable in the prefix cache.
func (p *Pool) NumCached() int { return len(p.cache) }

// Usage is the fraction of blocks held by sequences: vLLM's kv_cache_usage_perc.
func (p *Pool) Usage() float64 { return 1 - float64(p.numFree)/float64(len(p.blocks)) }

// RefCount reports how many sequences hold a block.
func (p *Pool) RefCount(id BlockID) int { return int(p.blocks[id].ref) }

// KeepEvents turns on recording of events for TakeEvents.
func (p *Pool) KeepEvents(on bool) { p.keepEvents = on }

// TakeEvents returns the events recorded since the last call.
func (p *Pool) TakeEvents() []Event {
	ev := p.events
	p.events = nil
	return ev
}

// Lookup returns the blocks of the longest cached prefix of a hash chain,
// without changing anything.
func (p *Pool) Lookup(hashes []uint64) []BlockID {
	if !p.caching {
		return nil
	}
	var ids []BlockID
	for _, h := range hashes {
		id, ok := p.cache[h]
		if !ok {
			break
		}
		ids = append(ids, id)
	}
	return ids
}

// Evictable counts the blocks among ids that are free now and would leave the
// free queue if acquired.
func (p *Pool) Evictable(ids []BlockID) int {
	n := 0
	for _, id := range ids {
		if p.blocks[id].ref == 0 {
			n++
		}
	}
	return n
}

// Acquire takes a reference on cached blocks found by Lookup.
func (p *Pool) Acquire(ids []BlockID) {
	for _, id := range ids {
		b := &p.blocks[id]
		if b.ref == 0 {
			p.unlink(id)
		}
		b.ref++
	}
}

// Allocate takes n blocks from the front of the free queue, evicting any
// cached hash they carried. It takes nothing and returns false if fewer than
// n blocks are free.
func (p *Pool) Allocate(n int) ([]BlockID, bool) {
	if n > p.numFree {
		return nil, false
	}
	ids := make([]BlockID, n)
	for i := range ids {
		id := p.head
		p.unlink(id)
		b := &p.blocks[id]
		if b.cached {
			delete(p.cache, b.hash)
			b.cached = false
			p.record(Removed, b.hash, id)
		}
		b.ref = 1
		ids[i] = id
	}
	return ids, true
}

// Release drops one reference on each block in order; blocks nobody holds go
// to the back of the free queue, so the first released is evicted first.
func (p *Pool) Release(ids []BlockID) {
	for _, id := range ids {
		b := &p.blocks[id]
		if b.ref <= 0 {
			panic(fmt.Sprintf("kv: release of free block %d", id))
		}
		b.ref--
		if b.ref == 0 {
			p.pushBack(id)
		}
	}
}

// Cache records that block id holds the full block with the given chain
// hash. If another block already caches that hash, the first one stays the
// cached copy and id stays uncached, as in vLLM.
func (p *Pool) Cache(id BlockID, hash uint64) { p.CacheBlock(id, hash, 0, nil) }

// CacheBlock is Cache with what a KV event subscriber needs to rebuild the
// chain: the parent hash and the block's tokens, carried only in the Stored
// event (tokens is kept, not copied: it must not change afterwards).
func (p *Pool) CacheBlock(id BlockID, hash, parent uint64, tokens []uint32) {
	b := &p.blocks[id]
	if !p.caching || b.cached {
		return
	}
	if _, dup := p.cache[hash]; dup {
		return
	}
	b.cached, b.hash = true, hash
	p.cache[hash] = id
	if p.keepEvents {
		p.events = append(p.events, Event{Kind: Stored, Hash: hash, Block: id, Parent: parent, Tokens: tokens})
	}
}

// Reset drops every cached hash, as vLLM's reset_prefix_cache does, and
// records one Cleared event. Like vLLM it refuses, returning false, while
// any sequence holds a block.
func (p *Pool) Reset() bool {
	if p.numFree != len(p.blocks) {
		return false
	}
	for id := range p.blocks {
		p.blocks[id].cached = false
	}
	clear(p.cache)
	if p.keepEvents {
		p.events = append(p.events, Event{Kind: Cleared, Block: none})
	}
	return true
}

func (p *Pool) record(kind EventKind, hash uint64, id BlockID) {
	if p.keepEvents {
		p.events = append(p.events, Event{Kind: kind, Hash: hash, Block: id})
	}
}

func (p *Pool) pushBack(id BlockID) {
	b := &p.blocks[id]
	b.prev, b.next, b.queued = p.tail, none, true
	if p.tail != none {
		p.blocks[p.tail].next = id
	} else {
		p.head = id
	}
	p.tail = id
	p.numFree++
}

func (p *Pool) unlink(id BlockID) {
	b := &p.blocks[id]
	if !b.queued {
		panic(fmt.Sprintf("kv: block %d is not free", id))
	}
	if b.prev != none {
		p.blocks[b.prev].next = b.next
	} else {
		p.head = b.next
	}
	if b.next != none {
		p.blocks[b.next].prev = b.prev
	} else {
		p.tail = b.prev
	}
	b.prev, b.next, b.queued = none, none, false
	p.numFree--
}
