package autoscalebench

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
)

// unitState is where a serving unit is in its life.
type unitState int

const (
	pending  unitState = iota // wanted, no GPUs yet
	starting                  // holds GPUs, cold start running
	ready                     // serving
)

type unit struct {
	id    int
	state unitState
	since int // step the state began
}

// Gang is a batch job: Size GPUs, all at once or not at all, for
// Duration seconds of work.
type Gang struct {
	ID       int
	Size     int
	Duration int
	started  int
}

// GangSource hands out the queued batch gangs in a fixed, seeded order:
// sizes drawn from Sizes, durations exponential around MeanSeconds.
type GangSource struct {
	rng         *rand.Rand
	sizes       []int
	meanSeconds float64
	next        int
}

// NewGangSource is the gang queue; the same seed gives the same gangs.
func NewGangSource(seed uint64, sizes []int, meanSeconds float64) *GangSource {
	return &GangSource{rng: rand.New(rand.NewPCG(seed, 0x6a96)), sizes: sizes, meanSeconds: meanSeconds}
}

func (s *GangSource) take() Gang {
	s.next++
	return Gang{ID: s.next, Size: s.sizes[s.rng.IntN(len(s.sizes))], Duration: max(60, int(s.rng.ExpFloat64()*s.meanSeconds))}
}

// Cluster is N GPUs shared by one ServingGroup's units and batch gangs.
// owner[i] is 0 (free), a unit id (> 0) or minus a gang id (< 0): the
// per-GPU record the partial-gang check reads, independent of the gang
// list it checks.
type Cluster struct {
	owner    []int
	unitGPUs int
	units    []unit
	nextUnit int
	running  []Gang
	queue    []Gang // waiting gangs, head first; refilled from src
	src      *GangSource
	// Visible queue length: how many gangs the backfill looks at.
	lookahead int

	Reclaimed     int     // gangs evicted for serving
	ReclaimLostGS float64 // GPU-seconds of work the evicted gangs lost
	Completed     int     // gangs that finished
}

// NewCluster is an empty cluster of n GPUs.
func NewCluster(n, unitGPUs int, src *GangSource) *Cluster {
	return &Cluster{owner: make([]int, n), unitGPUs: unitGPUs, src: src, lookahead: 16}
}

// free is the free GPUs.
func (c *Cluster) free() int {
	n := 0
	for _, o := range c.owner {
		if o == 0 {
			n++
		}
	}
	return n
}

func (c *Cluster) assign(n, who int) {
	for i := range c.owner {
		if n == 0 {
			return
		}
		if c.owner[i] == 0 {
			c.owner[i] = who
			n--
		}
	}
}

func (c *Cluster) release(who int) {
	for i, o := range c.owner {
		if o == who {
			c.owner[i] = 0
		}
	}
}

// SetUnits makes n units wanted: new ones pending, or the least useful
// removed (pending first, then starting, then ready; newest first), their
// GPUs freed at once.
func (c *Cluster) SetUnits(n, now int) {
	for len(c.units) < n {
		c.nextUnit++
		c.units = append(c.units, unit{id: c.nextUnit, state: pending, since: now})
	}
	if len(c.units) <= n {
		return
	}
	sort.SliceStable(c.units, func(i, j int) bool {
		a, b := c.units[i], c.units[j]
		if a.state != b.state {
			return a.state > b.state // ready first: they stay
		}
		return a.id < b.id
	})
	for _, u := range c.units[n:] {
		c.release(u.id)
	}
	c.units = c.units[:n]
}

// AddReadyUnits places n units that are serving from the start of the day.
func (c *Cluster) AddReadyUnits(n int) error {
	for range n {
		if c.free() < c.unitGPUs {
			return fmt.Errorf("%d units of %d GPUs do not fit %d GPUs", n, c.unitGPUs, len(c.owner))
		}
		c.nextUnit++
		c.units = append(c.units, unit{id: c.nextUnit, state: ready})
		c.assign(c.unitGPUs, c.nextUnit)
	}
	return nil
}

