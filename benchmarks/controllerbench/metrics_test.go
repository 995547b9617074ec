package controllerbench

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseText(t *testing.T) {
	cases := []struct {
		name    string
		text    string
		want    []Sample
		wantErr string
	}{
		{
			name: "comments, blank lines and a sample without labels",
			text: "# HELP up Whether it is up.\n# TYPE up gauge\n\nup 1\n",
			want: []Sample{{Name: "up", Labels: map[string]string{}, Value: 1}},
		},
		{
			name: "labels, +Inf bound and a timestamp",
			text: `x_bucket{controller="servinggroup",le="+Inf"} 12 1700000000000`,
			want: []Sample{{Name: "x_bucket", Labels: map[string]string{"controller": "servinggroup", "le": "+Inf"}, Value: 12}},
		},
		{
			name: "escaped quote, backslash and newline in a label value; trailing comma",
			text: `m{a="say \"hi\"",b="c:\\d",c="one\ntwo",} 2.5e-3`,
			want: []Sample{{Name: "m", Labels: map[string]string{"a": `say "hi"`, "b": `c:\d`, "c": "one\ntwo"}, Value: 0.0025}},
		},
		{
			name: "a comma inside a label value",
			text: `m{a="x,y",b="z"} 1`,
			want: []Sample{{Name: "m", Labels: map[string]string{"a": "x,y", "b": "z"}, Value: 1}},
		},
		{name: "no value", text: "up", wantErr: "no value"},
		{name: "value not a number", text: "up one", wantErr: "value of up"},
		{name: "unquoted label value", text: "m{a=b} 1", wantErr: "not quoted"},
		{name: "unterminated label value", text: `m{a="b} 1`, wantErr: "unterminated"},
		{name: "missing comma between labels", text: `m{a="b" c="d"} 1`, wantErr: "want ','"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseText(tc.text)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseText() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseText() (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseText(f *testing.F) {
	for _, seed := range []string{
		"up 1",
		`x_bucket{le="0.005",controller="servinggroup"} 3`,
		`m{a="say \"hi\"",} +Inf 1`,
		"# HELP a b\n\nm{} NaN",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		samples, err := ParseText(text)
		if err != nil {
			return
		}
		for _, s := range samples {
			if s.Name == "" || strings.ContainsAny(s.Name, "{ \t\n") {
				t.Fatalf("bad sample name %q from %q", s.Name, text)
			}
		}
	})
}

// reconcileText is a scrape in the shape controller-runtime serves.
const reconcileText = `
# TYPE controller_runtime_reconcile_time_seconds histogram
controller_runtime_reconcile_time_seconds_bucket{controller="servinggroup",le="0.01"} 40
controller_runtime_reconcile_time_seconds_bucket{controller="servinggroup",le="0.1"} 90
controller_runtime_reconcile_time_seconds_bucket{controller="servinggroup",le="1"} 100
controller_runtime_reconcile_time_seconds_bucket{controller="servinggroup",le="+Inf"} 100
controller_runtime_reconcile_time_seconds_sum{controller="servinggroup"} 3.5
controller_runtime_reconcile_time_seconds_count{controller="servinggroup"} 100
controller_runtime_reconcile_time_seconds_bucket{controller="other",le="0.01"} 10
controller_runtime_reconcile_time_seconds_bucket{controller="other",le="0.1"} 10
controller_runtime_reconcile_time_seconds_bucket{controller="other",le="1"} 10
controller_runtime_reconcile_time_seconds_bucket{controller="other",le="+Inf"} 10
controller_runtime_reconcile_time_seconds_sum{controller="other"} 0.05
controller_runtime_reconcile_time_seconds_count{controller="other"} 10
controller_runtime_reconcile_total{controller="servinggroup",result="success"} 95
controller_runtime_reconcile_total{controller="servinggroup",result="error"} 5
`

func TestHistogramOf(t *testing.T) {
	samples, err := ParseText(reconcileText)
	if err != nil {
		t.Fatal(err)
	}
	const name = "controller_runtime_reconcile_time_seconds"
	cases := []struct {
		name string
		want map[string]string
		hist Histogram
	}{
		{
			name: "one controller",
			want: map[string]string{"controller": "servinggroup"},
			hist: Histogram{Count: 100, Sum: 3.5, Buckets: []Bucket{{0.01, 40}, {0.1, 90}, {1, 100}, {math.Inf(1), 100}}},
		},
		{
			name: "series of every controller added up",
			hist: Histogram{Count: 110, Sum: 3.55, Buckets: []Bucket{{0.01, 50}, {0.1, 100}, {1, 110}, {math.Inf(1), 110}}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := HistogramOf(samples, name, tc.want)
			if diff := cmp.Diff(tc.hist, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("HistogramOf() (-want +got):\n%s", diff)
			}
		})
	}
	results := SumBy(samples, "controller_runtime_reconcile_total", "result")
	if diff := cmp.Diff(map[string]float64{"success": 95, "error": 5}, results); diff != "" {
		t.Errorf("SumBy() (-want +got):\n%s", diff)
	}
}

func TestHistogramSub(t *testing.T) {
	before := Histogram{Count: 10, Sum: 1, Buckets: []Bucket{{0.1, 6}, {math.Inf(1), 10}}}
	after := Histogram{Count: 25, Sum: 4, Buckets: []Bucket{{0.1, 10}, {1, 18}, {math.Inf(1), 25}}}
	want := Histogram{Count: 15, Sum: 3, Buckets: []Bucket{{0.1, 4}, {1, 18}, {math.Inf(1), 15}}}
	if diff := cmp.Diff(want, after.Sub(before)); diff != "" {
		t.Errorf("Sub() (-want +got):\n%s", diff)
	}
}

func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	// 100 observations: 40 up to 10 ms, 50 in (10 ms, 100 ms], 10 in
	// (100 ms, 1 s].
	h := Histogram{Buckets: []Bucket{{0.01, 40}, {0.1, 90}, {1, 100}, {inf, 100}}}
	cases := []struct {
		name string
		h    Histogram
		q    float64
		want float64
	}{
		{"median in the second bucket, interpolated", h, 0.5, 0.01 + 0.09*(10.0/50)},
		{"p90 on a bucket's upper bound", h, 0.9, 0.1},
		{"p99 in the last finite bucket", h, 0.99, 0.1 + 0.9*(9.0/10)},
		{"p100 is the last finite bound holding observations", h, 1, 1},
		{"first bucket starts at zero", h, 0.2, 0.01 * (20.0 / 40)},
		{"q 0 is the lower edge", h, 0, 0},
		{
			name: "rank in the +Inf bucket gives the highest finite bound",
			h:    Histogram{Buckets: []Bucket{{0.5, 5}, {1, 8}, {inf, 10}}},
			q:    0.95,
			want: 1,
		},
		{
			name: "empty buckets before the rank are skipped",
			h:    Histogram{Buckets: []Bucket{{0.1, 0}, {0.2, 0}, {0.4, 4}, {inf, 4}}},
			q:    0.5,
			want: 0.3,
		},
		{"no observations", Histogram{Buckets: []Bucket{{0.1, 0}, {inf, 0}}}, 0.5, math.NaN()},
		{"no buckets", Histogram{}, 0.5, math.NaN()},
		{"no +Inf bucket", Histogram{Buckets: []Bucket{{0.1, 3}}}, 0.5, math.NaN()},
		{"only the +Inf bucket", Histogram{Buckets: []Bucket{{inf, 3}}}, 0.5, math.NaN()},
		{"q out of range", h, 1.5, math.NaN()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.h.Quantile(tc.q)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0, 1e-12), cmpopts.EquateNaNs()); diff != "" {
				t.Errorf("Quantile(%v) (-want +got):\n%s", tc.q, diff)
			}
		})
	}
}
