package tenant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/yaml"
)

// digestPrefix marks a key given as its SHA-256 digest (64 hex digits), so
// a keys file need not hold the keys themselves.
const digestPrefix = "sha256:"

// keyring maps API keys, by their SHA-256 digests, to tenant names.
//
// Only digests are kept in memory. A key is looked up by its digest, so the
// comparison a timing attack could measure is between digests: how many
// leading bytes of sha256(guess) match a stored digest says nothing useful
// about a key (finding a key for a digest prefix is a preimage search), and
// the key itself is never compared byte by byte.
type keyring struct {
	byDigest map[[sha256.Size]byte]string
	names    map[string]bool
}

func (k *keyring) lookup(key string) (string, bool) {
	if k == nil || key == "" {
		return "", false
	}
	name, ok := k.byDigest[sha256.Sum256([]byte(key))]
	return name, ok
}

// ParseKeys reads a keys file:
//
//	keys:
//	  sk-live-0123456789: team-a
//	  "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08": team-b
//
// Each key is a key as clients send it, or digestPrefix and its SHA-256 in
// hex. Every key names a non-empty tenant; a key given twice (once plain,
// once as a digest) must name the same tenant.
func ParseKeys(data []byte) (*keyring, error) {
	var f struct {
		Keys map[string]string `json:"keys"`
	}
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, err
	}
	k := &keyring{byDigest: make(map[[sha256.Size]byte]string, len(f.Keys)), names: map[string]bool{}}
	var errs []error
	for key, name := range f.Keys {
		d, err := digestOf(key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if strings.TrimSpace(name) == "" {
			errs = append(errs, fmt.Errorf("a key of %d characters names no tenant", len(key)))
			continue
		}
		if old, dup := k.byDigest[d]; dup && old != name {
			errs = append(errs, fmt.Errorf("one key names two tenants, %q and %q", old, name))
			continue
		}
		k.byDigest[d] = name
		k.names[name] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err // the error never quotes a key
	}
	return k, nil
}

func digestOf(key string) ([sha256.Size]byte, error) {
	var d [sha256.Size]byte
	if key == "" {
		return d, errors.New("empty key")
	}
	if hexed, ok := strings.CutPrefix(key, digestPrefix); ok {
		if len(hexed) != 2*sha256.Size {
			return d, fmt.Errorf("a %s key needs %d hex digits, not %d", digestPrefix, 2*sha256.Size, len(hexed))
		}
		if _, err := hex.Decode(d[:], []byte(hexed)); err != nil {
			return d, fmt.Errorf("a %s key is not hex", digestPrefix)
		}
		return d, nil
	}
	return sha256.Sum256([]byte(key)), nil
}

// keysReload is how often the keys file is checked for changes: a mounted
// Secret changes on disk within about a minute of its update.
const keysReload = 10 * time.Second

// ReloadKeys rereads the keys file; changed says whether it was replaced.
// A file that no longer reads or parses leaves the current keys in place.
func (t *Tenants) ReloadKeys() (changed bool, err error) {
	if t.cfg.KeysFile == "" {
		return false, nil
	}
	data, err := os.ReadFile(t.cfg.KeysFile)
	if err != nil {
		return false, fmt.Errorf("tenant keys: %w", err)
	}
	t.keysMu.Lock()
	defer t.keysMu.Unlock()
	sum := sha256.Sum256(data) // not the file: it holds keys
	if t.keys.Load() != nil && sum == t.keysSum {
		return false, nil
	}
	k, err := ParseKeys(data)
	if err != nil {
		return false, fmt.Errorf("tenant keys %s: %w", t.cfg.KeysFile, err)
	}
	t.keysSum = sum
	t.keys.Store(k)
	return true, nil
}

// Run logs the identity rule in force, then rereads the keys file every
// keysReload until ctx ends.
func (t *Tenants) Run(ctx context.Context, log logr.Logger) {
	log.Info("Tenant identity", "rule", t.String())
	if t.cfg.KeysFile == "" {
		return
	}
	tick := time.NewTicker(keysReload)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		changed, err := t.ReloadKeys()
		switch {
		case err != nil:
			log.Error(err, "Keeping the current API keys")
		case changed:
			log.Info("API keys reloaded", "file", t.cfg.KeysFile, "tenants", len(t.keys.Load().names))
		}
	}
}
