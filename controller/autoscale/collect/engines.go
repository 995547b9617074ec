package collect

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/autoscale"
	"github.com/tandem-serving/tandem/router/promtext"
)

// The engines' inter-token latency histograms, first match wins per page:
// vLLM's (vllm/v1/metrics/loggers.py; the older name
// vllm:time_per_output_token_seconds before it) and SGLang's
// (python/sglang/srt/metrics/collector.py), both read in stored copies of
// the projects' sources of late 2025, not pinned to a tag. tandem-sim
// serves the vLLM name.
var itlSeries = []string{
	"vllm:inter_token_latency_seconds_bucket",
	"sglang:inter_token_latency_seconds_bucket",
	"vllm:time_per_output_token_seconds_bucket",
}

// Engines measures the p90 inter-token latency of a group's engines: the
// routers see whole streams, not the engines' token steps, so the ITL
// target is read from the engines themselves. It scrapes when asked (once
// per decision of a group with an ITL target) and keeps, per engine, the
// samples the window needs; like the router samples they are
// measurements, and a restart only loses the first window.
type Engines struct {
	Client *http.Client
	// Window is the span the p90 is measured over; Timeout bounds one
	// engine's scrape.
	Window, Timeout time.Duration
	MaxBytes        int64
	Now             func() time.Time

	mu   sync.Mutex
	seen map[string][]engineSample // by target name, oldest first
}

type engineSample struct {
	at  time.Time
	itl []autoscale.Bucket
}

// ITL scrapes targets (the group's serving engines) and returns the p90
// of the tokens they produced since the newest sample at least a window
// old (or their oldest kept), summed over engines. An engine seen for the
// first time counts as answered but adds no tokens until its next scrape.
func (e *Engines) ITL(ctx context.Context, targets []Target) autoscale.ITL {
	now := e.now()
	got := make([][]autoscale.Bucket, len(targets))
	ok := make([]bool, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, err := fetchPage(ctx, e.Client, tg.URL, e.Timeout, e.MaxBytes)
			if err == nil {
				got[i], ok[i] = parseITL(body), true
			}
		}()
	}
	wg.Wait()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.seen == nil {
		e.seen = map[string][]engineSample{}
	}
	var res autoscale.ITL
	var deltas [][]autoscale.Bucket
	for i, tg := range targets {
		if !ok[i] {
			res.Failed++
			continue
		}
		res.Engines++
		e.seen[tg.Name] = pruneEngine(append(e.seen[tg.Name], engineSample{at: now, itl: got[i]}), now, e.Window)
		s := e.seen[tg.Name]
		if len(s) > 1 {
			deltas = append(deltas, autoscale.Delta(s[len(s)-1].itl, s[0].itl))
		}
	}
	// Engines not asked about for two windows are gone (scaled down, or
	// their group lost its ITL target).
	for name, s := range e.seen {
		if last := s[len(s)-1].at; now.Sub(last) > 2*e.Window {
			delete(e.seen, name)
		}
	}
	if q, found := autoscale.Quantile(0.9, autoscale.Sum(deltas...)); found {
		res.P90, res.OK = time.Duration(q*float64(time.Second)), true
	}
	return res
}

// Group measures one ServingGroup's engines (EngineTargets of its pods):
// the Autoscaler's EngineITL.
func (e *Engines) Group(ctx context.Context, sg *v1alpha1.ServingGroup, pods []corev1.Pod) autoscale.ITL {
	return e.ITL(ctx, EngineTargets(sg, pods))
}

func pruneEngine(s []engineSample, now time.Time, window time.Duration) []engineSample {
	keep := 0
	for i := range s {
		if !s[i].at.After(now.Add(-window)) {
			keep = i
		}
	}
	return s[keep:]
}

func (e *Engines) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// parseITL sums the first ITL histogram family found on an engine's page
// over its labels (model, engine index), by bucket bound.
func parseITL(text []byte) []autoscale.Bucket {
	byName := map[string]map[float64]float64{}
	promtext.Each(text, func(name, labels []byte, v float64) {
		n := string(name)
		if !isITLSeries(n) {
			return
		}
		le, ok := promtext.Label(labels, "le")
		if !ok {
			return
		}
		ub, err := strconv.ParseFloat(le, 64)
		if err != nil {
			return
		}
		if byName[n] == nil {
			byName[n] = map[float64]float64{}
		}
		byName[n][ub] += v
	})
	for _, n := range itlSeries {
		if b := byName[n]; b != nil {
			out := make([]autoscale.Bucket, 0, len(b))
			for ub, c := range b {
				out = append(out, autoscale.Bucket{UpperBound: ub, Count: c})
			}
			return autoscale.Sum(out) // sorted by bound
		}
	}
	return nil
}

func isITLSeries(name string) bool {
	for _, n := range itlSeries {
		if n == name {
			return true
		}
	}
	return false
}

// EngineTargets are the metrics pages of a group's serving engines: the
// leader (rank 0) of every running instance with an IP, of the decode
// role when the group has one (its ITL is the one clients see), else of
// every role. The page is the engine's own port (vLLM and SGLang serve
// /metrics beside the API).
func EngineTargets(sg *v1alpha1.ServingGroup, pods []corev1.Pod) []Target {
	port := sg.Spec.Engine.Port
	if port == 0 {
		port = defaultEnginePort
	}
	decodeOnly := false
	for _, r := range sg.Spec.Roles {
		decodeOnly = decodeOnly || r.Name == roleDecode
	}
	var out []Target
	for i := range pods {
		p := &pods[i]
		if rank := p.Labels[v1alpha1.LabelRank]; rank != "" && rank != "0" {
			continue
		}
		if decodeOnly && p.Labels[v1alpha1.LabelRole] != roleDecode {
			continue
		}
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || p.DeletionTimestamp != nil {
			continue
		}
		out = append(out, Target{
			Name: p.Namespace + "/" + p.Name,
			URL:  "http://" + net.JoinHostPort(p.Status.PodIP, strconv.Itoa(int(port))) + "/metrics",
		})
	}
	return out
}

// roleDecode is the role name the router treats as decode
// (router/endpoint.RoleFromName).
const roleDecode = "decode"

// defaultEnginePort is the ServingGroup API's default engine port.
const defaultEnginePort = 8000
