#!/usr/bin/env bash
# End-to-end benchmarks against the local stack (assumes `make infra-up` ran):
#   1. the pipeline (detector, builder, router, auditor as processes from target/release) at full
#      speed, then rate-limited at half of that peak: events/s and trigger -> RoutedHandoff latency;
#   2. the passthrough baseline: bare consume -> produce relays of the same bytes over the same
#      number of topic writes (4: input + 3 relays), at full speed and at the same half-peak rate;
#   3. the Python baseline (confluent-kafka + fastavro, decode -> regex -> encode, one hop),
#      installed into target/bench-venv from PyPI;
#   4. the auditor's rows/s against raw COPY (cargo bench -p handoff-auditor --bench audit).
# Prints a table with each figure beside its baseline/target and writes
# bench/results/<date>-<host>.md (+ .jsonl with the raw run summaries).
#
# The Kafka runs use a private Apache Kafka (infra/kafka.sh with HANDOFF_KAFKA_DIR: the same jars
# and settings as the shared one, on BENCH_KAFKA_PORT and the two ports after it, data under
# target/bench/broker), started empty for this bench and deleted afterwards, so every path is
# measured on the same idle broker and not on the shared one that tests and `make run` leave
# topics and consumer groups on. BENCH_BROKERS=host:port uses that broker instead (e.g. a real
# cluster); the registry and Postgres are the ones in infra/env.sh.
#
# Knobs: BENCH_CONVERSATIONS (default 600: a few minutes in all, most of it the baselines),
# BENCH_TURNS (12), BENCH_PY_CONVERSATIONS (600),
# AUDIT_BENCH_RECORDS (20000), BENCH_SKIP_AUDIT=1, BENCH_SKIP_PYTHON=1, BENCH_KAFKA_PORT
# (19192), BENCH_BROKERS, BENCH_RESULTS_DIR (bench/results).
# Every run uses its own topic and group prefix; processes started here are stopped by pid.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
# shellcheck source=../infra/env.sh
source infra/env.sh
export HANDOFF_CONFIG=$ROOT/bench/bench.toml

CONV=${BENCH_CONVERSATIONS:-600}
TURNS=${BENCH_TURNS:-12}
PY_CONV=${BENCH_PY_CONVERSATIONS:-600}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
HOST=$(hostname -s 2>/dev/null || hostname)
RUN="bench-$(date -u +%H%M%S)-$$"
WORK=$ROOT/target/bench/$STAMP
RESULTS=${BENCH_RESULTS_DIR:-bench/results}
mkdir -p "$WORK/logs" "$RESULTS"
JSON=$WORK/runs.jsonl
CPU=$WORK/cpu.jsonl
: >"$JSON"
: >"$CPU"
BIN=$ROOT/target/release
PIDS=()

