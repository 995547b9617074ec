package plan

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// Messages below follow volcano.sh/volcano v1.14.1's formats (see
// volcano_text.go for the file of each) and Tandem's plugin's mismatch
// text.

func TestParseGang(t *testing.T) {
	cases := []struct {
		name   string
		msg    string
		want   gangText
		wantOK bool
	}{
		{
			name: "gang below its minimum, no fit errors",
			msg: "2/3 tasks in gang unschedulable: pod group is not ready, 2 Pending, 3 minAvailable; " +
				"Pending: 1 Unschedulable, 1 Schedulable",
			want: gangText{unschedulable: 2, tasks: 3, job: jobText{
				summary: "pod group is not ready, 2 Pending, 3 minAvailable; Pending: 1 Unschedulable, 1 Schedulable",
			}},
			wantOK: true,
		},
		{
			name: "origin task with fit errors scoped to a HyperNode",
			msg: "5/5 tasks in gang unschedulable: pod group is not ready, 5 Pending, 5 minAvailable; Pending: 5 Unschedulable. " +
				"Origin reason is big-0-engine-4-0: In hyperNode rack-2: 0/4 nodes are unavailable: 4 Insufficient nvidia.com/gpu.",
			want: gangText{unschedulable: 5, tasks: 5, job: jobText{
				summary:    "pod group is not ready, 5 Pending, 5 minAvailable; Pending: 5 Unschedulable",
				originTask: "big-0-engine-4-0",
				origin:     "In hyperNode rack-2: 0/4 nodes are unavailable: 4 Insufficient nvidia.com/gpu.",
			}},
			wantOK: true,
		},
		{
			name: "job-wide origin reason",
			msg:  "1/1 tasks in gang unschedulable: pod group is not ready, 1 Pending, 1 minAvailable. Origin reason is: queue is closed",
			want: gangText{unschedulable: 1, tasks: 1, job: jobText{
				summary: "pod group is not ready, 1 Pending, 1 minAvailable",
				origin:  "queue is closed",
			}},
			wantOK: true,
		},
		{name: "not the gang plugin's text", msg: "pod group is not ready"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseGang(tc.msg)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(gangText{}, jobText{})); diff != "" {
				t.Errorf("parseGang (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFit(t *testing.T) {
	cases := []struct {
		name   string
		msg    string
		want   fitText
		wantOK bool
	}{
		{
			name:   "whole cluster, one reason",
			msg:    "0/12 nodes are unavailable: 12 Insufficient nvidia.com/gpu.",
			want:   fitText{nodes: 12, reasons: []reasonCount{{12, "Insufficient nvidia.com/gpu"}}},
			wantOK: true,
		},
		{
			name:   "scoped to a HyperNode",
			msg:    "In hyperNode rack-2: 0/4 nodes are unavailable: 4 Insufficient nvidia.com/gpu.",
			want:   fitText{hyperNode: "rack-2", nodes: 4, reasons: []reasonCount{{4, "Insufficient nvidia.com/gpu"}}},
			wantOK: true,
		},
		{
			name: "Tandem's reasons hold a comma of their own",
			msg: "0/12 nodes are unavailable: 2 Insufficient nvidia.com/gpu, " +
				"4 role decode needs accelerator NVIDIA-B200 (nvidia.com/gpu.product), node has NVIDIA-H100-80GB-HBM3, " +
				"6 role decode needs accelerator NVIDIA-B200 (nvidia.com/gpu.product), node has NVIDIA-H200.",
			want: fitText{nodes: 12, reasons: []reasonCount{
				{2, "Insufficient nvidia.com/gpu"},
				{4, "role decode needs accelerator NVIDIA-B200 (nvidia.com/gpu.product), node has NVIDIA-H100-80GB-HBM3"},
				{6, "role decode needs accelerator NVIDIA-B200 (nvidia.com/gpu.product), node has NVIDIA-H200"},
			}},
			wantOK: true,
		},
		{name: "bare message without nodes", msg: "Task default/x with role spec y has already predicated failed, skip"},
		{name: "no trailing period", msg: "0/3 nodes are unavailable: 3 Insufficient cpu"},
		{name: "HyperNode prefix without a body", msg: "In hyperNode rack-2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseFit(tc.msg)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(fitText{}, reasonCount{})); diff != "" {
				t.Errorf("parseFit (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMismatch(t *testing.T) {
	cases := []struct {
		reason string
		want   mismatch
		wantOK bool
	}{
		{
			reason: "role decode needs accelerator NVIDIA-B200 or NVIDIA-GB200 (nvidia.com/gpu.product), node has none",
			want:   mismatch{role: "decode", want: "NVIDIA-B200 or NVIDIA-GB200", label: "nvidia.com/gpu.product", have: "none"},
			wantOK: true,
		},
		{
			// What tandem-scheduler writes, from the shared format.
			reason: fmt.Sprintf(v1alpha1.AcceleratorMismatchFormat, "prefill", "NVIDIA-H200", "nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"),
			want:   mismatch{role: "prefill", want: "NVIDIA-H200", label: "nvidia.com/gpu.product", have: "NVIDIA-H100-80GB-HBM3"},
			wantOK: true,
		},
		{reason: "Insufficient nvidia.com/gpu"},
		{reason: "node(s) didn't match Pod's node affinity/selector"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			got, ok := parseMismatch(tc.reason)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(mismatch{})); diff != "" {
				t.Errorf("parseMismatch (-want +got):\n%s", diff)
			}
		})
	}
}
