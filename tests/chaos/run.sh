#!/bin/bash
# Chaos: many concurrent sessions through the shim while, at random (seeded) moments,
# clients are SIGKILLed and SIGSTOPped (then continued or killed), readers stop reading (a
# pipe nobody reads, a terminal nobody reads, a terminal stopped by ^S), the server side
# stalls (tests/tools/relay's SIGUSR1 on the path lab-stall) and dies (sshd connection
# processes killed on lab-die, and once that whole sshd, restarted on its port later). A
# probe, `ssh lab-probe true` (a server of its own, see below), is timed about every second, first on an idle broker, then during
# the chaos.
#
# Checked at the end: every session not killed on purpose finished with its bytes
# sha256-equal both ways, its exit code and its stderr line (on lab-stall and lab-die a
# session may instead fail with ssh's 255 when a server event of its own server overlapped
# it); the probe never took more than CHAOS_PROBE_BOUND_MS longer than an idle broker's
# probe at the same moment (a second broker of the account's, idle throughout: on a small
# shared machine the load moves both; what the machine's noise makes of two idle brokers
# is measured first, printed, and added to the bound); the broker is the same process and,
# once the sessions are gone, its fd count equals the count after warm-up and the heap its
# allocations hold (the broker's status, less its ssh -G cache) is within CHAOS_HEAP_SLACK_KB
# of it (the RSS is
# printed only: freed memory in the worker threads' arenas stays partly resident, so the
# RSS grows with how many workers ran at once, not with what leaked); its counters show the sessions served and none handed
# to ssh; no sanitizer report (the broker is stopped with SIGTERM first, so leaks at exit
# count); nothing of the suite's is left running.
#
# The client side runs as the test account ${MUXSHIM_TEST_ACCOUNT:-muxuser} with its own
# ~/.ssh (key, known_hosts, config naming lab, lab-stall and lab-die), no -F, and this
# machine's /etc/ssh/ssh_config, against OpenSSH's sshd on loopback.
#
#   tests/chaos/run.sh BUILD [SECONDS]      (as root; SECONDS of chaos, default 30)
#
#   CHAOS_SEED            the random seed (printed; give it back to replay the decisions)
#   CHAOS_PROBE_BOUND_MS  the probe may take this much longer than idle (default 50, the
#                         issue's bound)
#   CHAOS_HEAP_SLACK_KB   the broker's heap in use may end this much above the warm-up
#                         figure (default 256; not compared under ASan, whose allocator
#                         the status cannot see into)
#   CHAOS_MIN, CHAOS_MAX  concurrent sessions (default 20 and 40)
#   CHAOS_SIZES           the payloads' sizes, bytes (default "1000 100000 1000000 4000000")
#   CHAOS_SKIP            chaos left out, to tell which one hurts: words of kill, stop,
#                         pty, pipe (the slow and deaf readers), stall, die
#
# This script, and so the brokers, the probe and the probe's sshd, runs at nice -10; the load
# (the sessions' client processes) and the chaos's servers and relay run at nice 19 (a real
# server is another machine), so that on a small shared machine the probe measures waiting
# in the broker rather than the CPU the load, the servers' crypto and other programs take.
# The broker's CPU time during the chaos, and how long its loop thread waited runnable for
# a CPU, are printed, to tell a busy broker from a stalled one and from a crowded machine.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
DUR=${2:-20}
SEED=${CHAOS_SEED:-$(($(date +%s%N) / 1000 % 1000000))}
BOUND=${CHAOS_PROBE_BOUND_MS:-50}
CMIN=${CHAOS_MIN:-20}
CMAX=${CHAOS_MAX:-40}
LIB=$B/libmuxshim.so
MUXSSH=$B/muxssh
RELAY=$B/tests/tools/relay
HERE=$ROOT/tests/chaos
SUITE=chaos
# shellcheck source=../lib-cases.sh
. "$ROOT/tests/lib-cases.sh"
if [ "$(id -u)" -ne 0 ]; then
    skip all "needs root (a test account, and signals to its processes)"
    exit 0
fi
for f in "$LIB" "$MUXSSH" "$B/muxbroker" "$RELAY"; do
    [ -x "$f" ] || [ -f "$f" ] || {
        notok setup "$f is missing (make all tests)"
        exit 1
    }
done
# Under ASan the heap figure says nothing (its allocator is not glibc's): it is compared on
# the plain build only.
SANITIZED=
readelf -d "$B/muxbroker" 2>/dev/null | grep -q 'libasan' && SANITIZED=1
SLACK=${CHAOS_HEAP_SLACK_KB:-256}
# shellcheck source=../../scripts/lib-sshd.sh
. "$ROOT/scripts/lib-sshd.sh"
renice -n -10 $$ >/dev/null
LOADNICE=$((19 - $(nice))) # for nice -n: the load at nice 19
# Nice values rank processes only within one scheduling group. With the kernel's autogroups
# on, every session (setsid) is a group of its own, weighted like any other: each of the 40
# load sessions and each sshd session child, so that the broker got about a 40th of the
# CPU and its loop thread spent three times as long waiting for a CPU as running. (A
# user's broker, also a session of its own, shares the CPU with the user's few terminal
# sessions instead.) For the chaos's run autogroups are off, so the nice values above
# decide; the setting is put back at the end.
AUTOGROUP=/proc/sys/kernel/sched_autogroup_enabled
AUTOGROUP0=$(cat "$AUTOGROUP" 2>/dev/null)
if [ "$AUTOGROUP0" = 1 ]; then
    if echo 0 2>/dev/null >"$AUTOGROUP"; then
        echo "# scheduler autogroups off for the chaos's run (put back at the end)"
    else
        echo "# scheduler autogroups are on and cannot be turned off here: the nice values rank nothing and the probe measures a crowded machine"
        AUTOGROUP0=
    fi
