package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxArchiveFile bounds one file of an archive read into memory; Tandem's
// largest layer (the scheduler) is far below it.
const maxArchiveFile = 1 << 30

// Archive is an image archive read into memory: its regular files by path.
type Archive struct {
	Files map[string][]byte
}

// ReadArchive reads every file of an archive, refusing paths that escape
// it and duplicates (a second copy would shadow the first in some readers
// and not in others).
func ReadArchive(r io.Reader) (*Archive, error) {
	a := &Archive{Files: map[string][]byte{}}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return a, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("archive entry %s: tar type %q: only files and directories are expected", h.Name, h.Typeflag)
		}
		p := path.Clean(h.Name)
		if path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") {
			return nil, fmt.Errorf("archive entry %s: outside the archive", h.Name)
		}
		if _, dup := a.Files[p]; dup {
			return nil, fmt.Errorf("archive entry %s: appears twice", p)
		}
		if h.Size > maxArchiveFile {
			return nil, fmt.Errorf("archive entry %s: %d bytes, more than %d", p, h.Size, maxArchiveFile)
		}
		if a.Files[p], err = io.ReadAll(tr); err != nil {
			return nil, fmt.Errorf("archive entry %s: %w", p, err)
		}
	}
}

// Blob returns the blob d names, checking that its content has that digest.
func (a *Archive) Blob(d v1.Hash) ([]byte, error) {
	if d.Algorithm != "sha256" {
		return nil, fmt.Errorf("blob %s: only sha256 digests are written", d)
	}
	b, ok := a.Files[blobPath(d)]
	if !ok {
		return nil, fmt.Errorf("blob %s: not in the archive", d)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != d.Hex {
		return nil, fmt.Errorf("blob %s: content has digest sha256:%s", d, got)
	}
	return b, nil
}

// Layout is the OCI image layout of an archive, read by this package
// alone (no go-containerregistry reader), for the checks to compare with
// what the docker manifest.json and go-containerregistry's tarball say.
type Layout struct {
	Index       v1.IndexManifest
	Descriptor  v1.Descriptor // the index's one manifest
	RawManifest []byte
	Manifest    v1.Manifest
	RawConfig   []byte
	Config      v1.ConfigFile
}

// Layout reads oci-layout, index.json, the one image manifest it names
// and that manifest's config; each blob's digest and size are checked.
func (a *Archive) Layout() (*Layout, error) {
	var version struct {
		ImageLayoutVersion string `json:"imageLayoutVersion"`
	}
	if err := unmarshalFile(a, ociLayoutFile, &version); err != nil {
		return nil, err
	}
	if version.ImageLayoutVersion != "1.0.0" {
		return nil, fmt.Errorf("%s: imageLayoutVersion %q, want 1.0.0", ociLayoutFile, version.ImageLayoutVersion)
	}
	l := &Layout{}
	if err := unmarshalFile(a, indexFile, &l.Index); err != nil {
		return nil, err
	}
	if l.Index.MediaType != types.OCIImageIndex {
		return nil, fmt.Errorf("%s: mediaType %q, want %q", indexFile, l.Index.MediaType, types.OCIImageIndex)
	}
	if len(l.Index.Manifests) != 1 {
		return nil, fmt.Errorf("%s: %d manifests, want one image", indexFile, len(l.Index.Manifests))
	}
	l.Descriptor = l.Index.Manifests[0]
	if l.Descriptor.MediaType != types.OCIManifestSchema1 {
		return nil, fmt.Errorf("%s: manifest mediaType %q, want %q", indexFile, l.Descriptor.MediaType, types.OCIManifestSchema1)
	}
	var err error
	if l.RawManifest, err = a.sizedBlob(l.Descriptor); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if err := json.Unmarshal(l.RawManifest, &l.Manifest); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", l.Descriptor.Digest, err)
	}
	if l.Manifest.MediaType != l.Descriptor.MediaType {
		return nil, fmt.Errorf("manifest %s: mediaType %q, the index says %q", l.Descriptor.Digest, l.Manifest.MediaType, l.Descriptor.MediaType)
	}
	if l.RawConfig, err = a.sizedBlob(l.Manifest.Config); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := json.Unmarshal(l.RawConfig, &l.Config); err != nil {
		return nil, fmt.Errorf("config %s: %w", l.Manifest.Config.Digest, err)
	}
	for _, d := range l.Manifest.Layers {
		if _, err := a.sizedBlob(d); err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
	}
	return l, nil
}

// DockerManifest reads manifest.json, which must name one image.
func (a *Archive) DockerManifest() (dockerManifest, error) {
	var m []dockerManifest
	if err := unmarshalFile(a, dockerManifestFile, &m); err != nil {
		return dockerManifest{}, err
	}
	if len(m) != 1 {
		return dockerManifest{}, fmt.Errorf("%s: %d images, want one", dockerManifestFile, len(m))
	}
	return m[0], nil
}

func (a *Archive) sizedBlob(d v1.Descriptor) ([]byte, error) {
	b, err := a.Blob(d.Digest)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != d.Size {
		return nil, fmt.Errorf("blob %s: %d bytes, its descriptor says %d", d.Digest, len(b), d.Size)
	}
	return b, nil
}

func unmarshalFile(a *Archive, name string, v any) error {
	b, ok := a.Files[name]
	if !ok {
		return fmt.Errorf("%s: not in the archive", name)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Image is the layout's image as a go-containerregistry image whose
// manifest is the layout's own bytes, so pushing it keeps the digest the
// archive records.
func (l *Layout) Image(a *Archive) (v1.Image, error) {
	return partial.CompressedToImage(layoutImage{a: a, l: l})
}

type layoutImage struct {
	a *Archive
	l *Layout
}

func (i layoutImage) RawConfigFile() ([]byte, error)      { return i.l.RawConfig, nil }
func (i layoutImage) MediaType() (types.MediaType, error) { return i.l.Manifest.MediaType, nil }
func (i layoutImage) RawManifest() ([]byte, error)        { return i.l.RawManifest, nil }

func (i layoutImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.l.Manifest.Config.Digest {
		return memBlob{i.l.Manifest.Config, i.l.RawConfig}, nil
	}
	for _, d := range i.l.Manifest.Layers {
		if d.Digest == h {
			b, err := i.a.Blob(h)
			if err != nil {
				return nil, err
			}
			return memBlob{d, b}, nil
		}
	}
	return nil, fmt.Errorf("layer %s: not in the manifest", h)
}

// memBlob is a blob held in memory, described by its descriptor
// (a layer or, for partial's config lookups, the config).
type memBlob struct {
	d v1.Descriptor
	b []byte
}

func (c memBlob) Digest() (v1.Hash, error)            { return c.d.Digest, nil }
func (c memBlob) Size() (int64, error)                { return c.d.Size, nil }
func (c memBlob) MediaType() (types.MediaType, error) { return c.d.MediaType, nil }
func (c memBlob) Compressed() (io.ReadCloser, error)  { return io.NopCloser(bytes.NewReader(c.b)), nil }
func (c memBlob) Descriptor() (*v1.Descriptor, error) { d := c.d; return &d, nil }
