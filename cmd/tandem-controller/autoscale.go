package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/tandem-serving/tandem/controller"
	"github.com/tandem-serving/tandem/controller/autoscale/collect"
)

// autoscaleFlags configure the autoscaler and its router scraping.
type autoscaleFlags struct {
	interval, window time.Duration
	selector, ns     string
	port             int
	urls             string
	prometheus       string
	promToken        string
}

func (f *autoscaleFlags) register() {
	flag.DurationVar(&f.interval, "autoscale-interval", 15*time.Second, "how often the routers are scraped and each autoscaled ServingGroup decided")
	flag.DurationVar(&f.window, "autoscale-window", time.Minute, "span over which p90 TTFT and request counts are measured")
	flag.StringVar(&f.selector, "autoscale-router-selector", "app.kubernetes.io/name=tandem-router", "label selector of the router pods to scrape (each pod is one replica; empty: no pods)")
	flag.StringVar(&f.ns, "autoscale-router-namespace", "", "namespace of the router pods (default: all)")
	flag.IntVar(&f.port, "autoscale-router-metrics-port", 9090, "router metrics port for pods without a container port named metrics")
	flag.StringVar(&f.urls, "autoscale-router-urls", "", "comma-separated router /metrics URLs scraped besides the pods (routers outside the cluster)")
	flag.StringVar(&f.prometheus, "autoscale-prometheus-url", "", "a Prometheus server that scrapes the routers: the group signals come from its query API instead of scraping the routers (prefill/decode role signals are still scraped)")
	flag.StringVar(&f.promToken, "autoscale-prometheus-bearer-token-file", "", "file with a bearer token for --autoscale-prometheus-url, read every round")
}

// check refuses flags that cannot work, before the controller connects.
func (f *autoscaleFlags) check() error {
	if f.interval < time.Second || f.window < f.interval {
		return errors.New("--autoscale-interval must be at least 1s and --autoscale-window at least the interval")
	}
	if f.prometheus == "" && f.promToken != "" {
		return errors.New("--autoscale-prometheus-bearer-token-file needs --autoscale-prometheus-url")
	}
	if f.prometheus != "" {
		if _, err := collect.ParsePrometheusURL(f.prometheus); err != nil {
			return fmt.Errorf("--autoscale-prometheus-url: %w", err)
		}
	}
	return nil
}

func (f *autoscaleFlags) setup(mgr ctrl.Manager) error {
	if err := f.check(); err != nil {
		return err
	}
	var sources []func(context.Context) ([]collect.Target, error)
	if f.selector != "" {
		sel, err := labels.Parse(f.selector)
		if err != nil {
			return fmt.Errorf("--autoscale-router-selector: %w", err)
		}
		sources = append(sources, collect.PodTargets{Client: mgr.GetClient(), Namespace: f.ns, Selector: sel, Port: int32(f.port)}.Targets)
	}
	if f.urls != "" {
		sources = append(sources, collect.Static(strings.Split(f.urls, ",")))
	}
	c := &collect.Collector{
		Targets: collect.Join(sources...), Client: &http.Client{}, Interval: f.interval, Window: f.window, MaxBytes: 8 << 20,
	}
	if err := mgr.Add(c); err != nil {
		return err
	}
	signals := c.Signals
	if f.prometheus != "" {
		base, err := collect.ParsePrometheusURL(f.prometheus)
		if err != nil {
			return fmt.Errorf("--autoscale-prometheus-url: %w", err)
		}
		signals = (&collect.Prometheus{Base: base, Client: &http.Client{}, Window: f.window,
			Timeout: min(f.interval, 5*time.Second), TokenFile: f.promToken}).Signals
	}
	a := &controller.Autoscaler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorderFor("tandem-autoscaler"),
		Signals: signals, RoleSignals: c.Roles, Interval: f.interval,
		EngineITL: (&collect.Engines{Client: &http.Client{}, Window: f.window, Timeout: min(f.interval, 5*time.Second), MaxBytes: 8 << 20}).Group,
	}
	return a.SetupWithManager(mgr)
}
