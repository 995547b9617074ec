package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// tinyBinary is a static Go program with one flag, -greeting, built once
// by TestMain.
var tinyBinary string

const tinySource = `package main

import (
	"flag"
	"fmt"
)

func main() {
	greeting := flag.String("greeting", "hello", "what to print")
	flag.Parse()
	fmt.Println(*greeting)
}
`

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "images-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tinyBinary, err = buildTiny(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildTiny builds tinySource as its own module with CGO_ENABLED=0, the
// way `make images` builds Tandem's binaries.
func buildTiny(dir string) (string, error) {
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(tinySource), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module tiny\n\ngo 1.22\n"), 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "tiny")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the test binary: %w\n%s", err, out)
	}
	return bin, nil
}

func tinyMeta() Meta {
	m := testMeta()
	m.Name, m.Ref, m.Arch = "tiny", "ghcr.io/tandem-serving/tiny:v0.1.0", ""
	return m
}

func packTiny(t *testing.T, m Meta) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), m.Name+".tar")
	if err := Pack(tinyBinary, path, m); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPackThenVerify(t *testing.T) {
	path := packTiny(t, tinyMeta())
	r, err := Verify(path, Want{Ref: "ghcr.io/tandem-serving/tiny:v0.1.0", Flags: []string{"greeting"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "tiny" || r.Ref != "ghcr.io/tandem-serving/tiny:v0.1.0" || r.Arch != runtime.GOARCH {
		t.Errorf("report %+v, want tiny, its reference and %s", r, runtime.GOARCH)
	}
	wantRan := "host"
	if os.Geteuid() == 0 {
		wantRan = "chroot as 65532"
	}
	if r.Ran != wantRan {
		t.Errorf("--help ran %q, want %q", r.Ran, wantRan)
	}
}

func TestVerifyWantsTheFlagsAndName(t *testing.T) {
	path := packTiny(t, tinyMeta())
	cases := []struct {
		name string
		want Want
		msg  string
	}{
		{name: "a flag the binary lacks", want: Want{Flags: []string{"greeting", "leader-elect"}}, msg: `tiny --help does not list flags ["leader-elect"]`},
		{name: "another reference", want: Want{Ref: "ghcr.io/tandem-serving/tiny:v2"}, msg: `archive names "ghcr.io/tandem-serving/tiny:v0.1.0", want "ghcr.io/tandem-serving/tiny:v2"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(path, tc.want)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err %v, want it to say %q", err, tc.msg)
			}
		})
	}
}

func TestPackIsReproducible(t *testing.T) {
	a, err := os.ReadFile(packTiny(t, tinyMeta()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(packTiny(t, tinyMeta()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two packs of the same binary and metadata differ")
	}
	later := tinyMeta()
	later.Created = later.Created.Add(1)
	c, err := os.ReadFile(packTiny(t, later))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, c) {
		t.Error("another creation time gave the same archive: the time is not recorded")
	}
}

func TestPackRefuses(t *testing.T) {
	dynamic := "/bin/true"
	if b, err := os.ReadFile(dynamic); err != nil {
		t.Skipf("no %s to stand for a dynamically linked binary: %v", dynamic, err)
	} else if _, err := staticELF(b); err == nil {
		t.Skipf("%s is static here", dynamic)
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	wrongArch := tinyMeta()
	wrongArch.Arch = other
	badRef := tinyMeta()
	badRef.Ref = "ghcr.io/Tandem/tiny:v1"
	cases := []struct {
		name, bin string
		meta      Meta
		msg       string
	}{
		{name: "dynamically linked", bin: dynamic, meta: tinyMeta(), msg: "dynamically linked"},
		{name: "another architecture", bin: tinyBinary, meta: wrongArch, msg: "built for " + runtime.GOARCH + ", the image is for " + other},
		{name: "upper-case repository", bin: tinyBinary, meta: badRef, msg: `image reference "ghcr.io/Tandem/tiny:v1"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "x.tar")
			err := Pack(tc.bin, out, tc.meta)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err %v, want it to say %q", err, tc.msg)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a refused pack left %s behind", out)
			}
		})
	}
}

