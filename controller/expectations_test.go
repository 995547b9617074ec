package controller

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestExpectations(t *testing.T) {
	group := types.NamespacedName{Namespace: "ns", Name: "sg"}
	now := time.Unix(1000, 0)
	pod := objectKey{"Pod", "sg-0-engine-0-0"}
	cases := map[string]struct {
		record func(e *expectations)
		seen   map[objectKey]seenObject
		at     time.Time
		want   bool
	}{
		"nothing expected": {record: func(*expectations) {}, want: true},
		"created, cache has not seen it": {
			record: func(e *expectations) { e.expectCreate(group, "Pod", pod.name, now) },
			want:   false,
		},
		"created, cache shows it": {
			record: func(e *expectations) { e.expectCreate(group, "Pod", pod.name, now) },
			seen:   map[objectKey]seenObject{pod: {uid: "u1", rv: "10"}},
			want:   true,
		},
		"deleted, cache still shows it": {
			record: func(e *expectations) { e.expectDelete(group, "Pod", pod.name, "u1", now) },
			seen:   map[objectKey]seenObject{pod: {uid: "u1", rv: "10"}},
			want:   false,
		},
		"deleted, cache shows a new object under the name": {
			record: func(e *expectations) { e.expectDelete(group, "Pod", pod.name, "u1", now) },
			seen:   map[objectKey]seenObject{pod: {uid: "u2", rv: "12"}},
			want:   true,
		},
		"deleted, gone from cache": {
			record: func(e *expectations) { e.expectDelete(group, "Pod", pod.name, "u1", now) },
			want:   true,
		},
		"updated, cache shows the version the update was planned on": {
			record: func(e *expectations) { e.expectUpdate(group, "Pod", pod.name, "10", now) },
			seen:   map[objectKey]seenObject{pod: {uid: "u1", rv: "10"}},
			want:   false,
		},
		"updated, cache shows a newer version": {
			record: func(e *expectations) { e.expectUpdate(group, "Pod", pod.name, "10", now) },
			seen:   map[objectKey]seenObject{pod: {uid: "u1", rv: "11"}},
			want:   true,
		},
		"never seen, expired": {
			record: func(e *expectations) { e.expectCreate(group, "Pod", pod.name, now) },
			at:     now.Add(expectationTTL + time.Second),
			want:   true,
		},
		"forgotten group": {
			record: func(e *expectations) { e.expectCreate(group, "Pod", pod.name, now); e.forget(group) },
			want:   true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newExpectations()
			tc.record(e)
			at := tc.at
			if at.IsZero() {
				at = now
			}
			if got := e.satisfied(group, tc.seen, at); got != tc.want {
				t.Errorf("satisfied() = %v, want %v", got, tc.want)
			}
		})
	}
}
