#!/usr/bin/env bash
# Project-local Postgres cluster: data in .run/pg/data, socket in .run/pg, TCP on
# 127.0.0.1:$HANDOFF_PG_PORT with password auth, role/database handoff/handoff.
# It never touches a system cluster (Debian's runs on 5432 with sockets in /var/run).
# Usage: infra/postgres.sh {install|start|stop|status}
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_DIR="$HANDOFF_RUN_DIR/pg"
PG_DATA="$PG_DIR/data"
PG_LOG="$LOG_DIR/postgres.log"
PORT="$HANDOFF_PG_PORT"

# Newest installed server version (Debian keeps binaries out of PATH, per major version).
pg_bin() {
  local d best=""
  for d in /usr/lib/postgresql/*/bin; do [[ -x $d/postgres ]] && best=$d; done
  [[ -n $best ]] && echo "$best"
}

# Postgres refuses to run as root, so as root everything runs as the `postgres` OS user
# (which then is the cluster superuser, reachable via peer auth on our socket).
if ((EUID == 0)); then PG_USER=postgres; as_pg() { runuser -u postgres -- "$@"; }
else PG_USER=$(id -un); as_pg() { "$@"; }; fi

# Superuser psql over our own unix socket (never the system one).
psql_admin() { as_pg "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PORT" -d postgres "$@"; }

install() {
  if pg_bin >/dev/null; then say "postgres already installed ($(pg_bin))"; return; fi
  ((EUID == 0)) || die "postgres missing; install the 'postgresql' package (needs root)"
  say "installing postgresql via apt-get"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
}

running() { [[ -d $PG_DATA ]] && as_pg "$BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1; }

# One-time cluster creation, plus config we (re)write on every start so a changed port
# takes effect. Returns with the data dir owned by the server's OS user.
prepare() {
  mkdir -p "$PG_DIR" "$LOG_DIR"
  touch "$PG_LOG"
  if ((EUID == 0)); then
    chown postgres: "$PG_DIR" "$PG_LOG"
    chmod o+x "$HANDOFF_RUN_DIR"  # ours; a umask of 077 would otherwise lock postgres out
    # The postgres user must be able to reach .run/pg: check every parent is traversable.
    as_pg test -x "$PG_DIR" ||
      die "user postgres cannot reach $PG_DIR (a parent directory lacks o+x); move the repo or chmod o+x its parents"
  fi
  chmod 700 "$PG_DIR"
  if [[ ! -s $PG_DATA/PG_VERSION ]]; then
    say "initdb $PG_DATA (superuser: $PG_USER)"
    # Peer auth on the socket: only the OS user owning the cluster gets in without a password.
    as_pg "$BIN/initdb" -D "$PG_DATA" -E UTF8 --locale=C --auth-local=peer \
      --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1 || die "initdb failed; see $PG_LOG"
    echo "include_if_exists = 'handoff.conf'" >>"$PG_DATA/postgresql.conf"
  fi
  as_pg tee "$PG_DATA/handoff.conf" >/dev/null <<CONF
# Written by infra/postgres.sh on every start; edits here are overwritten.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$PG_DIR'
password_encryption = 'scram-sha-256'
# Tests create a database each and run in parallel, each with a small pool.
max_connections = 200
# Dev cluster: a crash may lose the last few commits but never corrupts (unlike fsync=off).
synchronous_commit = off
CONF
  as_pg tee "$PG_DATA/pg_hba.conf" >/dev/null <<'HBA'
# Written by infra/postgres.sh. Loopback only; password (scram) for TCP.
local   all  all                 peer
host    all  all  127.0.0.1/32   scram-sha-256
HBA
}

# Role and database, idempotently (safe on every start).
provision() {
  psql_admin <<'SQL'
SELECT 'CREATE ROLE handoff' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'handoff')\gexec
ALTER ROLE handoff LOGIN CREATEDB PASSWORD 'handoff';
SELECT 'CREATE DATABASE handoff OWNER handoff' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'handoff')\gexec
SQL
}

start() {
  local t0=$SECONDS
  BIN=$(pg_bin) || die "postgres not installed; run: infra/postgres.sh install"
  if running; then
    say "postgres already running on 127.0.0.1:$PORT ($PG_DATA)"
    "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 30 || die "postgres not accepting TCP on $PORT; see $PG_LOG"
  else
    if port_open "$PORT"; then die "port $PORT is taken by another process; set HANDOFF_PG_PORT"; fi
    prepare
    say "starting postgres on 127.0.0.1:$PORT (data $PG_DATA, log $PG_LOG)"
    as_pg "$BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t 60 >/dev/null ||
      { tail -n 20 "$PG_LOG" >&2; die "postgres failed to start; see $PG_LOG"; }
    "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 30 || die "postgres not accepting TCP on $PORT; see $PG_LOG"
    say "postgres ready in $((SECONDS - t0))s"
  fi
  provision
  say "postgres: $HANDOFF_DATABASE__URL"
}

stop() {
  BIN=$(pg_bin) || { say "postgres not installed; nothing to stop"; return; }
  if running; then
    say "stopping postgres ($PG_DATA)"
    # pg_ctl signals only the postmaster recorded in OUR data dir.
    as_pg "$BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 >/dev/null
  else
    say "postgres not running (nothing of ours to stop)"
  fi
}

# Integration tests create one database each (t_<unix seconds>_<id>, tests/src/lib.rs). Drops
# those more than two hours old (a test run still going is younger), and ones named before the
# timestamp was part of the name (t_<32 hex>, t_console_<32 hex>).
prune_test_dbs() {
  BIN=$(pg_bin) || return 0
  running || return 0
  local dbs db n=0
  dbs=$(psql_admin -At <<'SQL'
SELECT datname FROM pg_database
WHERE datname ~ '^t_(console_)?[0-9a-f]{32}$'
   OR (datname ~ '^t_[0-9]{10}_' AND split_part(datname, '_', 2)::bigint < extract(epoch FROM now()) - 7200);
SQL
  )
  for db in $dbs; do
    psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" && n=$((n + 1))
  done
  say "dropped $n test databases older than two hours"
}

status() {
  BIN=$(pg_bin) || { echo "postgres: not installed"; return 1; }
  if running; then echo "postgres: running on 127.0.0.1:$PORT ($PG_DATA)"; else echo "postgres: stopped"; return 1; fi
}

case "${1:-}" in
  install | start | stop | status) "$1" ;;
  prune-test-dbs) prune_test_dbs ;;
  *) die "usage: $0 {install|start|stop|status|prune-test-dbs}" ;;
esac
