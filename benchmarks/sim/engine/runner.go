package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/sim/kv"
)

// ErrStopped is returned for requests the engine will never finish because
// it was stopped.
var ErrStopped = errors.New("engine stopped")

// maxLag bounds how far the step loop may fall behind its virtual schedule
// before it stops catching up (the host was too busy); beyond it, lost time
// is dropped rather than replayed as a burst of steps.
const maxLag = 20 * time.Millisecond

// Observer receives wall-clock latencies as the engine produces tokens. Its
// methods run on the engine goroutine and must not block.
type Observer interface {
	FirstToken(ttft time.Duration)
	InterToken(itl time.Duration)
	Finished(e2e time.Duration)
}

// Option adjusts an Engine at Start.
type Option func(*Engine)

// WithKVEvents records the prefix cache's changes (kv.Event: blocks stored,
// evicted, the cache cleared) and hands them to sink after every step that
// made any, in the order they happened. sink runs on the engine goroutine
// with the engine locked: it must not block or call the engine.
func WithKVEvents(sink func([]kv.Event)) Option {
	return func(e *Engine) { e.events = sink }
}

// Engine runs a Core on its own goroutine against the wall clock: each step
// sleeps its modelled duration multiplied by the time scale (0: no sleep at
// all). Submit and the Handle methods are safe for concurrent use.
type Engine struct {
	scale  float64
	obs    Observer
	events func([]kv.Event)

	mu      sync.Mutex
	core    *Core
	inbox   []*Seq
	aborts  []*Seq
	stopped bool

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// Start runs a new engine until ctx ends or Stop is called. obs may be nil.
func Start(ctx context.Context, p Params, timeScale float64, obs Observer, opts ...Option) (*Engine, error) {
	if timeScale < 0 {
		return nil, errors.New("time scale must not be negative")
	}
	core, err := NewCore(p)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		scale: timeScale,
		obs:   obs,
		core:  core,
		wake:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	for _, o := range opts {
		o(e)
	}
	core.pool.KeepEvents(e.events != nil)
	go func() {
		select {
		case <-ctx.Done():
			e.Stop()
		case <-e.done:
		}
	}()
	go e.run()
	return e, nil
}

// Stop ends the engine; unfinished requests fail with ErrStopped. It waits
// for the engine goroutine to exit and may be called more than once.
func (e *Engine) Stop() {
	e.mu.Lock()
	if !e.stopped {
		e.stopped = true
		close(e.stop)
	}
	e.mu.Unlock()
	<-e.done
}

// Done is closed when the engine has stopped.
func (e *Engine) Done() <-chan struct{} { return e.done }

// Params returns the engine's parameters.
func (e *Engine) Params() Params { return e.core.Params() }

// Check reports why a request can never run on this engine, or nil.
func (e *Engine) Check(req Request) error { return e.core.Check(req) }

// Submit queues a request. The Handle reports its progress.
func (e *Engine) Submit(req Request) (*Handle, error) {
	if err := e.core.Check(req); err != nil {
		return nil, err
	}
	s := newSeq(req)
	h := &Handle{e: e, seq: s, arrival: time.Now(), notify: make(chan struct{}, 1)}
	s.handle = h
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return nil, ErrStopped
	}
	e.inbox = append(e.inbox, s)
	e.poke()
	return h, nil
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Snapshot is the engine's state for metrics.
type Snapshot struct {
	Running, Waiting int
	KVUsage          float64
	NumBlocks        int
	BlockSize        int
	PrefixCaching    bool
	Stats            Stats
}

// Snapshot reads the current state.
func (e *Engine) Snapshot() Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.core
	return Snapshot{
		Running:       c.NumRunning(),
		Waiting:       c.NumWaiting() + len(e.inbox),
		KVUsage:       c.pool.Usage(),
		NumBlocks:     c.p.NumBlocks,
		BlockSize:     c.p.BlockSize,
		PrefixCaching: c.p.PrefixCaching,
		Stats:         c.Stats(),
	}
}

func (e *Engine) wall(d time.Duration) time.Duration {
	return time.Duration(float64(d) * e.scale)
}

