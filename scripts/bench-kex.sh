#!/bin/bash
# make bench-kex: the first connection with the post-quantum key exchange (issue 22). For
# this machine's ssh and sshd, and for OpenSSH 10.0 on both sides when scripts/openssh10.sh
# has built it: the median wall time of a cold `ssh host true` for plain ssh and for muxshim
# with a new broker each round (so broker start, ssh -G, TCP, key exchange, login and the
# session are all in it); the broker's CPU time per first connection (each new broker's
# user+system time, all threads', from the `cpu:` line of its status after its one session:
# start, ssh -G, handshake, login and session; apart, its ssh -G children's; the kernel's
# count to the microsecond, as getrusage gives it); and plain ssh's own CPU per connection
# (this shell's waited-for children, /proc/PID/stat, in clock ticks: summed over RUNS). sshd logs
# at DEBUG1, and every connection's `kex: algorithm:` line must name the same post-quantum
# exchange for both sides, or the bench fails. As root it runs as the test account muxuser
# (scripts/lib-bench.sh). Prints a markdown table; also run by `make bench`.
#   RUNS=N (default 15)
set -euo pipefail
[ -n "${BENCH_DEBUG:-}" ] && set -x
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
LIB=$B/libmuxshim.so
RUNS=${RUNS:-15}
# shellcheck source=lib-sshd.sh
. "$ROOT/scripts/lib-sshd.sh"
# shellcheck source=lib-bench.sh
. "$ROOT/scripts/lib-bench.sh"
# shellcheck source=../tests/lib-cases.sh
. "$ROOT/tests/lib-cases.sh" # broker_counters

bench_as_account scripts/bench-kex.sh "$@"
SSHD_EXTRA="LogLevel DEBUG1" bench_setup benchkex kex92
O10=$ROOT/build/openssh10/src
servers=("$T/s")
if [ -x "$O10/ssh" ] && [ -x "$O10/sshd-session" ]; then
    SSHD_BIN=$O10/sshd SSHD_EXTRA="LogLevel DEBUG1" sshd_start "$T/s10" >/dev/null
    sshd_user_host "$T/s10" kex10
    servers+=("$T/s10")
    mkdir -p "$T/bin10" && ln -s "$O10/ssh" "$T/bin10/ssh"
fi
trap 'sshd_stop "$T/s10"; bench_cleanup' EXIT
user_cfg_end
unset LANG LC_ALL LC_CTYPE LC_MESSAGES LC_COLLATE LC_NUMERIC LC_TIME LC_MONETARY
say() { echo "bench-kex: $*" >&2; }
die() {
    say "$*"
    exit 1
}

