#!/usr/bin/env bash
# The demo: start the embedded control plane, deploy a model Deployment and its HTTPRoute,
# run the operator, change the model image and watch the rollout step 5 -> 25 -> 50 -> 100.
# Then quality gates, production-traffic gates, a capability pinned to the stable model, and the
# same walk on an Istio VirtualService and with no mesh at all (the replica ratio).
#
#   scripts/demo.sh [--only capabilities|istio|replicas]   one part on a fresh rollout
#
# Environment: IMAGEROLLOUT_DEMO_NAMESPACE (imagerollout-demo), IMAGEROLLOUT_DEMO_PORT_BASE
# (18080, a multiple of 10: the model servers listen on base+1 .. base+5),
# IMAGEROLLOUT_DEMO_METRICS_PORT (9102, the operator's metrics and reports),
# IMAGEROLLOUT_DEMO_LOGS (.cache/demo: the logs and the pids of what the demo started).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
only=""
case "${1:-}" in
  "") ;;
  --only) only=${2:?--only needs a part: capabilities, istio or replicas} ;;
  *) echo "usage: $0 [--only capabilities|istio|replicas]" >&2; exit 2 ;;
esac
case "$only" in ""|capabilities|istio|replicas) ;; *) echo "unknown part: $only" >&2; exit 2 ;; esac
"$root/scripts/cluster-up.sh"
export KUBECONFIG="${IMAGEROLLOUT_CACHE:-$root/.cache}/cluster/kubeconfig"
export PATH="$root/.venv/bin:$PATH"  # kubectl finds the kubectl-imr plugin here
export PYTHONPATH="$root/operator${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's code, always
ns=${IMAGEROLLOUT_DEMO_NAMESPACE:-imagerollout-demo}
base=${IMAGEROLLOUT_DEMO_PORT_BASE:-18080}
[ $((base % 10)) = 0 ] || { echo "IMAGEROLLOUT_DEMO_PORT_BASE must be a multiple of 10" >&2; exit 2; }
port() { echo $((base + $1)); } # the demo manifests say 1808N; `manifest` rewrites them
manifest() { # files... -> one YAML stream on stdout, the ports rewritten
  local f
  for f; do echo "---"; sed -E "s/127\.0\.0\.1:1808([0-9])/127.0.0.1:$((base / 10))\1/g" "$f"; done
}
logs=${IMAGEROLLOUT_DEMO_LOGS:-${IMAGEROLLOUT_CACHE:-$root/.cache}/demo}
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
watch_for() { # seconds phase
  timeout "$1" bash -c "$(declare -f watch_until); ns=$ns; watch_until $2"
}

