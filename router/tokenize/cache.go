package tokenize

import (
	"container/list"
	"sync"

	"github.com/cespare/xxhash/v2"

	"github.com/tandem-serving/tandem/router/request"
)

// recordSep ends each message in the router's chat rendering (package
// request, render.go).
const recordSep = 0x1E

// Key is a cache key and the bytes of rendered prompt it covers.
type Key struct {
	Hash  uint64
	Bytes int
}

// Keys appends to dst the cache keys of req: for a chat one per message
// boundary of its rendering, shortest first; for a completion one. The
// last is the whole prompt's.
func Keys(dst []Key, req *request.Request) []Key {
	var d xxhash.Digest
	d.Reset()
	_, _ = d.WriteString(req.Model)
	_, _ = d.Write([]byte{0, byte(req.Kind)})
	for _, k := range members(req.Kind) {
		if v := req.Member(k); v != nil {
			_, _ = d.WriteString(k)
			_, _ = d.Write([]byte{0})
			_, _ = d.Write(v)
			_, _ = d.Write([]byte{0})
		}
	}
	p := req.Prompt
	if req.Kind != request.Chat {
		_, _ = d.Write(p)
		return append(dst, Key{d.Sum64(), len(p)})
	}
	prev := 0
	for i, c := range p {
		if c == recordSep {
			_, _ = d.Write(p[prev : i+1])
			prev = i + 1
			dst = append(dst, Key{d.Sum64(), prev})
		}
	}
	if prev < len(p) || len(dst) == 0 {
		_, _ = d.Write(p[prev:])
		dst = append(dst, Key{d.Sum64(), len(p)})
	}
	return dst
}

// Cache is an LRU of token ids bounded by their total count. Cached slices
// are shared: readers must not modify them.
type Cache struct {
	mu     sync.Mutex
	max    int
	used   int
	order  list.List // of *entry, most recent first
	byHash map[uint64]*list.Element
}

type entry struct {
	key    Key
	tokens []uint32
}

// NewCache returns a cache of at most maxTokens tokens.
func NewCache(maxTokens int) *Cache {
	return &Cache{max: maxTokens, byHash: map[uint64]*list.Element{}}
}

// Get returns the tokens cached under k.
func (c *Cache) Get(k Key) ([]uint32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byHash[k.Hash]
	if !ok || el.Value.(*entry).key.Bytes != k.Bytes {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*entry).tokens, true
}

// Put caches tokens under k, evicting the least recently used entries to
// stay within the bound. An entry larger than the bound is not cached.
func (c *Cache) Put(k Key, tokens []uint32) {
	if len(tokens) > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byHash[k.Hash]; ok {
		c.used -= len(el.Value.(*entry).tokens)
		c.order.Remove(el)
	}
	c.byHash[k.Hash] = c.order.PushFront(&entry{key: k, tokens: tokens})
	c.used += len(tokens)
	for c.used > c.max {
		el := c.order.Back()
		e := el.Value.(*entry)
		c.order.Remove(el)
		delete(c.byHash, e.key.Hash)
		c.used -= len(e.tokens)
	}
}

// Tokens is the number of tokens cached.
func (c *Cache) Tokens() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}
