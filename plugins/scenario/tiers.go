package scenario

import (
	"volcano.sh/volcano/pkg/scheduler/conf"
	"volcano.sh/volcano/pkg/scheduler/plugins"
	"volcano.sh/volcano/pkg/scheduler/plugins/binpack"
	"volcano.sh/volcano/pkg/scheduler/plugins/conformance"
	"volcano.sh/volcano/pkg/scheduler/plugins/gang"
	networktopologyaware "volcano.sh/volcano/pkg/scheduler/plugins/network-topology-aware"
	"volcano.sh/volcano/pkg/scheduler/plugins/predicates"
	"volcano.sh/volcano/pkg/scheduler/plugins/priority"
	"volcano.sh/volcano/pkg/scheduler/plugins/proportion"

	"github.com/tandem-serving/tandem/plugins/tandem"
)

// tiers is the scheduler configuration: the stock plugins of
// deploy/scheduler/tandem-scheduler.conf that matter for placement and
// for victim votes (conformance only votes on victims), and Tandem's in
// the first tier unless Stock:
//
//	tiers:
//	- plugins: [priority, gang, conformance, tandem]
//	- plugins: [predicates, proportion, binpack, network-topology-aware]
//
// Left out: overcommit (it only gates enqueue, by the whole cluster's
// use, which a few-node scenario of a full cluster would always refuse),
// drf (job order among equals; its preemptable vote is one tandem-reclaim
// does not ask, see plugins/tandem skipped) and nodeorder (scores that
// the benchmark's comparison leaves to binpack).
//
// As in that file no extension point is switched off, and, as
// tandem-scheduler does when it loads it, Volcano's defaults then enable
// every one (sub-job readiness and order included).
func (s Scenario) tiers() []conf.Tier {
	option := func(name string) conf.PluginOption {
		o := conf.PluginOption{Name: name, Arguments: s.Arguments[name]}
		plugins.ApplyPluginConfDefaults(&o)
		return o
	}
	first := []conf.PluginOption{option(priority.PluginName), option(gang.PluginName), option(conformance.PluginName)}
	if !s.Stock {
		first = append(first, option(tandem.Name))
	}
	second := []conf.PluginOption{
		option(predicates.PluginName),
		option(proportion.PluginName),
		option(binpack.PluginName),
		option(networktopologyaware.PluginName),
	}
	return []conf.Tier{{Plugins: first}, {Plugins: second}}
}
