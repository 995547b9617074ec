package deploy

// The sample test renders every ServingGroup in samples/ through the
// controller's pure planner (plan.Compute with nothing existing yet, so the
// pods carry the planner's defaults, accelerator requests and TANDEM_* env)
// and checks the engine container of each role's pods against what the
// engine needs to start and to work with the router. Each rule is a named
// function; a broken rule reports "<file>: role <role>: rule <name>: <why>".
//
// Engine facts (vLLM v0.12.0, SGLang v0.5.5; sources in samples/README.md):
//   - vLLM: `vllm serve MODEL`, --served-model-name (one or more names),
//     --port (default 8000), --tensor-parallel-size × --pipeline-parallel-size
//     = GPUs of the instance; GET /health; NIXL P/D needs --kv-transfer-config
//     {"kv_connector":"NixlConnector","kv_role":...} and
//     VLLM_NIXL_SIDE_CHANNEL_HOST (default localhost) set to an address the
//     other instance reaches; NixlConnector does not transfer KV for PP > 1;
//     --kv-events-config publishes KV events over ZeroMQ. Across pods the
//     ranks run on a Ray cluster the leader must wait for.
//   - SGLang: `python3 -m sglang.launch_server`, --model-path,
//     --served-model-name (one name), --host (default 127.0.0.1), --port
//     (default 30000), --tp-size; --disaggregation-mode prefill|decode and,
//     on prefill, the bootstrap server on --disaggregation-bootstrap-port.
//   - On SIGTERM vLLM v0.12.0 cuts its open streams (no drain before
//     --shutdown-timeout in v0.18.0); SGLang waits until its requests are
//     done. The kubelet runs a preStop hook before SIGTERM, both within
//     terminationGracePeriodSeconds.
// Router facts come from the router's own code: the bootstrap and KV-event
// ports are those its discovery gives the rendered leader pod
// (spec.engine.bootstrapPort, SGLang's 8998 when unset;
// spec.engine.kvEventsPort, else the configured kvEvents.port), the topic
// and block size its default config; so a change there fails here.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/plan"
	"github.com/tandem-serving/tandem/router/discovery"
	"github.com/tandem-serving/tandem/router/endpoint"
)

const (
	healthPath = "/health" // vLLM and SGLang
	// minStartup is the least a startup probe must wait: weights load and
	// CUDA graphs are captured before the server listens.
	minStartup = 10 * time.Minute
	// defaultEnginePort mirrors the CRD default of spec.engine.port.
	defaultEnginePort = 8000
	// The drain of a deleted pod (samples/README.md, "Draining"). Routers
	// drop a terminating pod when their watch delivers its
	// deletionTimestamp: routerDrop is the least preStop sleep before
	// SIGTERM. drainTarget is how long the pod must keep serving its open
	// streams after the delete: routerDrop plus 55 s, a 2,048-token answer
	// at 25 ms a token with its first token. engineExit is the least room
	// the grace period leaves vLLM to exit after SIGTERM.
	routerDrop  = 5 * time.Second
	drainTarget = 60 * time.Second
	engineExit  = 10 * time.Second
	// defaultGrace is Kubernetes' terminationGracePeriodSeconds default.
	defaultGrace = 30 * time.Second
)

// finding is one broken rule.
type finding struct{ file, role, rule, msg string }

func (f finding) String() string {
	return fmt.Sprintf("%s: role %s: rule %s: %s", f.file, f.role, f.rule, f.msg)
}

// roleCheck is what the rules look at for one role: its first instance as
// the planner renders it, and the commands its containers run.
type roleCheck struct {
	sg     *v1alpha1.ServingGroup
	role   string
	kind   v1alpha1.EngineKind
	port   int32 // spec.engine.port, defaulted
	gpus   int64 // accelerators per pod, from the rendered request
	size   int   // pods per instance, from the rendered TANDEM_WORLD_SIZE
	pods   []*corev1.Pod
	leader *corev1.Pod
	worker *corev1.Pod // rank 1, nil for size 1
	lead   []command   // the leader's engine container commands
	work   []command   // the worker's
	engine *invocation // the engine server command in lead, nil if none
	// routed is the endpoint the router's discovery makes of the leader
	// once it runs: its bootstrap and KV-event ports are the router's.
	routed *endpoint.Spec
}

