package schedule

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The other router replicas' reported requests (endpoint.Endpoint.Peers)
// count like the replica's own.
func TestFeaturesCountPeerReplicas(t *testing.T) {
	type peerLoad struct{ inFlight, pending, queued int64 }
	cases := []struct {
		name     string
		ep       *ep
		peers    peerLoad
		wantQ    float64
		wantDec  float64
		wantTTFT float64
	}{
		{name: "peers' queued prefill adds to the queue", ep: endpointNamed("a").cached(100),
			peers: peerLoad{2, 2, 2000}, wantQ: 2000, wantTTFT: 0.2},
		{name: "engine waiting requests that are peers' are not counted twice", ep: endpointNamed("a").cached(100).engine(3, 0, 0.1),
			peers: peerLoad{3, 3, 1536}, wantQ: 1536, wantTTFT: 0.1536},
		{name: "waiting beyond the peers' is priced at the mean request", ep: endpointNamed("a").cached(100).engine(3, 0, 0.1),
			peers: peerLoad{1, 1, 100}, wantQ: 100 + 2*512, wantTTFT: 0.1124},
		{name: "peers' decoding sequences count", ep: endpointNamed("a").cached(100),
			peers: peerLoad{4, 0, 0}, wantDec: 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, eps := world(t, 100, tc.ep)
			eps[0].Peers.InFlight.Store(tc.peers.inFlight)
			eps[0].Peers.Pending.Store(tc.peers.pending)
			eps[0].Peers.QueuedTokens.Store(tc.peers.queued)
			var c Candidate
			features().Fill(&c, req, eps[0], now)
			want := []float64{tc.wantQ, tc.wantDec, tc.wantTTFT}
			if diff := cmp.Diff(want, []float64{c.QueuedTokens, c.Decoding, c.TTFT}, cmpopts.EquateApprox(1e-9, 1e-9)); diff != "" {
				t.Errorf("queued, decoding, TTFT (-want +got):\n%s", diff)
			}
		})
	}
}
