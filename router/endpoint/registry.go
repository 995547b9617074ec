package endpoint

import (
	"encoding/json"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Pool is every endpoint serving one model, by role.
type Pool struct {
	Model string
	// Serving are the endpoints a client request goes to: aggregated and
	// decode endpoints, or the prefill endpoints when there are no others.
	Serving []*Endpoint
	// Prefill are the prefill-only endpoints.
	Prefill []*Endpoint
	// Disaggregated is true when Serving holds decode endpoints.
	Disaggregated bool
}

// Snapshot is an immutable view of all endpoints.
type Snapshot struct {
	// All endpoints, by name.
	All    []*Endpoint
	byName map[string]*Endpoint
	pools  map[string]*Pool
	// ModelsJSON is the body of GET /v1/models.
	ModelsJSON []byte
}

// Pool returns the endpoints serving model, or nil.
func (s *Snapshot) Pool(model string) *Pool { return s.pools[model] }

// Endpoint returns the endpoint called name, or nil.
func (s *Snapshot) Endpoint(name string) *Endpoint { return s.byName[name] }

// Models lists the served model names, sorted.
func (s *Snapshot) Models() []string {
	out := make([]string, 0, len(s.pools))
	for m := range s.pools {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// Registry is the current set of endpoints. Update replaces it; Snapshot
// reads it without locking.
type Registry struct {
	opts Options
	snap atomic.Pointer[Snapshot]

	mu        sync.Mutex // serializes updates
	listeners []func(added, removed []*Endpoint)
	created   int64
}

// NewRegistry returns an empty registry.
func NewRegistry(opts Options) *Registry {
	r := &Registry{opts: opts, created: time.Now().Unix()}
	r.snap.Store(r.build(nil))
	return r
}

// Snapshot is the current view.
func (r *Registry) Snapshot() *Snapshot { return r.snap.Load() }

// OnChange registers fn to hear which endpoints each update added and
// removed (the scraper starts and stops its loops this way). fn is called
// with the registry's update lock held and must not call Update.
func (r *Registry) OnChange(fn func(added, removed []*Endpoint)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listeners = append(r.listeners, fn)
}

// Update replaces the set of endpoints with specs (already normalized; the
// first of duplicate names wins). Endpoints whose spec is unchanged keep
// their state.
func (r *Registry) Update(specs []Spec) (added, removed []*Endpoint) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	next := make([]*Endpoint, 0, len(specs))
	kept := make(map[*Endpoint]bool, len(old.All))
	seen := make(map[string]bool, len(specs))
	for _, s := range specs {
		if seen[s.Name] {
			continue
		}
		seen[s.Name] = true
		if e := old.byName[s.Name]; e != nil && e.equal(&s) {
			next = append(next, e)
			kept[e] = true
			continue
		}
		e := newEndpoint(s, &r.opts)
		next = append(next, e)
		added = append(added, e)
	}
	for _, e := range old.All {
		if !kept[e] {
			e.removed.Store(true)
			removed = append(removed, e)
		}
	}
	r.snap.Store(r.build(next))
	for _, fn := range r.listeners {
		fn(added, removed)
	}
	return added, removed
}

// Refresh rebuilds the model pools, after an endpoint learned its models
// from the engine.
func (r *Registry) Refresh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.snap.Store(r.build(r.snap.Load().All))
}

func (r *Registry) build(all []*Endpoint) *Snapshot {
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	s := &Snapshot{All: all, byName: make(map[string]*Endpoint, len(all)), pools: map[string]*Pool{}}
	for _, e := range all {
		s.byName[e.Name] = e
		for _, m := range e.ServedModels() {
			p := s.pools[m]
			if p == nil {
				p = &Pool{Model: m}
				s.pools[m] = p
			}
			switch e.Role {
			case RolePrefill:
				p.Prefill = append(p.Prefill, e)
			case RoleDecode:
				p.Serving = append(p.Serving, e)
				p.Disaggregated = true
			default:
				p.Serving = append(p.Serving, e)
			}
		}
	}
	for _, p := range s.pools {
		if len(p.Serving) == 0 {
			// Prefill-only: they can still serve whole requests.
			p.Serving = p.Prefill
		}
	}
	s.ModelsJSON = modelsJSON(s.Models(), r.created)
	return s
}

type modelCard struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func modelsJSON(models []string, created int64) []byte {
	list := struct {
		Object string      `json:"object"`
		Data   []modelCard `json:"data"`
	}{Object: "list", Data: make([]modelCard, 0, len(models))}
	for _, m := range models {
		list.Data = append(list.Data, modelCard{ID: m, Object: "model", Created: created, OwnedBy: "tandem"})
	}
	b, _ := json.Marshal(list)
	return b
}