type sampleRule struct {
	name  string
	check func(*roleCheck) []string
}

var sampleRules = []sampleRule{
	{"engine-command", engineCommand},
	{"image-tag-pinned", imageTagPinned},
	{"tp-matches-gpus", tpMatchesGPUs},
	{"probes-on-health", probesOnHealth},
	{"startup-allows-loading", startupAllowsLoading},
	{"served-names-match", servedNamesMatch},
	{"port-matches-engine", portMatchesEngine},
	{"nixl-side-channel-host", nixlSideChannelHost},
	{"kv-transfer-nixl", kvTransferNixl},
	{"disaggregation-mode-matches-role", disaggregationMode},
	{"bootstrap-port", bootstrapPort},
	{"kv-events-match-router", kvEventsMatchRouter},
	{"leader-waits-for-workers", leaderWaits},
	{"worker-joins-leader", workerJoins},
	{"engine-drains", engineDrains},
}

func TestSamplesStartRealEngines(t *testing.T) {
	files := sampleFiles(t)
	if diff := cmp.Diff(files, kustomizeResources(t)); diff != "" {
		t.Errorf("samples/kustomization.yaml resources differ from the sample files (-files +kustomization):\n%s", diff)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			sg := loadSample(t, file)
			data, err := os.ReadFile(filepath.Join("samples", file))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range append(headerNamesImages(file, data, sg), checkSample(file, sg)...) {
				t.Error(f)
			}
		})
	}
}

// headerNamesImages checks that the sample's leading comment names every
// image it runs, so a reader knows which engine version the flags follow.
func headerNamesImages(file string, data []byte, sg *v1alpha1.ServingGroup) []finding {
	var header strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		header.WriteString(line + "\n")
	}
	var out []finding
	eachTemplate(sg, func(role string, c *corev1.Container) {
		if !strings.Contains(header.String(), c.Image) {
			out = append(out, finding{file, role, "header-names-version", fmt.Sprintf("the leading comment does not name image %s", c.Image)})
		}
	})
	return out
}

