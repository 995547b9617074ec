package collect

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/controller/autoscale"
)

// Answers below are written from the Prometheus HTTP API's documented
// formats (prometheus.io/docs/prometheus/latest/querying/api/, "Format
// overview" and "Instant vectors"), not produced by our own code.
func vectorAnswer(value string) string {
	if value == "" {
		return `{"status":"success","data":{"resultType":"vector","result":[]}}`
	}
	return `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1765094400.000,"` + value + `"]}]}}`
}

const errorAnswer = `{"status":"error","errorType":"bad_data","error":"1:6: parse error: unexpected identifier"}`

// fakePrometheus answers each query by the figure its text names.
type fakePrometheus struct {
	answers map[string]string // metric name in the query -> body
	status  int
	seen    []*http.Request
}

func (f *fakePrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.seen = append(f.seen, r)
	q := r.URL.Query().Get("query")
	body := errorAnswer
	for name, b := range f.answers {
		if strings.Contains(q, name) {
			body = b
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.status)
	fmt.Fprint(w, body)
}

func newProm(t *testing.T, f *fakePrometheus, at time.Time) *Prometheus {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	u, err := ParsePrometheusURL(srv.URL + "/prom")
	if err != nil {
		t.Fatal(err)
	}
	return &Prometheus{Base: u, Client: srv.Client(), Window: time.Minute, Timeout: 5 * time.Second, now: func() time.Time { return at }}
}

func TestPrometheusSignals(t *testing.T) {
	at := time.Unix(1765094400, 0)
	full := map[string]string{
		"endpoint_in_flight": vectorAnswer("7"), "endpoint_queued_tokens": vectorAnswer("1200"),
		"flow_queue_length": vectorAnswer("3"), "requests_total{": vectorAnswer("42"),
		"time_to_first_token": vectorAnswer("0.35"), "count(count": vectorAnswer("2"),
	}
	with := func(name, body string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		m[name] = body
		return m
	}
	cases := []struct {
		name    string
		answers map[string]string
		status  int
		want    autoscale.Signals
	}{
		{"every figure; in flight includes the held", full, http.StatusOK, autoscale.Signals{At: at, Routers: 2, InFlight: 10,
			QueuedTokens: 1200, Held: 3, Requests: 42, TTFTP90: 350 * time.Millisecond, HasTTFT: true}},
		{"no TTFT samples in the window: the quantile is NaN", with("time_to_first_token", vectorAnswer("NaN")), http.StatusOK,
			autoscale.Signals{At: at, Routers: 2, InFlight: 10, QueuedTokens: 1200, Held: 3, Requests: 42}},
		{"no series matched: zero, not failure", with("endpoint_in_flight", vectorAnswer("")), http.StatusOK,
			autoscale.Signals{At: at, Routers: 2, InFlight: 3, QueuedTokens: 1200, Held: 3, Requests: 42, TTFTP90: 350 * time.Millisecond, HasTTFT: true}},
		{"a query refused: nothing answered", with("flow_queue_length", errorAnswer), http.StatusBadRequest,
			autoscale.Signals{At: at, Failed: 1}},
		{"a matrix where a vector belongs", with("requests_total{", `{"status":"success","data":{"resultType":"matrix","result":[]}}`), http.StatusOK,
			autoscale.Signals{At: at, Failed: 1}},
		{"two series: the query did not sum", with("endpoint_queued_tokens",
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1,"1"]},{"metric":{"pod":"b"},"value":[1,"2"]}]}}`),
			http.StatusOK, autoscale.Signals{At: at, Failed: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakePrometheus{answers: tc.answers, status: tc.status}
			got := newProm(t, f, at).Signals([]string{"llama.3"}, []string{"ns/pod-0", "ns/pod-1"})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Signals (-want +got):\n%s", diff)
			}
			r := f.seen[0]
			if r.URL.Path != "/prom/api/v1/query" || r.URL.Query().Get("time") != "1765094400.000" {
				t.Errorf("asked %s", r.URL)
			}
		})
	}
}

func TestPrometheusBearerTokenAndQueries(t *testing.T) {
	at := time.Unix(1765094400, 0)
	f := &fakePrometheus{status: http.StatusOK, answers: map[string]string{"tandem_router": vectorAnswer("1")}}
	p := newProm(t, f, at)
	p.TokenFile = filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p.TokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := p.Signals([]string{"m"}, []string{"ns/p"}); got.Routers != 1 || got.Failed != 0 {
		t.Fatalf("Signals = %+v", got)
	}
	q := buildPromQueries([]string{"m"}, []string{"ns/p"}, time.Minute)
	var asked []string
	for _, r := range f.seen {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			t.Errorf("Authorization %q", r.Header.Get("Authorization"))
		}
		asked = append(asked, r.URL.Query().Get("query"))
	}
	if diff := cmp.Diff([]string{q.InFlight, q.Queued, q.Held, q.Requests, q.TTFTP90, q.Routers}, asked); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
	p.TokenFile = filepath.Join(t.TempDir(), "missing")
	if got := p.Signals([]string{"m"}, nil); got.Failed != 1 || got.Routers != 0 {
		t.Errorf("unreadable token: Signals = %+v, want Failed 1", got)
	}
}

func TestPrometheusDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u, _ := ParsePrometheusURL(srv.URL)
	srv.Close()
	p := &Prometheus{Base: u, Client: &http.Client{}, Window: time.Minute, Timeout: time.Second}
	if got := p.Signals([]string{"m"}, nil); got.Failed != 1 || got.Routers != 0 {
		t.Errorf("Signals = %+v, want Failed 1", got)
	}
}

func TestParsePrometheusURL(t *testing.T) {
	for _, bad := range []string{"prometheus:9090", "ftp://p", "http://", "::"} {
		if _, err := ParsePrometheusURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := ParsePrometheusURL("https://prometheus.monitoring.svc:9090/sub"); err != nil {
		t.Error(err)
	}
}
