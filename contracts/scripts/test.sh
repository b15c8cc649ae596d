#!/usr/bin/env bash
# Contract test command: installs the pinned npm toolchain if needed, checks the committed
# artifact is what the pinned solc-js produces, runs the forge suite, checks forge tested
# exactly the committed bytecode, and runs the artifact on anvil. Extra arguments go to
# `forge test` (e.g. --gas-report, --match-test NAME, -vvv). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. node_modules from package-lock.json (when missing or when the lock file changed), exactly
#    as the lock pins them for this platform and without rewriting it (../scripts/npm-ci.sh).
stamp=node_modules/.btpnips-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]] || ! ls node_modules/@foundry-rs/forge-*/bin/forge >/dev/null 2>&1; then
  echo "== installing the pinned npm toolchain (node_modules missing or stale)"
  ../scripts/npm-ci.sh .
  echo "$want" > "$stamp"
fi

# 2. Committed artifact == fresh compile with the pinned solc-js.
echo "== node build.js --check"
node build.js --check

# 3. Forge tests (solc-js behind ./solc-wrapper, offline).
# Call the platform binary, not node_modules/.bin/forge: the npm wrapper (bin.mjs of
# @foundry-rs/forge 1.7.1) never forwards the child's exit code, so `npx forge test` exits 0
# even when tests fail.
forge=$(ls node_modules/@foundry-rs/forge-*/bin/forge 2>/dev/null | head -n1)
[[ -x $forge ]] || { echo "FAIL: no forge binary under node_modules/@foundry-rs/forge-*/bin"; exit 1; }
echo "== forge test $*"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
"$forge" test "$@" >"$log" 2>&1
rc=$?
set -e
# belt and braces: a failed suite fails the command whatever the exit code says
if [[ $rc -eq 0 ]] && grep -qE '^Suite result: FAILED|[1-9][0-9]* failed, ' "$log"; then rc=1; fi
if [[ $rc -ne 0 ]]; then
  cat "$log"
  echo "FAIL: forge test exited $rc"
  exit "$rc"
fi
if [[ " $* " == *" --gas-report "* ]]; then
  grep -v '^npm warn' "$log"
else
  grep -E '^(Ran [0-9]+ tests? for|Suite result|Ran [0-9]+ test suites|No tests)' "$log" || true
fi

# 4. The bytecode forge just tested is byte-identical to the committed artifact.
node -e '
const a = require("./out/UnidirectionalChannel.json");
const f = require("./forge-out/UnidirectionalChannel.sol/UnidirectionalChannel.json");
if (a.bytecode !== f.bytecode.object || a.deployedBytecode !== f.deployedBytecode.object) {
  console.error("FAIL: forge compiled different bytecode than out/UnidirectionalChannel.json");
  process.exit(1);
}
console.log("== tested bytecode == out/UnidirectionalChannel.json");
'

# 5. The committed artifact on a real node over JSON-RPC (pinned anvil, wallet-standard
#    eth_signTypedData_v4 claims, exact balance checks, per-transaction gas).
echo "== anvil smoke test (scripts/anvil-smoke.js)"
node scripts/anvil-smoke.js
echo "OK"