func TestHeaderNamesImages(t *testing.T) {
	sg := loadSample(t, "aggregated.yaml")
	data := []byte("# Aggregated, vllm/vllm-openai:v0.12.0.\napiVersion: x\n# vllm/vllm-openai:v0.12.1\n")
	if got := headerNamesImages("a.yaml", data, sg); len(got) != 0 {
		t.Errorf("header naming the image: %v", got)
	}
	sg.Spec.Roles[0].Template.Spec.Containers[0].Image = "vllm/vllm-openai:v0.12.1"
	want := []finding{{"a.yaml", "engine", "header-names-version", "the leading comment does not name image vllm/vllm-openai:v0.12.1"}}
	if diff := cmp.Diff(want, headerNamesImages("a.yaml", data, sg), cmp.AllowUnexported(finding{})); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// TestSampleRulesCatchBrokenSamples breaks each sample on purpose and
// expects the rule that guards the break to report it.
func TestSampleRulesCatchBrokenSamples(t *testing.T) {
	always := func(*v1alpha1.ServingGroup) bool { return true }
	breaks := []struct {
		name    string
		rule    string
		applies func(*v1alpha1.ServingGroup) bool
		apply   func(*v1alpha1.ServingGroup)
	}{
		{"wrong tensor parallel size", "tp-matches-gpus", always, func(sg *v1alpha1.ServingGroup) {
			editStrings(sg, func(_, s string) string { return tpFlag.ReplaceAllString(s, "${1}${2}3") })
		}},
		{"missing startup probe", "probes-on-health", always, func(sg *v1alpha1.ServingGroup) {
			eachTemplate(sg, func(_ string, c *corev1.Container) { c.StartupProbe = nil })
		}},
		{"startup probe too short for loading", "startup-allows-loading", always, func(sg *v1alpha1.ServingGroup) {
			eachTemplate(sg, func(_ string, c *corev1.Container) {
				if c.StartupProbe != nil {
					c.StartupProbe.FailureThreshold = 3
				}
			})
		}},
		{"missing NIXL host env", "nixl-side-channel-host", vllmPD, func(sg *v1alpha1.ServingGroup) {
			eachTemplate(sg, func(_ string, c *corev1.Container) {
				c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "VLLM_NIXL_SIDE_CHANNEL_HOST" })
			})
		}},
		{"KV connector not NIXL", "kv-transfer-nixl", vllmPD, func(sg *v1alpha1.ServingGroup) {
			editStrings(sg, func(_, s string) string { return strings.ReplaceAll(s, "NixlConnector", "LMCacheConnectorV1") })
		}},
		{"wrong served name", "served-names-match", always, func(sg *v1alpha1.ServingGroup) {
			sg.Spec.ServedModelNames = []string{"someone/else"}
		}},
		{"wrong disaggregation mode", "disaggregation-mode-matches-role", sglangPD, func(sg *v1alpha1.ServingGroup) {
			editStrings(sg, func(role, s string) string {
				other := map[string]string{"prefill": "decode", "decode": "prefill"}[role]
				return strings.ReplaceAll(s, "--disaggregation-mode="+role, "--disaggregation-mode="+other)
			})
		}},
		{"missing bootstrap port", "bootstrap-port", sglangPD, func(sg *v1alpha1.ServingGroup) {
			eachTemplate(sg, func(_ string, c *corev1.Container) {
				c.Args = slices.DeleteFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--disaggregation-bootstrap-port") })
			})
		}},
		{"bootstrap port in spec differs from the flag", "bootstrap-port", sglangPD, func(sg *v1alpha1.ServingGroup) {
			sg.Spec.Engine.BootstrapPort = 9000
		}},
		{"KV events port in spec differs from the endpoint", "kv-events-match-router", isVLLM, func(sg *v1alpha1.ServingGroup) {
			sg.Spec.Engine.KVEventsPort = 5600
		}},
		{"KV events off", "kv-events-match-router", isVLLM, func(sg *v1alpha1.ServingGroup) {
			editStrings(sg, func(_, s string) string {
				return strings.ReplaceAll(s, `"enable_kv_cache_events":true`, `"enable_kv_cache_events":false`)
			})
		}},
		{"leader serves without waiting", "leader-waits-for-workers", multiNode, func(sg *v1alpha1.ServingGroup) {
			editStrings(sg, func(_, s string) string { return waitLoop.ReplaceAllString(s, "") })
		}},
		{"port differs from the spec", "port-matches-engine", always, func(sg *v1alpha1.ServingGroup) {
			sg.Spec.Engine.Port = 9000
		}},
		{"image without tag", "image-tag-pinned", always, func(sg *v1alpha1.ServingGroup) {
			eachTemplate(sg, func(_ string, c *corev1.Container) { c.Image = strings.Split(c.Image, ":")[0] })
		}},
		{"engine left to the image entrypoint", "engine-command", always, func(sg *v1alpha1.ServingGroup) {
			eachTemplate(sg, func(_ string, c *corev1.Container) { c.Command = nil })
		}},
		{"pipeline parallel with NIXL", "kv-transfer-nixl", func(sg *v1alpha1.ServingGroup) bool { return vllmPD(sg) && multiNode(sg) },
			func(sg *v1alpha1.ServingGroup) {
				editStrings(sg, func(_, s string) string {
					return strings.ReplaceAll(s, "--tensor-parallel-size 16 --pipeline-parallel-size 1", "--tensor-parallel-size 8 --pipeline-parallel-size 2")
				})
			}},
		{"no preStop sleep", "engine-drains", always, func(sg *v1alpha1.ServingGroup) {
			eachTemplate(sg, func(_ string, c *corev1.Container) { c.Lifecycle = nil })
		}},
		{"default grace period, shorter than the drain", "engine-drains", always, func(sg *v1alpha1.ServingGroup) {
			eachSpec(sg, func(s *corev1.PodSpec) { s.TerminationGracePeriodSeconds = nil })
		}},
		{"worker stops before the leader has drained", "engine-drains", multiNode, func(sg *v1alpha1.ServingGroup) {
			for i := range sg.Spec.Roles {
				if w := sg.Spec.Roles[i].WorkerTemplate; w != nil {
					w.Spec.Containers[0].Lifecycle = nil
				}
			}
		}},
		{"worker does not join the leader", "worker-joins-leader", multiNode, func(sg *v1alpha1.ServingGroup) {
			editStrings(sg, func(_, s string) string {
				return strings.ReplaceAll(s, "exec ray start --block", "exec sleep infinity")
			})
		}},
	}
	var broken []string
	for _, b := range breaks {
		broken = append(broken, b.rule)
	}
	for _, r := range sampleRules {
		if !slices.Contains(broken, r.name) {
			t.Errorf("rule %s: no break below shows that it can fail", r.name)
		}
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			tried := 0
			for _, file := range sampleFiles(t) {
				sg := loadSample(t, file)
				if !b.applies(sg) {
					continue
				}
				tried++
				b.apply(sg)
				got := checkSample(file, sg)
				t.Logf("%s: %v", file, got)
				if !slices.ContainsFunc(got, func(f finding) bool { return f.rule == b.rule && f.file == file }) {
					t.Errorf("%s broken by %q: rule %s did not report it; findings: %v", file, b.name, b.rule, got)
				}
			}
			if tried == 0 {
				t.Errorf("no sample to break with %q", b.name)
			}
		})
	}
}

