#!/usr/bin/env bash
# Fuzz every parser of the protocol crate with cargo-fuzz (libFuzzer), on the stable toolchain.
#
#   scripts/fuzz.sh            # 10 s per target: a smoke run, about 3 min once built (16 targets)
#   scripts/fuzz.sh 600        # a real run: 10 min per target, about 2 h 45 min
#   scripts/fuzz.sh 60 ilp_packet btp_packet   # only these targets
#
# What it does:
#   1. installs cargo-fuzz if it is missing (crates.io);
#   2. builds all targets of fuzz/ with `cargo fuzz build -s none` (see "stable" below);
#   3. runs each target for the given seconds, starting from a *copy* of its committed seed
#      corpus fuzz/corpus/<target>/ (so a run never grows the committed corpus), and
#   4. prints executions/s per target and exits non-zero if any target crashed (a panic, a
#      failed round-trip assertion, a timeout or running out of memory).
#
# A crashing input is saved by libFuzzer under fuzz/artifacts/<target>/ (git-ignored).
# Reproduce it with:   cd fuzz && cargo fuzz run -s none <target> artifacts/<target>/crash-…
# To keep the inputs a long run found, set FUZZ_KEEP_CORPUS=1: the script then prints the temp
# directory instead of deleting it (minimise with `cargo fuzz cmin -s none <target> <dir>` before
# committing anything; seeds stay small).
#
# Stable toolchain: cargo-fuzz's default AddressSanitizer needs `-Zsanitizer=address`, which
# stable rustc refuses ("the option `Z` is only accepted on the nightly compiler"). With
# `-s none` cargo-fuzz passes only stable flags (-Cpasses=sancov-module, -Cllvm-args=…,
# -Cdebug-assertions), so coverage-guided fuzzing works on stable without RUSTC_BOOTSTRAP.
# The protocol crate has no `unsafe`, so ASan would add little; panics, overflow checks and the
# targets' own assertions are what find bugs here.
#
# Environment: FUZZ_MAX_LEN (default 8192) caps input size; FUZZ_RSS_MB (default 2048) is the
# memory limit per target.
set -euo pipefail

cd "$(dirname "$0")/.."

seconds="${1:-10}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: $0 [seconds-per-target] [target...]" >&2
    exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked --version '^0.13'
fi

echo "==> building fuzz targets (cargo fuzz build -s none)"
build_start=$(date +%s)
(cd fuzz && cargo fuzz build -s none)
echo "    build took $(( $(date +%s) - build_start )) s"

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cd fuzz && cargo fuzz list)
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/btpnips-fuzz.XXXXXX")"
if [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ]; then
    trap 'echo "corpora kept in $work"' EXIT
else
    trap 'rm -rf "$work"' EXIT
fi

failed=()
summary=()
for t in "${targets[@]}"; do
    corpus="$work/$t"
    mkdir -p "$corpus"
    if [ -d "fuzz/corpus/$t" ]; then
        cp -r "fuzz/corpus/$t/." "$corpus/"
    fi
    log="$work/$t.log"
    echo "==> $t: ${seconds} s from $(ls "$corpus" | wc -l) seeds"
    status=ok
    if ! (cd fuzz && cargo fuzz run -s none "$t" "$corpus" -- \
            -max_total_time="$seconds" \
            -max_len="${FUZZ_MAX_LEN:-8192}" \
            -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
            -timeout=10 \
            -print_final_stats=1) >"$log" 2>&1; then
        status=CRASH
        failed+=("$t")
        # The panic message, the failing input and libFuzzer's summary.
        { grep -E -A3 "panicked at" "$log" | head -12; grep -E "SUMMARY|Test unit written|^Base64" "$log"; } || true
        echo "    full log: $log (FUZZ_KEEP_CORPUS=1 keeps it)"
    fi
    runs=$(grep -oE "stat::number_of_executed_units:[[:space:]]+[0-9]+" "$log" | awk '{print $2}' | tail -1 || true)
    rate=$(grep -oE "stat::average_exec_per_sec:[[:space:]]+[0-9]+" "$log" | awk '{print $2}' | tail -1 || true)
    cov=$(grep -oE "DONE[[:space:]]+cov:[[:space:]]+[0-9]+" "$log" | awk '{print $3}' | tail -1 || true)
    corpus_size=$(ls "$corpus" | wc -l)
    summary+=("$(printf '%-22s %-6s %12s runs %9s exec/s  cov %-6s corpus %s' "$t" "$status" "${runs:-?}" "${rate:-?}" "${cov:-?}" "$corpus_size")")
done

echo
echo "==> summary (${seconds} s per target)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAILED: ${failed[*]} (inputs under fuzz/artifacts/<target>/)" >&2
    exit 1
fi
echo "all ${#targets[@]} targets ran ${seconds} s without a crash"