// Step advances the cluster one second: pending units get GPUs (free
// ones, else reclaimed whole gangs), cold starts finish, finished gangs
// leave and queued gangs start where all their GPUs are free.
func (c *Cluster) Step(now, coldStart int) {
	for i := range c.units {
		u := &c.units[i]
		if u.state != pending {
			continue
		}
		if c.free() < c.unitGPUs {
			c.reclaim(c.unitGPUs-c.free(), now)
		}
		if c.free() < c.unitGPUs {
			break // every GPU is serving's already
		}
		c.assign(c.unitGPUs, u.id)
		u.state, u.since = starting, now
	}
	for i := range c.units {
		if u := &c.units[i]; u.state == starting && now-u.since >= coldStart {
			u.state, u.since = ready, now
		}
	}
	kept := c.running[:0]
	for _, g := range c.running {
		if now-g.started >= g.Duration {
			c.release(-g.ID)
			c.Completed++
			continue
		}
		kept = append(kept, g)
	}
	c.running = kept
	c.backfill(now)
}

// backfill starts queued gangs in order, each only if all its GPUs are
// free; a gang that does not fit lets later, smaller ones by (Volcano
// tries every job of the queue in a session).
func (c *Cluster) backfill(now int) {
	for len(c.queue) < c.lookahead {
		c.queue = append(c.queue, c.src.take())
	}
	kept := c.queue[:0]
	for _, g := range c.queue {
		if g.Size <= c.free() {
			c.assign(g.Size, -g.ID)
			g.started = now
			c.running = append(c.running, g)
			continue
		}
		kept = append(kept, g)
	}
	c.queue = kept
}

// reclaim evicts whole gangs to free need GPUs, as tandem-reclaim chooses
// (plugins/tandem/reclaim.go ChooseVictims): the fewest gangs, and among
// equally few the youngest. An evicted gang goes back to the head of the
// queue and starts its work again.
func (c *Cluster) reclaim(need, now int) {
	victims := ChooseVictims(c.running, need)
	if victims == nil {
		return
	}
	var back []Gang
	kept := c.running[:0]
	for _, g := range c.running {
		if slices.Contains(victims, g.ID) {
			c.release(-g.ID)
			c.Reclaimed++
			c.ReclaimLostGS += float64(g.Size * (now - g.started))
			back = append(back, g)
			continue
		}
		kept = append(kept, g)
	}
	c.running = kept
	c.queue = append(back, c.queue...)
}

// ChooseVictims returns the ids of the fewest running gangs that free at
// least need GPUs, the youngest set among equally few (sets compared
// youngest gang first); nil when all of them together are too few.
func ChooseVictims(running []Gang, need int) []int {
	order := slices.Clone(running)
	sort.SliceStable(order, func(i, j int) bool { return order[i].started > order[j].started })
	for k := 1; k <= len(order); k++ {
		if set := firstCover(order, k, need); set != nil {
			return set
		}
	}
	return nil
}

// firstCover is the first k-subset of order (in lexicographic order of
// indices) whose sizes reach need.
func firstCover(order []Gang, k, need int) []int {
	idx := make([]int, 0, k)
	var walk func(from, sum int) bool
	walk = func(from, sum int) bool {
		if len(idx) == k {
			return sum >= need
		}
		for i := from; i <= len(order)-(k-len(idx)); i++ {
			idx = append(idx, i)
			if walk(i+1, sum+order[i].Size) {
				return true
			}
			idx = idx[:len(idx)-1]
		}
		return false
	}
	if !walk(0, 0) {
		return nil
	}
	ids := make([]int, k)
	for i, j := range idx {
		ids[i] = order[j].ID
	}
	return ids
}

// Usage is the cluster's GPUs right now.
type Usage struct {
	Serving, Ready, Units, ReadyUnits, Batch int
}

// Usage counts the GPUs by owner from the per-GPU record.
func (c *Cluster) Usage() Usage {
	var u Usage
	for _, o := range c.owner {
		switch {
		case o > 0:
			u.Serving++
		case o < 0:
			u.Batch++
		}
	}
	u.Units = len(c.units)
	for _, un := range c.units {
		if un.state == ready {
			u.ReadyUnits++
			u.Ready += c.unitGPUs
		}
	}
	return u
}

// PartialGangs counts running gangs that do not hold exactly their size
// in the per-GPU record, plus GPUs held by a gang that is not running:
// 0 always, unless the accounting is broken.
func (c *Cluster) PartialGangs() int {
	held := map[int]int{}
	for _, o := range c.owner {
		if o < 0 {
			held[-o]++
		}
	}
	bad := 0
	for _, g := range c.running {
		if held[g.ID] != g.Size {
			bad++
		}
		delete(held, g.ID)
	}
	return bad + len(held)
}
