package deploy

// The rules the sample test applies, one function each. A rule returns why
// the role breaks it, or nothing; rules that need the engine command return
// nothing when engine-command already reports it missing.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/router"
	"github.com/tandem-serving/tandem/router/endpoint"
)

func engineCommand(rc *roleCheck) []string {
	if rc.engine == nil {
		want := "vllm serve MODEL"
		if rc.kind == v1alpha1.EngineSGLang {
			want = "python3 -m sglang.launch_server"
		}
		return []string{fmt.Sprintf("the leader's container %s runs %v; want an explicit %s", rc.leader.Spec.Containers[0].Name, rc.lead, want)}
	}
	if rc.engine.model() == "" {
		return []string{"the engine command names no model"}
	}
	return nil
}

func imageTagPinned(rc *roleCheck) []string {
	var out []string
	for _, p := range rc.pods {
		for _, c := range slices.Concat(p.Spec.InitContainers, p.Spec.Containers) {
			name := c.Image[strings.LastIndex(c.Image, "/")+1:]
			if !strings.Contains(name, "@") && (!strings.Contains(name, ":") || strings.HasSuffix(name, ":latest")) {
				out = append(out, fmt.Sprintf("container %s image %q: name a version tag or digest, not latest", c.Name, c.Image))
			}
		}
	}
	return out
}

func tpMatchesGPUs(rc *roleCheck) []string {
	if rc.engine == nil {
		return nil
	}
	tpName, ppName := "--tensor-parallel-size", "--pipeline-parallel-size"
	tp, tpErr := rc.engine.intFlag(1, tpName, "-tp")
	pp, ppErr := rc.engine.intFlag(1, ppName, "-pp")
	if rc.kind == v1alpha1.EngineSGLang {
		tpName, ppName = "--tp-size", "--pp-size"
		tp, tpErr = rc.engine.intFlag(1, tpName, "--tp", "--tensor-parallel-size")
		pp, ppErr = rc.engine.intFlag(1, ppName, "--pipeline-parallel-size")
	}
	if err := cmpErr(tpErr, ppErr); err != nil {
		return []string{err.Error()}
	}
	if int64(tp*pp) != rc.gpus*int64(rc.size) {
		return []string{fmt.Sprintf("%s %d x %s %d != %s x %s", tpName, tp, ppName, pp,
			plural(rc.gpus, "GPU"), plural(int64(rc.size), "pod"))}
	}
	return nil
}

func probesOnHealth(rc *roleCheck) []string {
	c := &rc.leader.Spec.Containers[0]
	var out []string
	for _, p := range []struct {
		name     string
		probe    *corev1.Probe
		required bool
	}{{"startupProbe", c.StartupProbe, true}, {"readinessProbe", c.ReadinessProbe, true}, {"livenessProbe", c.LivenessProbe, false}} {
		switch {
		case p.probe == nil && p.required:
			out = append(out, fmt.Sprintf("container %s has no %s", c.Name, p.name))
		case p.probe == nil:
		case p.probe.HTTPGet == nil:
			out = append(out, fmt.Sprintf("%s is not an HTTP GET of %s", p.name, healthPath))
		case p.probe.HTTPGet.Path != healthPath:
			out = append(out, fmt.Sprintf("%s path %q, want %s", p.name, p.probe.HTTPGet.Path, healthPath))
		case containerPort(c, p.probe.HTTPGet.Port.String()) != rc.port:
			out = append(out, fmt.Sprintf("%s port %s is %d, want spec.engine.port %d", p.name, p.probe.HTTPGet.Port.String(),
				containerPort(c, p.probe.HTTPGet.Port.String()), rc.port))
		}
	}
	return out
}

func startupAllowsLoading(rc *roleCheck) []string {
	p := rc.leader.Spec.Containers[0].StartupProbe
	if p == nil {
		return nil // probes-on-health reports it
	}
	period, threshold := p.PeriodSeconds, p.FailureThreshold
	if period == 0 {
		period = 10 // the Kubernetes defaults
	}
	if threshold == 0 {
		threshold = 3
	}
	if got := time.Duration(period*threshold) * time.Second; got < minStartup {
		return []string{fmt.Sprintf("startupProbe allows %s (failureThreshold %d x periodSeconds %d); loading weights takes minutes, allow at least %s",
			got, threshold, period, minStartup)}
	}
	return nil
}

