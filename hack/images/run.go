package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"syscall"
	"time"
)

// helpTimeout bounds one --help run; a binary that starts serving instead
// of printing its flags fails the check rather than hanging it.
const helpTimeout = 30 * time.Second

// RunHelp unpacks the layer's entries into a temporary directory and runs
// the image's binary with --help. As root it runs inside that directory
// (chroot) as user 65532, the way a container runtime would start it, so
// it proves the binary needs nothing the image lacks; otherwise it runs
// the unpacked copy on the host. Exit 0 or 2 is accepted (the flag
// packages exit 2 after usage in some versions); the output must list
// every flag in flags. The first result says how it ran.
func RunHelp(entries []entry, name, arch string, flags []string) (string, error) {
	if runtime.GOOS != "linux" || arch != runtime.GOARCH {
		return fmt.Sprintf("not run (%s/%s binary on a %s/%s host)", "linux", arch, runtime.GOOS, runtime.GOARCH), nil
	}
	root, err := os.MkdirTemp("", "image-rootfs-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(root)
	if err := unpack(root, entries); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), helpTimeout)
	defer cancel()
	var cmd *exec.Cmd
	how := "host"
	if os.Geteuid() == 0 {
		how = "chroot as 65532"
		// An absolute path is not looked up on the host: the child
		// enters the chroot first and execs the image's own binary.
		cmd = exec.CommandContext(ctx, Entrypoint(name), "--help")
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Chroot:     root,
			Credential: &syscall.Credential{Uid: nonroot, Gid: nonroot},
		}
	} else {
		cmd = exec.CommandContext(ctx, filepath.Join(root, Entrypoint(name)), "--help")
	}
	cmd.Env = []string{"HOME=/home/nonroot", "PATH=" + binDir}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return how, fmt.Errorf("%s --help did not exit within %s", name, helpTimeout)
	case errors.As(err, &exit) && exit.ExitCode() == 2:
	case err != nil:
		return how, fmt.Errorf("%s --help (%s): %w\n%s", name, how, err, out)
	}
	var missing []string
	for _, f := range flags {
		if !regexp.MustCompile(`(?m)(^|[\s,])--?` + regexp.QuoteMeta(f) + `([\s=,]|$)`).Match(out) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return how, fmt.Errorf("%s --help does not list flags %q:\n%s", name, missing, out)
	}
	if len(out) == 0 {
		return how, fmt.Errorf("%s --help printed nothing", name)
	}
	return how, nil
}

// unpack writes entries under root with their modes and owners (owners
// only as root); root itself becomes the image's /.
func unpack(root string, entries []entry) error {
	if err := os.Chmod(root, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(root, filepath.FromSlash(e.Name))
		mode := os.FileMode(e.Mode & 0o777)
		if e.Mode&0o1000 != 0 {
			mode |= os.ModeSticky
		}
		var err error
		if e.isDir() {
			if err = os.MkdirAll(p, 0o755); err == nil {
				err = os.Chmod(p, mode)
			}
		} else {
			err = os.WriteFile(p, e.Data, mode)
			if err == nil {
				err = os.Chmod(p, mode) // WriteFile's mode passes through the umask
			}
		}
		if err == nil && os.Geteuid() == 0 {
			err = os.Lchown(p, e.UID, e.GID)
		}
		if err != nil {
			return fmt.Errorf("unpack %s: %w", e.Name, err)
		}
	}
	return nil
}
