#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, then runs
#   1. every Rust test in the workspace (unit, property, peer-protocol; real SQLite files; the
#      storage contract suite on SQLite and on a real PostgreSQL, which scripts/postgres.sh
#      starts or installs),
#   2. the whole-system tests: real `btpnips` processes driven by nostr-tools (npm, pinned),
#   3. the interop tests against the Interledger JS reference stack (npm, pinned),
#   4. a few seconds of coverage-guided fuzzing per protocol parser (scripts/fuzz.sh),
#   5. the channel contract's own suite (forge, against the committed artifact) and, through
#      the Rust and system tests, a real EVM (anvil from npm, pinned in contracts/).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust (https://rustup.rs) first" >&2
  exit 1
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "installing Node.js (Debian packages)"
  apt-get update -qq && apt-get install -y -qq nodejs npm
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  say "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

say "building btpnips"
cargo build --locked -p btpnips

say "channel contract: pinned solc-js artifact check, forge suite, anvil smoke (contracts/scripts/test.sh)"
./contracts/scripts/test.sh
export ANVIL_BIN="$PWD/contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"

say "PostgreSQL for the storage contract suite (scripts/postgres.sh)"
./scripts/postgres.sh

say "Rust tests (cargo nextest)"
cargo nextest run --locked --workspace --no-fail-fast

say "fuzzing every protocol parser briefly from its committed corpus (scripts/fuzz.sh 3)"
./scripts/fuzz.sh "${FUZZ_SECONDS:-3}"

say "install tooling: the lock check behind scripts/npm-ci.sh (tests/tooling)"
node --test tests/tooling/

say "installing the pinned npm packages (nostr-tools; the Interledger JS reference stack; js-libp2p)"
./scripts/npm-ci.sh tests/system
./scripts/npm-ci.sh tests/interop

say "system and interop tests (real btpnips processes, nostr-tools, anvil, ilp-protocol-stream, ilp-connector, js-libp2p)"
BTPNIPS_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/btpnips" \
  node --test --test-concurrency=1 tests/system/ tests/interop/

say "the two-node and burst system tests again, every node on PostgreSQL (a schema each)"
BTPNIPS_TEST_DATABASE=postgres BTPNIPS_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/btpnips" \
  node --test --test-concurrency=1 tests/system/two_nodes.test.mjs tests/system/burst.test.mjs

say "all suites passed in $((SECONDS - started)) s"
