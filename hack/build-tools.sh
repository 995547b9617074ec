#!/usr/bin/env bash
# Builds the tools Tandem's tests, demo and checks use into bin/, each from a
# module pinned here or in go.mod, and skips a tool already built at its pin
# (a stamp file in bin/.stamps records which). Only the Go module proxy is
# used. Usage: hack/build-tools.sh [tool ...]   (default: all)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
stamps="$bin/.stamps"
mkdir -p "$stamps"

KWOK_VERSION=v0.8.0
CONTROLLER_GEN_VERSION=v0.19.0
GOLANGCI_LINT_VERSION=v2.15.0
kube_version=$(cd "$root" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
etcd_version=$(cd "$root/hack/etcd" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)

# fresh NAME PIN: true when bin/NAME exists and was built at PIN.
fresh() { [[ -x "$bin/$1" && "$(cat "$stamps/$1" 2>/dev/null)" == "$2" ]]; }
stamp() { echo "$2" >"$stamps/$1"; echo "built $1 $2"; }

kube_ldflags() {
  local v=${kube_version#v} pkg=k8s.io/component-base/version
  echo "-X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=${v%%.*} -X $pkg.gitMinor=$(echo "$v" | cut -d. -f2)"
}

# build_kube TOOL...: the Kubernetes binaries not yet built at the pin, in one
# go build so the packages they share compile once and both cores stay busy.
build_kube() {
  local stale=() t
  for t in "$@"; do fresh "$t" "$kube_version" || stale+=("$t"); done
  [[ ${#stale[@]} -gt 0 ]] || return 0
  (cd "$root" && go build -ldflags "$(kube_ldflags)" -o "$bin/" "${stale[@]/#/k8s.io/kubernetes/cmd/}")
  for t in "${stale[@]}"; do stamp "$t" "$kube_version"; done
}

build() {
  local tool=$1
  case "$tool" in
    etcd)
      fresh etcd "$etcd_version" && return
      (cd "$root/hack/etcd" && go build -o "$bin/etcd" .)
      stamp etcd "$etcd_version" ;;
    kwok)
      fresh kwok "$KWOK_VERSION" && return
      GOBIN="$bin" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
      stamp kwok "$KWOK_VERSION" ;;
    controller-gen)
      fresh controller-gen "$CONTROLLER_GEN_VERSION" && return
      GOBIN="$bin" go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_GEN_VERSION"
      stamp controller-gen "$CONTROLLER_GEN_VERSION" ;;
    golangci-lint)
      fresh golangci-lint "$GOLANGCI_LINT_VERSION" && return
      GOBIN="$bin" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
      stamp golangci-lint "$GOLANGCI_LINT_VERSION" ;;
    *) echo "unknown tool: $tool" >&2; exit 2 ;;
  esac
}

tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(etcd kube-apiserver kube-controller-manager kubectl kwok controller-gen golangci-lint)
kube=() other=()
for t in "${tools[@]}"; do
  case "$t" in kube-apiserver|kube-controller-manager|kubectl) kube+=("$t") ;; *) other+=("$t") ;; esac
done
for t in "${other[@]}"; do build "$t"; done
[[ ${#kube[@]} -eq 0 ]] || build_kube "${kube[@]}"
