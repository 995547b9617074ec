package main

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Tandem's images, as the Makefile's IMAGES lists them.
var tandemImages = []string{"tandem-controller", "tandem-router", "tandem-scheduler", "tandem-sim"}

var imagesDir = flag.String("images", os.Getenv("TANDEM_IMAGES"),
	"folder of `make images` archives to check (also $TANDEM_IMAGES); relative paths start at hack/images")

// TestTandemImages checks the archives `make images` wrote, when asked
// to: `TANDEM_IMAGES=$PWD/bin/images go test ./hack/images/`. Every one of
// the four must be there and pass, its --help listing its known flags.
func TestTandemImages(t *testing.T) {
	if *imagesDir == "" {
		t.Skip("no -images folder or TANDEM_IMAGES given")
	}
	for _, name := range tandemImages {
		t.Run(name, func(t *testing.T) {
			r, err := Verify(filepath.Join(*imagesDir, name+".tar"), Want{Flags: KnownFlags[name]})
			if err != nil {
				t.Fatal(err)
			}
			if r.Name != name {
				t.Errorf("archive %s.tar holds image %q", name, r.Name)
			}
			t.Logf("%s@%s, layer %d bytes, --help: %s", r.Ref, r.Digest, r.Size, r.Ran)
		})
	}
}

// TestTandemBinaries packs the static binaries `make images` built into
// bin/static, when they are there, and checks the result.
func TestTandemBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("packs binaries of up to ~100 MB")
	}
	for _, name := range tandemImages {
		t.Run(name, func(t *testing.T) {
			bin := filepath.Join("..", "..", "bin", "static", name)
			if _, err := os.Stat(bin); err != nil {
				t.Skipf("%s not built (make images builds it)", bin)
			}
			m := testMeta()
			m.Name, m.Ref, m.Arch = name, "ghcr.io/tandem-serving/"+name+":v0.1.0", ""
			path := filepath.Join(t.TempDir(), name+".tar")
			if err := Pack(bin, path, m); err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(path, Want{Ref: m.Ref, Flags: KnownFlags[name]}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSkopeoReadsArchive reads an archive with skopeo, when it is
// installed (Debian's skopeo), both as an OCI archive and as a docker
// archive: the digest and labels must be ours.
func TestSkopeoReadsArchive(t *testing.T) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo is not installed")
	}
	path := packTiny(t, tinyMeta())
	f, err := os.Open(path)
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
	for _, transport := range []string{"oci-archive:", "docker-archive:"} {
		out, err := exec.Command(skopeo, "inspect", transport+path).Output()
		if err != nil {
			t.Fatalf("skopeo inspect %s: %v", transport, err)
		}
		var got struct {
			Digest       string
			Labels       map[string]string
			Architecture string
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: %v\n%s", transport, err, out)
		}
		if transport == "oci-archive:" && got.Digest != l.Descriptor.Digest.String() {
			t.Errorf("%s digest %s, want %s", transport, got.Digest, l.Descriptor.Digest)
		}
		if got.Labels[labelTitle] != "tiny" || got.Labels[labelRevision] != testMeta().Revision {
			t.Errorf("%s labels %v, want title tiny and revision %s", transport, got.Labels, testMeta().Revision)
		}
	}
}
