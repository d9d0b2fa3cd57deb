#!/usr/bin/env bash
# The test command of the README: unit + integration tests of both crates, then the
# end-to-end suites with the official socket.io-client against the release binaries, then
# the JavaScript SDK's suites.
set -euo pipefail
cd "$(dirname "$0")/.."

# npm packages (socket.io-client; its browser bundle is embedded by switchboard's build.rs)
if [ ! -d e2e/node_modules ]; then
  npm ci --prefix e2e --no-audit --no-fund
fi

cargo build --release -p sio -p switchboard --bins --examples
cargo test --workspace --release
(cd e2e && npm test)
# the JavaScript SDK (clients/js): generated types current, its tests against the release
# binary, the example app built and driven in Chromium
clients/js/test.sh
