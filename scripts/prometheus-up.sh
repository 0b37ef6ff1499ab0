#!/usr/bin/env bash
# Starts a Prometheus for the demo: it scrapes every second the targets listed in
# <cache>/prometheus/targets/*.json (file_sd, re-read every second) and listens on
# 127.0.0.1:${PROMETHEUS_PORT:-9090}. Idempotent: if the recorded Prometheus is up, it returns.
# prometheus-down.sh stops it; the TSDB in <cache>/prometheus/data is kept across restarts.
#
# Layout (state dir = ${IMAGEROLLOUT_CACHE:-<repo>/.cache}/prometheus):
#   prometheus.yml  targets/*.json  data/  prometheus.log  prometheus.pid  port
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cache=${IMAGEROLLOUT_CACHE:-$root/.cache}
state="$cache/prometheus"
port=${PROMETHEUS_PORT:-9090}
prometheus_bin=${PROMETHEUS_BIN:-/usr/bin/prometheus}
promtool_bin=${PROMTOOL_BIN:-/usr/bin/promtool}
url="http://127.0.0.1:$port"
ready_timeout=30

log() { printf '[prometheus-up %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[prometheus-up %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }

[ -x "$prometheus_bin" ] || die "$prometheus_bin not found: apt-get install prometheus"
mkdir -p "$state/targets" "$state/data"
# Serialise concurrent callers; the Prometheus we start must not inherit this fd (see 9>&-).
exec 9>>"$state/.lock"
flock 9

running() { # 0 if the recorded pid still runs prometheus (pids get reused after a reboot)
  local pid argv0
  pid=$(cat "$state/prometheus.pid" 2>/dev/null) || return 1
  argv0=$(head -z -n1 "/proc/$pid/cmdline" 2>/dev/null | tr -d '\0') || return 1
  [[ $argv0 == */prometheus ]]
}
ready() { curl -sf --max-time 2 "$url/-/ready" >/dev/null 2>&1; }
wait_ready() {
  local deadline=$(( $(date +%s) + ready_timeout ))
  until ready; do
    running || die "prometheus exited; last log lines:
$(tail -n 20 "$state/prometheus.log")"
    [ "$(date +%s)" -lt "$deadline" ] || die "prometheus not ready after ${ready_timeout}s; see $state/prometheus.log"
    sleep 0.2
  done
}

if running; then
  recorded=$(cat "$state/port" 2>/dev/null || echo "?")
  [ "$recorded" = "$port" ] || die "already running on port $recorded; run scripts/prometheus-down.sh first"
  wait_ready
  log "already up at $url (pid $(cat "$state/prometheus.pid"))"
  exit 0
fi

cat >"$state/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: imagegen
    file_sd_configs:
      - files: ["$state/targets/*.json"]
        refresh_interval: 1s
YAML
"$promtool_bin" check config "$state/prometheus.yml" >/dev/null || die "invalid $state/prometheus.yml"

log "starting prometheus on $url"
# setsid: the server outlives this script and a Ctrl-C in the calling terminal.
setsid "$prometheus_bin" \
  --config.file="$state/prometheus.yml" \
  --storage.tsdb.path="$state/data" \
  --web.listen-address="127.0.0.1:$port" \
  --web.enable-lifecycle \
  >>"$state/prometheus.log" 2>&1 </dev/null 9>&- &
echo $! >"$state/prometheus.pid"
echo "$port" >"$state/port"
wait_ready
log "ready at $url (pid $(cat "$state/prometheus.pid")); targets in $state/targets/*.json"
