package router

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/peers"
)

// PeersConfig makes router replicas share their prefix knowledge and load
// (package peers). Off unless address is set.
type PeersConfig struct {
	// Address is the exchange's own listener (e.g. ":9091"); "" turns the
	// exchange off.
	Address string `json:"address"`
	// Static are the other replicas' exchange addresses, host:port; this
	// replica's own address may be among them.
	Static []string `json:"static"`
	// Service is a DNS name resolving to every replica, the router's
	// headless Service (tandem-router-peers.<ns>.svc.cluster.local); each
	// address is contacted at address's port.
	Service string `json:"service"`
	// Resolve is how often Service is looked up again (default 5s).
	Resolve Duration `json:"resolve"`
	// Interval is the push period (default 25ms).
	Interval Duration `json:"interval"`
	// TTL is how long a replica's reported load counts after its last
	// batch (default 1s).
	TTL Duration `json:"ttl"`
	// TokenFile holds a shared token every replica must present.
	TokenFile string `json:"tokenFile"`
}

// validate checks the peers section.
func (p *PeersConfig) validate() []error {
	if p.Address == "" {
		return nil
	}
	var errs []error
	if _, port, err := net.SplitHostPort(p.Address); err != nil {
		errs = append(errs, fmt.Errorf("peers.address %q: want host:port or :port", p.Address))
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		errs = append(errs, fmt.Errorf("peers.address %q: want a fixed port, the one peers dial", p.Address))
	}
	for _, a := range p.Static {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("peers.static %q: want host:port", a))
		}
	}
	if len(p.Static) == 0 && p.Service == "" {
		errs = append(errs, errors.New("peers: set static or service, or leave peers.address empty"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"resolve", p.Resolve.Duration}, {"interval", p.Interval.Duration}, {"ttl", p.TTL.Duration}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("peers.%s %s: must not be negative", d.name, d.v))
		}
	}
	if p.TTL.Duration > 0 && p.TTL.Duration < 2*max(p.Interval.Duration, peers.DefaultInterval) {
		errs = append(errs, fmt.Errorf("peers.ttl %s: must be at least two intervals", p.TTL))
	}
	return errs
}

// peerHook is the registry's insertion hook: nil without peers, so a lone
// replica's index has no observer.
func (rt *Router) peerHook() func(*endpoint.Endpoint, []uint64) {
	if rt.cfg.Peers.Address == "" {
		return nil
	}
	return func(e *endpoint.Endpoint, h []uint64) { rt.peers.Record(e, h) }
}

// newPeers builds the exchange when peers.address is set.
func (rt *Router) newPeers() error {
	p := &rt.cfg.Peers
	if p.Address == "" {
		return nil
	}
	var token string
	if p.TokenFile != "" {
		b, err := os.ReadFile(p.TokenFile)
		if err != nil {
			return fmt.Errorf("peers.tokenFile: %w", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return fmt.Errorf("peers.tokenFile %s is empty", p.TokenFile)
		}
	}
	_, port, _ := net.SplitHostPort(p.Address)
	n, _ := strconv.Atoi(port)
	rt.peers = peers.New(peers.Config{
		Static: p.Static, Service: p.Service, Port: n, Resolve: p.Resolve.Duration,
		Interval: p.Interval.Duration, TTL: p.TTL.Duration, Token: token,
	}, rt.reg, rt.log.WithName("peers"))
	return rt.metrics.Registry().Register(rt.peers.Collector())
}

// runPeers runs the exchange until ctx ends; without peers it returns.
func (rt *Router) runPeers(ctx context.Context) {
	if rt.peers != nil {
		rt.peers.Run(ctx)
	}
}

// ServePeers answers the peer exchange on ln, the listener of
// peers.address, until ctx ends. Batches are small and frequent, so the
// timeouts are short and connections kept alive.
func (rt *Router) ServePeers(ctx context.Context, ln net.Listener) error {
	if rt.peers == nil {
		return errors.New("peers.address is not set")
	}
	srv := &http.Server{
		Handler:           rt.peers,
		ReadHeaderTimeout: 5 * time.Second,
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