// The message names the file, the role, the rule and the numbers.
func TestSampleFindingMessage(t *testing.T) {
	sg := loadSample(t, "disaggregated-1p1d.yaml")
	editStrings(sg, func(_, s string) string { return tpFlag.ReplaceAllString(s, "${1}${2}4") })
	var got []string
	for _, f := range checkSample("disaggregated-1p1d.yaml", sg) {
		got = append(got, f.String())
	}
	want := []string{
		"disaggregated-1p1d.yaml: role prefill: rule tp-matches-gpus: --tensor-parallel-size 4 x --pipeline-parallel-size 1 != 1 GPU x 1 pod",
		"disaggregated-1p1d.yaml: role decode: rule tp-matches-gpus: --tensor-parallel-size 4 x --pipeline-parallel-size 1 != 1 GPU x 1 pod",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// The port rules compare the engine's flags with what the router will use:
// spec.engine's ports when set, the router's defaults otherwise. Moving flag
// and spec together is no finding; moving one alone names both numbers.
func TestPortRulesFollowSpec(t *testing.T) {
	cases := []struct {
		name string
		file string
		edit func(*v1alpha1.ServingGroup)
		want []string
	}{
		{"bootstrap port unset: SGLang's default", "sglang-1p1d.yaml", func(sg *v1alpha1.ServingGroup) {
			sg.Spec.Engine.BootstrapPort = 0
		}, nil},
		{"bootstrap port unset, flag elsewhere", "sglang-1p1d.yaml", func(sg *v1alpha1.ServingGroup) {
			sg.Spec.Engine.BootstrapPort = 0
			replaceArg(sg, "--disaggregation-bootstrap-port=8998", "--disaggregation-bootstrap-port=9001")
		}, []string{"sglang-1p1d.yaml: role prefill: rule bootstrap-port: --disaggregation-bootstrap-port 9001, want 8998, the router's default for an unset spec.engine.bootstrapPort, which the router sends as bootstrap_port"}},
		{"bootstrap port moved in spec and flag", "sglang-1p1d.yaml", func(sg *v1alpha1.ServingGroup) {
			sg.Spec.Engine.BootstrapPort = 9001
			replaceArg(sg, "--disaggregation-bootstrap-port=8998", "--disaggregation-bootstrap-port=9001")
		}, nil},
		{"bootstrap port moved in spec only", "sglang-1p1d.yaml", func(sg *v1alpha1.ServingGroup) {
			sg.Spec.Engine.BootstrapPort = 9001
		}, []string{"sglang-1p1d.yaml: role prefill: rule bootstrap-port: --disaggregation-bootstrap-port 8998, want 9001, spec.engine.bootstrapPort, which the router sends as bootstrap_port"}},
		{"KV events port moved in spec and endpoint", "aggregated.yaml", func(sg *v1alpha1.ServingGroup) {
			sg.Spec.Engine.KVEventsPort = 5600
			editStrings(sg, func(_, s string) string { return strings.ReplaceAll(s, "tcp://*:5557", "tcp://*:5600") })
		}, nil},
		{"KV events port moved in spec only", "aggregated.yaml", func(sg *v1alpha1.ServingGroup) {
			sg.Spec.Engine.KVEventsPort = 5600
		}, []string{`aggregated.yaml: role engine: rule kv-events-match-router: endpoint "tcp://*:5557", the router subscribes to port 5600 (spec.engine.kvEventsPort)`}},
		{"KV events port unset, endpoint elsewhere", "aggregated.yaml", func(sg *v1alpha1.ServingGroup) {
			sg.Spec.Engine.KVEventsPort = 0
			editStrings(sg, func(_, s string) string { return strings.ReplaceAll(s, "tcp://*:5557", "tcp://*:5600") })
		}, []string{`aggregated.yaml: role engine: rule kv-events-match-router: endpoint "tcp://*:5600", the router subscribes to port 5557 (the router's kvEvents.port)`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sg := loadSample(t, tc.file)
			tc.edit(sg)
			var got []string
			for _, f := range checkSample(tc.file, sg) {
				got = append(got, f.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// replaceArg replaces one exact argument of every template.
func replaceArg(sg *v1alpha1.ServingGroup, old, new string) {
	eachTemplate(sg, func(_ string, c *corev1.Container) {
		for i, a := range c.Args {
			if a == old {
				c.Args[i] = new
			}
		}
	})
}

var (
	tpFlag   = regexp.MustCompile(`(--tensor-parallel-size|--tp-size)(=|\s+)\d+`)
	waitLoop = regexp.MustCompile(`(?ms)^[ \t]*until .*?^[ \t]*done\n`)
)

func isVLLM(sg *v1alpha1.ServingGroup) bool   { return sg.Spec.Engine.Kind == v1alpha1.EngineVLLM }
func sglangPD(sg *v1alpha1.ServingGroup) bool { return !isVLLM(sg) && hasPD(sg) }
func vllmPD(sg *v1alpha1.ServingGroup) bool   { return isVLLM(sg) && hasPD(sg) }
func hasPD(sg *v1alpha1.ServingGroup) bool {
	return slices.ContainsFunc(sg.Spec.Roles, func(r v1alpha1.RoleSpec) bool { return isPD(r.Name) })
}
func multiNode(sg *v1alpha1.ServingGroup) bool {
	return slices.ContainsFunc(sg.Spec.Roles, func(r v1alpha1.RoleSpec) bool { return r.Size > 1 })
}

// isPD reports whether the router treats the role as prefill or decode.
func isPD(role string) bool { return endpoint.RoleFromName(role) != endpoint.RoleBoth }

// eachTemplate calls f with the engine container of every pod template.
func eachTemplate(sg *v1alpha1.ServingGroup, f func(role string, c *corev1.Container)) {
	for i := range sg.Spec.Roles {
		r := &sg.Spec.Roles[i]
		for _, tmpl := range []*corev1.PodTemplateSpec{&r.Template, r.WorkerTemplate} {
			if tmpl != nil && len(tmpl.Spec.Containers) > 0 {
				f(r.Name, &tmpl.Spec.Containers[0])
			}
		}
	}
}

// eachSpec calls f with the spec of every pod template.
func eachSpec(sg *v1alpha1.ServingGroup, f func(*corev1.PodSpec)) {
	for i := range sg.Spec.Roles {
		r := &sg.Spec.Roles[i]
		for _, tmpl := range []*corev1.PodTemplateSpec{&r.Template, r.WorkerTemplate} {
			if tmpl != nil {
				f(&tmpl.Spec)
			}
		}
	}
}

// editStrings rewrites every command and argument string of the templates.
func editStrings(sg *v1alpha1.ServingGroup, edit func(role, s string) string) {
	eachTemplate(sg, func(role string, c *corev1.Container) {
		for _, list := range [][]string{c.Command, c.Args} {
			for i := range list {
				list[i] = edit(role, list[i])
			}
		}
	})
}

func sampleFiles(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("samples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, p := range paths {
		if base := filepath.Base(p); base != "kustomization.yaml" {
			files = append(files, base)
		}
	}
	if len(files) == 0 {
		t.Fatal("no samples in samples/")
	}
	return files
}

func kustomizeResources(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("samples", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	sort.Strings(k.Resources)
	return k.Resources
}

func loadSample(t *testing.T, file string) *v1alpha1.ServingGroup {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("samples", file))
	if err != nil {
		t.Fatal(err)
	}
	sg := &v1alpha1.ServingGroup{}
	if err := yaml.UnmarshalStrict(data, sg); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	sg.Namespace = "samples"
	return sg
}

// checkSample renders sg and runs every rule on every role.
func checkSample(file string, sg *v1alpha1.ServingGroup) []finding {
	p, err := plan.Compute(plan.Config{}, sg, plan.Observed{}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return []finding{{file, "-", "renders", err.Error()}}
	}
	pods := slices.Clone(p.Pods)
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	var out []finding
	for _, role := range sg.Spec.Roles {
		rc, msg := newRoleCheck(sg, role, pods)
		if rc == nil {
			out = append(out, finding{file, role.Name, "renders", msg})
			continue
		}
		for _, r := range sampleRules {
			for _, m := range r.check(rc) {
				out = append(out, finding{file, role.Name, r.name, m})
			}
		}
	}
	return out
}

func newRoleCheck(sg *v1alpha1.ServingGroup, role v1alpha1.RoleSpec, all []*corev1.Pod) (*roleCheck, string) {
	rc := &roleCheck{sg: sg, role: role.Name, kind: sg.Spec.Engine.Kind, port: sg.Spec.Engine.Port}
	if rc.port == 0 {
		rc.port = defaultEnginePort
	}
	instance := ""
	for _, p := range all {
		l := p.Labels
		if l[v1alpha1.LabelRole] != role.Name || l[v1alpha1.LabelUnit] != "0" {
			continue
		}
		if instance == "" && l[v1alpha1.LabelRank] == "0" {
			instance = l[v1alpha1.LabelInstance]
		}
		if l[v1alpha1.LabelInstance] == instance {
			rc.pods = append(rc.pods, p)
			switch l[v1alpha1.LabelRank] {
			case "0":
				rc.leader = p
			case "1":
				rc.worker = p
			}
		}
	}
	if rc.leader == nil || len(rc.leader.Spec.Containers) == 0 {
		return nil, "the planner rendered no leader pod with a container for unit 0"
	}
	c := &rc.leader.Spec.Containers[0]
	rc.size, _ = strconv.Atoi(envValue(c, v1alpha1.EnvWorldSize))
	resource := "nvidia.com/gpu" // the API default of accelerator.resource
	if role.Accelerator != nil && role.Accelerator.Resource != "" {
		resource = role.Accelerator.Resource
	}
	if q, ok := c.Resources.Limits[corev1.ResourceName(resource)]; ok {
		rc.gpus = q.Value()
	}
	rc.lead = commandsOf(c)
	if rc.worker != nil && len(rc.worker.Spec.Containers) > 0 {
		rc.work = commandsOf(&rc.worker.Spec.Containers[0])
	}
	rc.engine = findEngine(rc.kind, rc.lead)
	if rc.routed = routedEndpoint(sg, rc.leader); rc.routed == nil {
		return nil, "router discovery makes no endpoint of the running, ready leader pod"
	}
	return rc, ""
}

// routedEndpoint runs the router's Kubernetes discovery on the leader as if
// it were running and ready, so the rules see the ports the router will
// use, with its defaults for what spec.engine leaves out, rather than a copy
// of them.
func routedEndpoint(sg *v1alpha1.ServingGroup, leader *corev1.Pod) *endpoint.Spec {
	pod := leader.DeepCopy()
	pod.Status = corev1.PodStatus{
		Phase:      corev1.PodRunning,
		PodIP:      "10.0.0.1",
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
	}
	specs := discovery.Endpoints([]v1alpha1.ServingGroup{*sg}, []corev1.Pod{*pod})
	if len(specs) != 1 {
		return nil
	}
	return &specs[0]
}

func envValue(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}
