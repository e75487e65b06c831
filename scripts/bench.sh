#!/bin/bash
# make bench [QUICK=1]: plain ssh, OpenSSH ControlMaster and muxshim side by side on the
# same throwaway sshd (loopback, its own keys), for the six goals of the performance issue:
#   1. `ssh host true` on loopback            4. 100 concurrent sessions, MaxSessions 10
#   2. the same over a 50 ms round trip       5. the shim's cost on execs of true (bench-exec)
#   3. 1 GiB up and down through one session  6. memory per idle host connection, 50 hosts
# Prints a table, writes it with the machine and versions to bench/results.md and draws
# bench/chart.png (gnuplot). QUICK=1 runs fewer and smaller rounds (under 2 minutes).
set -euo pipefail
[ -n "${BENCH_DEBUG:-}" ] && set -x
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
LIB=$B/libmuxshim.so
QUICK=${QUICK:-}
# shellcheck source=lib-sshd.sh
. "$ROOT/scripts/lib-sshd.sh"

if [ -n "$QUICK" ]; then
    R_FAST=15 R_PLAIN=5 R_RTT=5 R_RTT_PLAIN=3 R_BIG=1 BIG_MB=256 R_EXEC=5 R_CONNS=200
else
    R_FAST=60 R_PLAIN=20 R_RTT=20 R_RTT_PLAIN=8 R_BIG=3 BIG_MB=1024 R_EXEC=15 R_CONNS=1000
fi
NHOSTS=50
NCONC=100

# shellcheck source=lib-bench.sh
. "$ROOT/scripts/lib-bench.sh"

# Every side runs as a user runs it (as root: the test account muxuser, its own ~/.ssh, the
# system's /etc/ssh/ssh_config, no -F): "lab" is the sshd on loopback, "lab-rtt" the same
# sshd behind the 50 ms relay.
bench_as_account scripts/bench.sh "$@"
bench_setup bench lab
KEY=$(cut -d' ' -f1-2 "$T/s/host_ed25519.pub")
# The 50 "hosts" of goal 6 are 50 HostKeyAlias names of this server: each is its own host
# token set (and its own ControlPath, through %k), with its own known_hosts line.
kh=$HOME/.ssh/known_hosts
[ -z "$USER_CFG" ] || kh=$T/s/known_hosts
for i in $(seq 1 "$NHOSTS"); do echo "host$i $KEY"; done >>"$kh"
sshd_relay "$T/s" "$B/tests/tools/relay" -d 25
sshd_user_host "$T/s" lab-rtt "$RELAY_PORT"
user_cfg_end
# Goals 1-6 send no environment (bench-env.sh times the stock SendEnv with LANG set).
unset LANG LC_ALL LC_CTYPE LC_MESSAGES LC_COLLATE LC_NUMERIC LC_TIME LC_MONETARY

# muxshim is timed as it is used: the program that runs ssh (here hyperfine, or the shell
# of a pipe) has the shim loaded, so its exec of ssh becomes an exec of muxssh.
PLAIN=(ssh "${F[@]}")
CM=(ssh "${F[@]}" -o ControlMaster=auto -o "ControlPath=$T/cm-%C-%k" -o ControlPersist=600)
MUX=(env "LD_PRELOAD=$LIB" ssh "${F[@]}")
SHIMMED=(env "LD_PRELOAD=$LIB")

# Each way must work before it is timed.
for way in PLAIN CM MUX; do
    declare -n cmd=$way
    out=$("${cmd[@]}" lab echo ready 2>&1) || { echo "bench: $way ssh failed: $out" >&2; exit 1; }
done

