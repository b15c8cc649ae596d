#!/usr/bin/env bash
# The same relay load on both storage backends, one after the other, on fresh databases:
# local ingest at window 1 and 16 and REQ→EOSE, SQLite then PostgreSQL. Arguments go to
# loadgen (default 8 clients × 2 500 events).
#   bench/backends.sh
#   bench/backends.sh --clients 8 --events 5000
set -euo pipefail
cd "$(dirname "$0")/.."
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--clients 8 --events 2500)
for db in sqlite postgres; do
  for window in 1 16; do
    echo "=== $db, window $window"
    DATABASE=$db bench/run.sh "${args[@]}" --window "$window"
  done
done
