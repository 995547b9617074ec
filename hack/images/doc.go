// Command imagepack (built from hack/images into bin/imagepack) turns
// Tandem's static binaries into OCI image archives, checks them, and pushes
// them, with no container daemon, no base image and no network but the
// registry pushed to. `make images` and `make push` run it.
//
//	imagepack build  -registry R -version V -revision SHA -source URL [-arch A] [-out DIR] BINARY...
//	imagepack verify [-registry R -version V] ARCHIVE...
//	imagepack push   [-insecure] ARCHIVE...
//
// # The image
//
// An empty base and one layer (rootfs.go): the binary at
// /usr/local/bin/<name> (root-owned, 0755), /etc/passwd and /etc/group with
// root and the user nonroot (65532), its home, and a /tmp of mode 1777. The
// config (image.go): Entrypoint the binary, User "65532:65532" (numeric, so
// the kubelet can enforce runAsNonRoot), os linux, architecture the GOARCH
// the binary was built for, and the OCI labels source, revision, version,
// title and created. There are no CA certificates: Tandem's binaries talk to
// the API server with the service account's CA and to engines over plain
// HTTP. A binary with an ELF interpreter (cgo) is refused: nothing in the
// image could load it.
//
// Every timestamp (config, history, each file in the layer and in the
// archive) is SOURCE_DATE_EPOCH, or 1970-01-01 without it, and everything is
// written in a fixed order, so the same binary and metadata give the same
// bytes and digest. The Makefile sets SOURCE_DATE_EPOCH to the commit time.
//
// # The archive
//
// One tar, two indexes over the same blobs, so that every usual loader finds
// the index it reads:
//
//	oci-layout                {"imageLayoutVersion":"1.0.0"}
//	index.json                OCI image index: one manifest, with platform and the
//	                          annotations io.containerd.image.name and
//	                          org.opencontainers.image.ref.name, both REGISTRY/<name>:VERSION
//	manifest.json             docker: [{"Config": "blobs/sha256/<config>",
//	                          "RepoTags": ["REGISTRY/<name>:VERSION"], "Layers": ["blobs/sha256/<layer>"]}]
//	blobs/sha256/<manifest>   OCI image manifest (application/vnd.oci.image.manifest.v1+json)
//	blobs/sha256/<config>     image config (application/vnd.oci.image.config.v1+json)
//	blobs/sha256/<layer>      the layer, tar+gzip (application/vnd.oci.image.layer.v1.tar+gzip)
//
// Who reads which part:
//   - skopeo (`skopeo inspect oci-archive:FILE`, `skopeo copy`) and other
//     OCI tools read oci-layout and index.json (image-spec image-layout.md);
//     `skopeo inspect docker-archive:FILE` reads manifest.json.
//   - containerd (`ctr images import`, which `kind load image-archive`
//     runs on the node) prefers the OCI layout when oci-layout is present
//     and names the image from io.containerd.image.name, falling back to
//     org.opencontainers.image.ref.name (containerd v2 source:
//     core/images/archive/importer.go ImportIndex and client/import.go
//     imageName).
//   - `docker load` reads manifest.json (Config, RepoTags, Layers; the
//     layer may be compressed, its uncompressed digest must be the config's
//     diff_id); since Docker 25 `docker save` writes exactly this pair, an
//     OCI layout plus manifest.json pointing into blobs/sha256/.
//   - go-containerregistry's tarball package (crane, ko) reads manifest.json;
//     note that it computes a docker-media-type manifest of its own, so a
//     push through it would change the digest. `imagepack push` pushes the
//     OCI manifest from the layout itself, whose digest the archive records.
//
// # The checks
//
// verify.go reads an archive three ways and compares them: this package's
// own reading of oci-layout, index.json and the blobs (every digest and size
// recomputed), go-containerregistry's validate over that image and over
// tarball.ImageFromPath (docker load's view). Then the config rules, the
// layer's files, that the binary is a static ELF for the config's
// architecture, and that it runs: as root, inside the unpacked layer
// (chroot) as user 65532, the way a container runtime starts it, so it
// needs nothing the image lacks; otherwise on the host. Its --help must exit
// 0 or 2 and list the flags KnownFlags names for it.
package main
