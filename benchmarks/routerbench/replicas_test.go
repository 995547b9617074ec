package routerbench

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

func TestReplicaLabels(t *testing.T) {
	counts, err := ParseReplicas("1, 3,3-alone")
	if err != nil {
		t.Fatal(err)
	}
	labels := replicaLabels([]string{"tandem", "prefix"}, counts)
	if diff := cmp.Diff([]string{"tandem/r1", "tandem/r3", "tandem/r3-alone", "prefix/r1", "prefix/r3", "prefix/r3-alone"}, labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	type split struct {
		Policy string
		R      Replicas
	}
	var got []split
	for _, l := range append(labels[:3], "tandem", "odd/rx") {
		p, r := splitLabel(l)
		got = append(got, split{p, r})
	}
	want := []split{{"tandem", Replicas{N: 1}}, {"tandem", Replicas{N: 3}}, {"tandem", Replicas{N: 3, Alone: true}},
		{"tandem", Replicas{}}, {"odd/rx", Replicas{}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("splitLabel (-want +got):\n%s", diff)
	}
	if _, err := ParseReplicas("1,0"); err == nil {
		t.Error("ParseReplicas accepted 0 replicas")
	}
}

func TestPeersBase(t *testing.T) {
	out, err := peersBase([]byte("policy: x\nprefix: {blockBytes: 32}\npeers: {interval: 10ms}\n"), "127.0.0.1:2", []string{"127.0.0.1:1", "127.0.0.1:2"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := yaml.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"policy": "x", "prefix": map[string]any{"blockBytes": float64(32)},
		"peers": map[string]any{"address": "127.0.0.1:2", "static": []any{"127.0.0.1:1", "127.0.0.1:2"}, "interval": "10ms"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := peersBase([]byte("peers: {static: [x:1]}\n"), "a:1", nil); err == nil {
		t.Error("a base with its own peer list was accepted")
	}
}

func TestFrontRoundRobins(t *testing.T) {
	var urls []string
	for i := range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, i) }))
		defer srv.Close()
		urls = append(urls, srv.URL)
	}
	f, err := StartFront(urls)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got string
	for range 6 {
		resp, err := http.Get(f.URL + "/v1/models")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		got += string(b)
	}
	if got != "012012" {
		t.Errorf("targets in order %q, want 012012", got)
	}
}