func servedNamesMatch(rc *roleCheck) []string {
	if rc.engine == nil || len(rc.sg.Spec.ServedModelNames) == 0 {
		return nil // without names the router asks the engine's /v1/models
	}
	got := rc.engine.flags["--served-model-name"]
	if len(got) == 0 {
		got = []string{rc.engine.model()}
	}
	if rc.kind == v1alpha1.EngineSGLang && len(got) > 1 {
		return []string{fmt.Sprintf("SGLang serves one name; --served-model-name has %v", got)}
	}
	got, want := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(rc.sg.Spec.ServedModelNames))
	if !slices.Equal(got, want) {
		return []string{fmt.Sprintf("the engine serves %v, spec.servedModelNames is %v", got, want)}
	}
	return nil
}

func portMatchesEngine(rc *roleCheck) []string {
	if rc.engine == nil {
		return nil
	}
	def := 8000
	if rc.kind == v1alpha1.EngineSGLang {
		def = 30000
	}
	var out []string
	if port, err := rc.engine.intFlag(def, "--port"); err != nil {
		out = append(out, err.Error())
	} else if int32(port) != rc.port {
		out = append(out, fmt.Sprintf("the engine listens on %d, spec.engine.port is %d", port, rc.port))
	}
	if rc.kind == v1alpha1.EngineSGLang {
		if host := rc.engine.last("--host"); host == "" || host == "127.0.0.1" || host == "localhost" {
			out = append(out, "SGLang binds 127.0.0.1 unless --host says otherwise (e.g. 0.0.0.0): probes and the router could not reach it")
		}
	}
	return out
}

func nixlSideChannelHost(rc *roleCheck) []string {
	if rc.kind != v1alpha1.EngineVLLM || !isPD(rc.role) {
		return nil
	}
	var out []string
	for _, p := range rc.pods {
		c := &p.Spec.Containers[0]
		ok := slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
			return e.Name == "VLLM_NIXL_SIDE_CHANNEL_HOST" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil &&
				e.ValueFrom.FieldRef.FieldPath == "status.podIP"
		})
		if !ok {
			out = append(out, fmt.Sprintf("pod rank %s: VLLM_NIXL_SIDE_CHANNEL_HOST is not set from status.podIP (downward API); vLLM's default, localhost, is unreachable from the other instance",
				p.Labels[v1alpha1.LabelRank]))
		}
	}
	return out
}

func kvTransferNixl(rc *roleCheck) []string {
	if rc.engine == nil || rc.kind != v1alpha1.EngineVLLM || !isPD(rc.role) {
		return nil
	}
	raw := rc.engine.last("--kv-transfer-config")
	var cfg struct {
		Connector string `json:"kv_connector"`
		Role      string `json:"kv_role"`
	}
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return []string{fmt.Sprintf("--kv-transfer-config %q is not a JSON object: %v", raw, err)}
	}
	var out []string
	if cfg.Connector != "NixlConnector" {
		out = append(out, fmt.Sprintf("kv_connector %q, want NixlConnector (the router's handshake is NIXL's kv_transfer_params)", cfg.Connector))
	}
	roles := map[string][]string{"prefill": {"kv_both", "kv_producer"}, "decode": {"kv_both", "kv_consumer"}}[rc.role]
	if !slices.Contains(roles, cfg.Role) {
		out = append(out, fmt.Sprintf("kv_role %q, want one of %v for %s", cfg.Role, roles, rc.role))
	}
	if pp, err := rc.engine.intFlag(1, "--pipeline-parallel-size", "-pp"); err == nil && pp > 1 {
		out = append(out, fmt.Sprintf("--pipeline-parallel-size %d: NixlConnector does not transfer KV with pipeline parallelism; use tensor parallelism across the pods", pp))
	}
	return out
}

func disaggregationMode(rc *roleCheck) []string {
	if rc.engine == nil || rc.kind != v1alpha1.EngineSGLang {
		return nil
	}
	mode, want := rc.engine.last("--disaggregation-mode"), rc.role
	if !isPD(rc.role) {
		if mode == "" || mode == "null" {
			return nil
		}
		want = "null"
	}
	if mode != want {
		return []string{fmt.Sprintf("--disaggregation-mode %q, want %q", mode, want)}
	}
	return nil
}

