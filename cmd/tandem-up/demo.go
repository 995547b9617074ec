package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tandem-serving/tandem/test/demo"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// runDemo runs the request path demo and prints how to go on by hand.
func runDemo(ctx context.Context, cluster *localcluster.Cluster, timeScale float64) error {
	if err := demo.Run(ctx, cluster, timeScale, os.Stdout); err != nil {
		return err
	}
	kubectl := filepath.Join(cluster.Options().RepoRoot, "bin", "kubectl")
	fmt.Printf("\nrouter: %s (OpenAI API under /v1; /metrics)\n", cluster.RouterURL)
	fmt.Printf("  curl -s %s/v1/chat/completions -H 'Content-Type: application/json' \\\n", cluster.RouterURL)
	fmt.Printf("    -d '{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],\"stream\":true}'\n", "meta-llama/Llama-3.1-8B-Instruct")
	fmt.Printf("  KUBECONFIG=%s %s get sg,podgroups,pods -o wide\n", cluster.Kubeconfig, kubectl)
	return nil
}
