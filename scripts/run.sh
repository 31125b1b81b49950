#!/usr/bin/env bash
# Builds everything (installing what is missing) and runs `boxbox serve` with the simulator.
# Arguments go to `boxbox serve`; without any, the race runs at 10x and restarts a minute after the flag.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# shellcheck source=scripts/env.sh
. scripts/env.sh

echo "[run] building the web app (trunk build --release)" >&2
trunk build --release
echo "[run] building the relay (cargo build --release -p boxbox-relay)" >&2
cargo build --release -p boxbox-relay

if [ "$#" -eq 0 ]; then
    set -- --speed 10 --restart-after-s 60
fi
exec target/release/boxbox serve --web-dir dist "$@"