// TestVerifyFindsBrokenImages writes images that break one rule each,
// through the same writer, and expects Verify to name the rule.
func TestVerifyFindsBrokenImages(t *testing.T) {
	binary, err := os.ReadFile(tinyBinary)
	if err != nil {
		t.Fatal(err)
	}
	dynamic, _ := os.ReadFile("/bin/true")
	m := tinyMeta()
	m.Arch = runtime.GOARCH
	base, err := Build(m, binary)
	if err != nil {
		t.Fatal(err)
	}
	withConfig := func(f func(*v1.Config)) func() (v1.Image, error) {
		return func() (v1.Image, error) {
			cfg, err := base.ConfigFile()
			if err != nil {
				return nil, err
			}
			c := cfg.Config.DeepCopy()
			f(c)
			return mutate.Config(base, *c)
		}
	}
	cases := []struct {
		name  string
		image func() (v1.Image, error)
		msg   string
	}{
		{name: "runs as root", image: withConfig(func(c *v1.Config) { c.User = "0:0" }), msg: `config: user "0:0"`},
		{name: "entrypoint is a shell", image: withConfig(func(c *v1.Config) { c.Entrypoint = []string{"/bin/sh"} }), msg: "config: entrypoint"},
		{name: "no source label", image: withConfig(func(c *v1.Config) { delete(c.Labels, labelSource) }), msg: "label org.opencontainers.image.source is missing"},
		{name: "a second layer", image: func() (v1.Image, error) {
			l, err := random.Layer(64, "application/vnd.oci.image.layer.v1.tar+gzip")
			if err != nil {
				return nil, err
			}
			return mutate.AppendLayers(base, l)
		}, msg: "2 layers"},
		{name: "dynamically linked binary", image: func() (v1.Image, error) {
			if dynamic == nil {
				t.Skip("no /bin/true")
			}
			return Build(m, dynamic)
		}, msg: "dynamically linked"},
		{name: "truncated binary", image: func() (v1.Image, error) {
			return Build(m, append([]byte(nil), binary[:len(binary)/2]...))
		}, msg: "binary is not an ELF executable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img, err := tc.image()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "broken.tar")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteArchive(f, img, m.Ref, m.Created); err != nil {
				t.Fatal(err)
			}
			f.Close()
			_, err = Verify(path, Want{})
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err %v, want it to say %q", err, tc.msg)
			}
		})
	}
}

// TestVerifyFindsBrokenArchives edits one file of a good archive each and
// expects Verify to find it.
func TestVerifyFindsBrokenArchives(t *testing.T) {
	good := packTiny(t, tinyMeta())
	f, err := os.Open(good)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ReadArchive(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	l, err := a.Layout()
	if err != nil {
		t.Fatal(err)
	}
	layer := blobPath(l.Manifest.Layers[0].Digest)
	editJSON := func(name string, edit func(any)) func(map[string][]byte) {
		return func(files map[string][]byte) {
			var v any
			if err := json.Unmarshal(files[name], &v); err != nil {
				t.Fatal(err)
			}
			edit(v)
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			files[name] = b
		}
	}
	cases := []struct {
		name string
		edit func(map[string][]byte)
		msg  string
	}{
		{name: "no manifest.json", edit: func(f map[string][]byte) { delete(f, dockerManifestFile) }, msg: "manifest.json: not in the archive"},
		{name: "no oci-layout", edit: func(f map[string][]byte) { delete(f, ociLayoutFile) }, msg: "oci-layout: not in the archive"},
		{name: "layer corrupted", edit: func(f map[string][]byte) {
			b := append([]byte(nil), f[layer]...)
			b[len(b)/2] ^= 0xff
			f[layer] = b
		}, msg: "content has digest"},
		{name: "layer missing", edit: func(f map[string][]byte) { delete(f, layer) }, msg: "not in the archive"},
		{name: "RepoTags name another image", edit: editJSON(dockerManifestFile, func(v any) {
			v.([]any)[0].(map[string]any)["RepoTags"] = []any{"ghcr.io/tandem-serving/other:v1"}
		}), msg: "manifest.json: RepoTags"},
		{name: "manifest.json points at another config", edit: editJSON(dockerManifestFile, func(v any) {
			v.([]any)[0].(map[string]any)["Config"] = layer
		}), msg: "manifest.json: Config"},
		{name: "containerd name differs", edit: editJSON(indexFile, func(v any) {
			v.(map[string]any)["manifests"].([]any)[0].(map[string]any)["annotations"].(map[string]any)[annotationContainerdName] = "docker.io/library/tiny:latest"
		}), msg: "io.containerd.image.name"},
		{name: "index platform differs", edit: editJSON(indexFile, func(v any) {
			v.(map[string]any)["manifests"].([]any)[0].(map[string]any)["platform"] = map[string]any{"os": "linux", "architecture": "s390x"}
		}), msg: "platform"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string][]byte{}
			for k, v := range a.Files {
				files[k] = v
			}
			tc.edit(files)
			path := filepath.Join(t.TempDir(), "broken.tar")
			writeFiles(t, path, files)
			_, err := Verify(path, Want{})
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err %v, want it to say %q", err, tc.msg)
			}
		})
	}
}

func writeFiles(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[n]))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadArchiveRefusesEscapes(t *testing.T) {
	cases := []struct{ name, file, msg string }{
		{name: "parent path", file: "../etc/passwd", msg: "outside the archive"},
		{name: "absolute path", file: "/etc/passwd", msg: "outside the archive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.tar")
			writeFiles(t, path, map[string][]byte{tc.file: []byte("x")})
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := ReadArchive(f); err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err %v, want it to say %q", err, tc.msg)
			}
		})
	}
}
