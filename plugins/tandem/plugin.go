// Package tandem is Tandem's Volcano scheduler plugin. It is linked into
// tandem-scheduler (Volcano's own scheduler binary) and registered under the
// name "tandem" so that a Volcano scheduler config can enable it in a tier.
//
// This first cut only registers and reports each session it sees; placement
// logic (role-aware readiness, accelerator matching, topology and packing)
// arrives with the plugin issue.
package tandem

import (
	"k8s.io/klog/v2"
	"volcano.sh/volcano/pkg/scheduler/framework"
)

// Name is the plugin name used in the scheduler config's tiers.
const Name = "tandem"

func init() {
	framework.RegisterPluginBuilder(Name, New)
}

type plugin struct{}

// New builds the plugin for one session from its configured arguments.
func New(_ framework.Arguments) framework.Plugin { return &plugin{} }

func (p *plugin) Name() string { return Name }

func (p *plugin) OnSessionOpen(ssn *framework.Session) {
	klog.V(4).InfoS("Tandem plugin session opened", "session", ssn.UID, "jobs", len(ssn.Jobs), "nodes", len(ssn.Nodes))
}

func (p *plugin) OnSessionClose(_ *framework.Session) {}
