#!/usr/bin/env bash
# The four pipeline workers, run in the background against the local stack with the
# environment from env.sh. Logs: .run/logs/<name>.log. Build them first (`make build`).
# Usage: infra/workers.sh {start|stop|status}
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Pipeline order: upstream first, so stop lets downstream drain what is already in flight.
WORKERS=(detector builder router auditor)
# Each worker serves Prometheus metrics on its own loopback port: curl 127.0.0.1:19101/metrics.
declare -A METRICS_PORT=([detector]=19101 [builder]=19102 [router]=19103 [auditor]=19104)

start() {
  local w pid started=()
  for w in "${WORKERS[@]}"; do
    [[ -x $HANDOFF_BIN_DIR/$w ]] || die "$HANDOFF_BIN_DIR/$w not built; run: make build"
  done
  for w in "${WORKERS[@]}"; do
    if pid=$(our_pid "$PID_DIR/$w.pid" "$w"); then say "$w already running (pid $pid)"; continue; fi
    drop_stale "$PID_DIR/$w.pid" "$w"
    say "starting $w (log $LOG_DIR/$w.log)"
    spawn "$PID_DIR/$w.pid" "$LOG_DIR/$w.log" env \
      "HANDOFF_TELEMETRY__METRICS_LISTEN=${HANDOFF_TELEMETRY__METRICS_LISTEN_PREFIX:-127.0.0.1}:${METRICS_PORT[$w]}" \
      "$HANDOFF_BIN_DIR/$w"
    started+=("$w")
  done
  ((${#started[@]})) || return 0
  # Workers have no readiness port; a bad config or unreachable broker usually kills them
  # within a second or two, so check they are still alive before reporting success.
  sleep 2
  local dead=()
  for w in "${started[@]}"; do
    our_pid "$PID_DIR/$w.pid" "$w" >/dev/null && continue
    dead+=("$w"); rm -f "$PID_DIR/$w.pid"
    warn "$w exited right after start; last lines of $LOG_DIR/$w.log:"
    tail -n 20 "$LOG_DIR/$w.log" >&2 || true
  done
  ((${#dead[@]} == 0)) || die "worker(s) exited: ${dead[*]} (any others keep running; stop with: $0 stop)"
  say "workers running: ${started[*]} (metrics: curl 127.0.0.1:19101/metrics ... 19104)"
}

stop() {
  local w
  for w in "${WORKERS[@]}"; do stop_pid "$w" "$PID_DIR/$w.pid" 15; done
}

status() {
  local w rc=0
  for w in "${WORKERS[@]}"; do status_pid "$w" "$PID_DIR/$w.pid" || rc=1; done
  return "$rc"
}

case "${1:-}" in
  start | stop | status) "$1" ;;
  *) die "usage: $0 {start|stop|status}" ;;
esac
