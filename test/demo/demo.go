// Package demo is what `make demo` shows once the local cluster runs: a
// disaggregated ServingGroup placed by tandem-scheduler, simulated engines
// at its pods' addresses (test/engineagent), and chat requests with a
// shared system prompt sent through tandem-router, each printed with the
// engine that served it, its latency and how much of its prompt was cached.
package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/test/engineagent"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// Sample is the ServingGroup the demo applies, from deploy/samples.
const Sample = "disaggregated-1p1d.yaml"

// Run applies the sample, starts the engine agent (it runs until ctx
// ends), waits for the group to be Available and routable, and sends the
// demo requests. Progress goes to out.
func Run(ctx context.Context, c *localcluster.Cluster, timeScale float64, out io.Writer) error {
	agent, err := engineagent.New(c.RESTConfig(), engineagent.Options{
		TimeScale: timeScale,
		Logf:      func(f string, a ...any) { fmt.Fprintf(out, "  "+f+"\n", a...) },
	})
	if err != nil {
		return err
	}
	go func() { _ = agent.Run(ctx) }()

	sg, err := apply(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\ndemo: applied ServingGroup %s (deploy/samples/%s): 1 prefill + 1 decode instance per unit\n", sg.Name, Sample)
	began := time.Now()
	if err := waitRoutable(ctx, c, sg, agent); err != nil {
		return err
	}
	fmt.Fprintf(out, "demo: Available and routable after %s\n\n", time.Since(began).Round(100*time.Millisecond))
	return sendRequests(ctx, c.RouterURL, sg.Spec.ServedModelNames[0], out)
}

func apply(ctx context.Context, c *localcluster.Cluster) (*v1alpha1.ServingGroup, error) {
	data, err := os.ReadFile(filepath.Join(c.Options().RepoRoot, "deploy", "samples", Sample))
	if err != nil {
		return nil, err
	}
	sg := &v1alpha1.ServingGroup{}
	if err := yaml.UnmarshalStrict(data, sg); err != nil {
		return nil, err
	}
	sg.Namespace = "default"
	cl, err := newClient(c)
	if err != nil {
		return nil, err
	}
	return sg, cl.Create(ctx, sg)
}

func newClient(c *localcluster.Cluster) (client.Client, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return client.New(c.RESTConfig(), client.Options{Scheme: scheme})
}

// waitRoutable waits for the Available condition, an engine behind every
// leader pod, and the router listing the model.
func waitRoutable(ctx context.Context, c *localcluster.Cluster, sg *v1alpha1.ServingGroup, agent *engineagent.Agent) error {
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	model := sg.Spec.ServedModelNames[0]
	var last string
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		cur := &v1alpha1.ServingGroup{}
		if err := cl.Get(ctx, client.ObjectKeyFromObject(sg), cur); err != nil {
			return false, err
		}
		available := false
		for _, cond := range cur.Status.Conditions {
			available = available || (cond.Type == v1alpha1.ConditionAvailable && cond.Status == "True")
		}
		if !available {
			last = "ServingGroup not Available yet"
			return false, nil
		}
		var pods corev1.PodList
		if err := cl.List(ctx, &pods, client.InNamespace(sg.Namespace),
			client.MatchingLabels{v1alpha1.LabelGroup: sg.Name, v1alpha1.LabelRank: "0"}); err != nil {
			return false, err
		}
		for _, p := range pods.Items {
			if agent.Engine(p.UID) == nil {
				last = "no engine yet for pod " + p.Name
				return false, nil
			}
		}
		resp, err := http.Get(c.RouterURL + "/v1/models")
		if err != nil {
			last = err.Error()
			return false, nil
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		last = "router lists " + string(body)
		return strings.Contains(string(body), model), nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s to be routable: %w (%s)", sg.Name, err, last)
	}
	return nil
}

// systemPrompt is shared by every demo request, so later ones find it in
// the engine's prefix cache.
var systemPrompt = strings.Repeat("You are Tandem's demo assistant. Answer briefly and precisely, citing the cluster state when asked. ", 24)

var questions = []string{
	"Which node runs the prefill instance?",
	"How many GPUs does the decode instance use?",
	"What does the router do with a shared prefix?",
	"Why place decode next to prefill?",
}

// result is what the demo prints per request.
type result struct {
	stream         bool
	endpoint       string
	prefill        string
	ttft, total    time.Duration
	prompt, cached int
}

func sendRequests(ctx context.Context, routerURL, model string, out io.Writer) error {
	fmt.Fprintf(out, "  %-2s %-6s %-25s %-25s %6s %6s  %s\n", "#", "mode", "decoded by", "prefilled by", "TTFT", "total", "prompt tokens cached")
	for i, q := range questions {
		stream := i != 2 // one non-streaming request among streaming ones
		r, err := chat(ctx, routerURL, model, q, stream)
		if err != nil {
			return fmt.Errorf("request %d: %w", i+1, err)
		}
		mode, ttft := "stream", r.ttft.Round(time.Millisecond).String()
		if !stream {
			mode, ttft = "full", "-"
		}
		hit := "miss"
		switch {
		case r.prefill != "-":
			hit = "KV from the prefill instance"
		case r.cached > 0:
			hit = "prefix hit"
		}
		fmt.Fprintf(out, "  %-2d %-6s %-25s %-25s %6s %6s  %d/%d (%s)\n", i+1, mode, podName(r.endpoint), podName(r.prefill), ttft,
			r.total.Round(time.Millisecond), r.cached, r.prompt, hit)
	}
	return nil
}

func chat(ctx context.Context, routerURL, model, question string, stream bool) (result, error) {
	body, _ := json.Marshal(map[string]any{
		"model":          model,
		"stream":         stream,
		"max_tokens":     24,
		"stream_options": map[string]any{"include_usage": true},
		"messages": []map[string]string{
			{"role": "system", "content": systemPrompt},
			{"role": "user", "content": question},
		},
	})
	if !stream {
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		delete(m, "stream_options")
		body, _ = json.Marshal(m)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, routerURL+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		return result{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	began := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	r := result{stream: stream, endpoint: header(resp, "X-Tandem-Endpoint"), prefill: header(resp, "X-Tandem-Prefill")}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return r, fmt.Errorf("%s: %s", resp.Status, msg)
	}
	var usage *usageJSON
	if stream {
		usage, r.ttft, err = readStream(resp.Body, began)
	} else {
		var full struct{ Usage *usageJSON }
		err = json.NewDecoder(resp.Body).Decode(&full)
		usage = full.Usage
	}
	r.total = time.Since(began)
	if usage != nil {
		r.prompt, r.cached = usage.PromptTokens, usage.PromptTokensDetails.CachedTokens
	}
	return r, err
}

type usageJSON struct {
	PromptTokens        int `json:"prompt_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

// readStream reads SSE events until [DONE]: TTFT is the first event with
// content, usage comes from the last chunk (stream_options.include_usage).
func readStream(r io.Reader, began time.Time) (*usageJSON, time.Duration, error) {
	var usage *usageJSON
	var ttft time.Duration
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			return usage, ttft, nil
		}
		var chunk struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
			Usage *usageJSON                `json:"usage"`
			Error *struct{ Message string } `json:"error"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			return nil, 0, fmt.Errorf("bad stream event %q: %w", data, err)
		}
		if chunk.Error != nil {
			return nil, 0, fmt.Errorf("stream error: %s", chunk.Error.Message)
		}
		if ttft == 0 && len(chunk.Choices) > 0 && chunk.Choices[0].Delta.Content != "" {
			ttft = time.Since(began)
		}
		if chunk.Usage != nil {
			usage = chunk.Usage
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	return nil, 0, fmt.Errorf("stream ended without [DONE]")
}

// podName drops the namespace from a router endpoint name.
func podName(endpoint string) string {
	_, name, ok := strings.Cut(endpoint, "/")
	if !ok {
		return endpoint
	}
	return name
}

func header(resp *http.Response, name string) string {
	if v := resp.Header.Get(name); v != "" {
		return v
	}
	return "-"
}
