package collect

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/controller/autoscale"
)

// On the real router pages: as if chat-0 were the prefill and chat-1 the
// decode instance. Router a routed 36,081 − 6,043.25 prompt tokens in the
// 30 s between its pages, none cached (1,001.26 tok/s); router b's
// counters stood still. The prefill rates are the latest samples': a's
// 4,461.26 and b's 8,853.45, median 6,657.36. Only b had requests open at
// chat-1 (10).
func TestRolesOverTheWindow(t *testing.T) {
	a, b := newFakeRouter(t, "router-a-0.prom"), newFakeRouter(t, "router-b.prom")
	clk := &clock{time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	c := newCollector(map[string]*fakeRouter{"a": a, "b": b}, clk)
	ctx := context.Background()
	prefill, decode := chat[:1], chat[1:]

	c.Scrape(ctx)
	if got := c.Roles([]string{"m"}, prefill, decode); got.UncachedTokensPerSecond != 0 || got.Routers != 2 {
		t.Errorf("one round: %+v; want no token rate yet, 2 routers", got)
	}
	clk.step(30 * time.Second)
	a.serve(t, "router-a-1.prom")
	c.Scrape(ctx)
	got := c.Roles([]string{"m"}, prefill, decode)
	round := func(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }
	got.UncachedTokensPerSecond, got.PrefillRate = round(got.UncachedTokensPerSecond), round(got.PrefillRate)
	want := autoscale.RatioSignals{At: clk.t, Routers: 2, UncachedTokensPerSecond: 1001.26, PrefillRate: 6657.36, DecodeRunning: 10}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("roles (-want +got):\n%s", diff)
	}
}
