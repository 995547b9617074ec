package main

import (
	"context"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push uploads the image of the archive at path to the reference the
// archive records, with the credentials docker and crane use
// (~/.docker/config.json and its helpers). The manifest's bytes are the
// archive's own, so the registry shows the digest the archive holds.
func Push(ctx context.Context, path string, opts ...name.Option) (string, v1.Hash, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", v1.Hash{}, err
	}
	a, err := ReadArchive(f)
	f.Close()
	if err != nil {
		return "", v1.Hash{}, err
	}
	l, err := a.Layout()
	if err != nil {
		return "", v1.Hash{}, err
	}
	ref := l.Descriptor.Annotations[annotationRefName]
	tag, err := name.NewTag(ref, opts...)
	if err != nil {
		return "", v1.Hash{}, fmt.Errorf("%s: image reference %q: %w", path, ref, err)
	}
	img, err := l.Image(a)
	if err != nil {
		return "", v1.Hash{}, err
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return ref, v1.Hash{}, fmt.Errorf("push %s: %w", ref, err)
	}
	return ref, l.Descriptor.Digest, nil
}
