#!/bin/bash
# make bench-env: `ssh host true` back to back over a 50 ms round trip with the stock
# `SendEnv LANG LC_*` and LANG set, for plain ssh, OpenSSH ControlMaster and muxshim side by
# side on one throwaway sshd (loopback, its own keys, `tests/tools/relay -d 25`), as a user
# runs ssh: as root, as the test account muxuser with its own ~/.ssh and the system's
# /etc/ssh/ssh_config, no -F (scripts/lib-bench.sh). Prints the
# medians, the round trips they make, and the local cost of an `ssh -O check` (muxssh's trip
# to the broker with no session), which the target adds to 1.3 round trips.
# Also run by `make bench`, which puts the table in bench/results.md. RUNS=N (default 20).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
LIB=$B/libmuxshim.so
RUNS=${RUNS:-20}
RUNS_PLAIN=${RUNS_PLAIN:-8}
RTT=50
# shellcheck source=lib-sshd.sh
. "$ROOT/scripts/lib-sshd.sh"

# shellcheck source=lib-bench.sh
. "$ROOT/scripts/lib-bench.sh"

bench_as_account scripts/bench-env.sh "$@"
bench_setup benchenv envlab-direct
sshd_relay "$T/s" "$B/tests/tools/relay" -d $((RTT / 2))
sshd_user_host "$T/s" envlab "$RELAY_PORT"
# What Debian's and Ubuntu's /etc/ssh/ssh_config say, in case this system's does not.
printf 'Host envlab\n    SendEnv LANG LC_*\n' >>"${USER_CFG:-$HOME/.ssh/config}"
user_cfg_end
export LANG=C.UTF-8
unset LC_ALL LC_CTYPE LC_MESSAGES LC_COLLATE LC_NUMERIC LC_TIME LC_MONETARY

PLAIN=(ssh "${F[@]}" envlab)
CM=(ssh "${F[@]}" -o ControlMaster=auto -o "ControlPath=$T/cm-%C" -o ControlPersist=600 envlab)
SHIMMED=(env "LD_PRELOAD=$LIB")

for way in PLAIN CM; do
    declare -n cmd=$way
    out=$("${cmd[@]}" 'echo $LANG' 2>&1) || { echo "bench-env: $way failed: $out" >&2; exit 1; }
    [ "$out" = C.UTF-8 ] || { echo "bench-env: $way: LANG not sent ($out)" >&2; exit 1; }
done
out=$("${SHIMMED[@]}" "${PLAIN[@]}" 'echo $LANG' 2>&1)
[ "$out" = C.UTF-8 ] || { echo "bench-env: muxshim: LANG not sent ($out)" >&2; exit 1; }

# median [mux] RUNS WARMUP COMMAND...: hyperfine's median in ms (with "mux", the shim is
# loaded into hyperfine, so its exec of ssh becomes muxssh, as for any program).
median() {
    local pre=()
    [ "$1" = mux ] && pre=("${SHIMMED[@]}") && shift
    local runs=$1 warm=$2
    shift 2
    "${pre[@]}" hyperfine -N --style none --warmup "$warm" --runs "$runs" \
        --export-csv "$T/hf.csv" "$*" >/dev/null 2>"$T/hf.err" || { cat "$T/hf.err" >&2; return 1; }
    awk -F, 'NR == 2 { printf "%.1f", $4 * 1000 }' "$T/hf.csv"
}
rt() { awk -v t="$1" -v r=$RTT 'BEGIN { printf "%.2f", t / r }'; }

echo "bench-env: $RUNS back-to-back runs each (plain ssh: $RUNS_PLAIN), LANG=$LANG, SendEnv LANG LC_*" >&2
p=$(median "$RUNS_PLAIN" 0 "${PLAIN[@]}" true)
c=$(median "$RUNS" 2 "${CM[@]}" true)
cc=$(median "$RUNS" 2 "${CM[@]:0:${#CM[@]}-1}" -O check envlab)
m=$(median mux "$RUNS" 2 "${PLAIN[@]}" true)
mc=$(median mux "$RUNS" 2 ssh "${F[@]}" -O check envlab)
target=$(awk -v c="$mc" -v r=$RTT 'BEGIN { printf "%.2f", 1.3 + c / r }')
mrt=$(rt "$m")
met=$(awk -v a="$mrt" -v b="$target" 'BEGIN { print (a <= b) ? "yes" : "no" }')
echo "| \`ssh host true\`, 50 ms RTT, SendEnv LANG LC_*, LANG set | plain ssh | ControlMaster | muxshim |"
echo "| --- | ---: | ---: | ---: |"
echo "| median ms | $p | $c | $m |"
echo "| round trips | $(rt "$p") | $(rt "$c") | $mrt |"
echo "| \`ssh -O check\` (local cost, median ms) | | $cc | $mc |"
echo "| target: ≤ 1.3 round trips + muxshim's -O check | | | ≤ $target: $met |"
grep -c "Accepted publickey" "$T/s/sshd.log" | sed 's/^/bench-env: logins sshd saw: /' >&2
