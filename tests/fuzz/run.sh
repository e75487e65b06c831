#!/bin/bash
# libFuzzer targets (build/fuzz/fuzz_*, from `make fuzzers`).
#
#   tests/fuzz/run.sh SECONDS   fuzz each target for SECONDS on a copy of its committed seed
#                               corpus (tests/fuzz/corpus/NAME), print executions and crashes
#   tests/fuzz/run.sh --replay  run each target once over its seeds (part of `make check`)
#
# Crash inputs are kept in build/fuzz/crashes/NAME/ and fail the run.
set -uo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-60}
failed=0
for bin in build/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=${bin##*/fuzz_}
    seeds=tests/fuzz/corpus/$name
    log=build/fuzz/$name.log
    if [ "$mode" = --replay ]; then
        if "$bin" "$seeds"/* >"$log" 2>&1; then
            echo "ok - fuzz/$name-seeds ($(ls "$seeds" | wc -l) inputs replayed)"
        else
            echo "not ok - fuzz/$name-seeds"
            grep -m5 -E "ERROR|SUMMARY|Running:" "$log" | sed 's/^/#   /'
            failed=1
        fi
        continue
    fi
    work=build/fuzz/corpus-$name
    crashes=build/fuzz/crashes/$name
    rm -rf "$work" "$crashes"
    mkdir -p "$work" "$crashes"
    cp "$seeds"/* "$work"/
    "$bin" -max_total_time="$mode" -print_final_stats=1 -artifact_prefix="$crashes/" \
        -max_len=4096 -timeout=10 -rss_limit_mb=2048 "$work" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    ncrash=$(ls "$crashes" | wc -l)
    echo "fuzz $name: ${execs:-?} executions in ${mode} s, corpus $(ls "$work" | wc -l) inputs, $ncrash crashes (exit $rc)"
    if [ "$rc" -ne 0 ] || [ "$ncrash" -ne 0 ]; then
        grep -m10 -E "ERROR|SUMMARY|#0 |#1 |#2 " "$log" | sed 's/^/    /'
        failed=1
    fi
done
exit $failed