func (e *Engine) run() {
	defer close(e.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	deadline := time.Now()
	for {
		select {
		case <-e.stop:
			e.shutdown()
			return
		default:
		}
		e.mu.Lock()
		e.drainLocked()
		plan := e.core.Schedule()
		next, pending := e.core.NextReady()
		now := e.core.Now()
		e.mu.Unlock()

		if plan.Empty() && len(plan.Preempted) > 0 {
			continue // memory was freed by preemption: schedule again at once
		}
		if plan.Empty() {
			if !e.idle(timer, next-now, pending) {
				e.shutdown()
				return
			}
			deadline = time.Now()
			continue
		}
		if t := time.Now(); deadline.Before(t.Add(-maxLag)) {
			deadline = t
		}
		deadline = deadline.Add(e.wall(plan.Duration))
		if d := time.Until(deadline); d > 0 && !e.sleep(timer, d) {
			e.shutdown()
			return
		}
		e.mu.Lock()
		out := e.core.Complete(plan)
		e.deliverLocked(out, time.Now())
		e.flushEventsLocked()
		e.mu.Unlock()
	}
}

// idle waits for new work, or for the next KV transfer to land, and advances
// virtual time by the wait. It returns false when the engine must stop.
func (e *Engine) idle(timer *time.Timer, untilReady time.Duration, pending bool) bool {
	began := time.Now()
	var fired <-chan time.Time
	if pending {
		timer.Reset(e.wall(untilReady))
		fired = timer.C
		defer timer.Stop()
	}
	var advance time.Duration
	select {
	case <-e.stop:
		return false
	case <-e.wake:
	case <-fired:
		advance = untilReady
	}
	if e.scale > 0 {
		advance = max(advance, time.Duration(float64(time.Since(began))/e.scale))
	}
	e.mu.Lock()
	e.core.Advance(advance)
	e.mu.Unlock()
	return true
}

func (e *Engine) sleep(timer *time.Timer, d time.Duration) bool {
	timer.Reset(d)
	select {
	case <-e.stop:
		timer.Stop()
		return false
	case <-timer.C:
		return true
	}
}

// drainLocked moves new requests into the core, then applies cancellations
// (which may name requests that just arrived).
func (e *Engine) drainLocked() {
	for _, s := range e.inbox {
		e.core.enqueue(s)
	}
	e.inbox = e.inbox[:0]
	for _, s := range e.aborts {
		e.core.Abort(s)
	}
	e.aborts = e.aborts[:0]
}

func (e *Engine) deliverLocked(out Outcome, now time.Time) {
	for _, s := range out.Tokens {
		h := s.handle
		if h == nil {
			continue
		}
		if e.obs != nil {
			if s.NumOutput() == 1 {
				e.obs.FirstToken(now.Sub(h.arrival))
			} else {
				e.obs.InterToken(now.Sub(h.last))
			}
		}
		h.last = now
		h.publish(s.NumOutput(), nil)
	}
	for _, s := range out.Finished {
		if s.handle != nil && e.obs != nil {
			e.obs.Finished(now.Sub(s.handle.arrival))
		}
	}
}

func (e *Engine) flushEventsLocked() {
	if e.events == nil {
		return
	}
	if ev := e.core.pool.TakeEvents(); len(ev) > 0 {
		e.events(ev)
	}
}

// ResetPrefixCache drops every cached block, as vLLM's /reset_prefix_cache
// does; like vLLM it refuses (false) while requests hold KV blocks.
func (e *Engine) ResetPrefixCache() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	ok := e.core.pool.Reset()
	e.flushEventsLocked()
	return ok
}

func (e *Engine) shutdown() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopped = true
	for _, s := range append(e.core.Drain(), e.inbox...) {
		if s.handle != nil {
			s.handle.publish(s.NumOutput(), ErrStopped)
		}
	}
	e.inbox = nil
}

// Handle follows one submitted request.
type Handle struct {
	e       *Engine
	seq     *Seq
	arrival time.Time
	last    time.Time // engine goroutine only

	mu        sync.Mutex
	generated int
	done      bool
	result    Result
	notify    chan struct{}
}

// Result is a finished request's accounting.
type Result struct {
	PromptTokens     int
	CompletionTokens int
	CachedTokens     int
	// Stopped: the request ended on its end of sequence (finish reason
	// "stop"), not at max_tokens ("length").
	Stopped bool
	// Blocks are the KV blocks that held the sequence, for P/D hand-off.
	Blocks []kv.BlockID
	// Err is set if the request did not finish.
	Err error
}

// publish runs on the engine goroutine with the engine lock held.
func (h *Handle) publish(generated int, err error) {
	s := h.seq
	h.mu.Lock()
	h.generated = generated
	if err != nil || s.state == stateFinished {
		h.done = true
		h.result = Result{
			PromptTokens:     s.numPrompt,
			CompletionTokens: s.NumOutput(),
			CachedTokens:     s.cachedTokens,
			Stopped:          s.Stopped(),
			Blocks:           s.finalBlocks,
			Err:              err,
		}
	}
	h.mu.Unlock()
	select {
	case h.notify <- struct{}{}:
	default:
	}
}

// Wait blocks until more than have tokens were generated or the request
// ended, and returns the number generated so far and whether it ended. It
// returns ctx's error if ctx ends first.
func (h *Handle) Wait(ctx context.Context, have int) (generated int, done bool, err error) {
	for {
		h.mu.Lock()
		generated, done = h.generated, h.done
		h.mu.Unlock()
		if generated > have || done {
			return generated, done, nil
		}
		select {
		case <-h.notify:
		case <-ctx.Done():
			return generated, false, ctx.Err()
		}
	}
}

// Result is the request's accounting; valid once Wait reported done.
func (h *Handle) Result() Result {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.result
}

// OutputSeed is the seed of the request's generated words.
func (h *Handle) OutputSeed() uint64 { return h.seq.req.OutputSeed }

// Cancel aborts the request if it has not finished; its blocks are freed
// before the next step.
func (h *Handle) Cancel() {
	e := h.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.stopped {
		e.aborts = append(e.aborts, h.seq)
		e.poke()
	}
}
