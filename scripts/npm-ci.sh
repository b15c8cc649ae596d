#!/usr/bin/env bash
# Install a package directory's node_modules exactly as its committed package-lock.json pins
# them, for this platform, without ever rewriting the lock.
#   scripts/npm-ci.sh <dir>
#
# 1. `npm ci`. With a complete lock it installs this platform's packages and never asks the
#    registry for other platforms' optional builds.
# 2. If `npm ci` refuses the lock, npm resolves package.json afresh into a scratch copy
#    (`npm install --package-lock-only`) and scripts/npm-lock-diff.mjs compares the two locks:
#    - they differ in anything this platform installs (a package, version, integrity or range):
#      the lock is out of date; fail, saying how to regenerate it (scripts/npm-lock.sh <dir>);
#    - they differ only by other-platform optional builds (the registry serves a different set
#      of those than on the day the lock was written; npm ci refuses a lock that lacks one it
#      can name, and also one it cannot fetch at all): install this platform's packages with
#      `npm install --no-save` (which does not write the lock), then check that the installed
#      tree is exactly the lock's packages for this platform and that the lock is unchanged.
set -euo pipefail
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
cd "$dir"
quiet=(--no-audit --no-fund --loglevel=error)
want=$(sha256sum package-lock.json | cut -d' ' -f1)

err=$(mktemp)
scratch=$(mktemp -d)
trap 'rm -rf "$err" "$scratch"' EXIT

if npm ci "${quiet[@]}" 2>"$err"; then
  exit 0
fi
echo "   npm ci refused $dir/package-lock.json:"
grep -E 'Missing:|Invalid:|code E' "$err" | sed 's/^/     /' | head -n 20 || true

cp package.json package-lock.json "$scratch/"
if ! (cd "$scratch" && npm install --package-lock-only --ignore-scripts "${quiet[@]}" >/dev/null 2>"$err"); then
  sed 's/^/     /' "$err" >&2
  echo "FAIL: npm could not resolve $dir/package.json (registry unreachable?)" >&2
  exit 1
fi
if ! node "$here/npm-lock-diff.mjs" package-lock.json "$scratch/package-lock.json"; then
  echo "FAIL: $dir/package-lock.json is out of date with $dir/package.json." >&2
  echo "      Regenerate it with 'scripts/npm-lock.sh $dir', review the diff and commit it." >&2
  exit 1
fi

echo "   the lock pins every package this platform installs; installing them without rewriting it"
npm install --no-save "${quiet[@]}"
if [[ "$(sha256sum package-lock.json | cut -d' ' -f1)" != "$want" ]]; then
  echo "FAIL: npm rewrote $dir/package-lock.json (a bug in this script); restore it with git" >&2
  exit 1
fi
if ! node "$here/npm-lock-diff.mjs" --installed package-lock.json node_modules/.package-lock.json; then
  echo "FAIL: what npm installed in $dir differs from package-lock.json" >&2
  exit 1
fi
