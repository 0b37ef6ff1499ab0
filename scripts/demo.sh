#!/usr/bin/env bash
# The demo: start the embedded control plane, deploy a model Deployment and its HTTPRoute,
# run the operator, change the model image and watch the rollout step 5 -> 25 -> 50 -> 100.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/cluster-up.sh"
export KUBECONFIG="${IMAGEROLLOUT_CACHE:-$root/.cache}/cluster/kubeconfig"
export PATH="$root/.venv/bin:$PATH"  # kubectl finds the kubectl-imr plugin here
ns=imagerollout-demo
logs="${IMAGEROLLOUT_CACHE:-$root/.cache}/demo"
mkdir -p "$logs"
say() { printf '\n==> %s\n' "$*"; }
# Like `kubectl get imr -w`, but one line per change of phase, weight, step or canary (the
# sampler updates status every pass, which would print a line each second).
watch_until() { # phase
  local last="" line
  printf '%-12s %-7s %-5s %-32s %s\n' PHASE WEIGHT STEP CANARY MESSAGE
  while :; do
    line=$(kubectl -n "$ns" get imr imagegen -o jsonpath='{.status.phase}|{.status.canaryWeight}|{.status.currentStepIndex}|{.status.canary.model}|{.status.message}')
    IFS='|' read -r phase weight step canary message <<<"$line"
    if [ "$phase|$weight|$step|$canary" != "$last" ]; then
      printf '%-12s %-7s %-5s %-32s %.90s\n' "$phase" "$weight" "$step" "$canary" "$message"
      last="$phase|$weight|$step|$canary"
    fi
    case "$phase" in "$1") return 0 ;; Degraded|Paused) [ "$1" = "$phase" ] || return 1 ;; esac
    sleep 0.5
  done
}

say "installing the ImageModelRollout CRD"
kubectl apply --server-side --force-conflicts -f crds/imagemodelrollouts.imagerollout.dev.yaml >/dev/null
kubectl wait --for=condition=Established crd/imagemodelrollouts.imagerollout.dev --timeout=60s >/dev/null
kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "$ns" delete imr imagegen --ignore-not-found --wait=true >/dev/null
kubectl -n "$ns" delete deploy imagegen --ignore-not-found --wait=true >/dev/null

say "starting the operator (log: $logs/operator.log) and two demo model servers"
IMAGEROLLOUT_INTERVAL_SECONDS=1 IMAGEROLLOUT_ENDPOINT_ALLOWLIST='http://127.0.0.1:*' \
  .venv/bin/imagerollout run --namespace "$ns" --metrics-address "127.0.0.1:${IMAGEROLLOUT_DEMO_METRICS_PORT:-9102}" \
  --liveness http://127.0.0.1:0/healthz >"$logs/operator.log" 2>&1 &
operator=$!
pids=("$operator")
trap 'kill "${pids[@]}" ${watcher:-} 2>/dev/null || true' EXIT
serve() { # port, knobs...: a demo model server (OpenAI Images API) on loopback
  local port=$1; shift
  .venv/bin/python -m imagerollout.demo.server --port "$port" "$@" >>"$logs/models.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.1; done
  echo "demo server on $port did not start; see $logs/models.log" >&2; exit 1
}
stop_models() { pkill -f "imagerollout.demo.server --port 1808" 2>/dev/null || true; }
pkill -f "imagerollout.demo.traffic --namespace $ns" 2>/dev/null || true
stop_models
serve 18081 --model-name v1

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
say "part 2: quality gates, the default set (text, errors, latency, sharpness)"
echo "a canary that garbles logos (v3) is caught at stage 0 (0% traffic):"
serve 18082 --model-name v3 --substitution-rate 0.5 --regress-stratum logos
kubectl -n "$ns" apply -f demo/rollout-gated.yaml >/dev/null
kubectl -n "$ns" set image deployment/imagegen model=registry.example/imagegen:v3 >/dev/null
kubectl -n "$ns" wait imr/imagegen --for=jsonpath='{.status.canary.model}'=registry.example/imagegen:v3 --timeout=60s >/dev/null
timeout 300 bash -c "$(declare -f watch_until); ns=$ns; watch_until Degraded"
say "what on-call sees: kubectl imr get imagegen"
kubectl imr get imagegen -n "$ns"
evidence=$(kubectl -n "$ns" get imr imagegen -o jsonpath='{.status.analysis.evidence}')
echo "evidence: $evidence ($(ls "$evidence" | grep -c 'canary.png') canary images)"
say "the evidence report of the logo regression: kubectl imr report imagegen"
kubectl imr report imagegen -n "$ns" -o "$logs/logo-regression-report.html"
echo "open it in a browser; the operator serves the same page at $(kubectl -n "$ns" get imr imagegen -o jsonpath='{.status.reportURL}')"

