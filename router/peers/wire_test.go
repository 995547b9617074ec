package peers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBatchRoundTrip(t *testing.T) {
	sent := time.Unix(1700000000, 123456789)
	cases := []struct {
		name  string
		batch Batch
	}{
		{"heartbeat: no loads, no chains", Batch{From: "r1", Sent: sent}},
		{"loads and chains sharing an endpoint name", Batch{
			From: "router-0/ab12", Sent: sent,
			Loads: []Load{{Endpoint: "ns/engine-0", InFlight: 3, Pending: 1, QueuedTokens: 900}, {Endpoint: "ns/engine-1", InFlight: 1}},
			Chains: []Chain{
				{Endpoint: "ns/engine-0", Hashes: []uint64{1, 1 << 63, 42}},
				{Endpoint: "ns/engine-2", Hashes: []uint64{7}},
				{Endpoint: "ns/engine-0", Hashes: []uint64{9, 10}},
			},
		}},
		{"snapshot", Batch{From: "r2", Sent: sent, Snapshot: true, Chains: []Chain{{Endpoint: "e", Hashes: []uint64{5, 6}}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.batch.AppendTo(nil))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.batch, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	good := (&Batch{From: "r", Sent: time.Unix(1, 0), Chains: []Chain{{Endpoint: "e", Hashes: []uint64{1, 2}}}}).AppendTo(nil)
	cases := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"bad magic", append([]byte("XXXX"), good[4:]...)},
		{"truncated in a hash", good[:len(good)-3]},
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"a huge count", append([]byte(magic), 1, 'r', 2, 0, 0xff, 0xff, 0xff, 0xff, 0x0f)},
		// from "r", sent 0, flags 0, names ["e"], one load of endpoint 5.
		{"a name index out of range", append([]byte(magic), 1, 'r', 0, 0, 1, 1, 'e', 1, 5, 0, 0, 0, 0)},
		{"the same, in range, is accepted (the case above is not vacuous)", nil},
	}
	for _, tc := range cases[:len(cases)-1] {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(tc.data); err == nil {
				t.Error("Decode accepted it")
			}
		})
	}
	ok := append([]byte(magic), 1, 'r', 0, 0, 1, 1, 'e', 1, 0, 0, 0, 0, 0)
	if _, err := Decode(ok); err != nil {
		t.Errorf("%s: %v", cases[len(cases)-1].name, err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add((&Batch{From: "r", Sent: time.Unix(5, 0), Loads: []Load{{Endpoint: "e", InFlight: 1}},
		Chains: []Chain{{Endpoint: "e", Hashes: []uint64{1}}}}).AppendTo(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Decode(b.AppendTo(nil))
		if err != nil {
			t.Fatalf("re-encoding of an accepted batch does not decode: %v", err)
		}
		if len(again.Chains) != len(b.Chains) || len(again.Loads) != len(b.Loads) {
			t.Fatalf("round trip changed the batch: %+v vs %+v", b, again)
		}
	})
}
