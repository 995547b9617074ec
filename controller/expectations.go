package controller

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// expectations remember, per ServingGroup, the creates, updates and deletes this
// controller issued that its informer cache has not shown yet. Planning on
// a cache that lags behind our own writes would create a pod twice or
// recreate one we just deleted; with expectations pending, the reconciler
// waits for the cache instead. They are only a cache-sync device: losing
// them (a restart) costs nothing but that wait, and each expires after
// expectationTTL in case a watch event is never seen.
type expectations struct {
	mu      sync.Mutex
	pending map[types.NamespacedName]map[objectKey]expectation
}

const expectationTTL = 30 * time.Second

type objectKey struct {
	kind, name string
}

type expectation struct {
	// deleted: waiting for the object (with uid) to disappear; updated:
	// waiting for a resourceVersion other than rv (the one the update was
	// planned on); otherwise waiting for it to appear.
	deleted, updated bool
	uid              types.UID
	rv               string
	at               time.Time
}

// seenObject is what the cache shows under a kind and name.
type seenObject struct {
	uid types.UID
	rv  string
}

func newExpectations() *expectations {
	return &expectations{pending: map[types.NamespacedName]map[objectKey]expectation{}}
}

func (e *expectations) expect(group types.NamespacedName, key objectKey, x expectation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pending[group] == nil {
		e.pending[group] = map[objectKey]expectation{}
	}
	e.pending[group][key] = x
}

// expectCreate records that an object was created.
func (e *expectations) expectCreate(group types.NamespacedName, kind, name string, now time.Time) {
	e.expect(group, objectKey{kind, name}, expectation{at: now})
}

// expectDelete records that the object with uid was deleted.
func (e *expectations) expectDelete(group types.NamespacedName, kind, name string, uid types.UID, now time.Time) {
	e.expect(group, objectKey{kind, name}, expectation{deleted: true, uid: uid, at: now})
}

// expectUpdate records that the object was changed from resourceVersion
// rv. Planning on the older version would do the change again, or worse,
// delete the pods of a shrunk role while the cached PodGroup still names
// them.
func (e *expectations) expectUpdate(group types.NamespacedName, kind, name, rv string, now time.Time) {
	e.expect(group, objectKey{kind, name}, expectation{updated: true, rv: rv, at: now})
}

// satisfied drops what the cache now shows (seen maps kind/name to the UID
// and resourceVersion in the cache) and reports whether anything is still
// awaited.
func (e *expectations) satisfied(group types.NamespacedName, seen map[objectKey]seenObject, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for key, x := range e.pending[group] {
		obj, present := seen[key]
		var met bool
		switch {
		case x.deleted:
			met = !present || obj.uid != x.uid
		case x.updated:
			met = !present || obj.rv != x.rv
		default:
			met = present
		}
		if met || now.Sub(x.at) > expectationTTL {
			delete(e.pending[group], key)
		}
	}
	if len(e.pending[group]) == 0 {
		delete(e.pending, group)
		return true
	}
	return false
}

// forget drops everything awaited for a group (it was deleted).
func (e *expectations) forget(group types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.pending, group)
}
