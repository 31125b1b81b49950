# shellcheck shell=bash
# Sourced by the other scripts: puts the tools scripts/setup.sh installs on PATH.
BOXBOX_TOOLS_DIR="${BOXBOX_TOOLS_DIR:-$HOME/.cache/boxbox-tools}"
export BOXBOX_TOOLS_DIR
export PATH="$BOXBOX_TOOLS_DIR/node_modules/.bin:$HOME/.cargo/bin:$PATH"
CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver || echo /usr/bin/chromedriver)}"
export CHROMEDRIVER
