# shellcheck shell=bash
# Helpers shared by the infra scripts (sourced, not run). Pulls in env.sh.
# shellcheck source=SCRIPTDIR/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# shellcheck disable=SC2034  # used by the scripts that source this file
LOG_DIR="$HANDOFF_RUN_DIR/logs" PID_DIR="$HANDOFF_RUN_DIR/pids"

say()  { printf '==> %s\n' "$*"; }
warn() { printf '!!  %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# port_open PORT: something accepts TCP on 127.0.0.1:PORT (bash /dev/tcp, no nc needed;
# `timeout` guards against a connect that hangs instead of being refused).
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# alive PID: process exists and is not a zombie (an unreaped zombie still has /proc/PID).
# (The state letter follows the last ')' in /proc/PID/stat; comm itself may contain spaces.)
alive() {
  local st
  st=$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z ]]
}

# our_pid PIDFILE NAME: print the pid from PIDFILE if that process is alive AND one of
# its command-line words is the binary NAME (any directory). A pid file can outlive its
# process (crash, reboot) and the pid can be reused by something unrelated, which we must
# never signal.
our_pid() {
  local file=$1 name=$2 pid arg
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  while IFS= read -r -d '' arg; do
    [[ ${arg##*/} == "$name" ]] && { echo "$pid"; return 0; }
  done <"/proc/$pid/cmdline"
  return 1
}

# drop_stale PIDFILE NAME: remove PIDFILE if it does not name our live process.
drop_stale() {
  if [[ -f $1 ]] && ! our_pid "$1" "$2" >/dev/null; then
    warn "removing stale pid file $1 (process gone or not $2)"
    rm -f "$1"
  fi
}

# spawn PIDFILE LOG CMD...: run CMD detached (own session, so it survives this script and
# the terminal), stdout+stderr appended to LOG. The child writes its own pid before exec,
# so the pid file is right whether or not setsid had to fork.
spawn() {
  local pidfile=$1 log=$2; shift 2
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$log")"
  rm -f "$pidfile"
  printf -- '---- %s starting: %s\n' "$(date -Is)" "$*" >>"$log"
  # shellcheck disable=SC2016  # $$ and $@ are for the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$log" 2>&1 &
  local i
  for ((i = 0; i < 50; i++)); do [[ -s $pidfile ]] && return 0; sleep 0.1; done
  die "could not start $1 (no pid file $pidfile); see $log"
}

# wait_ready NAME PIDFILE LOG TIMEOUT CHECK...: poll CHECK until it succeeds; fail fast if
# the process died, and point at the log either way.
wait_ready() {
  local name=$1 pidfile=$2 log=$3 timeout=$4; shift 4
  local start=$SECONDS
  until "$@"; do
    if ! our_pid "$pidfile" "$name" >/dev/null; then
      tail -n 20 "$log" >&2 || true
      die "$name exited during startup; full log: $log"
    fi
    ((SECONDS - start < timeout)) || die "$name not ready after ${timeout}s; see $log"
    sleep 0.2
  done
}

# stop_pid NAME PIDFILE [GRACE]: SIGTERM our process, wait up to GRACE seconds, then SIGKILL.
stop_pid() {
  local name=$1 pidfile=$2 grace=${3:-15} pid i
  if ! pid=$(our_pid "$pidfile" "$name"); then
    drop_stale "$pidfile" "$name"
    say "$name not running (nothing of ours to stop)"
    return 0
  fi
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    warn "$name did not exit within ${grace}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# status_pid NAME PIDFILE: one status line; exit 0 if running.
status_pid() {
  local pid
  if pid=$(our_pid "$2" "$1"); then echo "$1: running (pid $pid)"; else echo "$1: stopped"; return 1; fi
}