func bootstrapPort(rc *roleCheck) []string {
	if rc.engine == nil || rc.kind != v1alpha1.EngineSGLang || endpoint.RoleFromName(rc.role) != endpoint.RolePrefill {
		return nil
	}
	want, from := rc.routed.BootstrapPort, "spec.engine.bootstrapPort"
	if rc.sg.Spec.Engine.BootstrapPort == 0 {
		from = "the router's default for an unset spec.engine.bootstrapPort"
	}
	port, err := rc.engine.intFlag(0, "--disaggregation-bootstrap-port")
	switch {
	case rc.engine.last("--disaggregation-bootstrap-port") == "":
		return []string{fmt.Sprintf("no --disaggregation-bootstrap-port: set it to %d, %s, which the router sends as bootstrap_port", want, from)}
	case err != nil:
		return []string{err.Error()}
	case port != want:
		return []string{fmt.Sprintf("--disaggregation-bootstrap-port %d, want %d, %s, which the router sends as bootstrap_port", port, want, from)}
	}
	return nil
}

// kvEventsPort is the port the router subscribes to on the endpoint: the
// discovered spec.engine.kvEventsPort, else its configured kvEvents.port
// (router/kvevents.go; the CRD defaults the field to 5557, but a sample is
// read without the API server's defaulting).
func kvEventsPort(rc *roleCheck) (int, string) {
	if rc.routed.KVEventsPort > 0 {
		return rc.routed.KVEventsPort, "spec.engine.kvEventsPort"
	}
	return router.DefaultConfig().KVEvents.Port, "the router's kvEvents.port"
}

func kvEventsMatchRouter(rc *roleCheck) []string {
	if rc.engine == nil || rc.kind != v1alpha1.EngineVLLM {
		return nil
	}
	want := router.DefaultConfig().KVEvents
	raw := rc.engine.last("--kv-events-config")
	var cfg struct {
		Enabled   bool   `json:"enable_kv_cache_events"`
		Publisher string `json:"publisher"`
		Endpoint  string `json:"endpoint"`
		Topic     string `json:"topic"`
	}
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return []string{fmt.Sprintf("--kv-events-config %q is not a JSON object (vLLM samples publish KV events for the router's exact mode): %v", raw, err)}
	}
	var out []string
	if !cfg.Enabled || cfg.Publisher != "zmq" {
		out = append(out, fmt.Sprintf("enable_kv_cache_events %t, publisher %q: want true and zmq", cfg.Enabled, cfg.Publisher))
	}
	if port, from := kvEventsPort(rc); !strings.HasSuffix(cfg.Endpoint, ":"+strconv.Itoa(port)) {
		out = append(out, fmt.Sprintf("endpoint %q, the router subscribes to port %d (%s)", cfg.Endpoint, port, from))
	}
	if cfg.Topic != want.Topic {
		out = append(out, fmt.Sprintf("topic %q, the router subscribes to %q", cfg.Topic, want.Topic))
	}
	if bs, err := rc.engine.intFlag(0, "--block-size"); err != nil || bs != want.BlockTokens {
		out = append(out, fmt.Sprintf("--block-size %q, want %d explicitly: the router's kvEvents.blockTokens", rc.engine.last("--block-size"), want.BlockTokens))
	}
	return out
}

func leaderWaits(rc *roleCheck) []string {
	if rc.size <= 1 || rc.engine == nil {
		return nil
	}
	if rc.kind == v1alpha1.EngineSGLang {
		// launch_server rendezvouses with --nnodes nodes before serving.
		if n, err := rc.engine.intFlag(1, "--nnodes"); err != nil || n != rc.size {
			return []string{fmt.Sprintf("--nnodes %q, want %d (the instance's pods)", rc.engine.last("--nnodes"), rc.size)}
		}
		return nil
	}
	before := rc.lead[:rc.engine.at]
	var out []string
	if !slices.ContainsFunc(before, func(c command) bool { return c.is("ray", "start") && slices.Contains(c, "--head") }) {
		out = append(out, "no `ray start --head` before vllm serve")
	}
	waits := slices.ContainsFunc(before, func(c command) bool {
		return (c.is("until") || c.is("while")) && slices.ContainsFunc(c, func(w string) bool {
			return strings.Contains(w, v1alpha1.EnvWorldSize) || w == strconv.Itoa(rc.size)
		})
	})
	if !waits {
		out = append(out, fmt.Sprintf("vllm serve starts without a loop that waits for %s (%d) Ray nodes", v1alpha1.EnvWorldSize, rc.size))
	}
	if b := rc.engine.last("--distributed-executor-backend"); b != "ray" {
		out = append(out, fmt.Sprintf("--distributed-executor-backend %q, want ray to place ranks on the other pods", b))
	}
	return out
}

