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
		seen   map[objectKey]types.UID
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
			seen:   map[objectKey]types.UID{pod: "u1"},
			want:   true,
		},
		"deleted, cache still shows it": {
			record: func(e *expectations) { e.expectDelete(group, "Pod", pod.name, "u1", now) },
			seen:   map[objectKey]types.UID{pod: "u1"},
			want:   false,
		},
		"deleted, cache shows a new object under the name": {
			record: func(e *expectations) { e.expectDelete(group, "Pod", pod.name, "u1", now) },
			seen:   map[objectKey]types.UID{pod: "u2"},
			want:   true,
		},
		"deleted, gone from cache": {
			record: func(e *expectations) { e.expectDelete(group, "Pod", pod.name, "u1", now) },
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
