// Command tandem-router is Tandem's OpenAI-compatible request router: it
// sends each completion request to the engine that holds its prompt prefix
// unless that engine's queue makes a cold one faster. See package
// github.com/tandem-serving/tandem/router and router/README.md.
//
//	tandem-router --endpoints=endpoints.yaml
//	tandem-router --config=router.yaml --kubernetes --namespace=serving
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/tandem-serving/tandem/router"
	"github.com/tandem-serving/tandem/router/discovery"
	"github.com/tandem-serving/tandem/router/schedule"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tandem-router:", err)
		os.Exit(1)
	}
}

// registerPlugins lists, explicitly, every scheduling plugin this binary
// offers to the config's profile.
func registerPlugins() *schedule.Plugins {
	p := schedule.NewPlugins()
	schedule.RegisterFilter(p, "healthy", schedule.NewHealthyFilter)
	schedule.RegisterFilter(p, "saturation", schedule.NewSaturationFilter)
	schedule.RegisterFilter(p, "utilization", schedule.NewUtilizationFilter)
	schedule.RegisterFilter(p, "prefix-affinity", schedule.NewPrefixAffinityFilter)
	schedule.RegisterFilter(p, "waiting", schedule.NewWaitingFilter)
	schedule.RegisterScorer(p, "prefix", schedule.NewPrefixScorer)
	schedule.RegisterScorer(p, "least-request", schedule.NewLeastRequestScorer)
	schedule.RegisterScorer(p, "queue", schedule.NewQueueScorer)
	schedule.RegisterScorer(p, "kv-usage", schedule.NewKVUsageScorer)
	schedule.RegisterScorer(p, "ttft", schedule.NewTTFTScorer)
	schedule.RegisterScorer(p, "cost", schedule.NewCostScorer)
	schedule.RegisterScorer(p, "same-unit", schedule.NewSameUnitScorer)
	schedule.RegisterScorer(p, "queue-depth", schedule.NewQueueDepthScorer)
	schedule.RegisterScorer(p, "load", schedule.NewLoadScorer)
	schedule.RegisterPicker(p, "max-score", schedule.NewMaxScorePicker)
	schedule.RegisterPicker(p, "affinity", schedule.NewAffinityPicker)
	schedule.RegisterPicker(p, "random", schedule.NewRandomPicker)
	schedule.RegisterPicker(p, "round-robin", schedule.NewRoundRobinPicker)
	return p
}

type flags struct {
	config, listen, metrics, endpoints, policy, namespace, kubeconfig string
	pprofAddr                                                         string
	kubernetes                                                        bool
}

func parseFlags() flags {
	var f flags
	flag.StringVar(&f.config, "config", "", "YAML configuration file (router/README.md); flags override it")
	flag.StringVar(&f.listen, "listen", "", "address of the API and /health (default :8080)")
	flag.StringVar(&f.metrics, "metrics-address", "", `address of /metrics (default :9090); "api" serves it on the API listener`)
	flag.StringVar(&f.endpoints, "endpoints", "", "static endpoints file, reread when it changes or on SIGHUP")
	flag.BoolVar(&f.kubernetes, "kubernetes", false, "discover endpoints from ServingGroups and their pods")
	flag.StringVar(&f.namespace, "namespace", "", "with --kubernetes: the namespace whose ServingGroups serve (default the router's own)")
	flag.StringVar(&f.kubeconfig, "kubeconfig", "", "with --kubernetes: kubeconfig file (default in-cluster)")
	flag.StringVar(&f.policy, "policy", "", "routing policy: random, round-robin, least-request, prefix, tandem, or a peer baseline: llm-d, llm-d-sticky, kthena (router/schedule/baselines.go)")
	flag.StringVar(&f.pprofAddr, "pprof-addr", "", "address of Go's /debug/pprof/ profiles (off by default; for profiling the router, never expose it)")
	klog.InitFlags(nil)
	flag.Parse()
	return f
}

