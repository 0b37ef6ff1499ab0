#!/usr/bin/env bash
# The demo: start the embedded control plane, deploy a model Deployment and its HTTPRoute,
# run the operator, change the model image and watch the rollout step 5 -> 25 -> 50 -> 100.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/cluster-up.sh"
export KUBECONFIG="${IMAGEROLLOUT_CACHE:-$root/.cache}/cluster/kubeconfig"
ns=imagerollout-demo
logs="${IMAGEROLLOUT_CACHE:-$root/.cache}/demo"
mkdir -p "$logs"
say() { printf '\n==> %s\n' "$*"; }

say "installing the ImageModelRollout CRD"
kubectl apply --server-side --force-conflicts -f crds/imagemodelrollouts.imagerollout.dev.yaml >/dev/null
kubectl wait --for=condition=Established crd/imagemodelrollouts.imagerollout.dev --timeout=60s >/dev/null
kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "$ns" delete imr imagegen --ignore-not-found --wait=true >/dev/null
kubectl -n "$ns" delete deploy imagegen --ignore-not-found --wait=true >/dev/null

say "starting the operator (log: $logs/operator.log)"
IMAGEROLLOUT_INTERVAL_SECONDS=1 .venv/bin/imagerollout run --namespace "$ns" \
  --liveness http://127.0.0.1:0/healthz >"$logs/operator.log" 2>&1 &
operator=$!
trap 'kill $operator 2>/dev/null || true; kill ${watcher:-} 2>/dev/null || true' EXIT

say "deploying model v1, its HTTPRoute and the rollout"
kubectl -n "$ns" apply -f demo/imagegen.yaml -f demo/rollout.yaml
kubectl -n "$ns" wait imr/imagegen --for=jsonpath='{.status.phase}'=Initialized --timeout=120s

say "changing the model to v2: kubectl get imr -w"
kubectl -n "$ns" get imr imagegen -w &
watcher=$!
kubectl -n "$ns" set image deployment/imagegen model=registry.example/imagegen:v2 >/dev/null
kubectl -n "$ns" wait imr/imagegen --for=jsonpath='{.status.phase}'=Succeeded --timeout=300s >/dev/null
sleep 1 # let the watch print the final line
kill "$watcher" 2>/dev/null || true

say "the story in events (kubectl get events)"
kubectl -n "$ns" get events --field-selector involvedObject.kind=ImageModelRollout \
  --sort-by=.eventTime -o custom-columns=REASON:.reason,MESSAGE:.message
say "HTTPRoute weights now"
kubectl -n "$ns" get httproute imagegen -o jsonpath='{range .spec.rules[0].backendRefs[*]}{.name}={.weight}{"  "}{end}{"\n"}'
say "done; the cluster keeps running (make cluster-down stops it)"