func workerJoins(rc *roleCheck) []string {
	if rc.size <= 1 {
		return nil
	}
	if rc.worker == nil {
		return []string{"size > 1 but the planner rendered no rank-1 pod"}
	}
	if rc.kind == v1alpha1.EngineSGLang {
		e := findEngine(rc.kind, rc.work)
		if e == nil || !strings.Contains(e.last("--node-rank"), v1alpha1.EnvRank) || !strings.Contains(e.last("--dist-init-addr"), v1alpha1.EnvLeaderAddress) {
			return []string{fmt.Sprintf("the worker must run launch_server with --node-rank from %s and --dist-init-addr at %s", v1alpha1.EnvRank, v1alpha1.EnvLeaderAddress)}
		}
		return nil
	}
	joins := slices.ContainsFunc(rc.work, func(c command) bool {
		return c.is("ray", "start") && slices.Contains(c, "--block") &&
			slices.ContainsFunc(c, func(w string) bool {
				return strings.Contains(w, "--address") && strings.Contains(w, v1alpha1.EnvLeaderAddress)
			})
	})
	if !joins {
		return []string{fmt.Sprintf("the worker runs %v; want `ray start --block --address=$%s:PORT`", rc.work, v1alpha1.EnvLeaderAddress)}
	}
	return nil
}

// engineDrains: a deleted pod keeps serving its open streams while the
// routers drop it. vLLM v0.12.0 cuts its streams on SIGTERM, so its preStop
// sleep is the whole drain and the grace period must outlast it; SGLang
// drains on SIGTERM by itself until the grace period ends, so its preStop
// sleep only has to cover the routers. The kubelet cuts a preStop hook at
// the grace period. Workers keep their ranks as long as the leader.
func engineDrains(rc *roleCheck) []string {
	lead := drainOf(rc.leader)
	serving := min(lead.sleep, lead.grace)
	if rc.kind == v1alpha1.EngineSGLang {
		serving = lead.grace
	}
	var out []string
	switch {
	case lead.sleep < routerDrop:
		out = append(out, fmt.Sprintf("container %s has a preStop sleep of %s; routers drop a terminating pod when their watch tells them, sleep at least %s before SIGTERM",
			rc.leader.Spec.Containers[0].Name, lead.sleep, routerDrop))
	case serving < drainTarget:
		out = append(out, fmt.Sprintf("the pod serves its open streams for %s after the delete (preStop sleep %s, terminationGracePeriodSeconds %s); allow at least %s",
			serving, lead.sleep, lead.grace, drainTarget))
	}
	if rc.kind == v1alpha1.EngineVLLM && lead.grace < lead.sleep+engineExit {
		out = append(out, fmt.Sprintf("terminationGracePeriodSeconds %s does not cover the preStop sleep %s and %s for vLLM to exit after SIGTERM",
			lead.grace, lead.sleep, engineExit))
	}
	if rc.worker != nil {
		if w := drainOf(rc.worker); w.sleep < lead.sleep || w.grace < lead.grace {
			out = append(out, fmt.Sprintf("the worker's preStop sleep %s and grace period %s are shorter than the leader's %s and %s: its ranks would go while the leader drains",
				w.sleep, w.grace, lead.sleep, lead.grace))
		}
	}
	return out
}

// drain is what a pod's spec gives its engine container after the delete.
type drain struct{ sleep, grace time.Duration }

func drainOf(p *corev1.Pod) drain {
	d := drain{grace: defaultGrace}
	if s := p.Spec.TerminationGracePeriodSeconds; s != nil {
		d.grace = time.Duration(*s) * time.Second
	}
	// Only the sleep action counts: an exec sleep needs a sleep binary in
	// the image, which the kubelet's own action does not.
	if l := p.Spec.Containers[0].Lifecycle; l != nil && l.PreStop != nil && l.PreStop.Sleep != nil {
		d.sleep = time.Duration(l.PreStop.Sleep.Seconds) * time.Second
	}
	return d
}

func containerPort(c *corev1.Container, port string) int32 {
	for _, p := range c.Ports {
		if p.Name == port {
			return p.ContainerPort
		}
	}
	n, _ := strconv.Atoi(port)
	return int32(n)
}

func plural(n int64, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
