#!/usr/bin/env bash
# Installs everything boxbox needs on a fresh Debian machine with Rust stable and Node 20.
# Idempotent: each step is skipped when the tool is already present at the right version.
# The tested recipe behind these pins is ../shared/BUILD-RECIPE.md.
set -euo pipefail

TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=0.2.130   # must equal the wasm-bindgen version in Cargo.lock
BINARYEN_VERSION=132.0.0       # wasm-opt from npm; Debian's binaryen 108 breaks the externref table
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"
TOOLS_DIR="$BOXBOX_TOOLS_DIR"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# 1. The wasm target for the pinned toolchain (rust-toolchain.toml names it too).
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding rustup target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
fi

# 2. Headless Chromium and its WebDriver, from Debian.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    log "installing chromium and chromium-driver (apt)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# 2b. tshark (Wireshark's command-line reader): the tests check that recordings open in Wireshark, checksums good.
if ! command -v tshark >/dev/null; then
    log "installing tshark (apt)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tshark >/dev/null
fi

# 2c. nats-server: relay/tests/nats.rs starts a real one (`--nats` scale-out). Debian puts it in /usr/sbin.
if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
    log "installing nats-server (apt)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
fi

# 3. wasm-opt from npm binaryen (never Debian's), in a tools dir outside the repo.
if [ ! -x "$TOOLS_DIR/node_modules/.bin/wasm-opt" ] \
    || ! "$TOOLS_DIR/node_modules/.bin/wasm-opt" --version | grep -q "version_${BINARYEN_VERSION%%.*}"; then
    log "installing binaryen@$BINARYEN_VERSION from npm into $TOOLS_DIR"
    mkdir -p "$TOOLS_DIR"
    (cd "$TOOLS_DIR" && npm install --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION")
fi

# 4. wasm-bindgen-cli at exactly the Cargo.lock version. Not --locked: its lockfile wants a
#    webpki-roots release the registry mirror lacks (see BUILD-RECIPE.md).
if ! command -v wasm-bindgen >/dev/null || [ "$(wasm-bindgen --version)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 3 minutes)"
    cargo install --quiet wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# 5. trunk, pinned: trunk >= 0.22 needs a newer rustc than 1.95.
if ! command -v trunk >/dev/null || [ "$(trunk --version)" != "trunk $TRUNK_VERSION" ]; then
    log "installing trunk $TRUNK_VERSION (about 11 minutes on 2 cores)"
    cargo install --quiet --locked "trunk@$TRUNK_VERSION" --force
fi

log "tools ready"
