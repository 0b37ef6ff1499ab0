#!/usr/bin/env bash
# Builds helm from its published Go module (helm.sh/helm/v3/cmd/helm, no replace directives) into
# the git-ignored cache, keyed by version, and prints the binary's path on the last line.
# Reruns reuse the cache and return at once. Override the version with HELM_VERSION.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
version=${HELM_VERSION:-v3.19.5}
cache=${IMAGEROLLOUT_CACHE:-$root/.cache}
bin="$cache/bin/helm-$version"
log() { printf '[helm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ -x "$bin/helm" ]; then
  log "$version: cached in $bin"
  echo "$bin/helm"
  exit 0
fi
command -v go >/dev/null || { log "go is required to build helm" >&2; exit 1; }
mkdir -p "$bin"
start=$(date +%s)
tmp=$(mktemp -d "$bin/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "$version: downloading helm.sh/helm/v3@$version"
moddir=$(cd "$tmp" && go mod download -json "helm.sh/helm/v3@$version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
# The same stamps as helm's own Makefile: its version, and the Kubernetes version of its client-go
# (v0.34.x -> 1.34), which `helm template` and `helm lint` assume when no cluster is asked.
client_go=$(sed -n 's#^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$moddir/go.mod")
[ -n "$client_go" ] || { log "cannot read k8s.io/client-go from $moddir/go.mod"; exit 1; }
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$client_go"
done
log "$version: compiling helm.sh/helm/v3/cmd/helm for Kubernetes 1.$client_go (4 minutes cold on 2 cores, seconds with warm Go caches)"
CGO_ENABLED=0 GOFLAGS=-mod=mod GOBIN="$tmp" \
  go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$version"
"$tmp/helm" version --short >/dev/null
mv "$tmp/helm" "$bin/helm"
log "$version: built in $(( $(date +%s) - start ))s: $bin/helm"
echo "$bin/helm"
