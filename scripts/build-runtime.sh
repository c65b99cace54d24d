#!/usr/bin/env bash
# Builds the dev runtime to Wasm and writes the raw chain spec chopsticks runs.
#
# substrate-wasm-builder cannot run here (it wants a precompiled wasm32 target), so the Wasm is built
# directly with Debian's rustc and -Zbuild-std (see ../shared/TOOLCHAIN.md). The result is cached in
# $FLEX_CACHE keyed by a hash of the runtime's sources and lockfile, so unchanged sources cost nothing.
#
# Outputs: scripts/chain/out/flex_devnet_runtime.wasm and scripts/chain/out/chain-spec.json
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHAIN_DIR="$ROOT/scripts/chain"
RUNTIME_DIR="$CHAIN_DIR/runtime"
OUT_DIR="$CHAIN_DIR/out"
FLEX_CACHE="${FLEX_CACHE:-$HOME/.cache/flex}"

log() { printf '\033[1;34m[runtime]\033[0m %s\n' "$*" >&2; }

key="$(cd "$RUNTIME_DIR" && cat Cargo.toml Cargo.lock src/*.rs | sha256sum | cut -c1-16)"
cached="$FLEX_CACHE/runtime-$key"
mkdir -p "$OUT_DIR"

if [ ! -f "$cached/flex_devnet_runtime.wasm" ]; then
    log "building the runtime Wasm (about 6 min cold on 2 cores)"
    (
        cd "$RUNTIME_DIR"
        export RUSTC_BOOTSTRAP=1 SKIP_WASM_BUILD=1
        export CARGO_TARGET_DIR="${FLEX_RUNTIME_TARGET:-$FLEX_CACHE/runtime-target}"
        export RUSTFLAGS="-C target-cpu=mvp -C link-arg=--export-table -C link-arg=--export=__heap_base \
-C link-arg=--import-memory --cfg substrate_runtime"
        cargo +debian build --locked --release --no-default-features --target wasm32-unknown-unknown \
            -Zbuild-std=core,alloc
        mkdir -p "$cached.tmp"
        wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/flex_devnet_runtime.wasm"
        # Shrink it the way substrate-wasm-builder would; chopsticks loads it faster.
        wasm-opt -O2 --strip-debug --mvp-features --enable-mutable-globals "$wasm" \
            -o "$cached.tmp/flex_devnet_runtime.wasm"
        rm -rf "$cached" && mv "$cached.tmp" "$cached"
    )
else
    log "runtime Wasm cached ($key)"
fi
cp -f "$cached/flex_devnet_runtime.wasm" "$OUT_DIR/flex_devnet_runtime.wasm"

spec_key="$(cat "$cached/flex_devnet_runtime.wasm" "$CHAIN_DIR/genesis.mjs" | sha256sum | cut -c1-16)"
if [ ! -f "$OUT_DIR/chain-spec.json" ] || [ "$(cat "$OUT_DIR/.spec-key" 2>/dev/null)" != "$spec_key" ]; then
    log "writing the raw chain spec"
    node "$CHAIN_DIR/genesis.mjs" "$OUT_DIR/flex_devnet_runtime.wasm" "$OUT_DIR/chain-spec.json"
    echo "$spec_key" >"$OUT_DIR/.spec-key"
fi
log "wasm: $(stat -c %s "$OUT_DIR/flex_devnet_runtime.wasm") bytes, spec: $OUT_DIR/chain-spec.json"
