#!/usr/bin/env bash
# Builds tools/argocd-lua (Argo CD's own Lua VM, github.com/argoproj/argo-cd/v3/util/lua, from its
# published Go module) into the git-ignored cache, keyed by the argo-cd version, and prints the
# binary's path on the last line. tests/packaging/test_argocd_engine.py runs the resource
# customizations with it. Reruns reuse the cache and return at once; a change to the harness's
# sources (main.go, go.mod, go.sum) rebuilds it (seconds with warm Go caches).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
src="$root/tools/argocd-lua"
version=$(sed -n 's#^[[:space:]]*github.com/argoproj/argo-cd/v3 \(v[^ ]*\)$#\1#p' "$src/go.mod" | head -1)
[ -n "$version" ] || { echo "cannot read the argo-cd version from $src/go.mod" >&2; exit 1; }
cache=${IMAGEROLLOUT_CACHE:-$root/.cache}
bin="$cache/bin/argocd-lua-$version"
log() { printf '[argocd-lua %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

sources=$(cd "$src" && cat go.mod go.sum main.go | sha256sum | cut -c1-16)
if [ -x "$bin/argocd-lua" ] && [ "$(cat "$bin/sources" 2>/dev/null)" = "$sources" ]; then
  log "argo-cd $version: cached in $bin"
  echo "$bin/argocd-lua"
  exit 0
fi
command -v go >/dev/null || { log "go is required to build argocd-lua"; exit 1; }
mkdir -p "$bin"
start=$(date +%s)
tmp=$(mktemp -d "$bin/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "argo-cd $version: compiling tools/argocd-lua (about 5 minutes cold on 2 cores, seconds with warm Go caches)"
# go.sum is checked in: the modules come from the Go module proxy, verified, nothing re-resolved.
(cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=readonly \
  go build -trimpath -ldflags "-s -w" -o "$tmp/argocd-lua" .)
[ "$("$tmp/argocd-lua" version)" = "{\"argocd\": \"$version\"}" ] \
  || { log "the binary does not report argo-cd $version (main.go ArgoCDVersion)"; exit 1; }
mv "$tmp/argocd-lua" "$bin/argocd-lua"
echo "$sources" > "$bin/sources"
log "argo-cd $version: built in $(( $(date +%s) - start ))s: $bin/argocd-lua"
echo "$bin/argocd-lua"
