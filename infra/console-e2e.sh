#!/usr/bin/env bash
# Browser end-to-end test of the operator console (tests/console/e2e.mjs): headless Chromium
# against the running local stack, with its own workers, console, topic prefix and database.
# Installs what it needs idempotently (Debian's chromium, the npm package from the lock file).
# Assumes the shared stack is up (make infra-up) and the binaries are built (make build).
# Usage: infra/console-e2e.sh
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$HANDOFF_ROOT"

as_root() { if ((EUID == 0)); then "$@"; else sudo "$@"; fi; }
apt_install() {
  say "installing $* (apt)"
  as_root apt-get install -y "$@" >/dev/null || { as_root apt-get update >/dev/null && as_root apt-get install -y "$@" >/dev/null; }
}

# Chromium from Debian (playwright's own browser download is not used).
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[[ -x $CHROMIUM ]] || apt_install chromium
[[ -x $CHROMIUM ]] || die "no Chromium at $CHROMIUM"
command -v psql >/dev/null || apt_install postgresql-client
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm

# npm dependencies, from the lock file, only when missing or changed.
cd tests/console
if [[ ! -d node_modules/playwright-core || package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "installing the test's npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
cd "$HANDOFF_ROOT"

for b in detector builder router auditor console handoff; do
  [[ -x $HANDOFF_BIN_DIR/$b ]] || die "$HANDOFF_BIN_DIR/$b not built; run: make build"
done
port_open "$HANDOFF_KAFKA_PORT" || die "no broker on 127.0.0.1:$HANDOFF_KAFKA_PORT; run: make infra-up"
port_open "$HANDOFF_REGISTRY_PORT" || die "no schema registry on 127.0.0.1:$HANDOFF_REGISTRY_PORT; run: make infra-up"
port_open "$HANDOFF_PG_PORT" || die "no Postgres on 127.0.0.1:$HANDOFF_PG_PORT; run: make infra-up"

say "console end-to-end test (headless Chromium)"
CHROMIUM=$CHROMIUM exec node tests/console/e2e.mjs
