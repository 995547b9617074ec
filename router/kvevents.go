package router

import (
	"context"
	"net"
	"strconv"
	"sync"

	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/kvindex"
)

// followers runs one KV events subscription per endpoint, started and
// stopped as the registry changes (exact mode only).
type followers struct {
	rt    *Router
	mu    sync.Mutex
	ctx   context.Context
	loops map[*endpoint.Endpoint]context.CancelFunc
	wg    sync.WaitGroup
}

func (f *followers) run(ctx context.Context) {
	f.mu.Lock()
	f.ctx, f.loops = ctx, map[*endpoint.Endpoint]context.CancelFunc{}
	f.mu.Unlock()
	f.rt.reg.OnChange(f.change)
	f.change(f.rt.reg.Snapshot().All, nil)
	<-ctx.Done()
	f.wg.Wait()
}

func (f *followers) change(added, removed []*endpoint.Endpoint) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx == nil || f.ctx.Err() != nil {
		return
	}
	for _, e := range removed {
		if cancel := f.loops[e]; cancel != nil {
			cancel()
			delete(f.loops, e)
		}
	}
	cfg := &f.rt.cfg.KVEvents
	for _, e := range added {
		if e.Exact == nil || f.loops[e] != nil {
			continue
		}
		port := cfg.Port
		if e.KVEventsPort > 0 {
			port = e.KVEventsPort
		}
		addr := "tcp://" + net.JoinHostPort(e.Host(), strconv.Itoa(port))
		ctx, cancel := context.WithCancel(f.ctx)
		f.loops[e] = cancel
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			kvindex.Follow(ctx, addr, cfg.Topic, e.Exact, f.rt.log.WithValues("endpoint", e.Name), func(result string) {
				f.rt.metrics.kvEvents.WithLabelValues(e.Name, result).Inc()
			})
		}()
	}
}
