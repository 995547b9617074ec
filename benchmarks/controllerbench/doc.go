// Package controllerbench measures how fast tandem-controller converges at
// scale on the local cluster (test/localcluster: etcd, kube-apiserver, kwok
// fake GPU nodes, tandem-scheduler and tandem-controller as child
// processes).
//
// One run starts a fresh cluster with a fleet sized for the pods, creates N
// ServingGroups of mixed shapes (shapes.go, averaging four one-GPU pods per
// group), and watches pods and groups from the first create on. Every pod
// and group is stamped with the moment it first reached each stage
// (created, bound to a node, Running; all units ready, Available), so the
// report gives the time until the first half, 90 % and all of them got
// there. Separating the stages tells where the time goes: creation is the
// controller's work, binding the scheduler's, Running kwok's, and the group
// conditions are the controller's status writes again.
//
// Around the run it scrapes the controller's /metrics: the reconcile
// histogram (controller_runtime_reconcile_time_seconds) and the workqueue
// wait histogram, taken as the difference of two scrapes and turned into
// percentiles by linear interpolation inside a bucket, as Prometheus'
// histogram_quantile does. From /proc it reads the peak (VmHWM) and final
// (VmRSS) resident memory of tandem-controller and tandem-scheduler and the
// CPU time each component used during the run, which on a small machine
// shows which process the cores went to.
//
// It prints figures; nothing here asserts on time. Runs are repeated and
// the report shows every run and the median, with the core count, seed and
// command line beside them.
package controllerbench
