#!/usr/bin/env bash
# Soak (make soak): a steady generated load through the four worker binaries while their RSS is
# sampled every 10 s; ends by checking nothing was lost and every worker stayed under the RSS
# bound (tests/tests/soak.rs). Needs the local stack (make infra-up) for the schema registry
# and Postgres; the broker is a private Apache Kafka the test starts (SOAK_PRIVATE_BROKER=0 uses
# the shared one).
# Knobs: SOAK_SECONDS (600), SOAK_RATE events/s (200), SOAK_RSS_LIMIT_MB (300).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$HANDOFF_ROOT"

port_open "$HANDOFF_REGISTRY_PORT" || die "no schema registry on $HANDOFF_REGISTRY_PORT: run make infra-up"
port_open "$HANDOFF_PG_PORT" || die "no Postgres on $HANDOFF_PG_PORT: run make infra-up"
say "building the worker binaries"
cargo build --workspace --bins
say "soak: ${SOAK_SECONDS:-600} s at ${SOAK_RATE:-200} events/s, RSS limit ${SOAK_RSS_LIMIT_MB:-300} MiB per worker"
cargo test -p handoff-tests --test soak -- --ignored --nocapture --test-threads=1
