#!/usr/bin/env bash
# Local Kafka-protocol broker: tansu 0.6.0, sqlite storage in .run/tansu/tansu.db,
# listening and advertised on 127.0.0.1:$HANDOFF_KAFKA_PORT.
# Usage: infra/tansu.sh {install|start|stop|status}
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION=0.6.0
PORT="$HANDOFF_KAFKA_PORT"
DATA_DIR="$HANDOFF_RUN_DIR/tansu"
PIDFILE="$PID_DIR/tansu.pid"
LOG="$LOG_DIR/tansu.log"
# Compaction runs on the broker's maintenance timer (10 min by default); the broker
# strips this query parameter from the URL and uses it as the interval.
MAINTENANCE_INTERVAL="${TANSU_MAINTENANCE_INTERVAL:-20s}"

tansu_bin() {
  local b
  for b in "$(command -v tansu || true)" "$HOME/.cargo/bin/tansu"; do
    [[ -n $b && -x $b ]] && { echo "$b"; return 0; }
  done
  return 1
}

installed() { local b; b=$(tansu_bin) && [[ $("$b" --version 2>/dev/null) == *" $VERSION"* ]]; }

install() {
  # Another `cargo install tansu` (e.g. machine setup) may be compiling right now: wait for
  # it instead of starting a second ~10 minute build that races for the same binary.
  local t0=$SECONDS
  while pgrep -f 'cargo install.* tansu' >/dev/null; do
    ((SECONDS - t0 > 3600)) && die "gave up waiting for a running 'cargo install tansu'"
    say "a 'cargo install tansu' is already running; waiting ($((SECONDS - t0))s so far)"
    sleep 15
  done
  if installed; then say "tansu $VERSION already installed ($(tansu_bin))"; return; fi
  say "installing tansu $VERSION with cargo (takes ~10 minutes on a cold machine)"
  cargo install --locked tansu --version "$VERSION" --features dynostore,libsql
  installed || die "tansu $VERSION still not found after cargo install (is ~/.cargo/bin on PATH?)"
}

start() {
  local pid bin t0=$SECONDS
  if pid=$(our_pid "$PIDFILE" tansu); then
    say "tansu already running (pid $pid) on 127.0.0.1:$PORT"; return
  fi
  drop_stale "$PIDFILE" tansu
  if port_open "$PORT"; then
    say "127.0.0.1:$PORT already answers; using that broker (not ours, stop will not touch it)"; return
  fi
  bin=$(tansu_bin) || die "tansu not installed; run: infra/tansu.sh install"
  mkdir -p "$DATA_DIR"
  say "starting tansu on 127.0.0.1:$PORT (data $DATA_DIR/tansu.db, log $LOG)"
  # Run from the data dir: tansu resolves sqlite:// paths against its working directory
  # (even sqlite:///abs/path becomes ./abs/path), and it loads a `.env` file from there.
  # It also reads SCHEMA_REGISTRY / CLUSTER_ID from the environment: keep a developer's
  # shell from silently changing the broker.
  (cd "$DATA_DIR" && spawn "$PIDFILE" "$LOG" env -u SCHEMA_REGISTRY -u CLUSTER_ID "$bin" broker \
    --listener-url "tcp://127.0.0.1:$PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$PORT" \
    --storage-engine "sqlite://tansu.db?maintenance_interval=$MAINTENANCE_INTERVAL")
  wait_ready tansu "$PIDFILE" "$LOG" 60 port_open "$PORT"
  say "tansu ready in $((SECONDS - t0))s (pid $(<"$PIDFILE"))"
}

stop() { stop_pid tansu "$PIDFILE" 15; }
status() { status_pid tansu "$PIDFILE"; }

case "${1:-}" in
  install | start | stop | status) "$1" ;;
  *) die "usage: $0 {install|start|stop|status}" ;;
esac
