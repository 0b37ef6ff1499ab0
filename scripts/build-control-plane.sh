#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok from their
# published Go modules into a git-ignored cache keyed by version. Reruns reuse the cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# shellcheck source=versions.env
source "$here/versions.env"
cache=${IMAGEROLLOUT_CACHE:-$root/.cache}
bin="$cache/bin/kube-$KUBE_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
work="$cache/gowork"
mkdir -p "$bin" "$work"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
log() { printf '[control-plane %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

have() { [ -x "$bin/$1" ]; }

build_kubernetes() {
  local dir="$work/kubernetes-$KUBE_VERSION" minor ver_flags staging
  if have kube-apiserver && have kube-controller-manager && have kube-scheduler; then
    log "kubernetes $KUBE_VERSION: cached"; return
  fi
  mkdir -p "$dir"
  log "kubernetes $KUBE_VERSION: downloading k8s.io/kubernetes module"
  local moddir
  moddir=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
  staging=$(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$moddir/go.mod")
  local godebug
  godebug=$(grep -E '^godebug ' "$moddir/go.mod" || true)
  {
    echo "module imagerollout.local/controlplane"
    echo "go 1.24.0"
    echo "$godebug"
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    for m in $staging; do echo "replace $m => $m v0.$minor.${KUBE_VERSION##*.}"; done
  } > "$dir/go.mod"
  cat > "$dir/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
  log "kubernetes $KUBE_VERSION: resolving modules (go mod tidy)"
  (cd "$dir" && go mod tidy)
  ver_flags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
    if have "$cmd"; then log "$cmd: cached"; continue; fi
    log "$cmd: compiling (the first build takes many minutes on 2 cores)"
    (cd "$dir" && go build -trimpath -ldflags "$ver_flags" -o "$bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd")
    mv "$bin/$cmd.tmp" "$bin/$cmd"
    log "$cmd: done"
  done
}

build_etcd() {
  local dir="$work/etcd-$ETCD_VERSION"
  if have etcd; then log "etcd $ETCD_VERSION: cached"; return; fi
  mkdir -p "$dir"
  printf 'module imagerollout.local/etcd\ngo 1.24.0\n' > "$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > "$dir/tools.go"
  log "etcd $ETCD_VERSION: resolving modules"
  (cd "$dir" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" && go mod tidy)
  log "etcd $ETCD_VERSION: compiling"
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$bin/etcd.tmp" "$bin/etcd"
  log "etcd: done"
}

build_kwok() {
  if have kwok; then log "kwok $KWOK_VERSION: cached"; return; fi
  log "kwok $KWOK_VERSION: compiling"
  GOBIN="$bin" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  log "kwok: done"
}

stage_configs() {
  local dir
  dir=$(cd "$work" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  mkdir -p "$bin/kwok-stages"
  # Stage files only (each dir's kustomization.yaml is not a kwok config). With
  # --node-lease-duration-seconds, heartbeat-with-lease is kwokctl's default node heartbeat.
  rm -f "$bin/kwok-stages/kustomization.yaml"
  cp "$dir/kustomize/stage/node/fast/node-initialize.yaml" \
    "$dir/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
    "$dir/kustomize/stage/pod/fast/pod-ready.yaml" \
    "$dir/kustomize/stage/pod/fast/pod-complete.yaml" \
    "$dir/kustomize/stage/pod/fast/pod-delete.yaml" "$bin/kwok-stages/"
  chmod -R u+w "$bin/kwok-stages"
}

gateway_crds() {
  local dir
  dir=$(cd "$work" && go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  mkdir -p "$bin/gateway-api-crds"
  cp "$dir/config/crd/standard/"*.yaml "$bin/gateway-api-crds/"
  chmod -R u+w "$bin/gateway-api-crds"
}

start=$(date +%s)
build_etcd
build_kwok
stage_configs
gateway_crds
build_kubernetes
log "all binaries in $bin ($(( $(date +%s) - start ))s)"
echo "$bin" > "$cache/bin/current"
