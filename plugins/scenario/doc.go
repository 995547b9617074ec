// Package scenario runs one Volcano scheduling cycle in-process, the way
// tandem-scheduler would run it, on a fake fleet of GPU nodes and
// HyperNodes, with units exactly as the ServingGroup controller builds
// them. The plugin's scenario and randomized tests and the scheduler
// benchmark (benchmarks/schedulerbench) all go through it.
//
// A Scenario is a fleet (test/localcluster.Fleet: nodes and HyperNodes of
// tiers 1 domain / 2 rack / 3 spine), ServingGroups, and optional extra
// pods and PodGroups (e.g. batch pods already running). Run turns every
// ServingGroup into PodGroups and pods with the controller's own planner
// (controller/plan.Compute), loads everything into Volcano's mock
// scheduler cache, opens a session with Volcano's real plugins — priority,
// gang, conformance, predicates, proportion, binpack,
// network-topology-aware, plus
// Tandem's unless Stock is set, every extension point on as Volcano's
// config defaults have it — runs the actions (allocate; enqueue first when
// asked; or the actions named, e.g. tandem-reclaim) and closes the
// session. The Result says where every pod landed and which pods the
// session evicts, keeps the session's jobs for fit errors and conditions,
// and times the session's phases (open, each action, close, and the
// process's CPU time) so that stock and Tandem configurations can be
// compared. Next builds the scenario of the following cycle from a
// result: evicted pods gone (as once the kubelet has stopped them),
// allocated pods bound and running, PodGroups in the phase the session
// left them, so that a reclaim and the placement it makes room for can be
// followed across two sessions. BatchGang builds a running batch job as
// Volcano's job controller leaves it (one PodGroup with minMember and
// minResources, its pods running).
//
// It mirrors volcano.sh/volcano/pkg/scheduler/uthelper (Volcano's mock
// scheduler cache, its plugins and actions, its fake status updater) but
// builds the cache itself, for three reasons: uthelper's fake binder
// blocks every bind until a test reads it (each session would leave
// goroutines holding its whole cache, which a benchmark of many large
// sessions cannot afford); uthelper opens the session in the same call
// that fills the cache, so the session could not be timed alone; and it
// starts the cache's informers, whose sync poll costs 100 ms a session
// for nothing (the objects are added to the cache directly).
//
// Volcano keeps plugin builders and enabled actions in package globals, so
// Run holds a package lock: sessions run one at a time.
//
// Check (invariants.go) verifies the properties every placement must have,
// whatever the configuration: no partial unit or instance, hard topology
// kept, no accelerator over-committed, accelerator types respected.
package scenario
