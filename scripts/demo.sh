#!/usr/bin/env bash
# The local demo: one month of Flex epoch rewards, end to end, narrated in plain language.
#
#   scripts/demo.sh                setup (idempotent), build the contracts and the demo, start a fresh devnet,
#                                  run `flex-demo` against it, and leave the devnet running
#   scripts/demo.sh --skip-setup   the same without scripts/setup.sh, on a machine already set up
#   scripts/demo.sh --stop         stop the devnet the demo started
#
# The demo deploys FLEXE, a payment token and the reward pool with four keepers and funds the pool,
# then starts three real keeper processes (`flex-keeper run`, release build) over the shipped sample
# pool (scripts/demo/: pool.json, weights.toml, the config template keeper.toml.in). It moves chain
# time through January 2026 epoch by epoch while the keepers close each epoch, vote it to quorum and
# then vote the month's claim root; in February an EVM wallet claims with `flex-keeper claim` against
# a keeper's API (a relayer pays the claim cost) and a second claim fails; the keepers are stopped and
# the rest is swept to the treasury once the claim window is over. It prints what happened at each
# step, checking the keepers' figures against its own engine replay of the sample. The keepers'
# configs, databases and logs stay in <state dir>/keepers.
#
# Environment: FLEX_DEVNET_PORT (default 9944) and FLEX_DEVNET_DIR (default <repo>/.devnet) choose the
# devnet's port and state dir. A devnet already running from that state dir is stopped first, so the
# demo always starts from genesis. Bundles are read from $FLEX_INK_DIR, else $CARGO_TARGET_DIR/ink, else
# <repo>/target/ink, where scripts/build-contracts.sh puts them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT="${FLEX_DEVNET_PORT:-9944}"
STATE_DIR="${FLEX_DEVNET_DIR:-$ROOT/.devnet}"
# Where scripts/build-contracts.sh puts the bundles (cargo's target dir, which may be outside the clone).
INK_DIR="${FLEX_INK_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/ink}"
step() { printf '\n\033[1;32m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[1;31m[demo] error:\033[0m %s\n' "$*" >&2; exit 1; }

stop_hint() {
    if [ -n "${FLEX_DEVNET_DIR:-}" ]; then
        printf 'FLEX_DEVNET_DIR=%q scripts/demo.sh --stop' "$STATE_DIR"
    else
        printf 'scripts/demo.sh --stop'
    fi
}

SETUP=1
(($# <= 1)) || die "one argument at most (use --skip-setup, --stop, or nothing)"
case "${1:-}" in
    "") ;;
    --skip-setup) SETUP=0 ;;
    --stop)
        scripts/devnet stop --state-dir "$STATE_DIR"
        exit 0
        ;;
    -h | --help)
        sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument '$1' (use --skip-setup, --stop, or nothing)" ;;
esac

if ((SETUP)); then
    step "setup (idempotent)"
    scripts/setup.sh || die "scripts/setup.sh failed"
fi

step "contracts to Wasm"
scripts/build-contracts.sh

step "build the demo and the keeper (release)"
cargo build --release -p flex-e2e -p flex-keeper --bin flex-demo --bin flex-keeper
KEEPER_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/flex-keeper"
[ -x "$KEEPER_BIN" ] || die "no keeper binary at $KEEPER_BIN after the build"

step "fresh devnet on port $PORT"
# Stop a devnet left running from this state dir (says "not running" otherwise): start from genesis.
scripts/devnet stop --state-dir "$STATE_DIR"
scripts/devnet start --port "$PORT" --state-dir "$STATE_DIR"

step "the demo"
if ! cargo run --release --quiet -p flex-e2e --bin flex-demo -- \
    --url "ws://127.0.0.1:$PORT" --contracts-dir "$INK_DIR" \
    --keeper-bin "$KEEPER_BIN" --demo-dir "$ROOT/scripts/demo" --work-dir "$STATE_DIR/keepers"; then
    printf '\nThe demo failed. The devnet is still running (log: %s/chopsticks.log).\nStop it with: %s\n' \
        "$STATE_DIR" "$(stop_hint)" >&2
    exit 1
fi

printf '\nThe devnet is still running at ws://127.0.0.1:%s (state dir %s), at the demo'"'"'s end state.\n' \
    "$PORT" "$STATE_DIR"
printf 'Stop it with: %s\n' "$(stop_hint)"
