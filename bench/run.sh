#!/usr/bin/env bash
# Start a fresh btpnips node (release build, temp data dir, SQLite), run `loadgen` against its
# relay endpoint, print the figures, stop the node. Arguments go to loadgen, e.g.
#   bench/run.sh --clients 16 --events 2000
# PROFILE=debug uses debug builds (faster to build, slower to run: figures not comparable).
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-release}"
flag=$([ "$profile" = release ] && echo --release || true)
cargo build $flag -p btpnips -p btpnips-bench --bin btpnips --bin loadgen
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
cat > "$dir/btpnips.toml" <<TOML
relay_listen = "127.0.0.1:0"
api_listen = "127.0.0.1:0"
peer_listen = "127.0.0.1:0"
[p2p]
enabled = false
TOML
BTPNIPS_LOG=warn "target/$profile/btpnips" --data-dir "$dir" run &
pid=$!
relay=""
for _ in $(seq 300); do
  relay=$(sed -n 's/.*"relay": *"\([^"]*\)".*/\1/p' "$dir/listen.json" 2>/dev/null || true)
  [ -n "$relay" ] && break
  sleep 0.1
done
[ -n "$relay" ] || { echo "the node did not start" >&2; exit 1; }
echo "node ($profile build, SQLite in $dir) relay ws://$relay; machine: $(nproc) cores"
"target/$profile/loadgen" --relay "ws://$relay" "$@"
