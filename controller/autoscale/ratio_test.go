package autoscale

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// ratioPolicy: prefill 1..4 and decode 1..4 instances per unit, prefill
// planned at 80% of its measured rate, 16 running requests per decode
// instance, no windows, no cold start.
func ratioPolicy(edit ...func(*RatioPolicy)) RatioPolicy {
	p := RatioPolicy{
		Prefill: RoleBounds{Min: 1, Max: 4}, Decode: RoleBounds{Min: 1, Max: 4},
		PrefillUtilisation: 0.8, DecodeRequestsPerInstance: 16,
	}
	for _, e := range edit {
		e(&p)
	}
	return p
}

// roleLoad: uncached prompt tokens/s and running decode requests, with a
// measured prefill rate of 10,000 tok/s per instance, two routers.
func roleLoad(uncached, running float64) RatioSignals {
	return RatioSignals{At: t0, Routers: 2, UncachedTokensPerSecond: uncached, PrefillRate: 10000, DecodeRunning: running}
}

type shapeGot struct {
	Shape, Desired                      Shape
	UnitsWanted                         int32
	Reason                              string
	PrefillBelowSince, DecodeBelowSince time.Time
}

func TestDecideShape(t *testing.T) {
	cases := []struct {
		name string
		in   RatioInput
		want shapeGot
	}{
		{
			// 40,000 tok/s at 8,000 per instance: 5 prefill instances over
			// 2 units; 10 running fit one decode instance per unit.
			name: "a prefill-heavy burst grows prefill, not decode",
			in:   RatioInput{Now: t0, Policy: ratioPolicy(), Units: 2, Current: Shape{1, 1}, Signals: roleLoad(40000, 10)},
			want: shapeGot{Shape: Shape{3, 1}, Desired: Shape{3, 1}, Reason: ReasonShapeResized},
		},
		{
			// 100 running at 16 each: 7 decode instances, 4 per unit.
			name: "long outputs grow decode, not prefill",
			in:   RatioInput{Now: t0, Policy: ratioPolicy(), Units: 2, Current: Shape{1, 1}, Signals: roleLoad(4000, 100)},
			want: shapeGot{Shape: Shape{1, 4}, Desired: Shape{1, 4}, Reason: ReasonShapeResized},
		},
		{
			// 5 prefill instances needed, at most 2 per unit: 3 units.
			name: "a role over its maximum per unit asks for whole units",
			in: RatioInput{Now: t0, Policy: ratioPolicy(func(p *RatioPolicy) { p.Prefill.Max = 2 }), Units: 2, Current: Shape{1, 1},
				Signals: roleLoad(40000, 10)},
			want: shapeGot{Shape: Shape{2, 1}, Desired: Shape{2, 1}, UnitsWanted: 3, Reason: ReasonShapeResized},
		},
		{
			name: "a role already at its maximum says so",
			in: RatioInput{Now: t0, Policy: ratioPolicy(func(p *RatioPolicy) { p.Prefill.Max = 2 }), Units: 2, Current: Shape{2, 1},
				Signals: roleLoad(40000, 10)},
			want: shapeGot{Shape: Shape{2, 1}, Desired: Shape{2, 1}, UnitsWanted: 3, Reason: ReasonShapeRoleAtMax},
		},
		{
			name: "the load within the current shape changes nothing",
			in:   RatioInput{Now: t0, Policy: ratioPolicy(), Units: 2, Current: Shape{2, 2}, Signals: roleLoad(30000, 60)},
			want: shapeGot{Shape: Shape{2, 2}, Desired: Shape{2, 2}, Reason: ReasonShapeWithin},
		},
		{
			name: "fewer prefill instances suffice: the down window starts",
			in: RatioInput{Now: at(10), Policy: ratioPolicy(func(p *RatioPolicy) { p.DownWindow = time.Minute }), Units: 2, Current: Shape{3, 1},
				Signals: roleLoad(8000, 10)},
			want: shapeGot{Shape: Shape{3, 1}, Desired: Shape{1, 1}, Reason: ReasonShapeWaitDown, PrefillBelowSince: at(10)},
		},
		{
			name: "after the down window one prefill instance goes, and the window starts again",
			in: RatioInput{Now: at(60), Policy: ratioPolicy(func(p *RatioPolicy) { p.DownWindow = time.Minute }), Units: 2, Current: Shape{3, 1},
				Signals: roleLoad(8000, 10), Previous: RatioPrevious{PrefillBelowSince: at(0)}},
			want: shapeGot{Shape: Shape{2, 1}, Desired: Shape{1, 1}, Reason: ReasonShapeResized, PrefillBelowSince: at(60)},
		},
		{
			name: "one role grows while the other waits to shrink",
			in: RatioInput{Now: at(10), Policy: ratioPolicy(func(p *RatioPolicy) { p.DownWindow = time.Minute }), Units: 1, Current: Shape{1, 3},
				Signals: roleLoad(20000, 16)},
			want: shapeGot{Shape: Shape{3, 3}, Desired: Shape{3, 1}, Reason: ReasonShapeResized, DecodeBelowSince: at(10)},
		},
		{
			name: "no shrinking while a router does not answer",
			in: RatioInput{Now: t0, Policy: ratioPolicy(), Units: 2, Current: Shape{3, 1},
				Signals: func() RatioSignals { s := roleLoad(8000, 10); s.Failed = 1; return s }()},
			want: shapeGot{Shape: Shape{3, 1}, Desired: Shape{1, 1}, Reason: ReasonShapePartial, PrefillBelowSince: t0},
		},
		{
			name: "below a role's minimum is raised at once, whatever the load",
			in: RatioInput{Now: t0, Policy: ratioPolicy(func(p *RatioPolicy) { p.Prefill.Min = 2 }), Units: 1, Current: Shape{1, 1},
				Signals: roleLoad(0, 0)},
			want: shapeGot{Shape: Shape{2, 1}, Desired: Shape{2, 1}, Reason: ReasonShapeResized},
		},
		{
			name: "above a role's maximum is lowered at once",
			in: RatioInput{Now: t0, Policy: ratioPolicy(func(p *RatioPolicy) { p.DownWindow = time.Minute }), Units: 1, Current: Shape{6, 1},
				Signals: roleLoad(0, 0)},
			want: shapeGot{Shape: Shape{4, 1}, Desired: Shape{1, 1}, Reason: ReasonShapeResized, PrefillBelowSince: t0},
		},
		{
			name: "without a measured prefill rate prefill keeps its instances",
			in: RatioInput{Now: t0, Policy: ratioPolicy(), Units: 1, Current: Shape{2, 1},
				Signals: func() RatioSignals { s := roleLoad(90000, 10); s.PrefillRate = 0; return s }()},
			want: shapeGot{Shape: Shape{2, 1}, Desired: Shape{2, 1}, Reason: ReasonShapeNoRate},
		},
		{
			// 20,000 → 30,000 tok/s in 10 s; 20 s of cold start ahead:
			// 50,000 tok/s, 6.25 instances, 4 per unit over 2.
			name: "a growing prefill load is sized one cold start ahead",
			in: RatioInput{Now: at(10), Policy: ratioPolicy(func(p *RatioPolicy) { p.ColdStart = 20 * time.Second }), Units: 2, Current: Shape{2, 1},
				Signals:  func() RatioSignals { s := roleLoad(30000, 10); s.At = at(10); return s }(),
				Previous: RatioPrevious{Signals: &RatioSignals{At: t0, UncachedTokensPerSecond: 20000, DecodeRunning: 10}}},
			want: shapeGot{Shape: Shape{4, 1}, Desired: Shape{4, 1}, Reason: ReasonShapeResized},
		},
		{
			// p90 ITL 1.5× the bound: 2 decode instances become 3.
			name: "decode ITL over its bound grows decode in proportion",
			in: RatioInput{Now: t0, Policy: ratioPolicy(func(p *RatioPolicy) { p.ITLP90 = 40 * time.Millisecond }), Units: 1, Current: Shape{1, 2},
				Signals: func() RatioSignals {
					s := roleLoad(4000, 20)
					s.DecodeITLP90, s.HasITL = 60*time.Millisecond, true
					return s
				}()},
			want: shapeGot{Shape: Shape{1, 3}, Desired: Shape{1, 3}, Reason: ReasonShapeResized},
		},
		{
			name: "decode ITL well under its bound does not shrink decode by itself",
			in: RatioInput{Now: t0, Policy: ratioPolicy(func(p *RatioPolicy) { p.ITLP90 = 40 * time.Millisecond }), Units: 1, Current: Shape{1, 2},
				Signals: func() RatioSignals {
					s := roleLoad(4000, 20)
					s.DecodeITLP90, s.HasITL = 5*time.Millisecond, true
					return s
				}()},
			want: shapeGot{Shape: Shape{1, 2}, Desired: Shape{1, 2}, Reason: ReasonShapeWithin},
		},
		{
			name: "no units: nothing to shape",
			in:   RatioInput{Now: t0, Policy: ratioPolicy(), Units: 0, Current: Shape{1, 1}, Signals: roleLoad(40000, 10)},
			want: shapeGot{Shape: Shape{1, 1}, Desired: Shape{1, 1}, Reason: ReasonShapeNoUnits},
		},
		{
			name: "no router answered: the shape is kept",
			in:   RatioInput{Now: t0, Policy: ratioPolicy(), Units: 2, Current: Shape{3, 1}, Signals: RatioSignals{At: t0, Failed: 2}},
			want: shapeGot{Shape: Shape{3, 1}, Desired: Shape{3, 1}, Reason: ReasonShapeNoSignals},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := DecideShape(tc.in)
			got := shapeGot{d.Shape, d.Desired, d.UnitsWanted, d.Reason, d.PrefillBelowSince, d.DecodeBelowSince}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("DecideShape (-want +got):\n%s\nmessage: %s", diff, d.Message)
			}
			if d.Message == "" {
				t.Error("no message")
			}
		})
	}
}

