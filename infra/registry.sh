#!/usr/bin/env bash
# Development schema registry (Confluent API), our own binary, schemas persisted in
# .run/registry/schemas.json. `make infra-up` builds it first.
# Usage: infra/registry.sh {start|stop|status}
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="$HANDOFF_REGISTRY_PORT"
BIN="$HANDOFF_BIN_DIR/schema-registry"
PIDFILE="$PID_DIR/registry.pid"
LOG="$LOG_DIR/registry.log"
DATA="$HANDOFF_RUN_DIR/registry/schemas.json"

# Ready = answers HTTP on GET / (any status). Without curl, an open port has to do.
http_up() {
  if command -v curl >/dev/null; then curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/"
  else port_open "$PORT"; fi
}

start() {
  local pid t0=$SECONDS
  if pid=$(our_pid "$PIDFILE" schema-registry); then
    say "schema-registry already running (pid $pid) on 127.0.0.1:$PORT"; return
  fi
  drop_stale "$PIDFILE" schema-registry
  if port_open "$PORT"; then
    http_up || die "port $PORT is taken by something that does not speak HTTP; set HANDOFF_REGISTRY_PORT"
    say "127.0.0.1:$PORT already answers HTTP; using that registry (not ours, stop will not touch it)"; return
  fi
  [[ -x $BIN ]] || die "$BIN not built; run: cargo build --workspace --bins (or make infra-up)"
  mkdir -p "$(dirname "$DATA")"
  say "starting schema-registry on 127.0.0.1:$PORT (data $DATA, log $LOG)"
  spawn "$PIDFILE" "$LOG" "$BIN" --listen "127.0.0.1:$PORT" --data "$DATA"
  wait_ready schema-registry "$PIDFILE" "$LOG" 30 http_up
  say "schema-registry ready in $((SECONDS - t0))s: $HANDOFF_REGISTRY__URL"
}

stop() { stop_pid schema-registry "$PIDFILE" 15; }
status() { status_pid schema-registry "$PIDFILE"; }

case "${1:-}" in
  start | stop | status) "$1" ;;
  *) die "usage: $0 {start|stop|status}" ;;
esac