# median [mux|-] RUNS WARMUP COMMAND...: hyperfine's median in ms, no shell in between
# (median_sh: through a shell, for pipes); with "mux", hyperfine runs with the shim loaded.
median() {
    local pre=() noshell=(-N)
    case $1 in
    mux) pre=("${SHIMMED[@]}") && shift ;;
    -) shift ;;
    esac
    [ -n "${VIA_SHELL:-}" ] && noshell=()
    local runs=$1 warm=$2
    shift 2
    "${pre[@]}" hyperfine "${noshell[@]}" --style none --warmup "$warm" --runs "$runs" \
        --export-csv "$T/hf.csv" "$*" >/dev/null 2>"$T/hf.err" || { cat "$T/hf.err" >&2; return 1; }
    awk -F, 'NR == 2 { printf "%.1f", $4 * 1000 }' "$T/hf.csv"
}
median_sh() { VIA_SHELL=1 median "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
say() { echo "bench: $*" >&2; }

# --- 1. ssh host true on loopback -------------------------------------------------------
say "1/6 ssh host true on loopback"
p1=$(median "$R_PLAIN" 1 "${PLAIN[@]}" lab true)
c1=$(median "$R_FAST" 3 "${CM[@]}" lab true)
m1=$(median mux "$R_FAST" 3 "${PLAIN[@]}" lab true)

# --- 2. the same over a 50 ms round trip (relay, 25 ms each way) --------------------------
say "2/6 ssh host true over a 50 ms round trip"
p2=$(median "$R_RTT_PLAIN" 0 "${PLAIN[@]}" lab-rtt true)
c2=$(median "$R_RTT" 2 "${CM[@]}" lab-rtt true)
m2=$(median mux "$R_RTT" 2 "${PLAIN[@]}" lab-rtt true)
rt() { awk -v t="$1" 'BEGIN { printf "%.2f", t / 50 }'; }

# --- 2'. the same with the stock SendEnv LANG LC_* and LANG set (scripts/bench-env.sh) -----
say "2'/6 the same with SendEnv LANG LC_* and LANG set"
B=$B RUNS=$R_RTT RUNS_PLAIN=$R_RTT_PLAIN "$ROOT/scripts/bench-env.sh" >"$T/env-table.md"

# --- 2''. the first connection with the post-quantum exchange (scripts/bench-kex.sh) ------
say "2''/6 the first connection with the post-quantum key exchange, and its CPU"
B=$B RUNS=$R_RTT "$ROOT/scripts/bench-kex.sh" >"$T/kex-table.md"

# --- 3. throughput through one session ------------------------------------------------------
say "3/6 $BIG_MB MiB up and down through one session"
SZ=$((BIG_MB * 1048576))
mbps() { awk -v ms="$1" -v mb="$BIG_MB" 'BEGIN { printf "%.0f", mb * 1.048576 / (ms / 1000) }'; }
up() { median_sh "$1" "$R_BIG" 1 "head -c $SZ /dev/zero | $2 lab 'cat >/dev/null'"; }
down() { median_sh "$1" "$R_BIG" 1 "$2 lab 'head -c $SZ /dev/zero' >/dev/null"; }
p3u=$(mbps "$(up - "${PLAIN[*]}")")
c3u=$(mbps "$(up - "${CM[*]}")")
m3u=$(mbps "$(up mux "${PLAIN[*]}")")
p3d=$(mbps "$(down - "${PLAIN[*]}")")
c3d=$(mbps "$(down - "${CM[*]}")")
m3d=$(mbps "$(down mux "${PLAIN[*]}")")

# --- 3'. through a local forward (scripts/bench-fwd.sh) -------------------------------------
say "3'/6 $BIG_MB MiB and the first byte of short connections through -L"
B=$B SIZE=$BIG_MB RUNS=$R_BIG CONNS=$R_CONNS "$ROOT/scripts/bench-fwd.sh" >"$T/fwd-table.md"

# --- 4. 100 concurrent sessions against MaxSessions 10 -------------------------------------
say "4/6 $NCONC concurrent sessions, sshd MaxSessions 10"
# concurrent NAME CMD...: failures, stderr lines and new TCP connections, as "f e n".
concurrent() {
    local name=$1 i c0 pids=() fails=0
    shift
    c0=$(sshd_connections "$T/s")
    for i in $(seq 1 "$NCONC"); do
        ("$@" lab "sleep 0.3; echo ok$i" >"$T/$name.out.$i" 2>"$T/$name.err.$i") &
        pids+=($!)
    done
    wait "${pids[@]}" || true
    for i in $(seq 1 "$NCONC"); do [ "$(cat "$T/$name.out.$i")" = "ok$i" ] || fails=$((fails + 1)); done
    echo "$fails $(cat "$T/$name".err.* | wc -l) $(($(sshd_connections "$T/s") - c0))"
}
read -r c4f c4e c4n < <(concurrent cm "${CM[@]}")
read -r m4f m4e m4n < <(concurrent mux "${MUX[@]}")

# --- 5. the shim's cost on programs that are not ssh -----------------------------------------
# scripts/bench-exec.sh (also `make bench-exec`): 1000 execs of true from bash per library
# and round, the shim against a one-function library built beside it, finely interleaved.
say "5/6 the shim over an empty preloaded library, $R_EXEC rounds of 1000 execs of true"
B=$B ROUNDS=$R_EXEC "$ROOT/scripts/bench-exec.sh" >"$T/exec.out"
cat "$T/exec.out" >&2
# pct LINE-PATTERN: "median min max" of that line, in percent.
pct() {
    sed -n "/^$1/s/.*: \([-+0-9.]*\) % (median.*min \([-+0-9.]*\) %, max \([-+0-9.]*\) %)/\1 \2 \3/p" "$T/exec.out"
}
read -r g5 g5min g5max < <(pct shim)
read -r g5e g5emin g5emax < <(pct empty)

# --- 6. memory per idle host connection ----------------------------------------------------
say "6/6 memory per idle connection, $NHOSTS hosts"
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
"${MUX[@]}" -o HostKeyAlias=host1 lab true
bp=$(cat "$MUXSHIM_DIR/broker.lock")
sleep 0.5
r1=$(rss "$bp")
for i in $(seq 2 "$NHOSTS"); do "${MUX[@]}" -o HostKeyAlias="host$i" lab true; done
sleep 0.5
rN=$(rss "$bp")
m6=$(awk -v a="$r1" -v b="$rN" -v n="$NHOSTS" 'BEGIN { printf "%.0f", (b - a) / (n - 1) }')
cmsum=0
for i in $(seq 1 "$NHOSTS"); do
    "${CM[@]}" -o HostKeyAlias="host$i" lab true
    pid=$("${CM[@]}" -o HostKeyAlias="host$i" -O check lab 2>&1 | sed -n 's/.*pid=\([0-9]*\).*/\1/p')
    cmsum=$((cmsum + $(rss "$pid")))
done
c6=$((cmsum / NHOSTS))
nconn=$("$ROOT/scripts/muxrun" status | tail -1)

# --- the table ----------------------------------------------------------------------------
met() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = op == "<=" ? v <= t : v >= t; print ok ? "yes" : "no" }'; }
g1=$(ratio "$m1" "$c1")
g2=$(rt "$m2")
g3u=$(ratio "$m3u" "$p3u")
g3d=$(ratio "$m3d" "$p3d")
g6=$m6
TABLE=$T/table.md
{
    echo "| goal | plain ssh | ControlMaster | muxshim | muxshim / ControlMaster | muxshim / plain | target | met |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"
    echo "| 1. \`ssh host true\`, loopback (median ms) | $p1 | $c1 | $m1 | $g1 | $(ratio "$m1" "$p1") | ≤ 0.5 × ControlMaster | $(met "$g1" "<=" 0.5) |"
    echo "| 2. \`ssh host true\`, 50 ms RTT (median ms) | $p2 | $c2 | $m2 | $(ratio "$m2" "$c2") | $(ratio "$m2" "$p2") | ≤ 1.3 round trips: $g2 | $(met "$g2" "<=" 1.3) |"
    echo "| 3a. $BIG_MB MiB upload (MB/s) | $p3u | $c3u | $m3u | $(ratio "$m3u" "$c3u") | $g3u | ≥ 0.9 × plain | $(met "$g3u" ">=" 0.9) |"
    echo "| 3b. $BIG_MB MiB download (MB/s) | $p3d | $c3d | $m3d | $(ratio "$m3d" "$c3d") | $g3d | ≥ 0.9 × plain | $(met "$g3d" ">=" 0.9) |"
    echo "| 4. $NCONC concurrent, MaxSessions 10: failures / stderr lines / TCP connections | - | $c4f / $c4e / $c4n | $m4f / $m4e / $m4n | | | 0 / 0 / ≤ 10 | $([ "$m4f" = 0 ] && [ "$m4e" = 0 ] && [ "$m4n" -le 10 ] && echo yes || echo no) |"
    echo "| 5. the shim over an empty preloaded library, 1000 execs of true from bash: median of $R_EXEC rounds (min, max) | | | $g5 % ($g5min, $g5max) | | | ≤ 1 % | $(met "$g5" "<=" 1) |"
    echo "| 5'. the empty library over none (the floor of any preloaded library) | | | $g5e % ($g5emin, $g5emax) | | | | |"
    echo "| 6. RSS per idle host connection, $NHOSTS hosts (KiB) | | $c6 | $m6 | $(ratio "$m6" "$c6") | | ≤ 256 KiB | $(met "$g6" "<=" 256) |"
} >"$TABLE"
echo
cat "$TABLE"
echo
cat "$T/env-table.md"
echo
cat "$T/kex-table.md"
echo
cat "$T/fwd-table.md"
echo
echo "broker: $nconn"

