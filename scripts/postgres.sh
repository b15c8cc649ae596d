#!/usr/bin/env bash
# Make sure the PostgreSQL the tests use is up: 127.0.0.1:5432, user postgres, trust auth on
# loopback, database `test` (override the whole URL with BTPNIPS_TEST_PG; then this script
# only checks that it answers). The storage contract suite runs every test on it, each in a
# schema of its own that it drops afterwards, so runs never collide.
#
#   1. already answering: create the database `test` if it is missing;
#   2. a Debian cluster exists but is stopped (pg_lsclusters): start it;
#   3. no server installed: install Debian's postgresql, let loopback connections in without a
#      password (the test machine's convention), start it.
set -euo pipefail

if [ -n "${BTPNIPS_TEST_PG:-}" ]; then
  psql "$BTPNIPS_TEST_PG" -Atc 'SELECT 1' >/dev/null
  exit 0
fi

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null; then
  echo "==> installing PostgreSQL (Debian packages)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -1)
  sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
fi

if ! ready && command -v pg_lsclusters >/dev/null; then
  read -r version cluster _ < <(pg_lsclusters --no-header | head -1) || true
  if [ -n "${version:-}" ]; then
    echo "==> starting PostgreSQL cluster $version/$cluster"
    pg_ctlcluster "$version" "$cluster" start || true
  fi
fi

for _ in $(seq 1 30); do ready && break; sleep 1; done
if ! ready; then
  echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2
  exit 1
fi
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1; then
  psql -h 127.0.0.1 -U postgres -d postgres -qc 'CREATE DATABASE test'
fi
