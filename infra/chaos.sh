#!/usr/bin/env bash
# The long worker-crash test (make chaos): 100,000 generated events over 4,000 conversations
# through the four worker binaries, each SIGKILLed several times at random moments and
# restarted; the run must end equal to a fault-free one (tests/tests/chaos.rs, `chaos_100k`).
# Needs the local stack (make infra-up) for the schema registry and Postgres; the broker is a
# private Apache Kafka the test starts (infra/kafka.sh with HANDOFF_KAFKA_DIR; CHAOS_PRIVATE_BROKER=0
# uses the shared one).
# Knobs (environment): CHAOS_SEED (repeat a kill schedule), CHAOS_CONVERSATIONS (4000),
# CHAOS_TURNS (25), CHAOS_KILLS per worker (4), CHAOS_UPTIME_MIN_MS / CHAOS_UPTIME_MAX_MS (time
# between a restart and the next kill, 15000-60000), CHAOS_PAUSE_MS (between batches, 2000).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$HANDOFF_ROOT"

port_open "$HANDOFF_REGISTRY_PORT" || die "no schema registry on $HANDOFF_REGISTRY_PORT: run make infra-up"
port_open "$HANDOFF_PG_PORT" || die "no Postgres on $HANDOFF_PG_PORT: run make infra-up"
say "building the worker binaries"
cargo build --workspace --bins
say "chaos: ${CHAOS_CONVERSATIONS:-4000} conversations x ${CHAOS_TURNS:-25} turns, ${CHAOS_KILLS:-4} kills per worker (seed ${CHAOS_SEED:-from the clock})"
t0=$SECONDS
cargo test -p handoff-tests --test chaos chaos_100k -- --ignored --nocapture --test-threads=1
say "chaos passed in $((SECONDS - t0))s"
