package kvindex

import (
	"context"
	"time"

	"github.com/go-logr/logr"

	"github.com/tandem-serving/tandem/router/kvevents"
)

// retryEvery spaces reconnection attempts; maxFailures consecutive bad
// messages end a subscription (a closed socket fails every Recv).
const (
	retryEvery  = time.Second
	maxFailures = 3
)

// Follow subscribes to an engine's KV events at endpoint (tcp://host:port)
// under topic and applies them to x until ctx ends, reconnecting after
// failures. onMessage, if set, hears each message's outcome: "ok", "gap"
// or "error".
func Follow(ctx context.Context, endpoint, topic string, x *Index, log logr.Logger, onMessage func(result string)) {
	report := func(r string) {
		if onMessage != nil {
			onMessage(r)
		}
	}
	for ctx.Err() == nil {
		sub, err := kvevents.Subscribe(ctx, endpoint, topic)
		if err != nil {
			log.V(2).Info("KV events subscription failed", "endpoint", endpoint, "err", err)
			report("error")
			sleep(ctx, retryEvery)
			continue
		}
		x.setSubscribed(true, time.Now())
		stop := context.AfterFunc(ctx, func() { _ = sub.Close() })
		failures := 0
		for failures < maxFailures {
			m, err := sub.Recv()
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				failures++
				report("error")
				log.V(2).Info("KV events message failed", "endpoint", endpoint, "err", err)
				continue // a message that does not decode: the stream may go on
			}
			failures = 0
			if x.Apply(m, time.Now()) {
				report("ok")
			} else {
				report("gap")
				log.Info("KV events lost; the exact index resyncs", "endpoint", endpoint, "seq", m.Seq)
			}
		}
		stop()
		_ = sub.Close()
		x.setSubscribed(false, time.Now())
		sleep(ctx, retryEvery)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