fi

T=$(mktemp -d /tmp/muxshim-chaos-XXXXXX)
chmod 711 "$T"
U=${MUXSHIM_TEST_ACCOUNT:-muxuser}
H=$T/home
RT=$T/run # the account's runtime directory (MUXSHIM_DIR)
RT2=$T/run2 # the idle broker's, for the probe's control
R=$T/r    # the sessions' results, written by the account
P=$T/p    # payloads
unset LD_PRELOAD MUXSHIM_DISABLE MUXSHIM_GUARD MUXSHIM_REAL_SSH SSH_AUTH_SOCK MUXSHIM_DIR
export MUXSHIM_PERSIST=600
touch "$T/start"
# Sanitizer reports: where the caller (tests/run.sh) sends them, else to a folder here;
# either way, any report written since the start fails the run.
if [[ ${ASAN_OPTIONS:-} != *log_path=* ]]; then
    mkdir -m 1777 "$T/san"
    export ASAN_OPTIONS="verify_asan_link_order=0:log_path=$T/san/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export UBSAN_OPTIONS="print_stacktrace=1:log_path=$T/san/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
fi
san_prefixes() {
    local o
    for o in "${ASAN_OPTIONS:-}" "${UBSAN_OPTIONS:-}"; do
        [[ $o == *log_path=* ]] || continue
        o=${o#*log_path=}
        echo "${o%%:*}"
    done
}

declare -A PG MODE HOST EXP FATE T_STOP STOP_ACT
RELAY_PID=
PROBE_PID=
BP=

# tree PID: PID and its descendants.
tree() {
    local p c
    for p in "$@"; do
        echo "$p"
        for c in $(pgrep -P "$p"); do tree "$c"; done
    done
}
kill_tree() { # SIG PID...
    local sig=$1 p
    shift
    for p in $(tree "$@"); do kill "-$sig" "$p" 2>/dev/null; done
}
cleanup() {
    [ "$AUTOGROUP0" = 1 ] && echo 1 >"$AUTOGROUP"
    local i pid
    [ -n "$PROBE_PID" ] && kill_tree KILL "$PROBE_PID"
    for i in "${!PG[@]}"; do
        kill -CONT -- "-${PG[$i]}" 2>/dev/null
        kill -KILL -- "-${PG[$i]}" 2>/dev/null
    done
    for d in "$RT" "$RT2"; do
        pid=$(cat "$d/broker.lock" 2>/dev/null) && kill_tree KILL "$pid"
    done
    [ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null
    for d in "$T/s" "$T/d" "$T/ps"; do
        pid=$(cat "$d/sshd.bgpid" 2>/dev/null) && kill_tree KILL "$pid"
    done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the account, two sshds and a relay ---------------------------------------------------
test_account "$U" "$H" || exit 1
G=$(id -g "$U")
# The chaos's servers and the relay run at the load's nice 19: a real server is another
# machine, whose CPU the broker does not share. The probe's server runs at this script's
# nice -10, like both brokers, so that the probe and its control are served alike.
SSHD_WRAP="nice -n $LOADNICE" SSHD_USER=$U SSHD_MAXSESSIONS=64 sshd_start "$T/s" >/dev/null || exit 1
PORT=$SSHD_PORT
SSHD_WRAP="nice -n $LOADNICE" SSHD_USER=$U SSHD_MAXSESSIONS=64 sshd_start "$T/d" >/dev/null || exit 1
DPORT=$SSHD_PORT
SSHD_USER=$U SSHD_MAXSESSIONS=64 sshd_start "$T/ps" >/dev/null || exit 1
PPORT=$SSHD_PORT
cat "$T/s/id_ed25519.pub" >>"$T/d/authorized_keys"
cat "$T/s/id_ed25519.pub" >>"$T/ps/authorized_keys"
sshd_relay "$T/s" "$RELAY" || {
    notok setup "the relay did not start"
    exit 1
}
renice -n "$LOADNICE" -p "$RELAY_PID" >/dev/null
cp "$T/s/id_ed25519" "$T/s/id_ed25519.pub" "$H/.ssh/"
cat "$T/s/known_hosts" "$T/d/known_hosts" "$T/ps/known_hosts" >"$H/.ssh/known_hosts"
cat >"$H/.ssh/config" <<EOF
Host lab
    HostName 127.0.0.1
    Port $PORT
Host lab-probe
    HostName 127.0.0.1
    Port $PPORT
Host lab-stall
    HostName 127.0.0.1
    Port $RELAY_PORT
    ServerAliveInterval 1
    ServerAliveCountMax 3
Host lab-die
    HostName 127.0.0.1
    Port $DPORT
    ServerAliveInterval 1
    ServerAliveCountMax 3
EOF
mkdir -m 700 "$RT" "$RT2"
mkdir -m 755 "$R" "$P"
chown -R "$U:" "$H" "$RT" "$RT2" "$R"
chmod 600 "$H/.ssh/id_ed25519"
disown -a # the servers and the relay: ended here on purpose, no job notices
read -ra SIZES <<<"${CHAOS_SIZES:-1000 100000 1000000 4000000}"
for size in "${SIZES[@]}" 1000000; do
    head -c "$size" /dev/urandom >"$P/$size"
    sha256sum <"$P/$size" >"$P/$size.sha"
done
chmod 644 "$P"/*
PTY_N=2000000
head -c "$PTY_N" /dev/zero | tr '\0' x | sha256sum >"$P/pty.sha"

# as the account, with the shim: "${ASU[@]}" CMD... (or the function as_user CMD...)
ASU=(setpriv --reuid="$U" --regid="$G" --init-groups env HOME="$H" USER="$U" LOGNAME="$U"
    MUXSHIM_DIR="$RT" LANG=C LD_PRELOAD="$LIB")
as_user() { "${ASU[@]}" "$@"; }
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
ACTIONS=$T/actions # what the chaos did, when: "MS WHAT"
act() { echo "$((${EPOCHREALTIME/./} / 1000)) $*" >>"$ACTIONS"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }
# sched_ms PID: the ms its main thread (the broker's loop) has run, and has waited runnable
# for a CPU (/proc/PID/schedstat)
sched_ms() { awk '{ printf "%d %d", $1 / 1e6, $2 / 1e6 }' "/proc/$1/schedstat" 2>/dev/null; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
# mem_detail PID: where the RSS is (anonymous, file-backed) and how many threads
mem_detail() { awk '/^(RssAnon|RssFile|Threads):/ { printf "%s %s ", $1, $2 }' "/proc/$1/status" 2>/dev/null; }
broker_pid() { cat "$RT/broker.lock" 2>/dev/null; }
# heap_kb: the KiB of heap the broker's allocations hold, from its status, less its ssh -G
# cache (bounded, and it grows with every new command line: each chaos session's differs)
heap_kb() {
    as_user "$MUXSSH" --mux-status 2>/dev/null |
        sed -n 's/^broker pid .*, \([0-9]*\) KiB of heap in use (\([0-9]*\) KiB of it the ssh -G cache.*/\1 \2/p' |
        { read -r h c && echo $((h - c)); }
}
# counters_port PORT: "SERVED HANDED" of the broker's entries for 127.0.0.1:PORT
counters_port() {
    as_user "$MUXSSH" --mux-status 2>/dev/null |
        sed -n "s/^ *127\.0\.0\.1:$1 .*: served \([0-9]*\), handed to ssh \([0-9]*\).*/\1 \2/p" |
        awk '{ s += $1; h += $2 } END { printf "%d %d\n", s, h }'
}

# --- sessions -----------------------------------------------------------------------------
N=0 # sessions started
# launch HOST MODE [SIZE]: a session in a process group of its own (pgid = its pid), at nice 19
launch() {
    local host=$1 mode=$2 size=${3:-${SIZES[RANDOM % ${#SIZES[@]}]}} stall=$((RANDOM % 3 + 2))
    N=$((N + 1))
    HOST[$N]=$host
    MODE[$N]=$mode
    FATE[$N]=
    case $mode in
    noread | ctrl-s)
        EXP[$N]=$(cat "$P/pty.sha")
        setsid nice -n "$LOADNICE" "${ASU[@]}" python3 "$HERE/ptyhold.py" "$R" "$N" "$host" "$mode" \
            "$stall" "$PTY_N" </dev/null >/dev/null 2>&1 &
        ;;
    *)
        EXP[$N]=$(cat "$P/$size.sha")
        setsid nice -n "$LOADNICE" "${ASU[@]}" bash "$HERE/session.sh" "$R" "$N" "$host" "$mode" \
            "$P/$size" "$stall" </dev/null >/dev/null 2>&1 &
        ;;
    esac
    PG[$N]=$!
    act "start $N $host $mode"
    disown "$!" # killed on purpose, some of them: no job notices
}
# prune: forget the sessions that have ended (or were killed whole); in this shell, so
# that cleanup signals only process groups that still run
prune() {
    local i
    for i in "${!PG[@]}"; do
        [ -e "$R/$i.res" ] || ! kill -0 "${PG[$i]}" 2>/dev/null && unset "PG[$i]"
    done
    return 0
}
# running: the sessions still running
running() {
    local i
    for i in "${!PG[@]}"; do
        [ -e "$R/$i.res" ] || ! kill -0 "${PG[$i]}" 2>/dev/null || echo "$i"
    done
}
# pick_running: a random running session (that moves a payload, and nothing was done to
# yet), or nothing
pick_running() {
    local all=() i
    for i in $(running); do
        [[ ${MODE[$i]} =~ ^(echo|trickle|slowreader)$ ]] && [ -z "${FATE[$i]}" ] && all+=("$i")
    done
    [ "${#all[@]}" -gt 0 ] && echo "${all[RANDOM % ${#all[@]}]}"
}
skipped() { [[ " ${CHAOS_SKIP:-} " == *" $1 "* ]]; }
random_launch() {
    local r=$((RANDOM % 100))
    if skipped pipe && [ "$r" -ge 65 ] && [ "$r" -lt 80 ]; then
        r=$((r - 15))
    fi
    if [ "$r" -lt 20 ]; then
        launch lab echo
    elif [ "$r" -lt 65 ]; then
        launch lab trickle
    elif [ "$r" -lt 75 ]; then
        launch lab slowreader
    elif [ "$r" -lt 80 ]; then
        launch lab deafpipe
    elif skipped stall && skipped die; then
        launch lab trickle
    elif [ "$r" -lt 90 ] && ! skipped stall || skipped die; then
        launch lab-stall "$([ $((RANDOM % 2)) = 0 ] && echo echo || echo trickle)"
    else
        launch lab-die "$([ $((RANDOM % 2)) = 0 ] && echo echo || echo trickle)"
    fi
}
# wait_idle SECONDS: until no session runs
wait_idle() {
    local end=$((SECONDS + $1))
    while prune && [ "${#PG[@]}" -gt 0 ] && [ "$SECONDS" -lt "$end" ]; do sleep 0.2; done
    [ -z "$(running)" ]
}

# Server events, for the sessions they may fail: "HOST FROM_MS TO_MS WHAT".
EVENTS=$T/events
: >"$EVENTS"
event() { echo "$1 $2 $3 $4" >>"$EVENTS"; }
sshd_procs() { pgrep -P "$(cat "$T/d/sshd.bgpid")"; } # lab-die's connection processes
DOWN_AT=
kill_connection() {
    local c all
    mapfile -t all < <(sshd_procs)
    [ "${#all[@]}" -gt 0 ] || return 0
    c=${all[RANDOM % ${#all[@]}]}
    local t
    t=$(now_ms)
    # the account's own process of that connection (sshd: USER@notty), or all of it
    if [ $((RANDOM % 2)) = 0 ] && [ -n "$(pgrep -u "$U" -P "$c")" ]; then
        kill_tree KILL "$(pgrep -u "$U" -P "$c" | head -1)"
    else
        kill_tree KILL "$c"
    fi
    event lab-die "$t" $((t + 2000)) "connection $c killed"
    act "lab-die connection $c killed"
    KILLED_CONNS=$((KILLED_CONNS + 1))
}
sshd_down() {
    DOWN_AT=$(now_ms)
    kill_tree KILL "$(cat "$T/d/sshd.bgpid")"
    act "lab-die sshd killed"
}
sshd_up() {
    nice -n "$LOADNICE" /usr/sbin/sshd -D -e -f "$T/d/sshd_config" 2>>"$T/d/sshd.log" &
    echo $! >"$T/d/sshd.bgpid"
    disown "$!"
    local i
    for i in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$DPORT") 2>/dev/null && break
        sleep 0.025
    done
    event lab-die "$DOWN_AT" $(($(now_ms) + 2000)) "sshd down and restarted"
    act "lab-die sshd restarted"
    DOWN_AT=
}
stall_relay() {
    local t
    t=$(now_ms)
    kill -USR1 "$RELAY_PID"
    act "relay stalled"
    # the broker's keepalive (1 s, 3 counts) gives up on it within about 4 s
    event lab-stall "$t" $((t + 8000)) "relay stalled its connections"
    STALLS=$((STALLS + 1))
}

# --- warm-up: every kind of session, at full concurrency ----------------------------------
echo "# chaos: seed $SEED (CHAOS_SEED=$SEED replays the decisions), $DUR s, $CMIN-$CMAX sessions at once, build $B"
RANDOM=$SEED
as_user ssh lab true || {
    notok setup "the first session failed"
    exit 1
}
BP=$(broker_pid)
t0=$SECONDS
for j in $(seq 1 "$CMAX"); do
    case $((j % 8)) in
    0) launch lab-stall echo 1000000 ;;
    1) launch lab-die trickle 1000000 ;;
    2) launch lab trickle 1000000 ;;
    3) launch lab slowreader 1000000 ;;
    *) launch lab echo 1000000 ;;
    esac
done
launch lab noread
launch lab ctrl-s
launch lab deafpipe
wait_idle 120 || {
    notok warm-up "sessions still running after 120 s: $(running | tr '\n' ' ')"
    exit 1
}
WARM=$N
echo "# warm-up: $WARM sessions in $((SECONDS - t0)) s"
bad=
for i in $(seq 1 "$WARM"); do
    read -r rc _ <"$R/$i.res" 2>/dev/null
    [ "${MODE[$i]}" = deafpipe ] && continue
    [ "${rc:-x}" = $((i % 5)) ] && [ "$(cat "$R/$i.out" 2>/dev/null)" = "${EXP[$i]}" ] ||
        bad="$bad $i(${HOST[$i]} ${MODE[$i]}: exit ${rc:-none})"
done
if [ -n "$bad" ] || [ "$(broker_pid)" != "$BP" ]; then
    notok warm-up "sessions failed before any chaos:$bad; broker $BP -> $(broker_pid)"
    exit 1
fi
ok "warm-up ($WARM sessions, $CMAX at a time, all right)"
# the probe's own connection (lab-probe) is part of the baseline too
as_user env MUXSHIM_DIR="$RT" ssh lab-probe true || notok setup "the first lab-probe session failed"
sleep 1
FD0=$(fd_count "$BP")
RSS0=$(rss_kb "$BP")
MEM0=$(mem_detail "$BP")
HEAP0=$(heap_kb)

# --- the probe on an idle broker ------------------------------------------------------------
# (and its control: a second broker of the account's, idle throughout, probed at the same
# moments, so that the load of this machine, which is the same for both, can be told from
# what the broker under test adds)
PROBES=$R/probes # (written by the account)
as_user env MUXSHIM_DIR="$RT2" ssh lab true || {
    notok setup "the control broker's first session failed"
    exit 1
}
BP2=$(cat "$RT2/broker.lock")
as_user bash "$HERE/probe.sh" "$PROBES.idle" 300 20 "$T/probe.stop" "$RT2"
# pct FILE PCT [COLUMN]: that percentile of a column of the probe file (1: the probe's ms,
# 3: its control's, x: the probe's excess over its control)
pct() {
    awk -v c="${3:-1}" '{ print (c == "x") ? $1 - $3 : $c }' "$1" | sort -n |
        awk -v p="$2" '{ a[NR] = $1 } END { i = int((NR - 1) * p / 100) + 1; print a[i] }'
}
IDLE50=$(pct "$PROBES.idle" 50)
IDLEMAX=$(pct "$PROBES.idle" 100)
# the noise of the comparison on this machine: how far apart the two idle brokers came
NOISE=$(pct "$PROBES.idle" 100 x)
[ "$NOISE" -gt 0 ] || NOISE=0
LIMIT=$((BOUND + NOISE))

# --- chaos ----------------------------------------------------------------------------------
: >"$PROBES"
chown "$U" "$PROBES"
as_user bash "$HERE/probe.sh" "$PROBES" 1000 - "$T/probe.stop" "$RT2" &
PROBE_PID=$!
TICKS=0 KILLS=0 STOPS=0 CONTS=0 STOPKILLS=0 STALLS=0 KILLED_CONNS=0 PTYS=0
start=$SECONDS
start_ms=$(now_ms)
cpu0=$(cpu_ticks "$BP")
read -r run0 wait0 <<<"$(sched_ms "$BP")"
read -r crun0 cwait0 <<<"$(sched_ms "$BP2")"
end=$((start + DUR))
target=$((CMIN + RANDOM % (CMAX - CMIN + 1)))
next_retarget=$((SECONDS + 3))
next_stall=$((SECONDS + 4 + RANDOM % 6))
next_conn=$((SECONDS + 3 + RANDOM % 5))
next_pty=$((SECONDS + 2 + RANDOM % 5))
next_kill=$(($(now_ms) + 500 + RANDOM % 2000))
next_stop=$(($(now_ms) + 500 + RANDOM % 3000))
down_at=$((start + DUR * 2 / 5 + RANDOM % (DUR / 5 + 1)))
up_at=
[ -n "${CHAOS_TRACE:-}" ] && exec 5>"$CHAOS_TRACE" && BASH_XTRACEFD=5 && PS4='+ $EPOCHREALTIME ' && set -x
while [ "$SECONDS" -lt "$end" ]; do
    now=$((${EPOCHREALTIME/./} / 1000))
    prune
    # stopped sessions whose time has come: continued (most) or killed
    for i in "${!T_STOP[@]}"; do
        [ "$now" -ge "${T_STOP[$i]}" ] || continue
        if [ -z "${PG[$i]:-}" ]; then # (it ended while stopped: killed by a server event)
            unset "T_STOP[$i]" "STOP_ACT[$i]"
            continue
        fi
        if [ "${STOP_ACT[$i]}" = cont ]; then
            kill -CONT -- "-${PG[$i]}" 2>/dev/null
            FATE[$i]=continued
            CONTS=$((CONTS + 1))
            act "SIGCONT session $i"
        else
            kill -KILL -- "-${PG[$i]}" 2>/dev/null
            kill -CONT -- "-${PG[$i]}" 2>/dev/null
            FATE[$i]="stopped-killed"
            act "SIGKILL stopped session $i"
            STOPKILLS=$((STOPKILLS + 1))
        fi
        unset "T_STOP[$i]" "STOP_ACT[$i]"
    done
    if [ "$SECONDS" -ge "$next_retarget" ]; then
        target=$((CMIN + RANDOM % (CMAX - CMIN + 1)))
        next_retarget=$((SECONDS + 2 + RANDOM % 4))
    fi
    n=${#PG[@]}
    for _ in 1 2 3 4; do
        [ "$n" -lt "$target" ] || break
        random_launch
        n=$((n + 1))
    done
    if [ "$now" -ge "$next_kill" ] && ! skipped kill; then
        next_kill=$((now + 300 + RANDOM % 2000))
        # SIGKILL a client: its muxssh alone (the broker sees its socket close), or the
        # whole session (muxssh and the processes around it)
        i=$(pick_running)
        if [ -n "$i" ]; then
            if [ $((RANDOM % 2)) = 0 ] && m=$(pgrep -g "${PG[$i]}" -x muxssh); then
                kill -KILL "$m" 2>/dev/null
                FATE[$i]="muxssh-killed"
                act "SIGKILL muxssh of $i"
            else
                kill -KILL -- "-${PG[$i]}" 2>/dev/null
                FATE[$i]=killed
                act "SIGKILL session $i"
            fi
            KILLS=$((KILLS + 1))
        fi
    fi
    if [ "$now" -ge "$next_stop" ] && ! skipped stop; then
        next_stop=$((now + 500 + RANDOM % 3000))
        # SIGSTOP a whole session (muxssh and its reader), for 0.5 to 3 s
        i=$(pick_running)
        if [ -n "$i" ]; then
            kill -STOP -- "-${PG[$i]}" 2>/dev/null
            FATE[$i]=stopped
            act "SIGSTOP session $i"
            T_STOP[$i]=$((now + 500 + RANDOM % 2500))
            STOP_ACT[$i]=$([ $((RANDOM % 10)) -lt 7 ] && echo cont || echo kill)
            STOPS=$((STOPS + 1))
        fi
    fi
    if [ "$SECONDS" -ge "$next_pty" ] && ! skipped pty; then
        launch lab "$([ $((PTYS % 2)) = 0 ] && echo ctrl-s || echo noread)"
        PTYS=$((PTYS + 1))
        next_pty=$((SECONDS + 8 + RANDOM % 10))
    fi
    if [ "$SECONDS" -ge "$next_stall" ] && ! skipped stall; then
        stall_relay
        next_stall=$((SECONDS + 8 + RANDOM % 8))
    fi
    if [ "$SECONDS" -ge "$next_conn" ] && [ -z "$DOWN_AT" ] && ! skipped die; then
        kill_connection
        next_conn=$((SECONDS + 5 + RANDOM % 6))
    fi
    if [ -n "$down_at" ] && [ "$SECONDS" -ge "$down_at" ] && ! skipped die; then
        sshd_down
        down_at=
        up_at=$((SECONDS + 3))
    fi
    if [ -n "$up_at" ] && [ "$SECONDS" -ge "$up_at" ]; then
        sshd_up
        up_at=
    fi
    TICKS=$((TICKS + 1))
    sleep "0.$((RANDOM % 3 + 1))"
done
set +x
cpu1=$(cpu_ticks "$BP")
read -r run1 wait1 <<<"$(sched_ms "$BP")"
read -r crun1 cwait1 <<<"$(sched_ms "$BP2")"
[ -n "$DOWN_AT" ] && sshd_up
for i in "${!T_STOP[@]}"; do
    [ -n "${PG[$i]:-}" ] || continue
    kill -CONT -- "-${PG[$i]}" 2>/dev/null
    FATE[$i]=continued
    CONTS=$((CONTS + 1))
done
T_STOP=()
touch "$T/probe.stop"
hung=
wait_idle 120 || hung=$(running | tr '\n' ' ')
for i in $hung; do
    FATE[$i]=${FATE[$i]:+${FATE[$i]},}hung
    kill -KILL -- "-${PG[$i]}" 2>/dev/null
done
for _ in $(seq 1 300); do kill -0 "$PROBE_PID" 2>/dev/null || break; sleep 0.2; done
kill_tree KILL "$PROBE_PID"
PROBE_PID=

# --- the verdicts -----------------------------------------------------------------------
# overlaps HOST FROM TO: a server event of HOST's server overlapped [FROM, TO]
overlaps() { awk -v h="$1" -v a="$2" -v b="$3" '$1 == h && $2 <= b && $3 >= a { f = 1 } END { exit !f }' "$EVENTS"; }
verified=0 server_failed=0 killed=0 bad=
for i in $(seq $((WARM + 1)) "$N"); do
    fate=${FATE[$i]}
    case $fate in
    killed | muxssh-killed | stopped-killed)
        killed=$((killed + 1))
        continue
        ;;
    esac
    rc='' t0='' t1=''
    read -r rc t0 t1 <"$R/$i.res" 2>/dev/null
    what="$i (${HOST[$i]} ${MODE[$i]}${fate:+, $fate})"
    if [ -z "$rc" ]; then
        bad="$bad $what: no result;"
        continue
    fi
    if [ "${MODE[$i]}" = deafpipe ]; then
        verified=$((verified + 1)) # it ended once its reader went away: all it must do
        continue
    fi
    err=$(cat "$R/$i.err" 2>/dev/null)
    want_err="done-$i"
    case ${MODE[$i]} in noread | ctrl-s) want_err= ;; esac
    if [ "$rc" = $((i % 5)) ] && [ "$(cat "$R/$i.out" 2>/dev/null)" = "${EXP[$i]}" ] && [ "$err" = "$want_err" ]; then
        verified=$((verified + 1))
    elif [ "$rc" = 255 ] && [ "${HOST[$i]}" != lab ] && [ -n "$err" ] && overlaps "${HOST[$i]}" "$t0" "$t1"; then
        server_failed=$((server_failed + 1))
    else
        bad="$bad $what: exit $rc (want $((i % 5))), $([ "$(cat "$R/$i.out" 2>/dev/null)" = "${EXP[$i]}" ] && echo "bytes right" || echo "bytes differ"), stderr $(head -c 200 "$R/$i.err" | tr '\r\n' '  ');"
    fi
done
ran=$((N - WARM))
stopped=$((STOPS))
echo "# sessions: $ran run in chaos ($WARM in warm-up), $killed killed on purpose ($KILLS SIGKILLed, $STOPKILLS killed while stopped), $stopped stopped ($CONTS continued), $verified verified, $server_failed failed with 255 on a server event, $PTYS on a terminal"
echo "# chaos: $TICKS turns in $DUR s; every session ended $(( $(now_ms) / 1000 - start_ms / 1000 - DUR )) s after the chaos"
echo "# broker CPU during the chaos: $(((${cpu1:-0} - ${cpu0:-0}) * 100 / $(getconf CLK_TCK) / DUR))% of one core"
echo "# broker loop thread during the chaos: $((run1 - run0)) ms on a CPU, $((wait1 - wait0)) ms runnable waiting for one; the control broker's: $((crun1 - crun0)) ms, $((cwait1 - cwait0)) ms"
# the longest the loop kept every client waiting (its own share of a slow probe)
echo "# broker $(as_user "$MUXSSH" --mux-status 2>/dev/null | grep '^loop: ')"
echo "# server: $STALLS relay stalls, $KILLED_CONNS lab-die connections killed, lab-die sshd killed whole and restarted $(grep -c 'sshd restarted' "$ACTIONS") times"
if [ -z "$bad" ] && [ "$verified" -gt 0 ]; then
    ok "sessions (every session not killed on purpose: bytes sha256-equal both ways, exit code, stderr)"
else
    notok sessions "$(echo "$bad" | cut -c1-1500)"
fi

# the probe: its worst excess over the idle control at the same moment
CH50=$(pct "$PROBES" 50)
CHMAX=$(pct "$PROBES" 100)
CTL50=$(pct "$PROBES" 50 3)
CTLMAX=$(pct "$PROBES" 100 3)
EX50=$(pct "$PROBES" 50 x)
EXMAX=$(pct "$PROBES" 100 x)
nprobe=$(wc -l <"$PROBES")
pfail=$(awk '$2 != 0 || $4 != 0' "$PROBES" | wc -l)
echo "# probe (ssh lab true): idle broker before the chaos: p50 $IDLE50 ms, max $IDLEMAX ms ($(wc -l <"$PROBES.idle") probes, their excess over the control: max $(pct "$PROBES.idle" 100 x) ms)"
echo "# probe under chaos: p50 ${CH50:-?} ms, max ${CHMAX:-?} ms ($nprobe probes, $pfail failed; max $((${CHMAX:-0} - IDLEMAX)) ms over the idle max); the idle control at the same moments: p50 ${CTL50:-?} ms, max ${CTLMAX:-?} ms; excess over the control: p50 ${EX50:-?} ms, max ${EXMAX:-?} ms (limit $LIMIT ms)"
echo "# probe under chaos, ms (control): $(awk '{ printf "%d(%d) ", $1, $3 }' "$PROBES")"
# what the chaos did while the worst probes ran
awk '{ print $1 - $3, $5 }' "$PROBES" | sort -rn | head -3 | while read -r ex t0; do
    [ "$ex" -gt "$LIMIT" ] || continue
    ms=$(awk -v t="$t0" '$5 == t { print $1 }' "$PROBES" | head -1)
    echo "# a probe of $ms ms, $ex ms over its control; what the chaos did from 5 s before it to its end: $(awk -v s="$t0" -v b=$((t0 + ms)) '$1 >= s - 5000 && $1 <= b && $2 != "start" { t = $1 - s; $1 = ""; printf "%+d ms%s; ", t, $0 }' "$ACTIONS" | cut -c1-700)"
done
if [ "$nprobe" -ge $((DUR / 3)) ] && [ "$pfail" = 0 ] && [ "${EXMAX:-0}" -le "$LIMIT" ]; then
    ok "probe (at most $EXMAX ms over an idle broker probed at the same moments; limit $LIMIT ms: $BOUND + this machine's noise $NOISE)"
else
    notok probe "$EXMAX ms over an idle broker probed at the same moment (limit $LIMIT ms: $BOUND + this machine's noise $NOISE; the probe's max $CHMAX ms, the control's $CTLMAX ms), $pfail of $nprobe probes failed $(head -c 300 "$PROBES.err" | tr '\n' ' ')"
fi

# recovery: each path serves again (the stalled and the dead connections were replaced)
bad=
for h in lab lab-stall lab-die; do
    out=$(echo "again-$h" | as_user timeout -k 2 60 ssh "$h" 'cat; exit 3' 2>"$T/again.err")
    rc=$?
    [ "$rc" = 3 ] && [ "$out" = "again-$h" ] && [ ! -s "$T/again.err" ] ||
        bad="$bad $h: exit $rc, out $out, err $(head -c 200 "$T/again.err") ($((($(now_ms) - $(awk -v h="$h" '$1 == h { t = $3 } END { print t + 0 }' "$EVENTS")) / 1000)) s after the end of its server's last event);"
done
verdict recovered "$bad" "recovered (lab, lab-stall and lab-die serve again)"

# the broker
now_bp=$(broker_pid)
if [ "$now_bp" = "$BP" ] && kill -0 "$BP" 2>/dev/null; then
    ok "broker-alive (pid $BP throughout)"
else
    notok broker-alive "broker $BP at the start, now ${now_bp:-none} ($(kill -0 "$BP" 2>/dev/null && echo alive || echo gone))"
fi
# fds: back to the warm-up count once the sessions are gone (a few seconds for the broker
# to notice dead connections and close them)
for _ in $(seq 1 50); do
    [ "$(fd_count "$BP")" -le "$FD0" ] && break
    sleep 0.2
done
FD1=$(fd_count "$BP")
RSS1=$(rss_kb "$BP")
HEAP1=$(heap_kb)
echo "# broker RSS: $RSS0 KiB after warm-up ($MEM0), ${RSS1:-?} KiB at the end ($(mem_detail "$BP"))"
echo "# broker fds: $FD0 after warm-up, $FD1 at the end; heap in use but the ssh -G cache: ${HEAP0:-?} KiB after warm-up, ${HEAP1:-?} KiB at the end (slack $SLACK KiB)"
if [ "$FD1" = "$FD0" ]; then
    ok "broker-fds ($FD0 after warm-up, $FD1 at the end)"
else
    notok broker-fds "$FD0 after warm-up, $FD1 at the end: $(find "/proc/$BP/fd" -mindepth 1 -printf '%l\n' 2>/dev/null | sed 's/:.*//' | sort | uniq -c | tr -s ' \n' ' ')"
fi
if [ -n "$SANITIZED" ]; then
    skip broker-heap "ASan's allocator is not glibc's: the status cannot see into it"
elif [ -n "$HEAP0" ] && [ -n "$HEAP1" ] && [ "$HEAP1" -le $((HEAP0 + SLACK)) ]; then
    ok "broker-heap (${HEAP0} KiB in use after warm-up, $HEAP1 KiB at the end, slack $SLACK KiB)"
else
    notok broker-heap "${HEAP0:-?} KiB in use after warm-up, ${HEAP1:-?} KiB at the end (slack $SLACK KiB)"
fi
# counters: everything verified was served, none handed to ssh
read -r s1 h1 <<<"$(counters_port "$PORT")"
read -r s2 h2 <<<"$(counters_port "$RELAY_PORT")"
read -r s3 h3 <<<"$(counters_port "$DPORT")"
read -r s4 h4 <<<"$(counters_port "$PPORT")"
served=$((s1 + s2 + s3 + s4)) handed=$((h1 + h2 + h3 + h4))
want=$((WARM + 1 + verified + nprobe + 3))
echo "# broker counters: served $served (lab $s1, lab-stall $s2, lab-die $s3, lab-probe $s4), handed to ssh $handed; sessions that needed serving at least $want"
if [ "$handed" = 0 ] && [ "$served" -ge "$want" ]; then
    ok "counters (served $served, handed to ssh 0)"
else
    notok counters "served $served (want $want or more), handed to ssh $handed"
    # why: the status's reasons and what the broker logged of connections that failed
    as_user "$MUXSSH" --mux-status 2>/dev/null | grep -E 'handed to ssh [1-9]' | sed 's/^/#   /'
    grep -E 'failed|corrupt|refus' "$RT/broker.log" 2>/dev/null | tail -20 | sed 's/^/#   log: /'
fi

# the end: the broker stopped as a user's would be (SIGTERM: leaks at exit are reported),
# then the servers; nothing of the suite's may be left, and no sanitizer may have spoken
kill -TERM "$BP" "$BP2" 2>/dev/null
for _ in $(seq 1 100); do kill -0 "$BP" 2>/dev/null || kill -0 "$BP2" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$BP" 2>/dev/null; then
    notok broker-stops "the broker did not exit within 10 s of SIGTERM"
    kill -KILL "$BP"
fi
kill "$RELAY_PID" 2>/dev/null
sshd_stop "$T/s"
sshd_stop "$T/d"
sshd_stop "$T/ps"
RELAY_PID=
for _ in $(seq 1 50); do
    [ -z "$(ps -o pid= -u "$U")" ] && break
    sleep 0.1
done
left=$(ps -o pid=,args= -u "$U" 2>/dev/null; pgrep -af "$T/" | grep -v "^$$ ")
if [ -z "$left" ]; then
    ok "nothing-left (no process of $U, nothing running from $T)"
else
    notok nothing-left "$(echo "$left" | head -5 | tr -s '\n ' '; ')"
fi
reports=()
for p in $(san_prefixes); do
    for f in "$p".*; do
        [ -f "$f" ] && [ "$f" -nt "$T/start" ] && reports+=("$f")
    done
done
if [ "${#reports[@]}" = 0 ]; then
    ok "no-sanitizer-report"
else
    notok no-sanitizer-report "${#reports[@]} reports: ${reports[*]}"
    for f in "${reports[@]}"; do head -30 "$f" | sed 's/^/#   /'; done
fi
[ "$failures" -eq 0 ]