# Processes this demo starts, by pid. A demo killed with -9 leaves them in $logs/pids: the next
# run stops those that still run imagerollout from this checkout (a pid may have been reused).
pidfile="$logs/pids"
if [ -f "$pidfile" ]; then
  while read -r pid; do
    if [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$root" ] &&
      grep -qa imagerollout "/proc/$pid/cmdline" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
    fi
  done <"$pidfile"
fi
: >"$pidfile"
pids=()
started() { pids+=("$1"); echo "$1" >>"$pidfile"; }
trap 'kill "${pids[@]}" ${watcher:-} 2>/dev/null || true; : >"$pidfile"' EXIT
declare -A model_pid
serve() { # port, knobs...: a demo model server (OpenAI Images API) on loopback
  local port=$1; shift
  .venv/bin/python -m imagerollout.demo.server --port "$port" "$@" >>"$logs/models.log" 2>&1 &
  started "$!"
  model_pid[$port]=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.1; done
  echo "demo server on $port did not start; see $logs/models.log" >&2; exit 1
}
stop_model() { # port
  local pid=${model_pid[$1]:-}
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
# A rollout of its own for a part: the model back at v1 and `files` applied (the imagegen
# Deployment first). Foreground deletion: the old primary and Services are gone before.
fresh_rollout() { # files...
  kubectl -n "$ns" delete imr imagegen --ignore-not-found --cascade=foreground --wait=true >/dev/null
  kubectl -n "$ns" delete deploy imagegen --ignore-not-found --wait=true >/dev/null
  manifest demo/imagegen.yaml "$@" | kubectl -n "$ns" apply -f - >/dev/null
  kubectl -n "$ns" wait imr/imagegen --for=jsonpath='{.status.phase}'=Initialized --timeout=120s >/dev/null
}
rollout_events() { # this rollout's events only (an earlier run's rollout had the same name)
  local uid
  uid=$(kubectl -n "$ns" get imr imagegen -o jsonpath='{.metadata.uid}')
  kubectl -n "$ns" get events --field-selector "involvedObject.kind=ImageModelRollout,involvedObject.uid=$uid" \
    --sort-by=.eventTime -o custom-columns=REASON:.reason,MESSAGE:.message
}
set_model() { # tag: change the model image, wait until the rollout has taken it as its canary
  kubectl -n "$ns" set image deployment/imagegen model="registry.example/imagegen:$1" >/dev/null
  kubectl -n "$ns" wait imr/imagegen --for=jsonpath='{.status.canary.model}'="registry.example/imagegen:$1" --timeout=60s >/dev/null
}

say "installing the ImageModelRollout CRD"
kubectl apply --server-side --force-conflicts -f crds/imagemodelrollouts.imagerollout.dev.yaml >/dev/null
kubectl wait --for=condition=Established crd/imagemodelrollouts.imagerollout.dev --timeout=60s >/dev/null
kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "$ns" delete imr imagegen --ignore-not-found --wait=true >/dev/null
kubectl -n "$ns" delete deploy imagegen --ignore-not-found --wait=true >/dev/null

say "starting the operator (log: $logs/operator.log) and the demo model server v1"
IMAGEROLLOUT_INTERVAL_SECONDS=1 IMAGEROLLOUT_ENDPOINT_ALLOWLIST='http://127.0.0.1:*' \
  .venv/bin/imagerollout run --namespace "$ns" --metrics-address "127.0.0.1:${IMAGEROLLOUT_DEMO_METRICS_PORT:-9102}" \
  --liveness http://127.0.0.1:0/healthz >"$logs/operator.log" 2>&1 &
started "$!"
serve "$(port 1)" --model-name v1

part_rollout() {
  say "deploying model v1, its HTTPRoute and the rollout"
  manifest demo/imagegen.yaml demo/rollout.yaml | kubectl -n "$ns" apply -f -
  kubectl -n "$ns" wait imr/imagegen --for=jsonpath='{.status.phase}'=Initialized --timeout=120s

  say "changing the model to v2: kubectl get imr -w"
  kubectl -n "$ns" get imr imagegen -w &
  watcher=$!
  kubectl -n "$ns" set image deployment/imagegen model=registry.example/imagegen:v2 >/dev/null
  kubectl -n "$ns" wait imr/imagegen --for=jsonpath='{.status.phase}'=Succeeded --timeout=300s >/dev/null
  sleep 1 # let the watch print the final line
  kill "$watcher" 2>/dev/null || true

  say "the story in events (kubectl get events)"
  rollout_events
}

part_gates() {
  say "part 2: quality gates, the default set (text, errors, latency, sharpness)"
  echo "a canary that garbles logos (v3) is caught at stage 0 (0% traffic):"
  serve "$(port 2)" --model-name v3 --substitution-rate 0.5 --regress-stratum logos
  manifest demo/rollout-gated.yaml | kubectl -n "$ns" apply -f - >/dev/null
  set_model v3
  watch_for 300 Degraded
  say "what on-call sees: kubectl imr get imagegen"
  kubectl imr get imagegen -n "$ns"
  evidence=$(kubectl -n "$ns" get imr imagegen -o jsonpath='{.status.analysis.evidence}')
  echo "evidence: $evidence ($(ls "$evidence" | grep -c 'canary.png') canary images)"
  say "the evidence report of the logo regression: kubectl imr report imagegen"
  kubectl imr report imagegen -n "$ns" -o "$logs/logo-regression-report.html"
  echo "open it in a browser; the operator serves the same page at $(kubectl -n "$ns" get imr imagegen -o jsonpath='{.status.reportURL}')"

  say "a good canary (same quality) passes all four gates and is promoted on its own"
  stop_model "$(port 2)"
  serve "$(port 2)" --model-name v4
  set_model v4
  watch_for 600 Succeeded
  kubectl -n "$ns" get imr imagegen -o jsonpath='{range .status.analysis.gates[*]}{.gate}{"\t"}{.verdict}{"\tpairs "}{.samples}{"\n"}{end}' |
    awk -F'\t' '$1 !~ /\//'
}

part_metrics() {
  say "part 3: production-traffic gates. Users reach the canary; Prometheus compares both arms"
  "$root/scripts/prometheus-up.sh"
  targets="${IMAGEROLLOUT_CACHE:-$root/.cache}/prometheus/targets/demo.json"
  # The labels a ServiceMonitor would give: the built-in queries select namespace and service.
  cat >"$targets" <<JSON
[{"targets": ["127.0.0.1:$(port 1)"], "labels": {"namespace": "$ns", "service": "imagegen-primary"}},
 {"targets": ["127.0.0.1:$(port 3)"], "labels": {"namespace": "$ns", "service": "imagegen-canary"}}]
JSON
  serve "$(port 3)" --model-name v5 --variant canary --latency-ms 400
  echo "synthetic users: 40 requests/s split by the HTTPRoute's weights (log: $logs/traffic.log)"
  .venv/bin/python -m imagerollout.demo.traffic --namespace "$ns" --route imagegen --rps 40 \
    --backend imagegen-primary="http://127.0.0.1:$(port 1)" \
    --backend imagegen-canary="http://127.0.0.1:$(port 3)" >"$logs/traffic.log" 2>&1 &
  local traffic=$!
  started "$traffic"
  manifest demo/rollout-metrics.yaml | kubectl -n "$ns" apply -f - >/dev/null
  echo "a canary 400 ms slower than the baseline (v5):"
  set_model v5
  watch_for 300 Degraded
  show_metric_gates
  say "a canary as fast as the baseline (v6) passes every window and is promoted"
  stop_model "$(port 3)"
  serve "$(port 3)" --model-name v6 --variant canary
  set_model v6
  watch_for 300 Succeeded
  show_metric_gates
  rollout_events | grep -E "Metric|REASON" | tail -8
  kill "$traffic" 2>/dev/null || true

  say "HTTPRoute weights now"
  kubectl -n "$ns" get httproute imagegen -o jsonpath='{range .spec.rules[0].backendRefs[*]}{.name}={.weight}{"  "}{end}{"\n"}'
}
show_metric_gates() {
  kubectl -n "$ns" get imr imagegen -o jsonpath='{range .status.metrics.gates[*]}{.gate}{"\t"}{.verdict}{"\tcanary "}{.canary}{"\tbaseline "}{.baseline}{"\tbound "}{.bound}{"\trequests "}{.canaryCount}{"/"}{.baselineCount}{"\t"}{.reason}{"\n"}{end}'
}

# Synthetic users for a few seconds, split the way the rollout's provider routes them: one line
# of counts per backend (sent, answered 2xx, failed).
users() { # seconds, demo.traffic args...
  local seconds=$1; shift
  .venv/bin/python -m imagerollout.demo.traffic --namespace "$ns" --rollout imagegen --rps 20 \
    --seed 1 --duration "$seconds" "$@" 2>>"$logs/traffic.log" | tail -n 1
}
show_rules() { # the HTTPRoute's rules: name, header matches, backends=weights
  kubectl -n "$ns" get httproute imagegen -o jsonpath='{range .spec.rules[*]}{.name}{"\t"}{.matches[0].path.value}{" "}{.matches[0].headers}{"\t"}{range .backendRefs[*]}{.name}={.weight}{" "}{end}{"\n"}{end}' |
    awk -F'\t' '{printf "  %-24s %-68s %s\n", ($1 == "" ? "(user rule)" : $1), $2, $3}'
}

part_capabilities() {
  say "part 4: jobs routed by capability. v7 garbles only logos; typography jobs are pinned"
  echo "spec.capabilities: typography (x-image-job: typography) is judged on the typography,"
  echo "logos and dense-layouts strata; onCapabilityFailure: Pin (demo/rollout-capabilities.yaml)"
  serve "$(port 4)" --model-name v7 --substitution-rate 0.5 --regress-stratum logos
  fresh_rollout demo/rollout-capabilities.yaml
  echo "the operator's rule comes first on the route; the user's rules stay as written:"
  show_rules
  set_model v7
  watch_for 600 Succeeded
  say "what on-call sees: kubectl imr get imagegen"
  kubectl imr get imagegen -n "$ns"
  say "status.message"
  kubectl -n "$ns" get imr imagegen -o jsonpath='{.status.message}{"\n"}'
  kubectl -n "$ns" get imr imagegen -o jsonpath='{range .status.capabilities[*]}{.name}: {.reason}{"\n"}{end}'
  say "the route's rules now: typography jobs go to the fallback, the rest to the primary (v7)"
  show_rules
  kubectl -n "$ns" get deploy,svc imagegen-fallback-typography -o name
  say "synthetic users, 3 s each at 20 requests/s (demo traffic --rollout imagegen)"
  local v1="http://127.0.0.1:$(port 1)" v7="http://127.0.0.1:$(port 4)"
  echo "imagegen-primary and imagegen-canary are served by v7 ($v7), imagegen-fallback-typography by v1 ($v1)"
  local arms=(--backend "imagegen-primary=$v7" --backend "imagegen-canary=$v7"
    --backend "imagegen-fallback-typography=$v1")
  echo "x-image-job: typography   $(users 3 "${arms[@]}" --header x-image-job=typography)"
  echo "no header (general)       $(users 3 "${arms[@]}")"
  stop_model "$(port 4)"
}

part_istio() {
  say "part 5: the same walk on an Istio VirtualService (trafficRouting.istio)"
  serve "$(port 5)" --model-name v2
  fresh_rollout demo/virtualservice.yaml demo/rollout-istio.yaml
  local arms=(--backend "imagegen-primary=http://127.0.0.1:$(port 1)"
    --backend "imagegen-canary=http://127.0.0.1:$(port 5)")
  vs_weights() { # the images route's destinations (the docs route stays as written)
    kubectl -n "$ns" get virtualservice imagegen -o jsonpath='{"  route images:"}{range .spec.http[?(@.name=="images")].route[*]}{" "}{.destination.host}={.weight}{end}{"\n"}'
  }
  set_model v2
  watch_for 60 Paused
  echo "the VirtualService at the 20% step (it holds there until kubectl imr promote):"
  vs_weights
  echo "synthetic users, 3 s at 20 requests/s, split by its weights:"
  echo "  $(users 3 "${arms[@]}")"
  kubectl imr promote imagegen -n "$ns" >/dev/null
  watch_for 60 Succeeded
  vs_weights
  stop_model "$(port 5)"
}

part_replicas() {
  say "part 6: no mesh at all (trafficRouting.replicas): the split is the ratio of ready pods"
  serve "$(port 5)" --model-name v2
  fresh_rollout demo/replicas.yaml
  local arms=(--backend "imagegen-primary=http://127.0.0.1:$(port 1)"
    --backend "imagegen-canary=http://127.0.0.1:$(port 5)")
  set_model v2
  watch_for 60 Paused
  kubectl -n "$ns" get imr imagegen -o jsonpath='{.status.message}{"\n"}'
  echo "synthetic users, 3 s at 20 requests/s, split by the available pods:"
  echo "  $(users 3 "${arms[@]}")"
  kubectl imr promote imagegen -n "$ns" >/dev/null
  watch_for 60 Succeeded
  # The primary grows back to all 10 pods before the canary goes to 0 (never short of pods).
  kubectl -n "$ns" wait imr/imagegen --for=condition=Available --timeout=60s >/dev/null
  kubectl -n "$ns" wait pod -l app=imagegen --for=delete --timeout=60s >/dev/null # canary pods
  kubectl -n "$ns" get deploy imagegen-primary imagegen -o custom-columns=DEPLOYMENT:.metadata.name,PODS:.spec.replicas,AVAILABLE:.status.availableReplicas
  stop_model "$(port 5)"
}

case "$only" in
  capabilities) part_capabilities ;;
  istio) part_istio ;;
  replicas) part_replicas ;;
  *) part_rollout; part_gates; part_metrics; part_capabilities; part_istio; part_replicas ;;
esac
say "done; the cluster and Prometheus keep running (make cluster-down prometheus-down stops them)"
