package main

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// KnownFlags lists, per Tandem binary, flags its --help must print: a
// binary that is not the one its name claims (or that cannot parse its
// flags) fails the check.
var KnownFlags = map[string][]string{
	"tandem-controller": {"leader-elect", "scheduler-name", "metrics-bind-address"},
	"tandem-router":     {"config", "kubernetes", "endpoints"},
	"tandem-scheduler":  {"scheduler-conf", "scheduler-name", "leader-elect"},
	"tandem-sim":        {"engines", "listen"},
}

// Want is what an archive must hold beyond the rules every image follows.
type Want struct {
	// Ref, when set, is the reference the archive must record.
	Ref string
	// Flags its binary's --help must list; nil takes KnownFlags of the
	// image's title.
	Flags []string
}

// Report says what a verified archive holds.
type Report struct {
	Name, Ref, Arch string
	Digest          v1.Hash // the manifest's
	Size            int64   // the compressed layer's
	// Ran tells how --help was run: "chroot as 65532" (root: inside the
	// image's own file system, as its user), "host", or why it was not.
	Ran string
}

// Verify checks the archive at path: both of its indexes, every blob, the
// config and the layer's files, then runs the binary's --help. The error
// lists every problem found, not only the first.
func Verify(path string, want Want) (Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return Report{}, err
	}
	a, err := ReadArchive(f)
	f.Close()
	if err != nil {
		return Report{}, err
	}
	l, err := a.Layout()
	if err != nil {
		return Report{}, err
	}
	cfg := l.Config
	r := Report{Name: cfg.Config.Labels[labelTitle], Ref: l.Descriptor.Annotations[annotationRefName], Arch: cfg.Architecture, Digest: l.Descriptor.Digest}

	problems := checkNames(a, l, want.Ref)
	problems = append(problems, checkConfig(cfg)...)
	if err := checkReaders(path, a, l); err != nil {
		problems = append(problems, err.Error())
	}
	if len(l.Manifest.Layers) != 1 {
		problems = append(problems, fmt.Sprintf("%d layers, want the one this tool writes", len(l.Manifest.Layers)))
		return r, joinProblems(path, problems)
	}
	r.Size = l.Manifest.Layers[0].Size
	entries, err := layerEntries(a, l.Manifest.Layers[0])
	if err != nil {
		problems = append(problems, err.Error())
		return r, joinProblems(path, problems)
	}
	p, binary := checkRootfs(entries, r.Name)
	problems = append(problems, p...)
	if binary == nil {
		return r, joinProblems(path, problems)
	}
	if arch, err := staticELF(binary); err != nil {
		problems = append(problems, err.Error())
	} else if arch != cfg.Architecture {
		problems = append(problems, fmt.Sprintf("binary is built for %s, the config says %s", arch, cfg.Architecture))
	}
	flags := want.Flags
	if flags == nil {
		flags = KnownFlags[r.Name]
	}
	ran, err := RunHelp(entries, r.Name, cfg.Architecture, flags)
	r.Ran = ran
	if err != nil {
		problems = append(problems, err.Error())
	}
	return r, joinProblems(path, problems)
}

func joinProblems(path string, problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s:\n  %s", path, strings.Join(problems, "\n  "))
}

// checkNames compares the three places that name the image and the two
// that list its blobs: index.json's annotations, manifest.json's RepoTags
// and Config/Layers, and the OCI manifest.
func checkNames(a *Archive, l *Layout, wantRef string) []string {
	var problems []string
	d := l.Descriptor
	ref := d.Annotations[annotationRefName]
	if err := CheckRef(ref); err != nil {
		problems = append(problems, fmt.Sprintf("%s %s: %v", indexFile, annotationRefName, err))
	}
	if got := d.Annotations[annotationContainerdName]; got != ref {
		problems = append(problems, fmt.Sprintf("%s: %s %q differs from %s %q", indexFile, annotationContainerdName, got, annotationRefName, ref))
	}
	if wantRef != "" && ref != wantRef {
		problems = append(problems, fmt.Sprintf("archive names %q, want %q", ref, wantRef))
	}
	if d.Platform == nil || d.Platform.OS != l.Config.OS || d.Platform.Architecture != l.Config.Architecture {
		problems = append(problems, fmt.Sprintf("%s: platform %v differs from the config's %s/%s", indexFile, d.Platform, l.Config.OS, l.Config.Architecture))
	}
	docker, err := a.DockerManifest()
	if err != nil {
		return append(problems, err.Error())
	}
	if !slices.Equal(docker.RepoTags, []string{ref}) {
		problems = append(problems, fmt.Sprintf("%s: RepoTags %q, want [%q] as in %s", dockerManifestFile, docker.RepoTags, ref, indexFile))
	}
	if want := blobPath(l.Manifest.Config.Digest); docker.Config != want {
		problems = append(problems, fmt.Sprintf("%s: Config %q, the OCI manifest's config is %q", dockerManifestFile, docker.Config, want))
	}
	var layers []string
	for _, d := range l.Manifest.Layers {
		layers = append(layers, blobPath(d.Digest))
	}
	if !slices.Equal(docker.Layers, layers) {
		problems = append(problems, fmt.Sprintf("%s: Layers %q, the OCI manifest's are %q", dockerManifestFile, docker.Layers, layers))
	}
	return problems
}

