#!/usr/bin/env bash
# One idempotent setup for a fresh Debian 12 machine (see ../shared/TOOLCHAIN.md for why each step).
#
#   scripts/setup.sh            everything: apt, toolchain, cargo-contract, npm, runtime Wasm + chain spec
#   scripts/setup.sh toolchain  only apt + the linked `debian` toolchain + cargo-contract
#   scripts/setup.sh chain      only the npm tooling and the dev runtime Wasm + raw chain spec
#   scripts/setup.sh node       only the npm tooling
#   scripts/setup.sh python     only the Python tools (schemathesis) in $FLEX_CACHE/venv
#
# Built tools are cached outside the clone, keyed by version, under $FLEX_CACHE (default ~/.cache/flex),
# so a second run takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FLEX_CACHE="${FLEX_CACHE:-$HOME/.cache/flex}"
CARGO_CONTRACT_VERSION=5.0.3
TOOLCHAIN_DIR="$FLEX_CACHE/toolchain-debian"
WRAPPER="$FLEX_CACHE/bin/rustc-drop-panic-immediate-abort"
CHAIN_DIR="$ROOT/scripts/chain"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

mkdir -p "$FLEX_CACHE/bin"

# One setup at a time per cache: two concurrent `npm ci` in one directory break each other's builds.
exec 9>"$FLEX_CACHE/setup.lock"
if ! flock -n 9; then
    log "another setup is running; waiting for it"
    flock 9
fi

apt_packages() {
    local pkgs=(rustc-web cargo-web rust-web-src rust-web-clippy lld-22 binaryen wabt
        pkg-config libssl-dev nodejs wrk sqlite3 ca-certificates curl chromium prometheus python3 python3-venv)
    local missing=()
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "apt: installing ${missing[*]}"
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        log "apt: all packages present"
    fi
}

