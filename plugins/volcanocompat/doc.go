// Package volcanocompat holds the checks tandem-scheduler and
// tandem-controller run at start, before they act on the cluster: that the
// installed Volcano has the API fields Tandem relies on, and that no other
// scheduler already serves the scheduler name tandem-scheduler would serve.
// Each check is a pure decision function over API objects (table-tested
// without an API server) and a thin reader that fetches those objects.
//
// # Volcano version
//
// Tandem writes, per unit, a PodGroup with spec.networkTopology and one
// spec.subGroupPolicy entry per role, and places pods inside HyperNodes.
// Kubernetes prunes every field a structural CRD schema does not declare,
// so against an older PodGroup CRD these fields vanish on write without an
// error and a unit silently becomes a plain gang. CheckCRDs therefore reads
// the served schema of the installed CRDs and lists each field Tandem
// writes that is not declared (see Requirements), with the first Volcano
// release that declares it:
//
//   - spec.networkTopology (mode, highestTierAllowed) and the HyperNode CRD
//     hypernodes.topology.volcano.sh (v1alpha1): Volcano v1.12.0. The types
//     came with volcano-sh/apis commit 5d177ef ("Add hyperNode CRD and add
//     networkTopology spec for job", first tag v1.12.0); in volcano-sh/volcano
//     installer/helm/chart/volcano/crd/bases/topology.volcano.sh_hypernodes.yaml
//     and the networkTopology block of scheduling.volcano.sh_podgroups.yaml
//     first appear in a release at v1.12.0 (v1.11.x has neither; only the
//     v1.11.0-network-topology-preview tags had them).
//   - spec.subGroupPolicy (name, subGroupSize, minSubGroups, labelSelector,
//     matchLabelKeys, networkTopology): Volcano v1.14.0. In volcano-sh/apis
//     commit caa5259 added SubGroupPolicy (then with matchPolicy) and
//     4bf3f1f replaced matchPolicy by labelSelector and matchLabelKeys, both
//     first tagged v1.14.0; the podgroups CRD in volcano-sh/volcano followed
//     in commits 81d0a729d and 83a4868f8, first tagged v1.14.0. v1.13.3
//     lacks subGroupPolicy; v1.14.0 and v1.14.1 declare the same schema.
//
// Tandem thus needs Volcano >= v1.14.0. With --volcano-check=fail (the
// default) a missing field or CRD stops the binary with one message naming
// every missing field and the version that has it; warn logs the same
// message and starts; off skips the check.
//
// # One scheduler per scheduler name
//
// tandem-scheduler is Volcano's scheduler main. Two schedulers serving the
// same spec.schedulerName would both bind the same pods. Facts from
// volcano.sh/volcano v1.14.1:
//
//   - cmd/scheduler/main.go sets the leader-election lock name to
//     util.GenerateComponentName(SchedulerNames) before the flags are
//     parsed, so stock volcano-scheduler's Lease is always named "volcano"
//     (the default scheduler name) unless --leader-elect-resource-name is
//     given; its namespace defaults to "volcano-system" (pkg/util/util.go
//     LeaderElectionDefault), overridden by --leader-elect-resource-namespace
//     or the deprecated --lock-object-namespace (cmd/scheduler/app/server.go).
//   - The Helm chart (installer/helm/chart/volcano/templates/scheduler.yaml)
//     passes --leader-elect={{custom.leader_elect_enable}} and, when it is
//     true, --leader-elect-resource-namespace={{Release.Namespace}};
//     values.yaml defaults leader_elect_enable to false, scheduler_name to
//     unset ("volcano") and scheduler_replicas to 1. installer/
//     volcano-development.yaml passes --leader-elect=false.
//
// tandem-scheduler names its Lease after the parsed scheduler name
// (GenerateComponentName of --scheduler-name, unless
// --leader-elect-resource-name is given), so that a Lease named N means
// "a scheduler serving N is alive"; for the default name "volcano" this is
// exactly stock Volcano's lock. Deployed as Volcano's replacement it uses
// the same name and the same lock namespace, so leader election itself makes
// the two mutually exclusive.
//
// The pre-start rule (Conflicts): tandem-scheduler refuses to start when, for
// a scheduler name N it would serve, some Lease named N in any namespace is
// live (it has a holder and was renewed less than its lease duration ago)
// and is not tandem-scheduler's own lock: with leader election off every
// live Lease named N conflicts; with it on, every one but the Lease at
// tandem-scheduler's own namespace/name. A live Lease in its own lock is a
// peer (an old replica, or the Volcano scheduler it replaces): leader
// election already keeps them apart, so tandem-scheduler waits for the lock.
// An expired or released Lease (holder gone) conflicts with nothing, so a
// crashed scheduler blocks a successor for one lease duration at most.
//
// Limits: only a scheduler that holds a Lease can be seen. Volcano's chart
// default (leader election off) leaves no trace; deploy/scheduler/README.md
// says what an operator does about it. The renew time is compared with this
// machine's clock, so clocks skewed by more than a lease duration can hide
// or invent a holder.
package volcanocompat