say() { printf '==> %s\n' "$*" >&2; }
TICK=$(getconf CLK_TCK)
# CPU seconds (user + system) the given processes have used so far.
cpu_of() {
  local p t=0 f
  for p in "$@"; do
    [[ -n $p ]] && read -r -a f <"/proc/$p/stat" 2>/dev/null && t=$((t + f[13] + f[14]))
  done
  python3 -c "print($t / $TICK)"
}
broker_pid() { [[ -z ${BENCH_BROKERS:-} ]] && cat "$BROKER_RUN_DIR/kafka.pid" 2>/dev/null || true; }
# Runs `handoff load ...` and records the CPU the started processes (workers or relays) and the
# private broker used during it: the broker-independent cost of each path.
# Start-up (interpreter, imports, schema registration) is left out: the processes get 2 s to settle.
measured_load() { # label -- load args
  local label=$1 b0 b1 w0 w1
  shift
  sleep 2
  b0=$(cpu_of "$(broker_pid)")
  w0=$(cpu_of "${PIDS[@]}")
  "$BIN/handoff" load "$@" --label "$label" --json "$JSON" || say "$label failed (see $WORK/logs/$label-*.log)"
  b1=$(cpu_of "$(broker_pid)")
  w1=$(cpu_of "${PIDS[@]}")
  printf '{"label": "%s", "worker_cpu_s": %s, "broker_cpu_s": %s}\n' "$label" \
    "$(python3 -c "print(round($w1 - $w0, 2))")" "$(python3 -c "print(round($b1 - $b0, 2))")" >>"$CPU"
}
stop_all() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
  done
  PIDS=()
}
DBS=()
cleanup() {
  stop_all
  local db
  for db in "${DBS[@]}"; do psql -q "$HANDOFF_DATABASE__URL" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

BROKER_RUN_DIR=$ROOT/target/bench/broker
BENCH_KAFKA_PORT=${BENCH_KAFKA_PORT:-19192}
broker() {
  HANDOFF_KAFKA_DIR=$BROKER_RUN_DIR HANDOFF_KAFKA_PORT=$BENCH_KAFKA_PORT \
    HANDOFF_KAFKA_SASL_PORT=$((BENCH_KAFKA_PORT + 1)) HANDOFF_KAFKA_CONTROLLER_PORT=$((BENCH_KAFKA_PORT + 2)) \
    infra/kafka.sh "$@"
}
if [[ -n ${BENCH_BROKERS:-} ]]; then
  export HANDOFF_KAFKA__BROKERS=$BENCH_BROKERS
  export BENCH_BROKER_DESC="$BENCH_BROKERS (BENCH_BROKERS)"
  say "using the broker at $BENCH_BROKERS"
else
  export HANDOFF_KAFKA__BROKERS=127.0.0.1:$BENCH_KAFKA_PORT
  trap 'cleanup; broker stop >/dev/null 2>&1 || true; rm -rf "$BROKER_RUN_DIR"' EXIT
fi
# The private broker, started empty on first use (stopping one a killed bench may have left)
# and kept for the later runs: each run has its own topics, and Kafka's appends and fetches do
# not slow down with what earlier runs wrote.
fresh_broker() {
  [[ -n ${BENCH_BROKERS:-} ]] && return 0
  [[ -n ${BROKER_STARTED:-} ]] && return 0
  broker stop >/dev/null 2>&1 || true
  rm -rf "$BROKER_RUN_DIR"
  broker start >/dev/null
  BROKER_STARTED=1
}

say "building release binaries"
cargo build --release -q -p handoff-detector -p handoff-builder -p handoff-router -p handoff-auditor -p handoff-cli

# A fresh database for the bench auditor, so bench handoffs never land in the dev audit tables.
BENCH_DB="${RUN//-/_}"
AUDIT_URL=$HANDOFF_DATABASE__URL
if psql -q "$HANDOFF_DATABASE__URL" -c "CREATE DATABASE \"$BENCH_DB\"" >/dev/null 2>&1; then
  DBS+=("$BENCH_DB")
  AUDIT_URL="${HANDOFF_DATABASE__URL%/*}/$BENCH_DB"
else
  say "could not create a bench database; the auditor writes to the dev database"
fi

# Runs one pipeline load: workers on a fresh prefix, `handoff load`, workers stopped.
pipeline_run() { # label rate
  local label=$1 rate=$2 prefix="$RUN-$1." w
  fresh_broker
  export HANDOFF_KAFKA__TOPIC_PREFIX=$prefix HANDOFF_KAFKA__GROUP_PREFIX=$prefix
  for w in detector builder router auditor; do
    HANDOFF_DATABASE__URL=$AUDIT_URL HANDOFF_TELEMETRY__FILTER=warn "$BIN/$w" >"$WORK/logs/$label-$w.log" 2>&1 &
    PIDS+=($!)
  done
  measured_load "$label" --mode pipeline --conversations "$CONV" --turns "$TURNS" --rate "$rate"
  stop_all
}

# Runs one passthrough load through `hops` relays; `relay` is "rust" or "python".
passthrough_run() { # label rate hops relay conversations
  local label=$1 rate=$2 hops=$3 kind=$4 conv=$5 prefix="$RUN-$1." i from to
  fresh_broker
  export HANDOFF_KAFKA__TOPIC_PREFIX=$prefix HANDOFF_KAFKA__GROUP_PREFIX=$prefix
  for ((i = 0; i < hops; i++)); do
    from="${prefix}bench.pt.$i" to="${prefix}bench.pt.$((i + 1))"
    if [[ $kind == rust ]]; then
      "$BIN/handoff" relay --from "$from" --to "$to" >"$WORK/logs/$label-relay$i.log" 2>&1 &
    else
      "$VENV/bin/python" bench/python/worker.py --brokers "$HANDOFF_KAFKA__BROKERS" \
        --registry "$HANDOFF_REGISTRY__URL" --source "$from" --sink "$to" --group "${prefix}python$i" \
        >"$WORK/logs/$label-python$i.log" 2>&1 &
    fi
    PIDS+=($!)
  done
  measured_load "$label" --mode passthrough --hops "$hops" --conversations "$conv" --turns "$TURNS" \
    --rate "$rate"
  stop_all
}

field() { # label key -> value from the JSON line of that run
  python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r["label"]==sys.argv[2]:
        v=r
        for k in sys.argv[3].split("."): v=v[k]
        print(v); break
else: print(0)' "$JSON" "$1" "$2"
}

say "pipeline at full speed ($CONV conversations x $TURNS turns)"
pipeline_run pipeline-peak 0
PEAK=$(field pipeline-peak events_per_s)
HALF=$(python3 -c "print(max(1, round(float('$PEAK')/2)))")  # never 0 (= full speed)
say "pipeline peak $PEAK ev/s; half-peak runs at $HALF ev/s"
pipeline_run pipeline-half "$HALF"

say "passthrough baseline (3 relays = 4 topic writes)"
passthrough_run passthrough-peak 0 3 rust "$CONV"
passthrough_run passthrough-half "$HALF" 3 rust "$CONV"

if [[ -z ${BENCH_SKIP_PYTHON:-} ]]; then
  VENV=$ROOT/target/bench-venv
  if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import confluent_kafka, fastavro' 2>/dev/null; then
    say "installing the Python baseline into $VENV (PyPI: confluent-kafka, fastavro)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q -r bench/python/requirements.txt
  fi
  say "python baseline (1 hop: decode -> regex -> encode)"
  passthrough_run python-peak 0 1 python "$PY_CONV"
fi

AUDIT_OUT=$WORK/audit.txt
: >"$AUDIT_OUT"
if [[ -z ${BENCH_SKIP_AUDIT:-} ]]; then
  say "auditor rows/s vs raw COPY"
  unset HANDOFF_KAFKA__TOPIC_PREFIX HANDOFF_KAFKA__GROUP_PREFIX
  cargo bench -q -p handoff-auditor --bench audit 2>&1 | tee "$AUDIT_OUT" | grep -v '^$' >&2 || say "audit bench failed"
fi

STATE_OUT=$WORK/state.txt
cargo bench -q -p handoff-core --bench state_size >"$STATE_OUT" 2>/dev/null || say "state_size bench failed"

OUT=$RESULTS/$(date -u +%Y-%m-%d)-$HOST
python3 bench/report.py --runs "$JSON" --cpu "$CPU" --audit "$AUDIT_OUT" --state "$STATE_OUT" --conversations "$CONV" --turns "$TURNS" --md "$OUT.md"
cp "$JSON" "$OUT.jsonl"
cp "$CPU" "$OUT.cpu.jsonl"
say "results: $OUT.md"