say "a good canary (same quality) passes all four gates and is promoted on its own"
pkill -f "demo.server --port 18082" || true
serve 18082 --model-name v4
kubectl -n "$ns" set image deployment/imagegen model=registry.example/imagegen:v4 >/dev/null
kubectl -n "$ns" wait imr/imagegen --for=jsonpath='{.status.canary.model}'=registry.example/imagegen:v4 --timeout=60s >/dev/null
timeout 600 bash -c "$(declare -f watch_until); ns=$ns; watch_until Succeeded"
kubectl -n "$ns" get imr imagegen -o jsonpath='{range .status.analysis.gates[*]}{.gate}{"\t"}{.verdict}{"\tpairs "}{.samples}{"\n"}{end}' |
  awk -F'\t' '$1 !~ /\//'

say "part 3: production-traffic gates. Users reach the canary; Prometheus compares both arms"
"$root/scripts/prometheus-up.sh"
targets="${IMAGEROLLOUT_CACHE:-$root/.cache}/prometheus/targets/demo.json"
# The labels a ServiceMonitor would give: the built-in queries select namespace and service.
cat >"$targets" <<JSON
[{"targets": ["127.0.0.1:18081"], "labels": {"namespace": "$ns", "service": "imagegen-primary"}},
 {"targets": ["127.0.0.1:18083"], "labels": {"namespace": "$ns", "service": "imagegen-canary"}}]
JSON
pkill -f "demo.server --port 18083" || true
serve 18083 --model-name v5 --variant canary --latency-ms 400
echo "synthetic users: 40 requests/s split by the HTTPRoute's weights (log: $logs/traffic.log)"
.venv/bin/python -m imagerollout.demo.traffic --namespace "$ns" --route imagegen --rps 40 \
  --backend imagegen-primary=http://127.0.0.1:18081 \
  --backend imagegen-canary=http://127.0.0.1:18083 >"$logs/traffic.log" 2>&1 &
pids+=("$!")
kubectl -n "$ns" apply -f demo/rollout-metrics.yaml >/dev/null
echo "a canary 400 ms slower than the baseline (v5):"
kubectl -n "$ns" set image deployment/imagegen model=registry.example/imagegen:v5 >/dev/null
kubectl -n "$ns" wait imr/imagegen --for=jsonpath='{.status.canary.model}'=registry.example/imagegen:v5 --timeout=60s >/dev/null
timeout 300 bash -c "$(declare -f watch_until); ns=$ns; watch_until Degraded"
show_metric_gates() {
  kubectl -n "$ns" get imr imagegen -o jsonpath='{range .status.metrics.gates[*]}{.gate}{"\t"}{.verdict}{"\tcanary "}{.canary}{"\tbaseline "}{.baseline}{"\tbound "}{.bound}{"\trequests "}{.canaryCount}{"/"}{.baselineCount}{"\t"}{.reason}{"\n"}{end}'
}
show_metric_gates
say "a canary as fast as the baseline (v6) passes every window and is promoted"
pkill -f "demo.server --port 18083" || true
serve 18083 --model-name v6 --variant canary
kubectl -n "$ns" set image deployment/imagegen model=registry.example/imagegen:v6 >/dev/null
kubectl -n "$ns" wait imr/imagegen --for=jsonpath='{.status.canary.model}'=registry.example/imagegen:v6 --timeout=60s >/dev/null
timeout 300 bash -c "$(declare -f watch_until); ns=$ns; watch_until Succeeded"
show_metric_gates
kubectl -n "$ns" get events --field-selector involvedObject.kind=ImageModelRollout --sort-by=.eventTime \
  -o custom-columns=REASON:.reason,MESSAGE:.message | grep -E "Metric|REASON" | tail -8

say "HTTPRoute weights now"
kubectl -n "$ns" get httproute imagegen -o jsonpath='{range .spec.rules[0].backendRefs[*]}{.name}={.weight}{"  "}{end}{"\n"}'
say "done; the cluster and Prometheus keep running (make cluster-down prometheus-down stops them)"