// checkReaders loads the archive with go-containerregistry twice, as
// consumers do: the OCI layout (validate recomputes every digest and
// diff_id) and `docker load`'s view through the tarball package; both
// must see the same config and layers as this package's own reading.
func checkReaders(path string, a *Archive, l *Layout) error {
	img, err := l.Image(a)
	if err != nil {
		return fmt.Errorf("OCI layout as an image: %w", err)
	}
	if err := validate.Image(img); err != nil {
		return fmt.Errorf("OCI layout image does not validate: %w", err)
	}
	tb, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		return fmt.Errorf("go-containerregistry tarball reader: %w", err)
	}
	if err := validate.Image(tb); err != nil {
		return fmt.Errorf("tarball (docker load) view does not validate: %w", err)
	}
	raw, err := tb.RawConfigFile()
	if err != nil {
		return fmt.Errorf("tarball config: %w", err)
	}
	if !bytes.Equal(raw, l.RawConfig) {
		return errors.New("tarball reader and OCI layout read different configs")
	}
	tl, err := tb.Layers()
	if err != nil {
		return fmt.Errorf("tarball layers: %w", err)
	}
	if len(tl) != len(l.Config.RootFS.DiffIDs) {
		return fmt.Errorf("tarball reader sees %d layers, the config lists %d", len(tl), len(l.Config.RootFS.DiffIDs))
	}
	for i, layer := range tl {
		d, err := layer.DiffID()
		if err != nil {
			return fmt.Errorf("tarball layer %d: %w", i, err)
		}
		if d != l.Config.RootFS.DiffIDs[i] {
			return fmt.Errorf("tarball layer %d has diff_id %s, the config says %s", i, d, l.Config.RootFS.DiffIDs[i])
		}
	}
	return nil
}

// checkConfig lists what the config gets wrong against the rules every
// image here follows.
func checkConfig(cfg v1.ConfigFile) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	name := cfg.Config.Labels[labelTitle]
	if name == "" {
		add("config: label %s is missing", labelTitle)
	}
	for _, l := range []string{labelSource, labelRevision, labelVersion} {
		if cfg.Config.Labels[l] == "" {
			add("config: label %s is missing", l)
		}
	}
	if want := []string{Entrypoint(name)}; !slices.Equal(cfg.Config.Entrypoint, want) {
		add("config: entrypoint %q, want %q", cfg.Config.Entrypoint, want)
	}
	if cfg.Config.User != user {
		add("config: user %q, want %q (non-root, numeric)", cfg.Config.User, user)
	}
	if cfg.OS != "linux" {
		add("config: os %q, want linux", cfg.OS)
	}
	if cfg.Architecture == "" {
		add("config: architecture is empty")
	}
	if cfg.Created.IsZero() {
		add("config: created is empty")
	}
	return problems
}

// layerEntries decompresses and reads the layer d.
func layerEntries(a *Archive, d v1.Descriptor) ([]entry, error) {
	b, err := a.Blob(d.Digest)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	rc, err := layer.Uncompressed()
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	defer rc.Close()
	entries, err := readTar(rc, maxArchiveFile)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	return entries, nil
}

// checkRootfs lists what the layer's files get wrong and returns the
// binary of image name (nil when it is missing).
func checkRootfs(entries []entry, name string) ([]string, []byte) {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	byName := map[string]entry{}
	for _, e := range entries {
		byName[e.Name] = e
	}
	if e, ok := byName["etc/passwd"]; !ok || !hasLine(e.Data, "nonroot:x:65532:65532:") {
		add("/etc/passwd lacks the nonroot user 65532")
	}
	if e, ok := byName["etc/group"]; !ok || !hasLine(e.Data, "nonroot:x:65532:") {
		add("/etc/group lacks the nonroot group 65532")
	}
	if e, ok := byName["tmp/"]; !ok || e.Mode&0o7777 != 0o1777 {
		add("/tmp is missing or not mode 1777")
	}
	bin, ok := byName[Entrypoint(name)[1:]]
	switch {
	case !ok:
		add("binary %s is not in the layer", Entrypoint(name))
		return problems, nil
	case bin.Mode&0o111 != 0o111:
		add("binary %s has mode %o, not executable by everyone", Entrypoint(name), bin.Mode)
	case bin.Mode&0o022 != 0 || bin.UID != 0:
		add("binary %s is writable by its user (mode %o, uid %d)", Entrypoint(name), bin.Mode, bin.UID)
	}
	return problems, bin.Data
}

func hasLine(data []byte, prefix string) bool {
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}

// elfArch maps ELF machines to GOARCH for the architectures Kubernetes
// nodes run.
var elfArch = map[elf.Machine]string{
	elf.EM_X86_64:  "amd64",
	elf.EM_AARCH64: "arm64",
	elf.EM_PPC64:   "ppc64le",
	elf.EM_S390:    "s390x",
	elf.EM_RISCV:   "riscv64",
}

// staticELF returns the binary's GOARCH, or an error when it is not a
// Linux executable that runs without a dynamic loader: an image from an
// empty base has no libc, so a cgo binary would fail to start there.
func staticELF(binary []byte) (string, error) {
	f, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		return "", fmt.Errorf("binary is not an ELF executable: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", errors.New("binary is dynamically linked (it has an ELF interpreter); build it with CGO_ENABLED=0")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		return "", fmt.Errorf("binary needs shared libraries %v; build it with CGO_ENABLED=0", libs)
	}
	arch, ok := elfArch[f.Machine]
	if !ok {
		return "", fmt.Errorf("binary is for ELF machine %s, which this tool does not map to a GOARCH", f.Machine)
	}
	return arch, nil
}
