package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

const usage = `usage:
  imagepack build  -registry R -version V -revision SHA -source URL [-arch A] [-out DIR] BINARY...
  imagepack verify [-registry R -version V] ARCHIVE...
  imagepack push   [-insecure] ARCHIVE...
build writes DIR/<name>.tar for each static BINARY, named R/<name>:V;
verify checks archives (and, with -registry and -version, their names);
push uploads each archive to the name it records.`

func main() {
	err := run(os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp): // the flag set printed its usage
	case err != nil:
		fmt.Fprintln(os.Stderr, "imagepack:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return errors.New("no command given")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	switch cmd, args := args[0], args[1:]; cmd {
	case "build":
		return buildCmd(args)
	case "verify":
		return verifyCmd(args)
	case "push":
		return pushCmd(ctx, args)
	default:
		fmt.Fprintln(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// nameOpts are the flags that name images: registry and version.
type nameOpts struct{ registry, version string }

func (n *nameOpts) bind(fs *flag.FlagSet) {
	fs.StringVar(&n.registry, "registry", "", "registry and repository prefix, e.g. ghcr.io/tandem-serving")
	fs.StringVar(&n.version, "version", "", "tag, also the org.opencontainers.image.version label")
}

func (n nameOpts) ref(image string) string {
	return strings.TrimSuffix(n.registry, "/") + "/" + image + ":" + n.version
}

func buildCmd(args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	var n nameOpts
	n.bind(fs)
	revision := fs.String("revision", "", "source commit, the org.opencontainers.image.revision label")
	source := fs.String("source", "", "source repository URL, the org.opencontainers.image.source label")
	arch := fs.String("arch", "", "GOARCH the binaries were built for (default: read from each binary)")
	out := fs.String("out", "bin/images", "folder the archives are written to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if n.registry == "" || n.version == "" || *revision == "" || *source == "" || fs.NArg() == 0 {
		return errors.New("build needs -registry, -version, -revision, -source and at least one binary")
	}
	created, err := CreatedFrom(os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, bin := range fs.Args() {
		image := filepath.Base(bin)
		m := Meta{Name: image, Ref: n.ref(image), Source: *source, Revision: *revision, Version: n.version, Arch: *arch, Created: created}
		path := filepath.Join(*out, image+".tar")
		if err := Pack(bin, path, m); err != nil {
			return err
		}
		fmt.Printf("%s\t%s\n", path, m.Ref)
	}
	return nil
}

func verifyCmd(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	var n nameOpts
	n.bind(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("verify needs at least one archive")
	}
	var failed []string
	for _, path := range fs.Args() {
		var want Want
		if n.registry != "" && n.version != "" {
			want.Ref = n.ref(strings.TrimSuffix(filepath.Base(path), ".tar"))
		}
		r, err := Verify(path, want)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			failed = append(failed, path)
			continue
		}
		fmt.Printf("ok %s\t%s@%s\tlayer %.1f MiB\t--help: %s\n", path, r.Ref, r.Digest, float64(r.Size)/(1<<20), r.Ran)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d archives failed: %s", len(failed), fs.NArg(), strings.Join(failed, " "))
	}
	return nil
}

func pushCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	insecure := fs.Bool("insecure", false, "allow a registry over plain HTTP")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("push needs at least one archive")
	}
	var opts []name.Option
	if *insecure {
		opts = append(opts, name.Insecure)
	}
	for _, path := range fs.Args() {
		ref, digest, err := Push(ctx, path, opts...)
		if err != nil {
			return err
		}
		fmt.Printf("pushed %s@%s\n", ref, digest)
	}
	return nil
}
