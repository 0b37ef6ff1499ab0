#!/usr/bin/env bash
# Stops the local control plane started by cluster-up.sh (every process recorded in pids/):
# SIGTERM, then SIGKILL after a deadline. --purge also removes the state dir (etcd data,
# certificates, tokens, logs). Safe to run when nothing runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cache=${IMAGEROLLOUT_CACHE:-$root/.cache}
state="$cache/cluster"
purge=false
case "${1:-}" in
  --purge) purge=true ;;
  "") ;;
  *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
esac

log() { printf '[cluster-down %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if [ ! -d "$state" ]; then log "nothing to do ($state does not exist)"; exit 0; fi

# Same lock as cluster-up.sh, unless cluster-up.sh called us while holding it.
if [ -z "${IMAGEROLLOUT_CLUSTER_LOCK_HELD:-}" ]; then
  exec 9>>"$state/.lock"
  flock 9
fi

# Stop in reverse start order so clients go before the servers they talk to.
order=(kwok kube-scheduler kube-controller-manager kube-apiserver etcd)
pids=()
for c in "${order[@]}"; do
  f="$state/pids/$c.pid"
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  # Only signal the pid if it still runs our binary (pids get reused after a reboot).
  argv0=$(head -z -n1 "/proc/$pid/cmdline" 2>/dev/null | tr -d '\0') || argv0=""
  if [[ -n $pid && $argv0 == */$c ]]; then
    log "stopping $c (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  else
    log "$c not running"
  fi
  rm -f "$f"
done

# Running = exists and is not a zombie (our daemons are reparented; their reaper may be slow).
running() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ "$st" != Z ]; }

deadline=$(( $(date +%s) + 20 ))
for pid in "${pids[@]}"; do
  while running "$pid"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "pid $pid ignored SIGTERM for 20s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
done

if $purge; then
  log "removing $state"
  rm -rf "$state"
fi
log "done"