# broker_pid: the running broker's pid, or nothing
broker_pid() { cat "$MUXSHIM_DIR/broker.lock" 2>/dev/null || true; }
stop_broker() {
    local pid
    pid=$(broker_pid)
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
}
counters() { broker_counters "$B/muxssh" "$MUXSHIM_DIR" "$(id -un)"; }
# kex_lines SERVER FROM: the exchanges sshd logged from line FROM of its log on, one a line
kex_lines() { tail -n "+$2" "$1/sshd.log" | grep -o 'kex: algorithm: [^ ]*' | sed 's/.*: //'; }
loglen() { wc -l <"$1/sshd.log"; }
# check_kex SERVER FROM WANT WHO: sshd logged RUNS exchanges from line FROM on, each WANT (or,
# with WANT empty, one post-quantum exchange, printed)
check_kex() {
    local got
    got=$(kex_lines "$1" "$2" | sort | uniq -c | awk '{ print $2 " x" $1 }' | tr '\n' ' ' || true)
    if [ "$got" = "${3:-x} x$RUNS " ] || { [ -z "$3" ] && [[ "$got" =~ ^(sntrup761x25519|mlkem)[^\ ]*\ x$RUNS\ $ ]]; }; then
        echo "${got%% *}"
    else
        die "$4: sshd logged $got(want $RUNS of ${3:-one post-quantum exchange})"
    fi
}
median() { sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m / 1000 }'; }
now() { echo "${EPOCHREALTIME/./}"; } # microseconds, no fork when used as $((…))
# cpu PID: utime+stime and the waited-for children's (cutime+cstime), in ticks
cpu() { awk '{ print $14 + $15, $16 + $17 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
per() { awk -v t="$1" -v n="$RUNS" -v hz="$hz" 'BEGIN { printf "%.1f", t * 1000 / hz / n }'; }
ms_per() { awk -v t="$1" -v n="$RUNS" 'BEGIN { printf "%.1f", t / n }'; }
# broker_cpu: the running broker's CPU and its ended children's, "OWN KIDS" in ms
broker_cpu() {
    broker_status "$B/muxssh" "$MUXSHIM_DIR" "$(id -un)" |
        sed -n 's/^cpu: \([0-9.]*\) ms, its ended children \([0-9.]*\) ms$/\1 \2/p'
}

echo "| first connection (\`ssh host true\`, cold) | key exchange (sshd's log) | plain ssh (median ms) | muxshim, a new broker each (median ms) | broker CPU per first connection (ms) | its ssh -G (ms) | plain ssh's CPU per connection (ms) |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
for s in "${servers[@]}"; do
    if [ "$s" = "$T/s" ]; then
        host=kex92 path=$PATH
        name="$(ssh -V 2>&1 | cut -d, -f1) → sshd $(/usr/sbin/sshd -V 2>&1 | cut -d, -f1)"
    else
        host=kex10 path=$T/bin10:$PATH
        name="$("$O10/ssh" -V 2>&1 | cut -d, -f1) → sshd $("$O10/sshd" -V 2>&1 | cut -d, -f1)"
    fi
    say "$name: $RUNS cold connections each way"
    stop_broker
    # plain ssh: every run is a new connection; its CPU is this shell's children's (nothing
    # else forks between the two readings)
    from=$(($(loglen "$s") + 1))
    plain=()
    read -r _ k0 < <(cpu $$)
    for ((i = 1; i <= RUNS; i++)); do
        t0=$(($(now)))
        PATH=$path ssh "${F[@]}" "$host" true || die "plain ssh to $host failed"
        plain+=($(($(now) - t0)))
    done
    read -r _ k1 < <(cpu $$)
    pkex=$(check_kex "$s" "$from" "" "$name, plain ssh")
    say "$name, plain ssh: sshd logged $(kex_lines "$s" "$from" | sort | uniq -c | sed 's/^ *\([0-9]*\) \(.*\)/\1 x "kex: algorithm: \2"/')"
    # muxshim: a new broker each round, which served the session (its counters); its CPU
    # (all of its life: start, the session's ssh -G, the handshake, login, the session) is
    # read before it is stopped
    from=$(($(loglen "$s") + 1))
    mux=() own=0 kids=0
    for ((i = 1; i <= RUNS; i++)); do
        stop_broker
        t0=$(($(now)))
        PATH=$path env LD_PRELOAD="$LIB" ssh "${F[@]}" "$host" true || die "muxshim to $host failed"
        mux+=($(($(now) - t0)))
        [ "$(counters)" = "1 0" ] || die "$name: the broker did not serve round $i ($(counters))"
        read -r o k < <(broker_cpu)
        [ -n "$k" ] || die "$name: no cpu line in the broker's status"
        own=$(awk -v a="$own" -v b="$o" 'BEGIN { print a + b }')
        kids=$(awk -v a="$kids" -v b="$k" 'BEGIN { print a + b }')
    done
    check_kex "$s" "$from" "$pkex" "$name, muxshim" >/dev/null
    say "$name, muxshim: sshd logged $(kex_lines "$s" "$from" | sort | uniq -c | sed 's/^ *\([0-9]*\) \(.*\)/\1 x "kex: algorithm: \2"/'); each round's broker counted 1 served, 0 handed to ssh"
    echo "| $name | $pkex, both | $(printf '%s\n' "${plain[@]}" | median) | $(printf '%s\n' "${mux[@]}" | median) | $(ms_per "$own") | $(ms_per "$kids") | $(per $((k1 - k0))) |"
    stop_broker
done
say "$RUNS runs each way; the broker's CPU from getrusage (its status), plain ssh's from /proc/PID/stat (${hz} Hz ticks)"
