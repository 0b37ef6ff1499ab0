#!/usr/bin/env bash
# Stops the demo Prometheus started by prometheus-up.sh: SIGTERM, then SIGKILL after a deadline.
# The TSDB in <cache>/prometheus/data is kept. Safe to run when nothing runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cache=${IMAGEROLLOUT_CACHE:-$root/.cache}
state="$cache/prometheus"
stop_timeout=20

log() { printf '[prometheus-down %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if [ ! -f "$state/prometheus.pid" ]; then log "not running (no $state/prometheus.pid)"; exit 0; fi
exec 9>>"$state/.lock"
flock 9

pid=$(cat "$state/prometheus.pid")
argv0=$(head -z -n1 "/proc/$pid/cmdline" 2>/dev/null | tr -d '\0') || argv0=""
if [[ $argv0 != */prometheus ]]; then
  log "not running (pid $pid is gone)"
  rm -f "$state/prometheus.pid"
  exit 0
fi

log "stopping prometheus (pid $pid)"
kill -TERM "$pid" 2>/dev/null || true
# Running = exists and is not a zombie (setsid reparented it; its reaper may be slow).
running() { local st; st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) && [ "$st" != Z ]; }
deadline=$(( $(date +%s) + stop_timeout ))
while running; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "pid $pid ignored SIGTERM for ${stop_timeout}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    break
  fi
  sleep 0.2
done
rm -f "$state/prometheus.pid"
log "done"
