#!/usr/bin/env bash
# Install a package directory's node_modules exactly as its package-lock.json pins them.
#   scripts/npm-ci.sh <dir>
# `npm ci` first. The registry reachable here does not serve some other-platform optional
# packages (e.g. the darwin/win32 builds of @chainsafe/libp2p-quic, 404), so they are absent
# from the lock and `npm ci` refuses it as "out of sync"; then `npm install` installs the
# locked versions, and this fails if that rewrote the lock.
set -euo pipefail
cd "$1"
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if npm ci --no-audit --no-fund --loglevel=error 2>/dev/null; then
  exit 0
fi
echo "   npm ci refused the lock of $1 (missing other-platform optional packages); using npm install"
npm install --no-audit --no-fund --loglevel=error
if [[ "$(sha256sum package-lock.json | cut -d' ' -f1)" != "$want" ]]; then
  echo "FAIL: npm install changed $1/package-lock.json; review and commit it deliberately" >&2
  exit 1
fi
