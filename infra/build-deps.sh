#!/usr/bin/env bash
# Debian packages that `cargo build` needs beyond the toolchain: librdkafka is built with
# OpenSSL (TLS, SASL SCRAM) and libcurl (SASL OAUTHBEARER/OIDC token fetch), both found
# through pkg-config. Idempotent: does nothing when they are installed.
# Usage: infra/build-deps.sh
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(pkg-config libssl-dev libcurl4-openssl-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
((EUID == 0)) || die "missing build packages: ${missing[*]}; install them: sudo apt-get install ${missing[*]}"
say "installing build packages via apt-get: ${missing[*]}"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
