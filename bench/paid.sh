#!/usr/bin/env bash
# Paid-delivery benchmark (issue 10): builds the release binary, installs the pinned npm
# packages of tests/system (nostr-tools), and runs bench/paid_delivery.mjs, which prints paid
# events/s delivered, publish→delivered latency p50/p99 for 1 and 3 hops, at full speed and at
# a fixed offered rate, and CPU µs per delivered event for each node. Arguments go to it, e.g.
#   bench/paid.sh --events 5000 --rate 500 --connections 8 --window 16
# PROFILE=debug uses the debug build (faster to build; figures not comparable).
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-release}"
flag=$([ "$profile" = release ] && echo --release || true)
cargo build $flag -p btpnips --bin btpnips
[ -d tests/system/node_modules ] || ./scripts/npm-ci.sh tests/system
BTPNIPS_BIN="${CARGO_TARGET_DIR:-$PWD/target}/$profile/btpnips" node bench/paid_delivery.mjs "$@"
