#!/bin/bash
# Every test: unit binaries, the shim suite, the end-to-end differential suite.
# Each prints `ok - NAME` or `not ok - NAME…`; the last line counts them.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

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

for suite in tests/shim/run.sh tests/e2e/run.sh; do
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

passed=$(grep -c "^ok - " "$log")
failed=$(grep -c "^not ok - " "$log")
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
