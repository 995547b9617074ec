package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
)

// Pack writes the image of the binary at bin to the archive path. It
// refuses a binary that would not start from an empty base (dynamically
// linked) or that is built for another architecture than m.Arch; an empty
// m.Arch takes the binary's. The archive appears whole or not at all.
func Pack(bin, path string, m Meta) error {
	binary, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	arch, err := staticELF(binary)
	if err != nil {
		return fmt.Errorf("%s: %w", bin, err)
	}
	if m.Arch == "" {
		m.Arch = arch
	}
	if m.Arch != arch {
		return fmt.Errorf("%s: built for %s, the image is for %s", bin, arch, m.Arch)
	}
	img, err := Build(m, binary)
	if err != nil {
		return fmt.Errorf("%s: %w", bin, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := WriteArchive(w, img, m.Ref, m.Created); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
