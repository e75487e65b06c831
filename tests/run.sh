#!/bin/bash
# Every test: unit binaries, the shim suite, the end-to-end differential suite, the fault
# injection suite, prompts and terminals (interactive), jump hosts and connect() routing in
# network namespaces.
# Each prints `ok - NAME` or `not ok - NAME…`; the last line counts them.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
log=$(mktemp)
san=$(mktemp -d)
trap 'rm -rf "$log" "$san"' EXIT
# Sanitizer builds: the shim is preloaded ahead of the ASan runtime in the shim and e2e
# suites, and the broker's stderr is /dev/null, so every report goes to a file in $san
# and any report fails the run.
export ASAN_OPTIONS="verify_asan_link_order=0:log_path=$san/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$san/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# Unit tests: one line each; their own output only when they fail.
for t in "$B"/tests/test_*; do
    [ -x "$t" ] || continue
    name=unit/$(basename "$t")
    if out=$("$t" 2>&1); then
        echo "ok - $name: $(echo "$out" | tail -1)" | tee -a "$log"
    else
        echo "not ok - $name" | tee -a "$log"
        echo "$out" | tail -40 | sed 's/^/#   /'
    fi
done

for suite in tests/shim/run.sh tests/e2e/run.sh tests/fault/run.sh tests/interactive/run.sh tests/jump/run.sh \
    tests/route/run.sh; do
    if [ -x "$suite" ]; then
        "$suite" "$B" 2>&1 | tee -a "$log"
        rc=${PIPESTATUS[0]}
        if [ "$rc" -ne 0 ] && ! grep -q "^not ok - " "$log"; then
            echo "not ok - $suite exited $rc" | tee -a "$log"
        fi
    else
        echo "not ok - $suite is missing" | tee -a "$log"
    fi
done

# The fuzz targets replay their committed seeds (`make fuzz` fuzzes for real).
tests/fuzz/run.sh --replay 2>&1 | tee -a "$log"

for r in "$san"/*; do
    [ -f "$r" ] || continue
    echo "not ok - sanitizer report $(basename "$r")" | tee -a "$log"
    head -30 "$r" | sed 's/^/#   /'
done

passed=$(grep -c "^ok - " "$log")
failed=$(grep -c "^not ok - " "$log")
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
