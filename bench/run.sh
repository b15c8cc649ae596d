#!/usr/bin/env bash
# Start a fresh btpnips node (release build, temp data dir, SQLite), run `loadgen` against its
# relay endpoint, print the figures, stop the node. Arguments go to loadgen, e.g.
#   bench/run.sh --clients 16 --events 2000
# PROFILE=debug uses debug builds (faster to build, slower to run: figures not comparable).
# DATABASE=postgres keeps the node's state in PostgreSQL instead (a fresh schema in
# BTPNIPS_TEST_PG, default postgres://postgres@127.0.0.1:5432/test, dropped afterwards);
# bench/backends.sh runs the same load on both, one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-release}"
flag=$([ "$profile" = release ] && echo --release || true)
cargo build $flag -p btpnips -p btpnips-bench --bin btpnips --bin loadgen
dir=$(mktemp -d)
pg="${BTPNIPS_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}"
export PGOPTIONS="--client-min-messages=warning"
schema=""
database_url=""
backend=SQLite
if [ "${DATABASE:-sqlite}" = postgres ]; then
  schema="bench_$$"
  psql "$pg" -qc "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema"
  database_url="database_url = \"$pg?options=-c%20search_path%3D$schema\""
  backend="PostgreSQL schema $schema"
fi
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  [ -z "$schema" ] || psql "$pg" -qc "DROP SCHEMA IF EXISTS $schema CASCADE"
}
trap cleanup EXIT
cat > "$dir/btpnips.toml" <<TOML
$database_url
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
echo "node ($profile build, $backend) relay ws://$relay; machine: $(nproc) cores"
"target/$profile/loadgen" --relay "ws://$relay" "$@"
