package collect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-serving/tandem/controller/autoscale"
)

// Prometheus answers Signals from a Prometheus server that already
// scrapes the routers, instead of scraping them itself: one instant query
// per figure (promql.go) to the HTTP API's /api/v1/query, each summed over
// every router replica by the query's sum. A query that fails, or an
// answer that is not a vector, makes the whole round count as no router
// answered (Routers 0, Failed 1), so the decision holds (step 2 of
// controller/autoscale/doc.go) rather than act on part of the figures.
//
// The response format is Prometheus' documented one
// (prometheus.io/docs/prometheus/latest/querying/api/, "Instant queries"
// and "Expression query result formats"): {"status":"success","data":
// {"resultType":"vector","result":[{"metric":{...},"value":[<unix
// time>,"<value>"]}]}}, or {"status":"error","errorType":...,"error":...}.
//
// The queries run when Signals is called, inside the autoscaler's
// round, each bounded by Timeout: Prometheus keeps the history, so there
// is no sample window to hold here and no background loop.
type Prometheus struct {
	// Base is the server's URL (e.g. http://prometheus.monitoring:9090).
	Base   *url.URL
	Client *http.Client
	// Window is the span of the request count and the TTFT quantile.
	Window  time.Duration
	Timeout time.Duration
	// TokenFile, when set, holds a bearer token read for every round.
	TokenFile string
	now       func() time.Time
}

// ParsePrometheusURL checks a --autoscale-prometheus-url value.
func ParsePrometheusURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q: want http(s)://host[:port][/path] of a Prometheus server", raw)
	}
	return u, nil
}

// Signals returns one group's figures as Prometheus has them now.
func (p *Prometheus) Signals(models, endpoints []string) autoscale.Signals {
	now := time.Now()
	if p.now != nil {
		now = p.now()
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.Timeout)
	defer cancel()
	sig, err := p.signals(ctx, now, buildPromQueries(models, endpoints, p.Window))
	if err != nil {
		return autoscale.Signals{At: now, Failed: 1}
	}
	return sig
}

func (p *Prometheus) signals(ctx context.Context, now time.Time, q promQueries) (autoscale.Signals, error) {
	token := ""
	if p.TokenFile != "" {
		b, err := os.ReadFile(p.TokenFile)
		if err != nil {
			return autoscale.Signals{}, err
		}
		token = strings.TrimSpace(string(b))
	}
	var v [6]float64
	for i, expr := range []string{q.InFlight, q.Queued, q.Held, q.Requests, q.TTFTP90, q.Routers} {
		x, err := p.scalar(ctx, now, token, expr)
		if err != nil {
			return autoscale.Signals{}, fmt.Errorf("%s: %w", expr, err)
		}
		v[i] = x
	}
	sig := autoscale.Signals{At: now, Routers: int(zeroIfNaN(v[5])), InFlight: zeroIfNaN(v[0]),
		QueuedTokens: zeroIfNaN(v[1]), Held: zeroIfNaN(v[2]), Requests: zeroIfNaN(v[3])}
	sig.InFlight += sig.Held
	if q90 := v[4]; !math.IsNaN(q90) && !math.IsInf(q90, 0) {
		sig.TTFTP90, sig.HasTTFT = time.Duration(q90*float64(time.Second)), true
	}
	return sig, nil
}

// promAnswer is the API's envelope for an instant query.
type promAnswer struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Value [2]json.RawMessage `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

// scalar runs one instant query whose answer is a vector of at most one
// sample and returns its value; an empty vector is NaN (nothing matched).
func (p *Prometheus) scalar(ctx context.Context, now time.Time, token, expr string) (float64, error) {
	u := p.Base.JoinPath("api/v1/query")
	u.RawQuery = url.Values{"query": {expr}, "time": {strconv.FormatFloat(float64(now.UnixMilli())/1000, 'f', 3, 64)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	var a promAnswer
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&a); err != nil {
		return 0, fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
	}
	switch {
	case a.Status != "success":
		return 0, fmt.Errorf("HTTP %d: %s: %s", resp.StatusCode, a.ErrorType, a.Error)
	case a.Data.ResultType != "vector":
		return 0, fmt.Errorf("result type %q, want vector", a.Data.ResultType)
	case len(a.Data.Result) == 0:
		return math.NaN(), nil
	case len(a.Data.Result) > 1:
		return 0, errors.New("more than one series; the query should sum them")
	}
	var text string
	if err := json.Unmarshal(a.Data.Result[0].Value[1], &text); err != nil {
		return 0, fmt.Errorf("sample value: %w", err)
	}
	return strconv.ParseFloat(text, 64) // Prometheus writes NaN and ±Inf as "NaN", "+Inf", "-Inf"
}

func zeroIfNaN(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return x
}
