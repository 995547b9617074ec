package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestPushKeepsTheDigest pushes an archive to an in-process registry
// (go-containerregistry's, which checks every blob's digest on upload)
// and pulls it back: the registry must serve the manifest the archive
// holds, byte for byte.
func TestPushKeepsTheDigest(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	m := tinyMeta()
	m.Ref = strings.TrimPrefix(srv.URL, "http://") + "/tandem-serving/tiny:v0.1.0"
	path := packTiny(t, m)

	ref, digest, err := Push(context.Background(), path, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if ref != m.Ref {
		t.Errorf("pushed to %q, want %q", ref, m.Ref)
	}
	tag, err := name.NewTag(m.Ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(tag)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != digest {
		t.Errorf("registry serves %s, the archive holds %s", desc.Digest, digest)
	}
	img, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("pulled image does not validate: %v", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != user || cfg.Config.Labels[labelTitle] != "tiny" {
		t.Errorf("pulled config user %q title %q, want %q and tiny", cfg.Config.User, cfg.Config.Labels[labelTitle], user)
	}
}
