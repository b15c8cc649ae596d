#!/usr/bin/env bash
# Regenerate a package directory's package-lock.json from its package.json, keeping every
# version the lock already pins and adding what is missing (among them every other-platform
# optional build the registry serves today), without installing anything.
#   scripts/npm-lock.sh <dir>      then review `git diff <dir>/package-lock.json` and commit it
set -euo pipefail
cd "$1"
npm install --package-lock-only --ignore-scripts --no-audit --no-fund --loglevel=error
git diff --stat -- package-lock.json || true
