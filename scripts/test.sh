#!/usr/bin/env bash
# Everything CI checks, in one command: installs what is missing (scripts/setup.sh, cached after the
# first run), builds the contracts to Wasm, then formatting, clippy, and every test: unit, property,
# OpenZeppelin cross-checks, CLI, and the end-to-end tests on real local chains.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Build outputs live in the tool cache, outside the clone, so a fresh clone's run is warm too.
FLEX_CACHE="${FLEX_CACHE:-$HOME/.cache/flex}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$FLEX_CACHE/target}"
export FLEX_INK_DIR="${FLEX_INK_DIR:-$CARGO_TARGET_DIR/ink}"
step() { printf '\n\033[1;32m==> %s\033[0m\n' "$*" >&2; }

step "setup (idempotent)"
scripts/setup.sh

step "contracts to Wasm"
scripts/build-contracts.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "all checks passed"
