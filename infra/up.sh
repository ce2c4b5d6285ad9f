#!/usr/bin/env bash
# Bring up the local stack: install what is missing, then broker, Postgres, registry.
# Every step is idempotent, so running this twice is harmless and fast.
set -euo pipefail
dir="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=SCRIPTDIR/lib.sh
source "$dir/lib.sh"

t0=$SECONDS
"$dir/kafka.sh" install
"$dir/kafka.sh" start
"$dir/postgres.sh" install
"$dir/postgres.sh" start
"$dir/registry.sh" start
say "stack up in $((SECONDS - t0))s"
cat <<MSG
    HANDOFF_KAFKA__BROKERS=$HANDOFF_KAFKA__BROKERS
    HANDOFF_REGISTRY__URL=$HANDOFF_REGISTRY__URL
    HANDOFF_DATABASE__URL=$HANDOFF_DATABASE__URL
    logs: $LOG_DIR   (use: source infra/env.sh)
MSG
