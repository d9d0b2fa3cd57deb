#!/usr/bin/env bash
# The JavaScript SDK's whole check, as CI runs it:
#   npm ci (when node_modules is missing) → build both packages → gen:check → typecheck
#   → SDK tests (vitest, a real `switchboard serve` per file) → build the example
#   → the example's browser test (Chromium).
#
# Needs the server binary already built ($SWITCHBOARD_BIN, default
# <repo>/target/release/switchboard: `cargo build --release -p switchboard`) and Chromium
# at /usr/bin/chromium ($CHROMIUM_PATH).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"

export SWITCHBOARD_BIN="${SWITCHBOARD_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/switchboard}"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ ! -x "$SWITCHBOARD_BIN" ]]; then
  echo "clients/js/test.sh: no server binary at $SWITCHBOARD_BIN (cargo build --release -p switchboard, or set SWITCHBOARD_BIN)" >&2
  exit 1
fi
if [[ ! -x "$CHROMIUM_PATH" ]]; then
  echo "clients/js/test.sh: no Chromium at $CHROMIUM_PATH (apt-get install -y chromium, or set CHROMIUM_PATH)" >&2
  exit 1
fi

step() { printf '\n=== clients/js: %s\n' "$*"; }

if [[ ! -d node_modules ]]; then
  step "npm ci"
  npm ci --no-audit --no-fund
fi

step "build @switchboard/client and @switchboard/react"
npm run --silent build

step "generated types are current (gen:check)"
npm run --silent gen:check

step "typecheck"
npm run --silent typecheck

step "SDK tests (vitest, against $SWITCHBOARD_BIN)"
npx vitest run

step "build the example (vite build)"
npm run --silent build:example

step "the example in Chromium"
node examples/erp-dashboard/test/browser.test.mjs

step "all passed"