func TestRatioPolicyFrom(t *testing.T) {
	roles := func(prefillMin *int32, prefillReplicas int32) []v1alpha1.RoleSpec {
		return []v1alpha1.RoleSpec{
			{Name: "prefill", Replicas: prefillReplicas, MinReplicas: prefillMin},
			{Name: "decode", Replicas: 1},
		}
	}
	spec := func(prefillMin, prefillMax int32) *v1alpha1.AutoscalingSpec {
		return &v1alpha1.AutoscalingSpec{
			ScaleDownWindowSeconds: 60, ColdStartSeconds: 30,
			Targets: v1alpha1.AutoscalingTargets{ITLP90Milliseconds: ptr.To[int32](50)},
			Roles: &v1alpha1.RoleAutoscalingSpec{
				Prefill: v1alpha1.PrefillAutoscaling{MinInstances: prefillMin, MaxInstances: prefillMax, UtilizationPercent: 70},
				Decode:  v1alpha1.DecodeAutoscaling{MinInstances: 1, MaxInstances: 3, RequestsPerInstance: 24},
			},
		}
	}
	cases := []struct {
		name  string
		spec  *v1alpha1.AutoscalingSpec
		roles []v1alpha1.RoleSpec
		want  RatioPolicy
		ok    bool
	}{
		{name: "no roles section", spec: &v1alpha1.AutoscalingSpec{}, roles: roles(nil, 1)},
		{
			name: "bounds, utilisation, decode capacity, ITL and windows", spec: spec(1, 4), roles: roles(ptr.To[int32](1), 2), ok: true,
			want: RatioPolicy{Prefill: RoleBounds{Min: 1, Max: 4}, Decode: RoleBounds{Min: 1, Max: 3}, PrefillUtilisation: 0.7,
				DecodeRequestsPerInstance: 24, ITLP90: 50 * time.Millisecond, DownWindow: time.Minute, ColdStart: 30 * time.Second},
		},
		{
			name: "the gang minimum raises a lower bound", spec: spec(1, 4), roles: roles(ptr.To[int32](2), 3), ok: true,
			want: RatioPolicy{Prefill: RoleBounds{Min: 2, Max: 4}, Decode: RoleBounds{Min: 1, Max: 3}, PrefillUtilisation: 0.7,
				DecodeRequestsPerInstance: 24, ITLP90: 50 * time.Millisecond, DownWindow: time.Minute, ColdStart: 30 * time.Second},
		},
		{
			name: "without minReplicas the gang minimum is replicas", spec: spec(1, 2), roles: roles(nil, 3), ok: true,
			want: RatioPolicy{Prefill: RoleBounds{Min: 3, Max: 3}, Decode: RoleBounds{Min: 1, Max: 3}, PrefillUtilisation: 0.7,
				DecodeRequestsPerInstance: 24, ITLP90: 50 * time.Millisecond, DownWindow: time.Minute, ColdStart: 30 * time.Second},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := RatioPolicyFrom(tc.spec, tc.roles)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("policy (-want +got):\n%s", diff)
			}
		})
	}
	// With roles the ITL bound sizes decode, not units.
	if p := PolicyFrom(spec(1, 4)); p.ITLP90 != 0 {
		t.Errorf("unit policy ITL bound %v with roles set, want none", p.ITLP90)
	}
}
