package routerbench

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/tandem-serving/tandem/benchmarks/sim"
	"github.com/tandem-serving/tandem/benchmarks/sim/server"
)

// Placement is an engine's place in a disaggregated fleet: its
// prefill/decode role, played by the simulated engine and written to the
// router's endpoints file with the engine's ServingGroup group and unit.
// The zero value serves whole requests.
type Placement struct {
	// Role is prefill, decode or both (empty: both).
	Role  string `json:"role,omitempty"`
	Group string `json:"group,omitempty"`
	Unit  string `json:"unit,omitempty"`
}

// PDLayout places prefill prefill engines then decode decode engines in
// one group, engine i of each role in unit i mod min(prefill, decode): with
// 2P2D, unit 0 holds prefill 0 and decode 0, unit 1 the others, so the
// router's same-unit preference pairs them.
func PDLayout(prefill, decode int) []Placement {
	units := max(1, min(prefill, decode))
	out := make([]Placement, 0, prefill+decode)
	for i := range prefill {
		out = append(out, Placement{Role: string(server.RolePrefill), Group: "pd", Unit: strconv.Itoa(i % units)})
	}
	for i := range decode {
		out = append(out, Placement{Role: string(server.RoleDecode), Group: "pd", Unit: strconv.Itoa(i % units)})
	}
	return out
}

// EndpointsFile is tandem-router's static endpoints file
// (router/discovery): every engine (host:port) serving model, engine i
// placed by layout[i] when a layout is given and publishing KV events on
// port kvPorts[i] when those are given (the router's exact mode subscribes
// there).
func EndpointsFile(model string, engines []string, layout []Placement, kvPorts []int) ([]byte, error) {
	if layout != nil && len(layout) != len(engines) {
		return nil, fmt.Errorf("endpoints file: %d placements for %d engines", len(layout), len(engines))
	}
	if kvPorts != nil && len(kvPorts) != len(engines) {
		return nil, fmt.Errorf("endpoints file: %d KV events ports for %d engines", len(kvPorts), len(engines))
	}
	type spec struct {
		Address string `json:"address"`
		Placement
		KVEventsPort int `json:"kvEventsPort,omitempty"`
	}
	file := struct {
		Models    []string `json:"models"`
		Endpoints []spec   `json:"endpoints"`
	}{Models: []string{model}}
	for i, e := range engines {
		s := spec{Address: e}
		if layout != nil {
			s.Placement = layout[i]
		}
		if kvPorts != nil {
			s.KVEventsPort = kvPorts[i]
		}
		file.Endpoints = append(file.Endpoints, s)
	}
	return yaml.Marshal(file)
}

// kvEventsPorts is each engine's bound KV events port, in fleet order;
// nil when an engine publishes none.
func kvEventsPorts(engines []*sim.Engine) ([]int, error) {
	out := make([]int, len(engines))
	for i, e := range engines {
		ep := e.KVEventsEndpoint()
		if ep == "" {
			return nil, nil
		}
		_, port, err := net.SplitHostPort(strings.TrimPrefix(ep, "tcp://"))
		if err == nil {
			out[i], err = strconv.Atoi(port)
		}
		if err != nil {
			return nil, fmt.Errorf("engine %d's KV events endpoint %q: %w", i, ep, err)
		}
	}
	return out, nil
}

// startEngines starts n in-process engines configured as base on free
// ports, engine i in the role layout[i] gives it (all roles both without a
// layout). On error the engines already started are closed.
func startEngines(ctx context.Context, base sim.Config, n int, layout []Placement) ([]*sim.Engine, error) {
	if layout == nil {
		addrs, err := sim.Addresses("127.0.0.1:0", n)
		if err != nil {
			return nil, err
		}
		return sim.StartMany(ctx, base, addrs)
	}
	engines := make([]*sim.Engine, 0, len(layout))
	for i, p := range layout {
		cfg := base
		cfg.Listen, cfg.Index, cfg.Role = "127.0.0.1:0", i, server.RoleBoth
		var err error
		if p.Role != "" {
			cfg.Role, err = server.ParseRole(p.Role)
		}
		var e *sim.Engine
		if err == nil {
			e, err = sim.Start(ctx, cfg)
		}
		if err != nil {
			closeAll(engines)
			return nil, fmt.Errorf("engine %d (%s): %w", i, p.Role, err)
		}
		engines = append(engines, e)
	}
	return engines, nil
}

func closeAll(engines []*sim.Engine) {
	for _, e := range engines {
		e.Close()
	}
}

// EngineStats are one in-process engine's own counters over a run (its
// whole life: engines are fresh for every run).
type EngineStats struct {
	Role string `json:"role"`
	// Requests finished: for a prefill engine the prefill halves it
	// answered (one token each).
	Requests         uint64 `json:"requests"`
	PromptTokens     uint64 `json:"prompt_tokens"`
	GenerationTokens uint64 `json:"generation_tokens"`
	Preemptions      uint64 `json:"preemptions"`
}

// readEngineStats reads every engine's counters, in fleet order.
func readEngineStats(engines []*sim.Engine) []EngineStats {
	out := make([]EngineStats, len(engines))
	for i, e := range engines {
		s := e.Snapshot().Stats
		out[i] = EngineStats{Role: string(e.Config().Role), Requests: s.Finished, PromptTokens: s.PromptTokens,
			GenerationTokens: s.GenerationTokens, Preemptions: s.Preemptions}
	}
	return out
}

// subEngineStats is after − before, engine by engine (same fleet order).
func subEngineStats(after, before []EngineStats) []EngineStats {
	out := slices.Clone(after)
	for i := range out {
		if i < len(before) {
			out[i].Requests -= min(before[i].Requests, out[i].Requests)
			out[i].PromptTokens -= min(before[i].PromptTokens, out[i].PromptTokens)
			out[i].GenerationTokens -= min(before[i].GenerationTokens, out[i].GenerationTokens)
			out[i].Preemptions -= min(before[i].Preemptions, out[i].Preemptions)
		}
	}
	return out
}

// busiestShare is, per role, the busiest engine's requests over the
// role's mean per engine; roles whose engines finished nothing are left
// out.
func busiestShare(engines []EngineStats) map[string]float64 {
	total, most, count := map[string]float64{}, map[string]float64{}, map[string]float64{}
	for _, e := range engines {
		n := float64(e.Requests)
		total[e.Role] += n
		most[e.Role] = max(most[e.Role], n)
		count[e.Role]++
	}
	out := map[string]float64{}
	for role, t := range total {
		if t > 0 {
			out[role] = most[role] / (t / count[role])
		}
	}
	return out
}
