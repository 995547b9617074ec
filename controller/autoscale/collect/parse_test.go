package collect

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Both kinds of requests a router holds are demand for their model: those
// its flow control queues while endpoints are busy, and those it holds
// while the model has no ready endpoint at all (scale from zero).
func TestParseHeldCountsBothQueues(t *testing.T) {
	page := []byte(`# TYPE tandem_router_flow_queue_length gauge
tandem_router_flow_queue_length{model="llama"} 2
# TYPE tandem_router_scale_from_zero_held_requests gauge
tandem_router_scale_from_zero_held_requests{model="llama"} 3
tandem_router_scale_from_zero_held_requests{model="qwen"} 1
tandem_router_scale_from_zero_held_requests 7
`)
	got := parse(page).held
	want := map[string]float64{"llama": 5, "qwen": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("held by model (-want +got):\n%s", diff)
	}
}
