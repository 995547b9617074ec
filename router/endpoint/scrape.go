package endpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tandem-serving/tandem/router/prefix"
	"github.com/tandem-serving/tandem/router/promtext"
)

// EngineMetrics is one scrape of an engine's /metrics.
type EngineMetrics struct {
	At time.Time
	// Waiting and Running are requests queued and in the running batch.
	Waiting, Running float64
	// KVUsage is the used fraction of the KV cache, 0 to 1.
	KVUsage float64
	// CacheTokens is the KV cache size in tokens (0: not reported) and
	// BlockTokens the engine's block size.
	CacheTokens, BlockTokens int
}

// Metric names read from engines. vLLM's older gpu_cache_usage_perc is read
// when kv_cache_usage_perc is absent; SGLang reports its cache size as
// max_total_num_tokens.
const (
	vllmWaiting     = "vllm:num_requests_waiting"
	vllmRunning     = "vllm:num_requests_running"
	vllmKVUsage     = "vllm:kv_cache_usage_perc"
	vllmGPUCache    = "vllm:gpu_cache_usage_perc"
	vllmCacheConfig = "vllm:cache_config_info"
	sglangQueue     = "sglang:num_queue_reqs"
	sglangRunning   = "sglang:num_running_reqs"
	sglangUsage     = "sglang:token_usage"
	sglangMaxTokens = "sglang:max_total_num_tokens"
)

// readMetric says whether ParseMetrics reads the series name.
func readMetric(name []byte) bool {
	switch string(name) {
	case vllmWaiting, vllmRunning, vllmKVUsage, vllmGPUCache, vllmCacheConfig,
		sglangQueue, sglangRunning, sglangUsage, sglangMaxTokens:
		return true
	}
	return false
}

// ParseMetrics reads the engine state from a metrics page of either engine.
// Gauges are summed over label sets (one per served model). found is false
// when the page has none of the load metrics.
func ParseMetrics(text []byte) (m EngineMetrics, found bool) {
	kv, gpuCache := -1.0, -1.0
	promtext.EachNamed(text, readMetric, func(name, labels []byte, v float64) {
		switch string(name) {
		case vllmWaiting, sglangQueue:
			m.Waiting += v
			found = true
		case vllmRunning, sglangRunning:
			m.Running += v
			found = true
		case vllmKVUsage, sglangUsage:
			kv = max(kv, v)
		case vllmGPUCache:
			gpuCache = max(gpuCache, v)
		case vllmCacheConfig:
			bs, _ := promtext.Label(labels, "block_size")
			nb, _ := promtext.Label(labels, "num_gpu_blocks")
			blockTokens, _ := strconv.Atoi(bs)
			blocks, _ := strconv.Atoi(nb)
			if blockTokens > 0 && blocks > 0 {
				m.BlockTokens, m.CacheTokens = blockTokens, blockTokens*blocks
			}
		case sglangMaxTokens:
			if v > 0 {
				m.BlockTokens, m.CacheTokens = 1, int(v)
			}
		}
	})
	switch {
	case kv >= 0:
		m.KVUsage = kv
	case gpuCache >= 0:
		m.KVUsage = gpuCache
	}
	return m, found
}

// ScrapeConfig tunes the scraper.
type ScrapeConfig struct {
	Interval time.Duration
	Timeout  time.Duration
}

// Scraper reads every endpoint's metrics on an interval, one loop an
// endpoint, started and stopped as the registry changes.
type Scraper struct {
	reg    *Registry
	client *http.Client
	cfg    ScrapeConfig
	// OnScrape, if set, hears each scrape's outcome (for metrics).
	OnScrape func(e *Endpoint, err error)

	mu    sync.Mutex
	ctx   context.Context
	loops map[*Endpoint]context.CancelFunc
	wg    sync.WaitGroup
}

// NewScraper returns a scraper of reg's endpoints using client.
func NewScraper(reg *Registry, client *http.Client, cfg ScrapeConfig) *Scraper {
	return &Scraper{reg: reg, client: client, cfg: cfg, loops: map[*Endpoint]context.CancelFunc{}}
}

// Run scrapes until ctx ends.
func (s *Scraper) Run(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	s.reg.OnChange(s.change)
	s.change(s.reg.Snapshot().All, nil)
	<-ctx.Done()
	s.wg.Wait()
}

func (s *Scraper) change(added, removed []*Endpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil || s.ctx.Err() != nil {
		return
	}
	for _, e := range removed {
		if cancel := s.loops[e]; cancel != nil {
			cancel()
			delete(s.loops, e)
		}
	}
	for _, e := range added {
		if _, ok := s.loops[e]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(s.ctx)
		s.loops[e] = cancel
		s.wg.Add(1)
		go s.loop(ctx, e)
	}
}

func (s *Scraper) loop(ctx context.Context, e *Endpoint) {
	defer s.wg.Done()
	var buf bytes.Buffer
	// A random phase spreads the scrapes of many endpoints over the interval.
	wait := time.Duration(rand.Int64N(int64(s.cfg.Interval) + 1))
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = s.cfg.Interval
		err := s.scrape(ctx, e, &buf)
		if err == nil && len(e.ServedModels()) == 0 {
			if err = s.fetchModels(ctx, e); err == nil {
				s.reg.Refresh()
			}
		}
		if s.OnScrape != nil && ctx.Err() == nil {
			s.OnScrape(e, err)
		}
	}
}

func (s *Scraper) get(ctx context.Context, url string, buf *bytes.Buffer) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, 16<<20))
	return err
}

func (s *Scraper) scrape(ctx context.Context, e *Endpoint, buf *bytes.Buffer) error {
	if err := s.get(ctx, e.BaseURL+"/metrics", buf); err != nil {
		return err
	}
	m, found := ParseMetrics(buf.Bytes())
	if !found {
		return fmt.Errorf("%s/metrics: no vLLM or SGLang load metrics", e.BaseURL)
	}
	m.At = time.Now()
	e.SetEngine(m)
	if m.CacheTokens > 0 {
		o := &s.reg.opts
		e.Index.Resize(prefix.Capacity(m.CacheTokens, 1, o.BytesPerToken, o.BlockBytes))
	}
	return nil
}

func (s *Scraper) fetchModels(ctx context.Context, e *Endpoint) error {
	var buf bytes.Buffer
	if err := s.get(ctx, e.BaseURL+"/v1/models", &buf); err != nil {
		return err
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(buf.Bytes(), &list); err != nil {
		return fmt.Errorf("%s/v1/models: %w", e.BaseURL, err)
	}
	models := make([]string, 0, len(list.Data))
	for _, d := range list.Data {
		models = append(models, d.ID)
	}
	e.models.Store(&models)
	return nil
}
