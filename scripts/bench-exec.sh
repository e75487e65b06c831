#!/bin/bash
# make bench-exec: the shim's cost in every process. ROUNDS rounds (15) of EXECS (1000)
# execs of /bin/true from bash under LD_PRELOAD of the shim, of a one-function library
# (build/bench/libempty.so) and of none. A round runs the three in turn CHUNKS times (10),
# EXECS / CHUNKS execs each time, the order rotating, and keeps each one's fastest run,
# times CHUNKS: this machine's speed drifts, and other work on it comes and goes, by more
# than the difference, and such noise only ever adds time, so the ratio is taken within a
# round of finely interleaved runs, from their least disturbed. What is timed is the CPU time
# (user + system) of the loop's bash and of its children, from bash's `times`: other work
# stretches the wall clock of a run more than its CPU time. Prints the median of the
# per-round ratios shim / empty with its min and max, and the same for empty / none.
#   B=build [LIB=other.so] ROUNDS=15 EXECS=1000 CHUNKS=10 scripts/bench-exec.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
LIB=${LIB:-$B/libmuxshim.so} EMPTY=$B/bench/libempty.so
ROUNDS=${ROUNDS:-15} EXECS=${EXECS:-1000} CHUNKS=${CHUNKS:-10}
for f in "$LIB" "$EMPTY"; do
    [ -f "$f" ] || { echo "bench-exec: $f missing (make all $B/bench/libempty.so)" >&2; exit 1; }
done
T=$(mktemp -d /tmp/muxshim-bench-exec-XXXXXX)
trap 'rm -rf "$T"' EXIT
{
    echo "i=0; while [ \$i -lt $((EXECS / CHUNKS)) ]; do /bin/true; i=\$((i + 1)); done"
    echo times
} >"$T/loop.sh"
# Nothing of the user's shim set-up may change what is timed.
unset LD_PRELOAD MUXSHIM_DISABLE MUXSHIM_GUARD MUXSHIM_SSH_NAMES MUXSHIM_MUXSSH MUXSHIM_ROUTES

us() { # PRELOAD: one loop, CPU microseconds of bash and its children
    env ${1:+"LD_PRELOAD=$1"} bash "$T/loop.sh" |
        awk '{ for (i = 1; i <= NF; i++) { split($i, t, /[ms]/); us += (t[1] * 60 + t[2]) * 1e6 } }
             END { printf "%d\n", us }'
}
us "$LIB" >/dev/null # warm-up: page cache, the dynamic loader's cache
: >"$T/ratios" >"$T/floor"
for r in $(seq 1 "$ROUNDS"); do
    n=-1 e=-1 s=-1
    for c in $(seq 1 "$CHUNKS"); do
        # Rotate the order of the three runs chunk by chunk; keep each one's fastest.
        for k in $(((r + c) % 3)) $(((r + c + 1) % 3)) $(((r + c + 2) % 3)); do
            case $k in
            0) t=$(us "") && { [ "$n" -ge 0 ] && [ "$n" -le "$t" ]; } || n=$t ;;
            1) t=$(us "$EMPTY") && { [ "$e" -ge 0 ] && [ "$e" -le "$t" ]; } || e=$t ;;
            2) t=$(us "$LIB") && { [ "$s" -ge 0 ] && [ "$s" -le "$t" ]; } || s=$t ;;
            esac
        done
    done
    echo "$s $e" | awk '{ printf "%.5f\n", $1 / $2 }' >>"$T/ratios"
    echo "$e $n" | awk '{ printf "%.5f\n", $1 / $2 }' >>"$T/floor"
    [ -n "${BENCH_VERBOSE:-}" ] && echo "round $r, fastest of $CHUNKS: none $n us, empty $e us, shim $s us" >&2
done
# summary FILE: "median M (min A, max Z)" as percentages over 1.
summary() {
    sort -n "$1" | awk '{ a[NR] = $1 } END {
        m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
        printf "%+.1f %% (median of %d rounds; min %+.1f %%, max %+.1f %%)", (m - 1) * 100, NR,
            (a[1] - 1) * 100, (a[NR] - 1) * 100 }'
}
echo "shim over an empty preloaded library, $EXECS execs of /bin/true from bash: $(summary "$T/ratios")"
echo "empty preloaded library over none: $(summary "$T/floor")"
