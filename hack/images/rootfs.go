package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"time"
)

const (
	// nonroot is the user and group the images run as: not root, and the
	// number distroless images use, so policies written for those
	// (runAsUser: 65532) fit ours too.
	nonroot = 65532
	// user is the config's User: numeric, so the kubelet can check
	// runAsNonRoot without reading /etc/passwd.
	user = "65532:65532"
	// binDir holds the binary; the entrypoint is binDir/<name>.
	binDir = "/usr/local/bin"
)

// entry is one file or directory of the image's single layer.
type entry struct {
	// Name is the path inside the image, without a leading slash;
	// directories end in "/".
	Name     string
	Mode     int64
	UID, GID int
	Data     []byte
}

func (e entry) isDir() bool { return e.Name[len(e.Name)-1] == '/' }

// Entrypoint is where the binary of image name lives.
func Entrypoint(name string) string { return path.Join(binDir, name) }

// passwd and group name root (ownership of the files) and nonroot (the
// user the binary runs as), so tools that map names to ids find both.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group = "root:x:0:\n" +
		"nonroot:x:65532:\n"
)

// rootfsEntries lists the layer of image name holding binary, parents
// before children, in a fixed order so that the layer's bytes depend only
// on its inputs.
func rootfsEntries(name string, binary []byte) []entry {
	dir := func(name string, mode int64) entry { return entry{Name: name, Mode: mode} }
	file := func(name string, mode int64, data []byte) entry { return entry{Name: name, Mode: mode, Data: data} }
	home := dir("home/nonroot/", 0o700)
	home.UID, home.GID = nonroot, nonroot
	return []entry{
		dir("etc/", 0o755),
		file("etc/group", 0o644, []byte(group)),
		file("etc/passwd", 0o644, []byte(passwd)),
		dir("home/", 0o755),
		home,
		// Sticky and world-writable as on any Linux: programs (and
		// os.TempDir) expect a /tmp; with a read-only root file system
		// the pod mounts an emptyDir over it.
		dir("tmp/", 0o1777),
		dir("usr/", 0o755),
		dir("usr/local/", 0o755),
		dir("usr/local/bin/", 0o755),
		file(Entrypoint(name)[1:], 0o755, binary),
	}
}

// writeTar writes entries as a tar stream, every entry stamped with mtime
// (the image's creation time) so that rebuilding the same inputs gives the
// same bytes.
func writeTar(w io.Writer, entries []entry, mtime time.Time) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{
			Name:    e.Name,
			Mode:    e.Mode,
			Uid:     e.UID,
			Gid:     e.GID,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if e.isDir() {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("tar header %s: %w", e.Name, err)
		}
		if _, err := tw.Write(e.Data); err != nil {
			return fmt.Errorf("tar %s: %w", e.Name, err)
		}
	}
	return tw.Close()
}

// readTar reads a tar stream back into entries; limit bounds the bytes
// kept per file, so a hostile archive cannot exhaust memory.
func readTar(r io.Reader, limit int64) ([]entry, error) {
	var out []entry
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read tar: %w", err)
		}
		e := entry{Name: h.Name, Mode: h.Mode, UID: h.Uid, GID: h.Gid}
		switch h.Typeflag {
		case tar.TypeDir:
			if !e.isDir() {
				e.Name += "/"
			}
		case tar.TypeReg:
			if h.Size > limit {
				return nil, fmt.Errorf("%s: %d bytes, more than the %d allowed", h.Name, h.Size, limit)
			}
			if e.Data, err = io.ReadAll(tr); err != nil {
				return nil, fmt.Errorf("read %s: %w", h.Name, err)
			}
		default:
			return nil, fmt.Errorf("%s: tar type %q: only files and directories are expected", h.Name, h.Typeflag)
		}
		out = append(out, e)
	}
}
