#!/usr/bin/env bash
# Starts a real Kubernetes control plane on 127.0.0.1 without containers: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok (fake nodes and pods, no kubelet), then
# installs the CRDs the traffic providers edit (Gateway API, Istio, Inference Extension).
# Idempotent: if the recorded cluster already answers, it returns.
#
# Layout (state dir = ${IMAGEROLLOUT_CACHE:-<repo>/.cache}/cluster):
#   kubeconfig       admin kubeconfig (token auth, CA = the apiserver's self-signed cert)
#   ports.env        the ports chosen for this run      bindir     the binaries used
#   pki/             tokens.csv, sa.key/sa.pub, component kubeconfigs
#   certs/           kube-apiserver --cert-dir (self-signed serving cert, kept across restarts)
#   etcd/            etcd data (kept across restarts; cluster-down.sh --purge removes it)
#   logs/<c>.log     pids/<c>.pid
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cache=${IMAGEROLLOUT_CACHE:-$root/.cache}
state="$cache/cluster"
kubectl_bin=${KUBECTL:-/usr/bin/kubectl}
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
node_name=kwok-node-0

log() { printf '[cluster-up %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[cluster-up %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }

mkdir -p "$state"
# Serialise concurrent callers (parallel test sessions): the second one waits, then finds the
# cluster up and returns. cluster-down.sh skips its own lock when we call it.
exec 9>>"$state/.lock"
if ! flock -n 9; then
  log "another cluster-up/cluster-down holds $state/.lock; waiting"
  flock 9
fi
export IMAGEROLLOUT_CLUSTER_LOCK_HELD=1
mkdir -p "$state/logs" "$state/pids" "$state/pki" "$state/certs" # after the lock: a --purge may have run

pid_alive() { # component -> 0 if its recorded pid still runs that component's binary
  local f="$state/pids/$1.pid" pid argv0
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  argv0=$(head -z -n1 "/proc/$pid/cmdline" 2>/dev/null | tr -d '\0') || return 1
  [[ $argv0 == */$1 ]]
}

token() { cut -d, -f1 < <(grep ',admin,' "$state/pki/tokens.csv"); }

apiserver_ready() { # uses APISERVER_PORT from ports.env
  curl -sf --max-time 3 --cacert "$state/certs/apiserver.crt" \
    -H "Authorization: Bearer $(token)" "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null 2>&1
}

all_up() {
  [ -f "$state/ports.env" ] && [ -f "$state/kubeconfig" ] || return 1
  # shellcheck disable=SC1091
  source "$state/ports.env"
  local c
  for c in "${components[@]}"; do pid_alive "$c" || return 1; done
  apiserver_ready
}

# Flags that changed since the running cluster started (a bigger Service range, higher client
# QPS): the cluster is restarted with them, keeping etcd's data.
apiserver_flags=(--service-cluster-ip-range=10.96.0.0/16 --max-requests-inflight=800
  --max-mutating-requests-inflight=400)
kcm_flags=(--kube-api-qps=200 --kube-api-burst=400)
flags_id=$(printf '%s\n' "${apiserver_flags[@]}" "${kcm_flags[@]}" | sha256sum | cut -c1-16)
flags_current() { [ "$(cat "$state/flags.id" 2>/dev/null)" = "$flags_id" ]; }

if all_up && flags_current; then
  log "cluster already up (apiserver https://127.0.0.1:$APISERVER_PORT answers /readyz)"
  echo "$state/kubeconfig"
  echo "export KUBECONFIG=$state/kubeconfig"
  exit 0
fi

t0=$(date +%s)
# A partly running cluster (a component died, or the machine rebooted) is restarted as a whole.
if compgen -G "$state/pids/*.pid" >/dev/null; then
  log "stopping the partly running (or reconfigured) cluster first"
  "$here/cluster-down.sh"
fi

log "building/reusing control-plane binaries"
"$here/build-control-plane.sh"
bindir=$(cat "$cache/bin/current")
for c in "${components[@]}"; do [ -x "$bindir/$c" ] || die "missing binary $bindir/$c"; done
echo "$bindir" >"$state/bindir"

# --- ports: reuse the recorded ones when still free (stable URLs), else ask the kernel ---
ports_free() {
  python3 - "$@" <<'PY'
import socket, sys
for p in sys.argv[1:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Go servers do
    try:
        s.bind(("127.0.0.1", int(p)))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
PY
}
port_names=(ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT SCHEDULER_PORT KWOK_PORT)
reuse=false
if [ -f "$state/ports.env" ]; then
  # shellcheck disable=SC1091
  source "$state/ports.env"
  recorded=()
  for n in "${port_names[@]}"; do recorded+=("${!n:-0}"); done
  if ! [[ " ${recorded[*]} " == *" 0 "* ]] && ports_free "${recorded[@]}"; then reuse=true; fi
fi
if ! $reuse; then
  # Bind all sockets at once so the kernel hands out distinct free ports.
  read -r -a fresh < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
  for i in "${!port_names[@]}"; do printf -v "${port_names[$i]}" '%s' "${fresh[$i]}"; done
fi
for n in "${port_names[@]}"; do echo "$n=${!n}"; done >"$state/ports.env"
log "ports: etcd $ETCD_PORT (peer $ETCD_PEER_PORT), apiserver $APISERVER_PORT," \
  "controller-manager $KCM_PORT, scheduler $SCHEDULER_PORT, kwok $KWOK_PORT"

# --- credentials (made once, kept across restarts so kubeconfigs and tokens stay valid) ---
pki="$state/pki"
if [ ! -f "$pki/tokens.csv" ]; then
  # Static tokens: admin in system:masters; the scheduler and controller manager get the user
  # names RBAC's bootstrap policy already binds to their roles.
  {
    echo "$(openssl rand -hex 24),admin,admin,\"system:masters\""
    echo "$(openssl rand -hex 24),system:kube-controller-manager,kcm,"
    echo "$(openssl rand -hex 24),system:kube-scheduler,scheduler,"
  } >"$pki/tokens.csv.tmp"
  mv "$pki/tokens.csv.tmp" "$pki/tokens.csv"
fi
if [ ! -f "$pki/sa.key" ]; then
  # ServiceAccount token signing key pair.
  openssl genrsa -out "$pki/sa.key.tmp" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key.tmp" -pubout -out "$pki/sa.pub" 2>/dev/null
  mv "$pki/sa.key.tmp" "$pki/sa.key"
fi
chmod 600 "$pki/tokens.csv" "$pki/sa.key"

# --- process helpers ---
start() { # component args... : run detached (own session, survives the caller), record pid
  local c=$1; shift
  log "starting $c (log: $state/logs/$c.log)"
  printf '\n===== %s start %s =====\n' "$c" "$(date -Is)" >>"$state/logs/$c.log"
  # 9>&-: the daemon must not inherit the lock fd, or the lock would outlive this script.
  setsid "$bindir/$c" "$@" </dev/null >>"$state/logs/$c.log" 2>&1 9>&- &
  echo $! >"$state/pids/$c.pid"
}

fail() { # component message
  printf '[cluster-up %s] ERROR: %s: %s\n' "$(date +%H:%M:%S)" "$1" "$2" >&2
  echo "----- last 40 lines of $state/logs/$1.log -----" >&2
  tail -n 40 "$state/logs/$1.log" >&2 || true
  echo "----- (cluster left as is; scripts/cluster-down.sh stops it) -----" >&2
  exit 1
}

wait_healthy() { # component timeout_seconds check-command...
  local c=$1 timeout=$2 deadline; shift 2
  deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    pid_alive "$c" || fail "$c" "process exited"
    [ "$(date +%s)" -lt "$deadline" ] || fail "$c" "not healthy after ${timeout}s"
    sleep 0.5
  done
  log "$c healthy"
}

write_kubeconfig() { # file user token
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: imagerollout
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $state/certs/apiserver.crt
users:
- name: $2
  user:
    token: $3
contexts:
- name: imagerollout
  context: {cluster: imagerollout, user: $2, namespace: default}
current-context: imagerollout
EOF
  chmod 600 "$1"
}

# --- etcd ---
start etcd --name=default --data-dir="$state/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="default=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync --log-level=warn
wait_healthy etcd 60 curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"

# --- kube-apiserver ---
# The issuer is not tied to the port, so tokens survive a restart on other ports.
# No endpoint reconciler: Endpoints may not hold loopback addresses, so it would only log errors.
start kube-apiserver \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
  --cert-dir="$state/certs" \
  "${apiserver_flags[@]}" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$pki/sa.pub" \
  --service-account-signing-key-file="$pki/sa.key" \
  --token-auth-file="$pki/tokens.csv" \
  --authorization-mode=RBAC --allow-privileged=true \
  --endpoint-reconciler-type=none \
  --profiling=false
# The serving cert appears in cert-dir shortly after start; readyz needs it as CA.
wait_healthy kube-apiserver 120 apiserver_ready

write_kubeconfig "$state/kubeconfig" admin "$(token)"
write_kubeconfig "$pki/kube-controller-manager.kubeconfig" system:kube-controller-manager \
  "$(grep ',system:kube-controller-manager,' "$pki/tokens.csv" | cut -d, -f1)"
write_kubeconfig "$pki/kube-scheduler.kubeconfig" system:kube-scheduler \
  "$(grep ',system:kube-scheduler,' "$pki/tokens.csv" | cut -d, -f1)"
export KUBECONFIG="$state/kubeconfig"
k() { "$kubectl_bin" --kubeconfig="$state/kubeconfig" "$@"; }

# --- kube-controller-manager ---
# The private key and root CA let its token controller mint ServiceAccount tokens;
# --use-service-account-credentials runs each controller under its own RBAC identity.
start kube-controller-manager \
  --kubeconfig="$pki/kube-controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --leader-elect=false \
  "${kcm_flags[@]}" \
  --service-account-private-key-file="$pki/sa.key" \
  --root-ca-file="$state/certs/apiserver.crt" \
  --use-service-account-credentials=true \
  --controllers='*'
wait_healthy kube-controller-manager 90 curl -skf --max-time 2 "https://127.0.0.1:$KCM_PORT/healthz"

# --- kube-scheduler ---
start kube-scheduler \
  --kubeconfig="$pki/kube-scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" \
  --leader-elect=false --kube-api-qps=200 --kube-api-burst=400
wait_healthy kube-scheduler 90 curl -skf --max-time 2 "https://127.0.0.1:$SCHEDULER_PORT/readyz"

# --- kwok: plays kubelet for nodes annotated kwok.x-k8s.io/node=fake ---
stages=()
for f in "$bindir"/kwok-stages/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] || stages+=("--config=$f")
done
[ "${#stages[@]}" -gt 0 ] || die "no kwok stage configs in $bindir/kwok-stages"
# kwok only plays a node whose Lease it holds, and each kwok process has a random identity: a
# Lease left by the previous (stopped) kwok would keep pods Pending until it expires (~40s).
k -n kube-node-lease delete lease "$node_name" --ignore-not-found >/dev/null
start kwok \
  --kubeconfig="$state/kubeconfig" \
  "${stages[@]}" \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-lease-duration-seconds=40 \
  --cidr=10.244.0.0/16 --node-ip=127.0.0.1 \
  --server-address="127.0.0.1:$KWOK_PORT"
wait_healthy kwok 60 curl -sf --max-time 2 "http://127.0.0.1:$KWOK_PORT/healthz"

# --- the fake node (status is accepted on create, which kwok's stage then keeps) ---
if ! k get node "$node_name" >/dev/null 2>&1; then
  log "creating fake node $node_name"
  k create -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $node_name
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/hostname: $node_name
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/role: agent
spec: {}
status:
  capacity: {cpu: "256", memory: 2Ti, pods: "2000"}
  allocatable: {cpu: "256", memory: 2Ti, pods: "2000"}
EOF
fi
# Room for the scale bench (500 rollouts, a primary and a canary pod each); older clusters
# made the node with 250 pods.
capacity='{"cpu":"256","memory":"2Ti","pods":"2000"}'
k patch node "$node_name" --subresource=status --type=merge \
  -p "{\"status\":{\"capacity\":$capacity,\"allocatable\":$capacity}}" >/dev/null
log "waiting for node $node_name to be Ready and held by kwok"
k wait --for=condition=Ready "node/$node_name" --timeout=60s >/dev/null || fail kwok "node $node_name not Ready"
deadline=$(( $(date +%s) + 60 ))
until k -n kube-node-lease get lease "$node_name" >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$deadline" ] || fail kwok "kwok did not take the Lease of $node_name in 60s"
  sleep 0.5
done

# --- Gateway API CRDs ---
log "installing Gateway API CRDs"
k apply --server-side --force-conflicts -f "$bindir/gateway-api-crds/" >/dev/null
k wait --for=condition=Established --timeout=60s -f "$bindir/gateway-api-crds/" >/dev/null ||
  fail kube-apiserver "Gateway API CRDs not Established"
# Istio's VirtualService/DestinationRule and the Inference Extension's InferencePool.
IMAGEROLLOUT_CACHE="$cache" KUBECTL="$kubectl_bin" "$here/route-crds.sh" --install >/dev/null ||
  fail kube-apiserver "Istio or Inference Extension CRDs not installed"

# --- the default namespace and its ServiceAccount (made by apiserver and controller manager) ---
deadline=$(( $(date +%s) + 60 ))
until k get namespace default >/dev/null 2>&1 && k -n default get serviceaccount default >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$deadline" ] || fail kube-controller-manager "no ServiceAccount default/default after 60s"
  sleep 0.5
done

# A cluster first made with the old /24 keeps it as its default ServiceCIDR; this adds the /16.
k apply -f - >/dev/null <<EOF
apiVersion: networking.k8s.io/v1
kind: ServiceCIDR
metadata:
  name: imagerollout-services
spec:
  cidrs: [10.96.0.0/16]
EOF
echo "$flags_id" >"$state/flags.id"
log "cluster up in $(( $(date +%s) - t0 ))s"
echo "$state/kubeconfig"
echo "export KUBECONFIG=$state/kubeconfig"
