package volcanocompat

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var now = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// leaseBuilder makes Leases as client-go's leader election writes them.
type leaseBuilder struct{ l coordinationv1.Lease }

func makeLease(namespace, name string) *leaseBuilder {
	b := &leaseBuilder{l: coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}}
	return b.Holder("volcano-scheduler-7d9f_1b2c").Renewed(3*time.Second, 15)
}

func (b *leaseBuilder) Holder(id string) *leaseBuilder {
	b.l.Spec.HolderIdentity = &id
	return b
}

// Renewed sets the renew time to ago before now and the lease duration.
func (b *leaseBuilder) Renewed(ago time.Duration, durationSeconds int32) *leaseBuilder {
	t := metav1.NewMicroTime(now.Add(-ago))
	b.l.Spec.AcquireTime, b.l.Spec.RenewTime = &t, &t
	b.l.Spec.LeaseDurationSeconds = &durationSeconds
	return b
}

func (b *leaseBuilder) NoRenewTime() *leaseBuilder {
	b.l.Spec.RenewTime = nil
	return b
}

func (b *leaseBuilder) Obj() coordinationv1.Lease { return b.l }

func TestConflicts(t *testing.T) {
	volcanoLock := types.NamespacedName{Namespace: "volcano-system", Name: "volcano"}
	replacement := Self{SchedulerNames: []string{"volcano"}, LeaderElect: true, Lock: volcanoLock}
	noElection := Self{SchedulerNames: []string{"volcano"}}
	conflict := func(ns, name string) Conflict {
		return Conflict{SchedulerName: name, Lease: types.NamespacedName{Namespace: ns, Name: name},
			Holder: "volcano-scheduler-7d9f_1b2c", RenewedAgo: 3 * time.Second, Duration: 15 * time.Second}
	}
	cases := []struct {
		name   string
		self   Self
		leases []coordinationv1.Lease
		want   []Conflict
	}{
		{name: "no Leases", self: noElection},
		{
			name:   "replacement in Volcano's own lock: leader election arbitrates",
			self:   replacement,
			leases: []coordinationv1.Lease{makeLease("volcano-system", "volcano").Obj()},
		},
		{
			name:   "same name, other lock namespace",
			self:   Self{SchedulerNames: []string{"volcano"}, LeaderElect: true, Lock: types.NamespacedName{Namespace: "tandem-system", Name: "volcano"}},
			leases: []coordinationv1.Lease{makeLease("volcano-system", "volcano").Obj()},
			want:   []Conflict{conflict("volcano-system", "volcano")},
		},
		{
			name:   "same name, leader election off",
			self:   noElection,
			leases: []coordinationv1.Lease{makeLease("volcano-system", "volcano").Obj()},
			want:   []Conflict{conflict("volcano-system", "volcano")},
		},
		{
			name:   "leader election off: even a Lease where the lock would be conflicts",
			self:   Self{SchedulerNames: []string{"volcano"}, Lock: volcanoLock},
			leases: []coordinationv1.Lease{makeLease("volcano-system", "volcano").Obj()},
			want:   []Conflict{conflict("volcano-system", "volcano")},
		},
		{
			name:   "beside: another scheduler name's Lease is no concern",
			self:   Self{SchedulerNames: []string{"tandem-scheduler"}, LeaderElect: true, Lock: types.NamespacedName{Namespace: "tandem-system", Name: "tandem-scheduler"}},
			leases: []coordinationv1.Lease{makeLease("volcano-system", "volcano").Obj()},
		},
		{
			name:   "expired Lease of a dead scheduler",
			self:   noElection,
			leases: []coordinationv1.Lease{makeLease("volcano-system", "volcano").Renewed(16*time.Second, 15).Obj()},
		},
		{
			name:   "renewed exactly one lease duration ago is expired",
			self:   noElection,
			leases: []coordinationv1.Lease{makeLease("volcano-system", "volcano").Renewed(15*time.Second, 15).Obj()},
		},
		{
			name:   "released Lease (no holder)",
			self:   noElection,
			leases: []coordinationv1.Lease{makeLease("volcano-system", "volcano").Holder("").Obj()},
		},
		{
			name:   "only an acquire time, still live",
			self:   noElection,
			leases: []coordinationv1.Lease{makeLease("volcano-system", "volcano").NoRenewTime().Obj()},
			want:   []Conflict{conflict("volcano-system", "volcano")},
		},
		{
			name: "several names: every live foreign Lease, sorted",
			self: Self{SchedulerNames: []string{"volcano", "gpu"}, LeaderElect: true, Lock: volcanoLock},
			leases: []coordinationv1.Lease{
				makeLease("team-b", "gpu").Obj(),
				makeLease("volcano-system", "volcano").Obj(),
				makeLease("team-a", "volcano").Obj(),
				makeLease("team-c", "other").Obj(),
			},
			want: []Conflict{conflict("team-a", "volcano"), conflict("team-b", "gpu")},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Conflicts(tc.self, tc.leases, now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Conflicts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConflictErrorMessage(t *testing.T) {
	c := Conflict{SchedulerName: "volcano", Lease: types.NamespacedName{Namespace: "volcano-system", Name: "volcano"},
		Holder: "vc-7d9f_1b2c", RenewedAgo: 2600 * time.Millisecond, Duration: 15 * time.Second}
	cases := []struct {
		name string
		self Self
		want string
	}{
		{
			name: "leader election off",
			self: Self{SchedulerNames: []string{"volcano"}},
			want: `another scheduler serves scheduler name "volcano": Lease volcano-system/volcano is held by "vc-7d9f_1b2c" (renewed 3s ago, lease duration 15s), ` +
				`and leader election is off, so both would schedule the same pods. Stop that scheduler; or replace it by running with ` +
				`--scheduler-name=volcano --leader-elect=true --leader-elect-resource-namespace=volcano-system --leader-elect-resource-name=volcano (its lock); ` +
				`or run beside it with another --scheduler-name (see deploy/scheduler/README.md)`,
		},
		{
			name: "another lock",
			self: Self{SchedulerNames: []string{"volcano"}, LeaderElect: true, Lock: types.NamespacedName{Namespace: "tandem-system", Name: "volcano"}},
			want: `another scheduler serves scheduler name "volcano": Lease volcano-system/volcano is held by "vc-7d9f_1b2c" (renewed 3s ago, lease duration 15s), ` +
				`and tandem-scheduler's own lock is tandem-system/volcano, so both would schedule the same pods. Stop that scheduler; or replace it by running with ` +
				`--scheduler-name=volcano --leader-elect=true --leader-elect-resource-namespace=volcano-system --leader-elect-resource-name=volcano (its lock); ` +
				`or run beside it with another --scheduler-name (see deploy/scheduler/README.md)`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := (&ConflictError{Self: tc.self, Conflicts: []Conflict{c}}).Error()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}