func loadConfig(f flags) (router.Config, error) {
	cfg := router.DefaultConfig()
	if f.config != "" {
		var err error
		if cfg, err = router.LoadConfig(f.config); err != nil {
			return cfg, err
		}
	}
	if f.listen != "" {
		cfg.Listen = f.listen
	}
	switch f.metrics {
	case "":
	case "api":
		cfg.Metrics.Address = ""
	default:
		cfg.Metrics.Address = f.metrics
	}
	if f.policy != "" {
		cfg.Policy, cfg.Profile = f.policy, nil
	}
	switch {
	case f.endpoints != "" && f.kubernetes:
		return cfg, errors.New("use --endpoints or --kubernetes, not both")
	case f.endpoints != "":
		cfg.Discovery = router.DiscoveryConfig{Static: &router.StaticConfig{File: f.endpoints}}
	case f.kubernetes:
		k := &router.KubernetesConfig{Namespace: f.namespace, Kubeconfig: f.kubeconfig}
		if cfg.Discovery.Kubernetes != nil { // the file's settings stand unless a flag names them
			k.SharedModels = cfg.Discovery.Kubernetes.SharedModels
			k.Namespace = cmp.Or(k.Namespace, cfg.Discovery.Kubernetes.Namespace)
			k.Kubeconfig = cmp.Or(k.Kubeconfig, cfg.Discovery.Kubernetes.Kubeconfig)
		}
		cfg.Discovery = router.DiscoveryConfig{Kubernetes: k}
	}
	if cfg.Discovery.Static == nil && cfg.Discovery.Kubernetes == nil {
		return cfg, errors.New("no discovery: give --endpoints, --kubernetes, or discovery in --config")
	}
	return cfg, cfg.Validate()
}

func run() error {
	f := parseFlags()
	cfg, err := loadConfig(f)
	if err != nil {
		return err
	}
	log := klog.Background()
	if f.pprofAddr != "" {
		if err := servePprof(f.pprofAddr, log); err != nil {
			return err
		}
	}
	rt, err := router.New(cfg, router.Options{Plugins: registerPlugins(), Logger: log})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 4)
	go rt.Run(ctx)
	if err := startDiscovery(ctx, cfg.Discovery, rt, errc); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	log.Info("tandem-router serving", "address", ln.Addr().String(), "policy", cfg.Policy)
	go func() { errc <- rt.Serve(ctx, ln, 30*time.Second) }()
	if cfg.Metrics.Address != "" {
		mln, err := net.Listen("tcp", cfg.Metrics.Address)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		log.Info("tandem-router metrics", "address", mln.Addr().String())
		go func() { // only a failure: the API's drain decides when run returns
			if err := rt.ServeMetrics(ctx, mln); err != nil {
				errc <- fmt.Errorf("metrics listener: %w", err)
			}
		}()
	}
	if cfg.Peers.Address != "" {
		pln, err := net.Listen("tcp", cfg.Peers.Address)
		if err != nil {
			return fmt.Errorf("peers listener: %w", err)
		}
		log.Info("tandem-router peer exchange", "address", pln.Addr().String())
		go func() {
			if err := rt.ServePeers(ctx, pln); err != nil {
				errc <- fmt.Errorf("peers listener: %w", err)
			}
		}()
	}
	select {
	case err = <-errc:
		stop()
	case <-ctx.Done():
		err = <-errc
	}
	return err
}

// servePprof serves Go's runtime profiles on a listener of their own, so
// the API and metrics ports never expose them.
func servePprof(addr string, log klog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("tandem-router pprof", "address", ln.Addr().String())
	go func() { _ = (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(ln) }()
	return nil
}

func startDiscovery(ctx context.Context, d router.DiscoveryConfig, rt *router.Router, errc chan<- error) error {
	log := klog.Background().WithName("discovery")
	if d.Static != nil {
		s := &discovery.Static{Path: d.Static.File, Interval: d.Static.PollInterval.Duration, Sink: rt.Registry(), Log: log}
		if err := s.Load(); err != nil {
			return err
		}
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		reload := make(chan struct{}, 1)
		go func() {
			for range hup {
				reload <- struct{}{}
			}
		}()
		go func() { errc <- s.Run(ctx, reload) }()
		return nil
	}
	restCfg, err := kubeConfig(d.Kubernetes.Kubeconfig)
	if err != nil {
		return err
	}
	ns := d.Kubernetes.Namespace
	if ns == "" {
		if ns, err = discovery.OwnNamespace(); err != nil {
			return err
		}
	}
	k := &discovery.Kubernetes{Config: restCfg, Namespace: ns, Shared: d.Kubernetes.SharedModels, Sink: rt.Registry(), Models: rt, Log: log}
	go func() {
		if err := k.Run(ctx); err != nil {
			errc <- err
		}
	}()
	return nil
}

func kubeConfig(path string) (*rest.Config, error) {
	if path == "" {
		return rest.InClusterConfig()
	}
	return clientcmd.BuildConfigFromFlags("", path)
}
