package tenant

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// FuzzParseKeys: any keys file either fails to parse or yields a keyring
// in which every plain key it lists is found, naming a non-empty tenant.
func FuzzParseKeys(f *testing.F) {
	f.Add([]byte("keys:\n  sk-a: team-a\n"))
	f.Add([]byte("keys:\n  \"" + digest("sk-b") + "\": team-b\n  sk-b: team-b\n"))
	f.Add([]byte("keys: {\"\": x}\n"))
	f.Add([]byte("keys: [1, 2]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKeys(data)
		if err != nil {
			return
		}
		var f struct {
			Keys map[string]string `json:"keys"`
		}
		if err := yaml.Unmarshal(data, &f); err != nil {
			t.Fatalf("ParseKeys accepted what yaml refuses: %v", err)
		}
		for key, want := range f.Keys {
			if strings.HasPrefix(key, digestPrefix) {
				continue
			}
			if got, ok := k.lookup(key); !ok || got != want {
				t.Fatalf("key of %d bytes: lookup = %q, %v; want %q", len(key), got, ok, want)
			}
		}
		for name := range k.names {
			if strings.TrimSpace(name) == "" {
				t.Fatalf("tenant name %q accepted", name)
			}
		}
		if len(k.byDigest) < len(k.names) {
			t.Fatalf("%d digests for %d tenants", len(k.byDigest), len(k.names))
		}
	})
}