# cargo-contract wants a rustup toolchain; link one made of Debian's rustc 1.96, which has std sources
# for -Zbuild-std. clippy must be real copies: a symlinked clippy-driver cannot find its sysroot.
debian_toolchain() {
    command -v rustup >/dev/null || die "rustup not found (the machine's Rust toolchain is expected)"
    mkdir -p "$TOOLCHAIN_DIR/bin"
    for b in rustc cargo rustdoc; do ln -sf "/usr/bin/$b" "$TOOLCHAIN_DIR/bin/$b"; done
    for b in cargo-clippy clippy-driver; do
        cmp -s "/usr/bin/$b" "$TOOLCHAIN_DIR/bin/$b" || cp -f "/usr/bin/$b" "$TOOLCHAIN_DIR/bin/$b"
    done
    ln -sfn /usr/lib "$TOOLCHAIN_DIR/lib"
    if ! rustup toolchain list | grep -q '^debian'; then
        rustup toolchain link debian "$TOOLCHAIN_DIR"
    fi
    # cargo-contract 5 passes --cfg feature="panic_immediate_abort" to build core; core 1.96 rejects it
    # ("panic_immediate_abort is now a real panic strategy"). Drop that argument pair, exec real rustc.
    cat >"$WRAPPER.tmp" <<'EOF'
#!/usr/bin/env bash
rustc="$1"; shift
args=()
while (($#)); do
    if [ "$1" = "--cfg" ] && [ "${2:-}" = 'feature="panic_immediate_abort"' ]; then shift 2; continue; fi
    args+=("$1"); shift
done
exec "$rustc" "${args[@]}"
EOF
    chmod +x "$WRAPPER.tmp"
    mv -f "$WRAPPER.tmp" "$WRAPPER"
    log "toolchain: +debian -> $(rustc +debian --version)"
}

cargo_contract() {
    local bin="$FLEX_CACHE/cargo-contract-$CARGO_CONTRACT_VERSION/bin/cargo-contract"
    if [ ! -x "$bin" ]; then
        log "cargo-contract $CARGO_CONTRACT_VERSION: building (about 15 min on 2 cores, once)"
        cargo install cargo-contract --version "$CARGO_CONTRACT_VERSION" --locked \
            --root "$FLEX_CACHE/cargo-contract-$CARGO_CONTRACT_VERSION"
    fi
    ln -sf "$bin" "$HOME/.cargo/bin/cargo-contract"
    log "cargo-contract: $(cargo contract --version)"
}

# npm projects pinned by their lockfiles: the chain tooling (chopsticks, with our patch applied by
# patch-package on install), OpenZeppelin's merkle-tree library for the cross-check tests, and
# playwright-core + ethers for the claimer page's browser test (Debian's chromium runs it), and a
# Hardhat EVM node + solc-js for the EVM log follower's test and lag bench (tests/evm), and the
# third-party clients (polkadot.js api-contract, ethers, OZ merkle-tree) that drive the pool from its
# `.contract` metadata alone (tests/thirdparty).
NPM_PROJECTS=("$ROOT/scripts/chain" "$ROOT/tests/oz" "$ROOT/tests/web" "$ROOT/tests/evm" "$ROOT/tests/thirdparty")

npm_project() {
    local dir="$1" stamp="$1/node_modules/.flex-stamp" want
    # The stamp covers the lockfile and any patches (tests/oz has none).
    want="$(cat "$dir/package-lock.json" $(compgen -G "$dir/patches/*" || true) | sha256sum | cut -c1-16)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "npm: ${dir#"$ROOT"/} up to date"
        return
    fi
    log "npm: installing ${dir#"$ROOT"/} from its package-lock.json"
    # npm's cache outside the clone makes a reinstall fast.
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error --cache "$FLEX_CACHE/npm")
    echo "$want" >"$stamp"
}

node_tooling() {
    command -v node >/dev/null || die "node not found (Node.js 20+ with npm is expected on the machine; Debian 12 ships 18)"
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$major" -ge 20 ] || die "Node.js $(node --version) is too old: 20+ is expected (Debian 12 ships 18; install 20 from NodeSource or nvm)"
    command -v npm >/dev/null || die "npm not found (it comes with Node.js 20+)"
    for dir in "${NPM_PROJECTS[@]}"; do npm_project "$dir"; done
}

# Python tools pinned with their dependencies (scripts/python/requirements.txt) in one virtual
# environment outside the clone: schemathesis, which checks a live keeper against its OpenAPI
# document (keeper/cli/tests/openapi.rs). Reinstalled only when the pins change.
PYTHON_REQUIREMENTS="$ROOT/scripts/python/requirements.txt"
VENV="$FLEX_CACHE/venv"

python_tools() {
    command -v python3 >/dev/null || die "python3 not found (Debian's python3 and python3-venv are expected)"
    local stamp="$VENV/.flex-stamp" want
    want="$(sha256sum <"$PYTHON_REQUIREMENTS" | cut -c1-16)"
    if [ -x "$VENV/bin/schemathesis" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "python: $VENV up to date"
        return
    fi
    log "python: installing scripts/python/requirements.txt into $VENV"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --require-virtualenv \
        --cache-dir "$FLEX_CACHE/pip" -r "$PYTHON_REQUIREMENTS"
    echo "$want" >"$stamp"
    log "python: $("$VENV/bin/schemathesis" --version)"
}

chain_artifacts() {
    "$ROOT/scripts/build-runtime.sh"
}

# What the machine must have before anything is installed (README, first lines).
preflight() {
    command -v apt-get >/dev/null || die "apt-get not found: Debian 12 (bookworm) is expected"
    if ! grep -q '^12\.' /etc/debian_version 2>/dev/null; then
        log "warning: Debian 12 is expected, found '$(cat /etc/debian_version 2>/dev/null || echo unknown)'; going on"
    fi
    command -v cargo >/dev/null || die "cargo not found: rustup with a stable Rust >= 1.95 is expected on PATH"
    local v
    v="$(cargo --version | awk '{print $2}')"
    if [ "$(printf '%s\n1.95.0\n' "$v" | sort -V | head -1)" != "1.95.0" ]; then
        die "cargo $v is too old: a stable Rust >= 1.95 is expected (rustup update stable)"
    fi
}

case "${1:-all}" in
    toolchain) preflight; apt_packages; debian_toolchain; cargo_contract ;;
    node) node_tooling ;;
    python) python_tools ;;
    chain) node_tooling; chain_artifacts ;;
    all) preflight; apt_packages; debian_toolchain; cargo_contract; node_tooling; python_tools; chain_artifacts ;;
    *) die "unknown step '$1' (all | toolchain | node | python | chain)" ;;
esac
log "done"
