# shellcheck shell=bash
# Source me: `source infra/env.sh`. Exports the local-stack defaults that the workers,
# the CLI and the integration tests read. Anything already set in the environment wins,
# so `HANDOFF_KAFKA_PORT=29092 make test` moves the whole stack.
# No `set -e` here on purpose: this file is sourced into interactive shells too.

# Repo root, from this file's location. Deliberately not exported: workers read every
# HANDOFF_* variable as configuration (figment), so we export only the agreed ones.
HANDOFF_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

export HANDOFF_KAFKA_PORT="${HANDOFF_KAFKA_PORT:-19092}"
export HANDOFF_REGISTRY_PORT="${HANDOFF_REGISTRY_PORT:-18081}"
export HANDOFF_PG_PORT="${HANDOFF_PG_PORT:-15432}"

# Worker configuration (figment env provider: `__` separates nesting levels).
export HANDOFF_KAFKA__BROKERS="${HANDOFF_KAFKA__BROKERS:-127.0.0.1:$HANDOFF_KAFKA_PORT}"
export HANDOFF_REGISTRY__URL="${HANDOFF_REGISTRY__URL:-http://127.0.0.1:$HANDOFF_REGISTRY_PORT}"
export HANDOFF_DATABASE__URL="${HANDOFF_DATABASE__URL:-postgres://handoff:handoff@127.0.0.1:$HANDOFF_PG_PORT/handoff}"

# All runtime state (pid files, logs, data) lives here; it is gitignored.
export HANDOFF_RUN_DIR="${HANDOFF_RUN_DIR:-$HANDOFF_ROOT/.run}"
# Where `cargo build` puts the binaries (follows CARGO_TARGET_DIR if you set one).
export HANDOFF_BIN_DIR="${HANDOFF_BIN_DIR:-${CARGO_TARGET_DIR:-$HANDOFF_ROOT/target}/debug}"
# The sentence encoder's files (infra/model.sh installs them; the encoder crate reads them).
export HANDOFF_MODEL_DIR="${HANDOFF_MODEL_DIR:-$HANDOFF_RUN_DIR/models/all-minilm-l6-v2}"
