#!/usr/bin/env bash
# Builds every ink! contract under contracts/ to Wasm with cargo-contract 5.0.3 on the linked `debian`
# toolchain (see scripts/setup.sh). Bundles land in target/ink/<name>/<name>.contract.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FLEX_CACHE="${FLEX_CACHE:-$HOME/.cache/flex}"
WRAPPER="$FLEX_CACHE/bin/rustc-drop-panic-immediate-abort"

command -v cargo-contract >/dev/null || { echo "cargo-contract missing: run scripts/setup.sh toolchain" >&2; exit 1; }
[ -x "$WRAPPER" ] || { echo "rustc wrapper missing: run scripts/setup.sh toolchain" >&2; exit 1; }

for manifest in "$ROOT"/contracts/*/Cargo.toml; do
    dir="$(dirname "$manifest")"
    printf '\033[1;34m[contracts]\033[0m building %s\n' "${dir#"$ROOT"/}" >&2
    (cd "$dir" && RUSTC_WRAPPER="$WRAPPER" cargo +debian contract build --release --quiet)
done
ls -l "${CARGO_TARGET_DIR:-$ROOT/target}"/ink/*/*.wasm >&2