mkdir -p "$BENCH_OUT"
{
    echo "# muxshim benchmark"
    echo
    echo "Measured by \`make bench${QUICK:+ QUICK=1}\` on $(date -u '+%Y-%m-%d %H:%M UTC'):"
    echo "$(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)),"
    echo "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r);"
    echo "$(ssh -V 2>&1) client and sshd on loopback; the broker's engine: $("$B/muxbroker" -V 2>&1 | sed 's/^muxbroker: //');"
    echo "hyperfine $(hyperfine --version | cut -d' ' -f2). The 50 ms round trip is \`tests/tools/relay -d 25\`."
    echo "Runs: $R_FAST (muxshim, ControlMaster), $R_PLAIN (plain) for goal 1; $R_RTT / $R_RTT_PLAIN for goal 2;"
    echo "$R_BIG per direction for goal 3; medians throughout."
    echo
    cat "$TABLE"
    echo
    echo "Goal 2 with Debian's stock \`SendEnv LANG LC_*\` and \`LANG\` set (\`scripts/bench-env.sh\`, $R_RTT runs):"
    echo
    cat "$T/env-table.md"
    echo
    echo "The first connection with the post-quantum key exchange (\`scripts/bench-kex.sh\`, $R_RTT runs each; sshd's log names the exchange of every connection):"
    echo
    cat "$T/kex-table.md"
    echo
    echo "Through a local forward (\`scripts/bench-fwd.sh\`, also \`make bench-fwd\`): $BIG_MB MiB read through \`-L\` from a local server, and $R_CONNS short connections one after the other (the server sends one byte and closes):"
    echo
    cat "$T/fwd-table.md"
    echo
    echo "![ssh host true: plain ssh, ControlMaster, muxshim](chart.png)"
    echo
    echo "Where goals are not met, [notes.md](notes.md) gives what bounds them and how it was measured."
} >"$BENCH_OUT/results.md"

if command -v gnuplot >/dev/null; then
    cat >"$T/chart.dat" <<EOF
"plain ssh" $p1 $p2
"ControlMaster" $c1 $c2
"muxshim" $m1 $m2
EOF
    gnuplot <<EOF
set terminal pngcairo size 800,420 font ",11"
set output "$BENCH_OUT/chart.png"
set title "ssh host true: median wall time (ms), lower is better"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set ylabel "ms"
set yrange [0:*]
set grid ytics
set key top right
plot "$T/chart.dat" using 2:xtic(1) title "loopback", "" using 3 title "50 ms round trip"
EOF
    echo "bench: wrote bench/results.md and bench/chart.png"
else
    echo "bench: wrote bench/results.md (gnuplot missing: no chart)"
fi
