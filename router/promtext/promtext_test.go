package promtext

import (
	"math"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type sample struct {
	Name, Labels string
	Value        float64
}

func collect(text string) ([]sample, int) {
	var out []sample
	skipped := Each([]byte(text), func(name, labels []byte, v float64) {
		out = append(out, sample{string(name), string(labels), v})
	})
	return out, skipped
}

func TestEach(t *testing.T) {
	cases := []struct {
		name        string
		text        string
		want        []sample
		wantSkipped int
	}{
		{
			name: "vllm gauges with help and type",
			text: "# HELP vllm:num_requests_waiting Number of requests waiting.\n# TYPE vllm:num_requests_waiting gauge\n" +
				"vllm:num_requests_waiting{model_name=\"m\"} 3.0\nvllm:kv_cache_usage_perc{model_name=\"m\"} 0.25\n",
			want: []sample{{"vllm:num_requests_waiting", `model_name="m"`, 3}, {"vllm:kv_cache_usage_perc", `model_name="m"`, 0.25}},
		},
		{
			name: "no labels, timestamp, CRLF and spaces",
			text: "up 1 1700000000000\r\n  x_total   2e3  \n",
			want: []sample{{"up", "", 1}, {"x_total", "", 2000}},
		},
		{
			name: "escaped quote and brace inside a label value",
			text: `a{l="x\"}y",m="z"} 7` + "\n",
			want: []sample{{"a", `l="x\"}y",m="z"`, 7}},
		},
		{
			name:        "malformed lines are skipped and counted",
			text:        "novalue\n{l=\"x\"} 1\na{l=\"x\" 1\nb 1x\nc 5\n",
			want:        []sample{{"c", "", 5}},
			wantSkipped: 4,
		},
		{name: "no trailing newline", text: "z 4", want: []sample{{"z", "", 4}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, skipped := collect(tc.text)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if skipped != tc.wantSkipped {
				t.Errorf("skipped %d lines, want %d", skipped, tc.wantSkipped)
			}
		})
	}
}

func TestSpecialValues(t *testing.T) {
	got, _ := collect("a +Inf\nb -Inf\nc NaN\n")
	if len(got) != 3 || !math.IsInf(got[0].Value, 1) || !math.IsInf(got[1].Value, -1) || !math.IsNaN(got[2].Value) {
		t.Errorf("got %+v", got)
	}
}

func TestLabel(t *testing.T) {
	labels := []byte(`model_name="m", block_size="16",num_gpu_blocks="27000",esc="a\"b\\c\nd"`)
	cases := []struct {
		name, want string
		ok         bool
	}{
		{"model_name", "m", true},
		{"block_size", "16", true},
		{"num_gpu_blocks", "27000", true},
		{"esc", "a\"b\\c\nd", true},
		{"missing", "", false},
	}
	for _, tc := range cases {
		got, ok := Label(labels, tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Label(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// The simulator's real exposition, recorded once, parses without a skipped line.
func TestSimulatorExposition(t *testing.T) {
	text, err := os.ReadFile("testdata/vllm.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	skipped := Each(text, func(_, _ []byte, _ float64) { n++ })
	if skipped != 0 || n < 20 {
		t.Errorf("parsed %d samples, skipped %d lines", n, skipped)
	}
}

// EachNamed yields exactly Each's samples of the wanted names, and counts
// only the malformed lines of those names.
func TestEachNamed(t *testing.T) {
	vllm, err := os.ReadFile("testdata/vllm.txt")
	if err != nil {
		t.Fatal(err)
	}
	wanted := map[string]bool{"vllm:num_requests_waiting": true, "vllm:cache_config_info": true, "vllm:kv_cache_usage_perc": true}
	want := func(name []byte) bool { return wanted[string(name)] }
	cases := []struct {
		name        string
		text        string
		wantSkipped int
	}{
		{name: "the simulator's exposition", text: string(vllm)},
		{name: "malformed lines of other names are passed over",
			text: "vllm:e2e_request_latency_seconds_bucket{le=\"1\" 1\nvllm:num_requests_running 1x\nvllm:num_requests_waiting 2\n"},
		{name: "malformed lines of wanted names are counted",
			text: "vllm:num_requests_waiting{model_name=\"m\" 1\nvllm:kv_cache_usage_perc 0.5\n", wantSkipped: 1},
		{name: "a name that only starts like a wanted one",
			text: "vllm:num_requests_waiting_total 1\nvllm:num_requests_waiting{model_name=\"m\"} 3\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			all, _ := collect(tc.text)
			var wantSamples []sample
			for _, s := range all {
				if wanted[s.Name] {
					wantSamples = append(wantSamples, s)
				}
			}
			var got []sample
			skipped := EachNamed([]byte(tc.text), want, func(name, labels []byte, v float64) {
				got = append(got, sample{string(name), string(labels), v})
			})
			if diff := cmp.Diff(wantSamples, got); diff != "" {
				t.Errorf("samples (-want +got):\n%s", diff)
			}
			if skipped != tc.wantSkipped {
				t.Errorf("skipped %d lines, want %d", skipped, tc.wantSkipped)
			}
		})
	}
}

func FuzzEach(f *testing.F) {
	for _, s := range []string{
		"vllm:num_requests_waiting{model_name=\"m\"} 3.0\n",
		`a{l="x\"}y",m="z"} 7 123`, "# HELP x\n", "a{", "a{l=\"\\", "b -Inf\r\n", "c{} 1", "{} 1", "a 1 2 3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		Each([]byte(text), func(name, labels []byte, _ float64) {
			if len(name) == 0 {
				t.Fatal("empty name")
			}
			_, _ = Label(labels, "model_name")
		})
	})
}

func BenchmarkEach(b *testing.B) {
	text, err := os.ReadFile("testdata/vllm.txt")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		Each(text, func(_, _ []byte, _ float64) {})
	}
}

// BenchmarkEachNamed reads the four series a router needs from the same page.
func BenchmarkEachNamed(b *testing.B) {
	text, err := os.ReadFile("testdata/vllm.txt")
	if err != nil {
		b.Fatal(err)
	}
	want := func(name []byte) bool {
		switch string(name) {
		case "vllm:num_requests_waiting", "vllm:num_requests_running", "vllm:kv_cache_usage_perc", "vllm:cache_config_info":
			return true
		}
		return false
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		EachNamed(text, want, func(_, _ []byte, _ float64) {})
	}
}
