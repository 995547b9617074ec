package controller

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/autoscale"
)

// What one round records in status is what the next round's shape
// decision reads: the role windows and the role signals (for the growth
// prediction) survive the round trip; a round without role signals leaves
// no previous signals.
func TestShapeStatusIsTheNextRoundsPrevious(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	in := autoscale.RatioInput{
		Now: t0, Current: autoscale.Shape{Prefill: 1, Decode: 2},
		Signals: autoscale.RatioSignals{At: t0, Routers: 2, UncachedTokensPerSecond: 30000.4, PrefillRate: 9999.6, DecodeRunning: 7},
	}
	d := autoscale.RatioDecision{
		Shape: autoscale.Shape{Prefill: 3, Decode: 2}, Desired: autoscale.Shape{Prefill: 3, Decode: 1},
		Reason: autoscale.ReasonShapeResized, Message: "m", DecodeBelowSince: t0.Add(-time.Minute),
	}
	s := &v1alpha1.AutoscalingStatus{Signals: &v1alpha1.AutoscalingSignals{ObservedTime: metav1.Time{Time: t0}, Routers: 2}}
	shapeStatus(s, nil, in, d, t0)

	wantRoles := []v1alpha1.RoleAutoscalingStatus{
		{Name: "prefill", Instances: 3, DesiredInstances: 3},
		{Name: "decode", Instances: 2, DesiredInstances: 1, BelowTargetSince: &metav1.Time{Time: t0.Add(-time.Minute)}},
	}
	if diff := cmp.Diff(wantRoles, s.Roles); diff != "" {
		t.Errorf("status roles (-want +got):\n%s", diff)
	}
	if s.RolesReason != autoscale.ReasonShapeResized || s.LastResizeTime == nil || !s.LastResizeTime.Time.Equal(t0) {
		t.Errorf("reason %s, last resize %v; want RolesResized at %v", s.RolesReason, s.LastResizeTime, t0)
	}
	got := ratioPrevious(s)
	want := autoscale.RatioPrevious{
		Signals:          &autoscale.RatioSignals{At: t0, Routers: 2, UncachedTokensPerSecond: 30000, DecodeRunning: 7},
		DecodeBelowSince: t0.Add(-time.Minute),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("previous (-want +got):\n%s", diff)
	}
	if r := s.Signals.PrefillRateTokensPerSecond; r == nil || *r != 10000 {
		t.Errorf("prefill rate %v, want 10000", r)
	}

	blind := &v1alpha1.AutoscalingStatus{Signals: &v1alpha1.AutoscalingSignals{ObservedTime: metav1.Time{Time: t0}}}
	shapeStatus(blind, s, autoscale.RatioInput{Current: in.Current}, autoscale.RatioDecision{Shape: in.Current, Reason: autoscale.ReasonShapeNoSignals}, t0.Add(time.Minute))
	if p := ratioPrevious(blind); p.Signals != nil {
		t.Errorf("previous signals %+v from a round no router answered", p.Signals)
	}
	if !blind.LastResizeTime.Time.Equal(t0) {
		t.Errorf("last resize %v, want the earlier %v kept", blind.LastResizeTime, t0)
	}
}

func TestRoleEndpoints(t *testing.T) {
	sg := &v1alpha1.ServingGroup{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "pd"}}
	pod := func(name, role string) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1alpha1.LabelRole: role}}}
	}
	pods := []corev1.Pod{pod("pd-0-prefill-0-0", "prefill"), pod("pd-0-decode-0-0", "decode"), pod("pd-0-decode-0-1", "decode"), pod("pd-0-prefill-1-0", "prefill")}
	if diff := cmp.Diff([]string{"ns/pd-0-prefill-0-0", "ns/pd-0-prefill-1-0"}, roleEndpoints(sg, pods, "prefill")); diff != "" {
		t.Errorf("prefill endpoints (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ns/pd-0-decode-0-0", "ns/pd-0-decode-0-1"}, roleEndpoints(sg, pods, "decode")); diff != "" {
		t.Errorf("decode endpoints (-want +got):\n%s", diff)
	}
}
