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
# in the contract's memory, not its code). ink_env reads INK_STATIC_BUFFER_SIZE at compile time.
# cargo-contract, when that variable is set and differs from the size in the contract's last
# metadata (or there is none), runs `cargo clean` on the whole ink target dir, every bundle
# included: so it is set only for the contract that needs another size, never for the default.
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
    buffer=()
    [ "$size" = 16384 ] || buffer=("INK_STATIC_BUFFER_SIZE=$size")
    printf '\033[1;34m[contracts]\033[0m building %s (static buffer %s bytes)\n' "${dir#"$ROOT"/}" "$size" >&2
    (cd "$dir" && env "${buffer[@]}" RUSTC_WRAPPER="$WRAPPER" cargo +debian contract build --release --quiet)
    [ -f "$out/flex_$name.contract" ] || { echo "no bundle at $out/flex_$name.contract after the build" >&2; exit 1; }
done
# Every bundle is still there (a later build must not have cleaned an earlier one's).
for manifest in "$ROOT"/contracts/*/Cargo.toml; do
    name="$(basename "$(dirname "$manifest")")"
    [ -f "$INK_DIR/flex_$name/flex_$name.contract" ] || { echo "the bundle of $name is gone: $INK_DIR/flex_$name" >&2; exit 1; }
done
ls -l "${CARGO_TARGET_DIR:-$ROOT/target}"/ink/*/*.wasm >&2
