// Package discovery feeds the router's endpoint registry, from a static
// endpoints file (reread when it changes) or from Kubernetes (informers on
// ServingGroups and their pods). Both hand the whole current set to
// Sink.Update; the registry keeps the state of endpoints that stay.
package discovery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/yaml"

	"github.com/tandem-serving/tandem/router/endpoint"
)

// Sink receives the complete, current set of endpoints.
type Sink interface {
	Update(specs []endpoint.Spec) (added, removed []*endpoint.Endpoint)
}

// File is the endpoints file:
//
//	models: [meta-llama/Llama-3.1-8B-Instruct]   # default for endpoints without models
//	endpoints:
//	- address: 10.0.0.1:8000
//	  role: prefill          # both (default), prefill, decode
//	  unit: "0"
//	  group: llama
//	  engine: vllm           # vllm (default) or sglang
//	- address: 10.0.0.2:8000
//	  role: decode
//	  unit: "0"
//	  group: llama
//	- address: 10.0.1.1:30000
//	  role: prefill
//	  engine: sglang
//	  bootstrapPort: 8998    # sglang: --disaggregation-bootstrap-port (default 8998)
//	  kvEventsPort: 5557     # the engine's KV event publisher, when it is not the router's kvEvents.port
type File struct {
	Models    []string        `json:"models,omitempty"`
	Endpoints []endpoint.Spec `json:"endpoints"`
}

// ParseFile reads and checks an endpoints file.
func ParseFile(data []byte) ([]endpoint.Spec, error) {
	var f File
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, err
	}
	var errs []error
	names := map[string]bool{}
	for i := range f.Endpoints {
		s := &f.Endpoints[i]
		if len(s.Models) == 0 {
			s.Models = f.Models
		}
		if err := s.Normalize(); err != nil {
			errs = append(errs, fmt.Errorf("endpoints[%d]: %w", i, err))
			continue
		}
		if names[s.Name] {
			errs = append(errs, fmt.Errorf("endpoints[%d]: duplicate name %q", i, s.Name))
		}
		names[s.Name] = true
	}
	return f.Endpoints, errors.Join(errs...)
}

// Static serves an endpoints file, polling it for changes.
type Static struct {
	Path     string
	Interval time.Duration
	Sink     Sink
	Log      logr.Logger

	last []byte
}

// Load reads the file and updates the sink if it changed. A file that
// does not parse leaves the current endpoints in place.
func (s *Static) Load() error {
	data, err := os.ReadFile(s.Path)
	if err != nil {
		return fmt.Errorf("endpoints file: %w", err)
	}
	if s.last != nil && bytes.Equal(data, s.last) {
		return nil
	}
	specs, err := ParseFile(data)
	if err != nil {
		return fmt.Errorf("endpoints file %s: %w", s.Path, err)
	}
	s.last = data
	added, removed := s.Sink.Update(specs)
	s.Log.Info("Endpoints loaded", "file", s.Path, "endpoints", len(specs), "added", len(added), "removed", len(removed))
	return nil
}

// Run loads the file, then reloads it every Interval (and whenever reload
// receives) until ctx ends. Only the first load's error is fatal.
func (s *Static) Run(ctx context.Context, reload <-chan struct{}) error {
	if err := s.Load(); err != nil {
		return err
	}
	interval := s.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-reload:
		}
		if err := s.Load(); err != nil {
			s.Log.Error(err, "Keeping the current endpoints")
		}
	}
}
