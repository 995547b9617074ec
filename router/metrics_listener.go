package router

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// MetricsHandler serves the router's Prometheus exposition.
func (rt *Router) MetricsHandler() http.Handler { return rt.metricsH }

// ServeMetrics answers /metrics (and nothing else) on ln, the listener of
// metrics.address, until ctx ends. A scrape is small and quick, so the
// server's timeouts are short and fixed.
func (rt *Router) ServeMetrics(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", rt.metricsH)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      time.Minute,
		IdleTimeout:       rt.cfg.Timeouts.Idle.Duration,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	err := srv.Close()
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
