#!/usr/bin/env bash
# The CRDs the traffic providers edit, besides Gateway API's: Istio's VirtualService and
# DestinationRule (Go module istio.io/api) and the Inference Extension's InferencePool (Go module
# sigs.k8s.io/gateway-api-inference-extension), as their projects publish them. Downloaded once
# with `go mod download` into the cache; with --install they are applied to $KUBECONFIG's cluster
# and waited for (scripts/cluster-up.sh does that).
#   scripts/route-crds.sh [--install]   prints the directory holding the YAML
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# shellcheck source=versions.env
source "$here/versions.env"
cache=${IMAGEROLLOUT_CACHE:-$root/.cache}
out="$cache/crds/istio-$ISTIO_API_VERSION-inference-$INFERENCE_EXTENSION_VERSION"
log() { printf '[route-crds %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

module_dir() { # module@version -> its directory in the Go module cache
  (cd "$cache/crds" && go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
}

if [ ! -f "$out/.complete" ]; then
  mkdir -p "$out"
  log "downloading istio.io/api@$ISTIO_API_VERSION"
  istio=$(module_dir "istio.io/api@$ISTIO_API_VERSION")
  # The module ships every Istio CRD in one file; keep the two the router uses.
  awk -v RS='\n---\n' -v ORS='\n---\n' \
    '/name: (virtualservices|destinationrules)\.networking\.istio\.io/' \
    "$istio/kubernetes/customresourcedefinitions.gen.yaml" >"$out/istio-networking.yaml"
  [ "$(grep -c '^kind: CustomResourceDefinition' "$out/istio-networking.yaml")" = 2 ] ||
    { log "ERROR: VirtualService and DestinationRule CRDs not found in istio.io/api"; exit 1; }
  log "downloading sigs.k8s.io/gateway-api-inference-extension@$INFERENCE_EXTENSION_VERSION"
  inference=$(module_dir "sigs.k8s.io/gateway-api-inference-extension@$INFERENCE_EXTENSION_VERSION")
  cp "$inference/config/crd/bases/inference.networking.k8s.io_inferencepools.yaml" "$out/"
  chmod -R u+w "$out"
  touch "$out/.complete"
fi

if [ "${1:-}" = --install ]; then
  kubectl_bin=${KUBECTL:-/usr/bin/kubectl}
  log "installing Istio and Inference Extension CRDs"
  "$kubectl_bin" apply --server-side --force-conflicts -f "$out/" >/dev/null
  "$kubectl_bin" wait --for=condition=Established --timeout=60s -f "$out/" >/dev/null
fi
echo "$out"
