package prefix

import "math"

// lru is a set of block hashes in recency order with a capacity, evicting
// the least recently used. Every request touches hundreds of blocks here
// (and, with router replicas, every peer's request too), so it is laid
// out for that: a map from hash to slot and a doubly linked list threaded
// through one slice by slot number. Neither holds a pointer, so the
// garbage collector does not scan an index of hundreds of thousands of
// blocks, and a new block allocates nothing once the slice has grown.
// Its order and evictions are exactly a textbook LRU's (lru_test.go checks
// them against hashicorp/golang-lru's).
type lru struct {
	slots map[uint64]int32
	// nodes[0] is the list's sentinel: its next is the newest block, its
	// prev the oldest.
	nodes    []node
	free     []int32 // slots of removed blocks
	capacity int
}

type node struct {
	hash       uint64
	prev, next int32
}

// maxCapacity keeps slot numbers in an int32.
const maxCapacity = math.MaxInt32 - 1

func newLRU(capacity int) *lru {
	l := &lru{slots: map[uint64]int32{}, nodes: make([]node, 1)}
	l.resize(capacity)
	return l
}

func (l *lru) len() int { return len(l.slots) }

func (l *lru) contains(h uint64) bool {
	_, ok := l.slots[h]
	return ok
}

// add makes h the newest block, evicting the oldest if h is new and the
// set is full.
func (l *lru) add(h uint64) {
	if i, ok := l.slots[h]; ok {
		if l.nodes[0].next != i {
			l.unlink(i)
			l.pushFront(i)
		}
		return
	}
	var i int32
	switch {
	case len(l.slots) >= l.capacity: // reuse the oldest block's slot
		i = l.nodes[0].prev
		delete(l.slots, l.nodes[i].hash)
		l.unlink(i)
	case len(l.free) > 0:
		i = l.free[len(l.free)-1]
		l.free = l.free[:len(l.free)-1]
	default:
		l.nodes = append(l.nodes, node{})
		i = int32(len(l.nodes) - 1)
	}
	l.nodes[i].hash = h
	l.pushFront(i)
	l.slots[h] = i
}

func (l *lru) remove(h uint64) {
	if i, ok := l.slots[h]; ok {
		delete(l.slots, h)
		l.unlink(i)
		l.free = append(l.free, i)
	}
}

// removeOldest evicts the least recently used block.
func (l *lru) removeOldest() {
	if len(l.slots) > 0 {
		l.remove(l.nodes[l.nodes[0].prev].hash)
	}
}

// keys appends the blocks to dst from oldest to newest.
func (l *lru) keys(dst []uint64) []uint64 {
	for i := l.nodes[0].prev; i != 0; i = l.nodes[i].prev {
		dst = append(dst, l.nodes[i].hash)
	}
	return dst
}

// resize sets the capacity (at least 1), evicting the oldest blocks over it.
func (l *lru) resize(capacity int) {
	l.capacity = min(max(capacity, 1), maxCapacity)
	for len(l.slots) > l.capacity {
		l.removeOldest()
	}
}

func (l *lru) purge() {
	clear(l.slots)
	l.nodes, l.free = l.nodes[:1], l.free[:0]
	l.nodes[0] = node{}
}

func (l *lru) unlink(i int32) {
	n := &l.nodes[i]
	l.nodes[n.prev].next = n.next
	l.nodes[n.next].prev = n.prev
}

func (l *lru) pushFront(i int32) {
	head := l.nodes[0].next
	l.nodes[i].prev, l.nodes[i].next = 0, head
	l.nodes[head].prev = i
	l.nodes[0].next = i
}
