package autoscalebench

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

// podWrapper builds the pods the sampler lists.
type podWrapper struct{ corev1.Pod }

func makePod(name string) *podWrapper {
	return &podWrapper{corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}}
}

func (w *podWrapper) serving() *podWrapper      { w.Labels["group"] = "chat"; return w }
func (w *podWrapper) gang(g string) *podWrapper { w.Labels["gang"] = g; return w }
func (w *podWrapper) gpus(n int64) *podWrapper {
	w.Spec.Containers[0].Resources.Requests = corev1.ResourceList{gpuResource: *resource.NewQuantity(n, resource.DecimalSI)}
	return w
}
func (w *podWrapper) on(node string, phase corev1.PodPhase) *podWrapper {
	w.Spec.NodeName, w.Status.Phase = node, phase
	return w
}
func (w *podWrapper) ready() *podWrapper {
	w.Status.Conditions = append(w.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
	return w
}
func (w *podWrapper) deleting() *podWrapper {
	now := metav1.Now()
	w.DeletionTimestamp = &now
	return w
}
func (w *podWrapper) obj() corev1.Pod { return *w.DeepCopy() }

func TestTakeSnapshot(t *testing.T) {
	cases := []struct {
		name    string
		pods    []corev1.Pod
		sizes   map[string]int
		retired map[string]bool
		want    snapshot
	}{
		{
			name: "serving pods count bound GPUs, ready ones units serving",
			pods: []corev1.Pod{
				makePod("u0").serving().gpus(2).on("n0", corev1.PodRunning).ready().obj(),
				makePod("u1").serving().gpus(2).on("n1", corev1.PodRunning).obj(),
				makePod("u2").serving().gpus(2).obj(), // pending: holds nothing
				makePod("u3").serving().gpus(2).on("n1", corev1.PodRunning).ready().deleting().obj(),
			},
			want: snapshot{ServingGPUs: 6, Units: 3, ReadyUnits: 1},
		},
		{
			name: "a whole gang and a waiting one are not partial",
			pods: []corev1.Pod{
				makePod("a0").gang("a").gpus(2).on("n0", corev1.PodRunning).obj(),
				makePod("a1").gang("a").gpus(2).on("n0", corev1.PodPending).obj(), // bound, kwok not yet Running
				makePod("b0").gang("b").gpus(2).obj(),
				makePod("b1").gang("b").gpus(2).obj(),
			},
			sizes: map[string]int{"a": 2, "b": 2},
			want:  snapshot{BatchGPUs: 4},
		},
		{
			name: "a gang with one pod of two bound is partial",
			pods: []corev1.Pod{
				makePod("a0").gang("a").gpus(2).on("n0", corev1.PodRunning).obj(),
				makePod("a1").gang("a").gpus(2).obj(),
			},
			sizes: map[string]int{"a": 2},
			want:  snapshot{BatchGPUs: 2, Partial: []string{"a"}},
		},
		{
			name: "an evicted gang's surviving pod is partial, a terminating one is not counted as placed",
			pods: []corev1.Pod{
				makePod("a0").gang("a").gpus(2).on("n0", corev1.PodRunning).obj(),
				makePod("c0").gang("c").gpus(2).on("n1", corev1.PodRunning).deleting().obj(),
				makePod("c1").gang("c").gpus(2).on("n1", corev1.PodRunning).deleting().obj(),
			},
			sizes: map[string]int{"a": 2, "c": 2},
			want:  snapshot{BatchGPUs: 6, Partial: []string{"a"}},
		},
		{
			name: "a gang the run is retiring is not judged",
			pods: []corev1.Pod{
				makePod("a0").gang("a").gpus(2).on("n0", corev1.PodRunning).obj(),
			},
			sizes:   map[string]int{"a": 2},
			retired: map[string]bool{"a": true},
			want:    snapshot{BatchGPUs: 2},
		},
		{
			name: "finished pods hold no GPUs",
			pods: []corev1.Pod{
				makePod("u0").serving().gpus(2).on("n0", corev1.PodSucceeded).obj(),
				makePod("a0").gang("a").gpus(4).on("n0", corev1.PodFailed).obj(),
			},
			want: snapshot{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := takeSnapshot(tc.pods, "group", "gang", tc.sizes, tc.retired)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("snapshot (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBurstToCapacity(t *testing.T) {
	c := Curve{Day: 100, Trough: 10, Peak: 10, Bursts: []float64{10, 50}, BurstFactor: 3, BurstRamp: 5, BurstHold: 10}
	need := func(rate float64) int { return unitsNeeded(rate, 10) } // 30 req/s at the peak: 3 units
	ramp := func(at map[int]int) []int {
		out := make([]int, 100)
		level := 1
		for t := range out {
			if v, ok := at[t]; ok {
				level = v
			}
			out[t] = level
		}
		return out
	}
	cases := []struct {
		name  string
		ready []int
		want  []int
	}{
		{"already there", ramp(map[int]int{0: 3}), []int{0, 0}},
		{"reached 7 s and 12 s in", ramp(map[int]int{17: 3, 30: 1, 62: 4}), []int{7, 12}},
		{"second never within the burst", ramp(map[int]int{12: 3, 40: 1, 71: 3}), []int{2, -1}},
		{"samples end early", ramp(map[int]int{})[:20], []int{-1, -1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, burstToCapacity(tc.ready, c, need)); diff != "" {
				t.Errorf("burst→capacity (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnitsNeeded(t *testing.T) {
	cases := []struct {
		rate, unitRate float64
		want           int
	}{
		{0, 3, 1}, {3, 3, 1}, {3.01, 3, 2}, {30, 3, 10}, {0.3 * 10, 0.3, 10},
	}
	for _, tc := range cases {
		if got := unitsNeeded(tc.rate, tc.unitRate); got != tc.want {
			t.Errorf("unitsNeeded(%v, %v) = %d, want %d", tc.rate, tc.unitRate, got, tc.want)
		}
	}
}

func TestArrivalOffsetsFollowTheCurve(t *testing.T) {
	c := Curve{Day: 2000, Trough: 5, Peak: 20, Bursts: []float64{1000}, BurstFactor: 3, BurstRamp: 30, BurstHold: 100}
	a, b := arrivalOffsets(c, 7), arrivalOffsets(c, 7)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("same seed, different days (-first +second):\n%s", diff)
	}
	// Expected counts are the curve's integral; Poisson counts stay within
	// a few standard deviations of it.
	windows := []struct{ from, to float64 }{{0, 200}, {900, 1000}, {1030, 1130}, {1800, 2000}}
	for _, w := range windows {
		want := 0.0
		for t := w.from; t < w.to; t += 0.1 {
			want += c.Rate(t) * 0.1
		}
		got := 0
		for _, off := range a {
			if s := off.Seconds(); s >= w.from && s < w.to {
				got++
			}
		}
		if math.Abs(float64(got)-want) > 4*math.Sqrt(want) {
			t.Errorf("[%v, %v) s: %d arrivals, the curve expects %.0f", w.from, w.to, got, want)
		}
	}
	for i := 1; i < len(a); i++ {
		if a[i] < a[i-1] || a[i] >= time.Duration(c.Day*float64(time.Second)) {
			t.Fatalf("offset %d (%v) out of order or past the day", i, a[i])
		}
	}
}

func TestTally(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	results := []load.Result{
		{TTFT: ms(500), ITL: []time.Duration{ms(100), ms(100)}},
		{TTFT: ms(2500)}, // too slow
		{TTFT: ms(900), ITL: []time.Duration{ms(400)}}, // ITL over the bound
		{Err: "http_503"}, // refused
		{Err: "timeout"},  // refused
		{Err: "not_sent"}, // the run ended first: not counted
		{TTFT: ms(2000), ITL: []time.Duration{ms(300)}}, // on both bounds
	}
	cases := []struct {
		name     string
		itlBound time.Duration
		want     sloTally
	}{
		{"TTFT only", 0, sloTally{Requests: 6, Met: 3, Refused: 2, Errors: map[string]int{"http_503": 1, "timeout": 1},
			TTFTs: []float64{0.5, 0.9, 2, 2.5}}},
		{"TTFT and ITL", ms(300), sloTally{Requests: 6, Met: 2, Refused: 2, Errors: map[string]int{"http_503": 1, "timeout": 1},
			TTFTs: []float64{0.5, 0.9, 2, 2.5}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tally(results, 2*time.Second, tc.itlBound)); diff != "" {
				t.Errorf("tally (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRouterLoad(t *testing.T) {
	cases := []struct {
		name, page string
		want       routerLoad
	}{
		{"empty", "", routerLoad{}},
		{"in flight summed over endpoints, queue and held by model", `# HELP tandem_router_endpoint_in_flight_requests The router's open requests at each endpoint.
# TYPE tandem_router_endpoint_in_flight_requests gauge
tandem_router_endpoint_in_flight_requests{endpoint="ns/a"} 3
tandem_router_endpoint_in_flight_requests{endpoint="ns/b"} 4
tandem_router_flow_queue_length{model="m"} 2
tandem_router_scale_from_zero_held_requests{model="m"} 1
tandem_router_endpoint_in_flight_requests_total 99
tandem_router_endpoints{model="m",role="both"} 2
`, routerLoad{InFlight: 7, Queued: 2, Held: 1}},
		{"labels with braces and spaces, a timestamp", `tandem_router_endpoint_in_flight_requests{endpoint="ns/x {y}"} 5 1700000000000
tandem_router_flow_queue_length 1e1
`, routerLoad{InFlight: 5, Queued: 10}},
		{"malformed lines skipped", "tandem_router_flow_queue_length{model=\"m\"\ntandem_router_flow_queue_length{model=\"m\"} NaNx\n", routerLoad{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRouterLoad(strings.NewReader(tc.page))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("load (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLocalFlags(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		want  string // error text; "" for none
		check func(t *testing.T, c LocalConfig)
	}{
		{name: "defaults: 8 nodes of 8 GPUs, two bursts", args: []string{"--cluster"}, check: func(t *testing.T, c LocalConfig) {
			if c.GPUs() != 64 || len(c.Curve.Bursts) != 2 || c.Curve.Day != 240 || len(c.Scalers) != 3 {
				t.Errorf("GPUs %d, bursts %v, day %v, scalers %v", c.GPUs(), c.Curve.Bursts, c.Curve.Day, c.Scalers)
			}
		}},
		{name: "a longer day moves the bursts", args: []string{"--cluster", "--day", "10m", "--bursts", "0.5"}, check: func(t *testing.T, c LocalConfig) {
			if diff := cmp.Diff([]float64{300}, c.Curve.Bursts); diff != "" || c.Curve.Day != 600 {
				t.Errorf("day %v, bursts (-want +got):\n%s", c.Curve.Day, diff)
			}
		}},
		{name: "burst outside the day", args: []string{"--bursts", "1.5"}, want: "fraction of the day"},
		{name: "odd gang size", args: []string{"--gang-sizes", "3"}, want: "multiple of the 2-GPU pod"},
		{name: "unit larger than a node", args: []string{"--unit-gpus", "16"}, want: "between 1 and --gpus-per-node"},
		{name: "window shorter than the interval", args: []string{"--interval", "5s", "--window", "2s"}, want: "--window at least the interval"},
		{name: "in-flight target not positive", args: []string{"--in-flight-per-unit", "0"}, want: "positive integer"},
		{name: "scalers in the order given", args: []string{"--scalers", "tandem, static-peak"}, check: func(t *testing.T, c LocalConfig) {
			if diff := cmp.Diff([]string{TandemKey, Static}, c.Scalers); diff != "" {
				t.Errorf("scalers (-want +got):\n%s", diff)
			}
		}},
		{name: "unknown scaler", args: []string{"--scalers", "keda"}, want: `unknown "keda"`},
		{name: "scaler twice", args: []string{"--scalers", "tandem,tandem"}, want: "tandem twice"},
		{name: "stray argument", args: []string{"extra"}, want: "unexpected arguments"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var errs bytes.Buffer
			c, _, _, err := parseLocalFlags(tc.args, &errs)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestWantsCluster(t *testing.T) {
	cases := []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--day", "1h"}, false},
		{[]string{"--cluster"}, true},
		{[]string{"--plots", "x", "-cluster"}, true},
		{[]string{"--cluster=true"}, true},
		{[]string{"--", "--cluster"}, false},
	}
	for _, tc := range cases {
		if got := wantsCluster(tc.args); got != tc.want {
			t.Errorf("wantsCluster(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
