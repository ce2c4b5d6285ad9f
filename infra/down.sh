#!/usr/bin/env bash
# Stop the local stack (registry, Postgres, broker), only the processes we started.
# Data in .run/ is kept; `make clean-run` deletes it.
set -euo pipefail
dir="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=SCRIPTDIR/lib.sh
source "$dir/lib.sh"

"$dir/registry.sh" stop
"$dir/postgres.sh" stop
"$dir/kafka.sh" stop
if grep -q ': running' < <("$dir/workers.sh" status 2>/dev/null); then
  warn "workers are still running; stop them with: infra/workers.sh stop (or make stop)"
fi
say "stack down"
