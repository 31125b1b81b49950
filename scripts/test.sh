#!/usr/bin/env bash
# Runs every check and test: format, lints (native and wasm), docs, the native test suite (engine, relay on
# port 0, end-to-end in headless Chromium) and the WASM tests in headless Chromium. Installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# shellcheck source=scripts/env.sh
. scripts/env.sh

# Scratch space for the run, removed at its end: Chromium (under chromedriver, in the e2e and the wasm-bindgen tests)
# leaves profiles and temporary directories behind when it is killed, tens of megabytes each.
scratch=$(mktemp -d -t boxbox-test.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
export TMPDIR=$scratch

step() {
    local name=$1
    shift
    printf '\n\033[1;34m[test] %s\033[0m: %s\n' "$name" "$*" >&2
    "$@"
}

tidy() {
    # Every Rust file opens with a `//!` line saying what lives there.
    local missing
    missing=$(git ls-files '*.rs' | while read -r f; do head -n 1 "$f" | grep -q '^//!' || echo "$f"; done)
    if [ -n "$missing" ]; then
        echo "these files do not start with a //! line:" >&2
        echo "$missing" >&2
        return 1
    fi
    # Code that runs in the browser changes cases with ASCII's rules: Unicode's would link its case tables (25 KB)
    # into the wasm (ARCHITECTURE.md). Text shown in capitals is capitalised by the stylesheet.
    local unicode_case
    unicode_case=$(git grep -nE '\.to_(lower|upper)case\(|::to_(lower|upper)case\b' -- engine/src web/src charts/src || true)
    if [ -n "$unicode_case" ]; then
        echo "Unicode case conversion in code the browser runs (use to_ascii_lowercase/uppercase or CSS):" >&2
        echo "$unicode_case" >&2
        return 1
    fi
}

step "format" cargo fmt --all --check
step "tidy" tidy
step "clippy (native)" cargo clippy --workspace --all-targets --locked -- -D warnings
step "clippy (wasm)" cargo clippy -p boxbox-engine -p boxbox-charts -p boxbox-web -p boxbox-worker --target wasm32-unknown-unknown --locked -- -D warnings
step "clippy (wasm tests)" cargo clippy -p boxbox-engine -p boxbox-web --target wasm32-unknown-unknown --tests --locked -- -D warnings
step "docs" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
step "web app" trunk build --release
step "relay binary" cargo build -p boxbox-relay --locked
step "native tests" cargo test --workspace --locked
step "wasm tests (headless Chromium)" cargo test -p boxbox-web --target wasm32-unknown-unknown --locked
echo "[test] all checks and tests passed" >&2
