package main

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The archive's fixed file names (see the package doc).
const (
	ociLayoutFile      = "oci-layout"
	indexFile          = "index.json"
	dockerManifestFile = "manifest.json"
	blobDir            = "blobs/sha256/"
	ociLayoutVersion   = `{"imageLayoutVersion":"1.0.0"}`
)

// Index annotations naming the image. containerd reads the first (and
// falls back to the second); skopeo and the OCI spec read the second.
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationRefName        = "org.opencontainers.image.ref.name"
)

// dockerManifest is one entry of manifest.json, the file `docker save`
// writes and `docker load` and go-containerregistry's tarball package read.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func blobPath(h v1.Hash) string { return blobDir + h.Hex }

// CheckRef refuses a reference docker, containerd and registries would not
// take as registry/repository:tag.
func CheckRef(ref string) error {
	if _, err := name.NewTag(ref, name.StrictValidation); err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	return nil
}

// WriteArchive writes img, named ref, as one tar holding both an OCI image
// layout and a docker manifest.json that point at the same blobs. Every
// entry has mtime, so the archive's bytes depend only on its inputs.
func WriteArchive(w io.Writer, img v1.Image, ref string, mtime time.Time) error {
	if err := CheckRef(ref); err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	index, err := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), mutate.IndexAddendum{
		Add: img,
		Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture},
			Annotations: map[string]string{annotationContainerdName: ref, annotationRefName: ref},
		},
	}).RawManifest()
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	manifestDigest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("manifest digest: %w", err)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	configName, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("config digest: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("layers: %w", err)
	}
	docker := dockerManifest{Config: blobPath(configName), RepoTags: []string{ref}}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return fmt.Errorf("layer digest: %w", err)
		}
		docker.Layers = append(docker.Layers, blobPath(d))
	}
	dockerJSON, err := json.Marshal([]dockerManifest{docker})
	if err != nil {
		return err
	}

	aw := archiveWriter{tw: tar.NewWriter(w), mtime: mtime}
	// The small files first, so a reader that streams finds the
	// index before the blobs.
	aw.file(ociLayoutFile, []byte(ociLayoutVersion))
	aw.file(indexFile, index)
	aw.file(dockerManifestFile, dockerJSON)
	aw.dir("blobs/")
	aw.dir(blobDir)
	aw.file(blobPath(manifestDigest), rawManifest)
	aw.file(blobPath(configName), rawConfig)
	for _, l := range layers {
		aw.layer(l)
	}
	if aw.err != nil {
		return aw.err
	}
	return aw.tw.Close()
}

// archiveWriter keeps the first error so WriteArchive reads as a list.
type archiveWriter struct {
	tw    *tar.Writer
	mtime time.Time
	err   error
}

func (a *archiveWriter) header(name string, typ byte, mode, size int64) {
	if a.err == nil {
		a.err = a.tw.WriteHeader(&tar.Header{Name: name, Typeflag: typ, Mode: mode, Size: size, ModTime: a.mtime, Format: tar.FormatPAX})
	}
}

func (a *archiveWriter) dir(name string) { a.header(name, tar.TypeDir, 0o755, 0) }

func (a *archiveWriter) file(name string, data []byte) {
	a.header(name, tar.TypeReg, 0o644, int64(len(data)))
	if a.err == nil {
		_, a.err = a.tw.Write(data)
	}
}

func (a *archiveWriter) layer(l v1.Layer) {
	if a.err != nil {
		return
	}
	d, err := l.Digest()
	if err != nil {
		a.err = fmt.Errorf("layer digest: %w", err)
		return
	}
	size, err := l.Size()
	if err != nil {
		a.err = fmt.Errorf("layer size: %w", err)
		return
	}
	rc, err := l.Compressed()
	if err != nil {
		a.err = fmt.Errorf("layer %s: %w", d, err)
		return
	}
	defer rc.Close()
	a.header(blobPath(d), tar.TypeReg, 0o644, size)
	if a.err == nil {
		if _, err := io.Copy(a.tw, rc); err != nil {
			a.err = fmt.Errorf("layer %s: %w", d, err)
		}
	}
}
