#!/usr/bin/env bash
# Builds every ink! contract under contracts/ to Wasm with cargo-contract 5.0.3 on the linked `debian`
# toolchain (see scripts/setup.sh). Bundles land in target/ink/<name>/<name>.contract.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FLEX_CACHE="${FLEX_CACHE:-$HOME/.cache/flex}"
WRAPPER="$FLEX_CACHE/bin/rustc-drop-panic-immediate-abort"

command -v cargo-contract >/dev/null || { echo "cargo-contract missing: run scripts/setup.sh toolchain" >&2; exit 1; }
[ -x "$WRAPPER" ] || { echo "rustc wrapper missing: run scripts/setup.sh toolchain" >&2; exit 1; }

INK_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/ink"

# ink!'s static buffer holds a call's whole input (16 KiB by default). The pool's `claim_batch`
# takes up to MAX_CLAIM_BATCH (100) claims of up to ~1 KB each, so the pool gets 128 KiB (it lives
# in the contract's memory, not its code). ink_env reads INK_STATIC_BUFFER_SIZE at compile time and
# cargo does not track it: when the size differs from the last build's, ink_env's fingerprints go,
# so that it is rebuilt with the new size.
buffer_size() {
    case "$1" in
        reward_pool) echo 131072 ;;
        *) echo 16384 ;;
    esac
}

for manifest in "$ROOT"/contracts/*/Cargo.toml; do
    dir="$(dirname "$manifest")"
    name="$(basename "$dir")"
    size="$(buffer_size "$name")"
    out="$INK_DIR/flex_$name"
    if [ "$(cat "$out/.static-buffer-size" 2>/dev/null)" != "$size" ]; then
        rm -rf "$out"/*/.fingerprint/ink_env-* "$out"/*/*/.fingerprint/ink_env-*
    fi
    printf '\033[1;34m[contracts]\033[0m building %s (static buffer %s bytes)\n' "${dir#"$ROOT"/}" "$size" >&2
    (cd "$dir" && INK_STATIC_BUFFER_SIZE="$size" RUSTC_WRAPPER="$WRAPPER" cargo +debian contract build --release --quiet)
    mkdir -p "$out" && echo "$size" >"$out/.static-buffer-size"
done
ls -l "${CARGO_TARGET_DIR:-$ROOT/target}"/ink/*/*.wasm >&2
