package volcanocompat

import (
	"fmt"
	"slices"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Self is what a starting tandem-scheduler would do: the scheduler names it
// serves and, with leader election on, the Lease it would compete for.
type Self struct {
	SchedulerNames []string
	LeaderElect    bool
	Lock           types.NamespacedName
}

// Conflict is a live Lease of another scheduler serving one of Self's names.
type Conflict struct {
	SchedulerName string
	Lease         types.NamespacedName
	Holder        string
	RenewedAgo    time.Duration
	Duration      time.Duration
}

// Conflicts applies the rule of the package doc: a Lease conflicts when it
// is named after a scheduler name self serves, is live at now, and is not
// self's own lock (with leader election off nothing is self's lock).
// Conflicts are sorted by namespace and name.
func Conflicts(self Self, leases []coordinationv1.Lease, now time.Time) []Conflict {
	var out []Conflict
	for i := range leases {
		l := &leases[i]
		if !slices.Contains(self.SchedulerNames, l.Name) {
			continue
		}
		key := types.NamespacedName{Namespace: l.Namespace, Name: l.Name}
		if self.LeaderElect && key == self.Lock {
			continue
		}
		holder, renewed, duration, live := liveness(l, now)
		if !live {
			continue
		}
		out = append(out, Conflict{SchedulerName: l.Name, Lease: key, Holder: holder, RenewedAgo: now.Sub(renewed), Duration: duration})
	}
	slices.SortFunc(out, func(a, b Conflict) int { return strings.Compare(a.Lease.String(), b.Lease.String()) })
	return out
}

// liveness says whether a Lease has a holder that renewed it within its
// lease duration, as client-go's leader election fills it in: a released
// Lease has no holder; a dead holder's Lease runs out.
func liveness(l *coordinationv1.Lease, now time.Time) (holder string, renewed time.Time, duration time.Duration, live bool) {
	s := l.Spec
	if s.HolderIdentity == nil || *s.HolderIdentity == "" || s.LeaseDurationSeconds == nil || *s.LeaseDurationSeconds <= 0 {
		return "", time.Time{}, 0, false
	}
	switch {
	case s.RenewTime != nil:
		renewed = s.RenewTime.Time
	case s.AcquireTime != nil:
		renewed = s.AcquireTime.Time
	default:
		return "", time.Time{}, 0, false
	}
	duration = time.Duration(*s.LeaseDurationSeconds) * time.Second
	return *s.HolderIdentity, renewed, duration, now.Before(renewed.Add(duration))
}

// ConflictError is the refusal to start beside another scheduler.
type ConflictError struct {
	Self      Self
	Conflicts []Conflict
}

func (e *ConflictError) Error() string {
	var held []string
	for _, c := range e.Conflicts {
		held = append(held, fmt.Sprintf("Lease %s is held by %q (renewed %s ago, lease duration %s)",
			c.Lease, c.Holder, c.RenewedAgo.Round(time.Second), c.Duration))
	}
	where := "leader election is off"
	if e.Self.LeaderElect {
		where = "tandem-scheduler's own lock is " + e.Self.Lock.String()
	}
	c := e.Conflicts[0]
	return fmt.Sprintf("another scheduler serves scheduler name %q: %s, and %s, so both would schedule the same pods. "+
		"Stop that scheduler; or replace it by running with --scheduler-name=%s --leader-elect=true "+
		"--leader-elect-resource-namespace=%s --leader-elect-resource-name=%s (its lock); "+
		"or run beside it with another --scheduler-name (see deploy/scheduler/README.md)",
		c.SchedulerName, strings.Join(held, "; "), where, c.SchedulerName, c.Lease.Namespace, c.Lease.Name)
}
