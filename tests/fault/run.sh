#!/bin/bash
# Fault injection against OpenSSH's real sshd on loopback: the broker killed, the server
# killed, a stalled network (tests/tools/relay), a client killed mid-session, another
# local user, a changed host key, malformed protocol frames (tests/tools/wire), hostile
# argv, bad ssh_config, a full disk under the runtime directory, a server with
# MaxSessions 2 (the pool grows), 100 MB both ways under concurrent sessions, a client
# that does not read (stall.sh), and a corrupted link through a ProxyCommand (corrupt.sh).
#
# The client side (every ssh and muxssh) runs as a test account with its own home and
# ~/.ssh/config (Host mux-test, and mux-test2 for the MaxSessions 2 server), no -F (but in
# the cases about a bad -F file), and this machine's /etc/ssh/ssh_config; the sshds log in
# as that account too. Where sessions are expected to be served, the broker's counters
# must say it served them and handed none to ssh.
#
# Time bounds here are hang detectors taken from the behaviour required (a session must
# not outlive a dead broker by more than 1 s, nor a stall by more than the keepalive
# window); speed is measured in `make bench`, not here.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
LIB=$B/libmuxshim.so
WIRE=$B/tests/tools/wire
RELAY=$B/tests/tools/relay
# shellcheck source=../../scripts/lib-sshd.sh
. "$ROOT/scripts/lib-sshd.sh"

T=$(mktemp -d /tmp/muxshim-fault-XXXXXX)
chmod 711 "$T"
export MUXSHIM_DIR=$T/run MUXSHIM_PERSIST=600
unset LD_PRELOAD MUXSHIM_DISABLE MUXSHIM_GUARD MUXSHIM_REAL_SSH SSH_AUTH_SOCK
# As root, the client side runs as a test account whose shell reads no profile (under 20
# concurrent logins, root's login profile can print to stderr, and the checks below count
# stderr lines), and the sshds log in as it; as anyone else, as that user.
suite_account "$T/home" || exit 1
mkdir -m 700 "$MUXSHIM_DIR"
chown "$U" "$MUXSHIM_DIR"
RELAY_PID=
MARK=60.$$ # remote `sleep $MARK`: unique, so the leftovers can be found and ended

cleanup() {
    local pid
    pid=$(cat "$MUXSHIM_DIR/broker.lock" 2>/dev/null) && kill "$pid" 2>/dev/null
    [ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null
    pkill -u "$U" -f "sleep $MARK" 2>/dev/null
    mountpoint -q "$T/full" 2>/dev/null && {
        pid=$(cat "$T/full/broker.lock" 2>/dev/null) && kill "$pid" 2>/dev/null
        umount -l "$T/full"
    }
    sshd_stop "$T/s"
    sshd_stop "$T/s2"
    rm -rf "$T"
}
trap cleanup EXIT

SSHD_USER=$U sshd_start "$T/s" >/dev/null || exit 1
PORT=$SSHD_PORT
# A server that takes two sessions per connection (the pool case below).
SSHD_USER=$U SSHD_MAXSESSIONS=2 sshd_start "$T/s2" >/dev/null || exit 1
# The account's own ~/.ssh/config: the Host entry sshd_start wrote for each server (its
# key, known_hosts, BatchMode), as mux-test and mux-test2.
H=$(getent passwd "$U" | cut -d: -f6)
CFG=$H/.ssh/config # for the cases about a bad -F file, which Include it
export CFG
mkdir -p "$H/.ssh"
{
    cat "$T/s/ssh_config"
    sed 's/^Host mux-test$/Host mux-test2/' "$T/s2/ssh_config"
} >"$CFG"
chown "$U" "$H/.ssh" "$CFG" "$T/s/id_ed25519" "$T/s2/id_ed25519"
chmod 600 "$CFG"
mkdir -m 1777 "$T/rw" # where remote commands (as that account) may write

SUITE=fault
# shellcheck source=../lib-cases.sh
. "$ROOT/tests/lib-cases.sh"

mssh() { as_u env LD_PRELOAD="$LIB" ssh "$@"; }
# counters: the broker's "SERVED HANDED" (all hosts) for the runtime directory $MUXSHIM_DIR.
counters() { broker_counters "$B/muxssh" "$MUXSHIM_DIR" "$U"; }
# mark: "SERVED HANDED BROKER_PID", for served_since.
mark() { echo "$(counters) $(broker_pid)"; }
# served_since MARK MIN: what is wrong, if anything, with the counters since MARK: want at
# least MIN served and none handed to ssh. A broker that has started since then (one that
# holds nothing stops after 2 s, as when the server was killed) counts from zero.
served_since() {
    local now s0 h0 p0 s h
    read -r s0 h0 p0 <<<"$1"
    [ "$(broker_pid)" = "$p0" ] || { s0=0; h0=0; }
    now=$(counters)
    s=$((${now% *} - s0))
    h=$((${now#* } - h0))
    [ "$s" -ge "$2" ] && [ "$h" -eq 0 ] ||
        echo " broker served $s sessions (want $2 or more), handed $h to ssh ($(broker_handed_why "$B/muxssh" "$MUXSHIM_DIR" "$U"));"
}
now_ms() { date +%s%3N; }
broker_pid() { cat "$MUXSHIM_DIR/broker.lock" 2>/dev/null; }
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# wait_for FILE... : until each file has a line (remote sessions said "started"), 20 s at most
wait_for() {
    local i f all
    for i in $(seq 1 400); do
        all=1
        for f in "$@"; do [ -s "$f" ] || all=0; done
        [ "$all" = 1 ] && return 0
        sleep 0.05
    done
    return 1
}
hex() { printf "$(echo "$1" | sed 's/../\\x&/g')"; }
frame() { hex "$(printf %08x $((${#1} / 2)))$1"; } # frame BODY_HEX
PV=$(awk '/^#define PROTO_VERSION/ { print $3 }' "$ROOT/broker/proto/proto.h")
HELLO=01$(printf '%08x' "$PV")0000000100000000 # version PV, pid 1, flags 0
p_hello() { frame "$HELLO"; }
one_line() { [ "$(wc -l <"$1")" -eq 1 ]; }

# Start N background sessions `echo started; sleep $MARK` with extra ssh options; their
# outputs go to $T/PREFIX.{out,err,rc,t}.I and their pids to the array BG.
start_sleepers() {
    local prefix=$1 n=$2 i
    shift 2
    BG=()
    for i in $(seq 1 "$n"); do
        (
            mssh "$@" mux-test "echo started; sleep $MARK" \
                >"$T/$prefix.out.$i" 2>"$T/$prefix.err.$i" </dev/null
            echo $? >"$T/$prefix.rc.$i"
            now_ms >"$T/$prefix.t.$i"
        ) &
        BG+=($!)
    done
    local outs=()
    for i in $(seq 1 "$n"); do outs+=("$T/$prefix.out.$i"); done
    wait_for "${outs[@]}"
}

# check_ended PREFIX N T0 MAX_MS ERR_REGEX: every session exited 255, within MAX_MS of T0,
# with exactly one stderr line matching ERR_REGEX. Prints the slowest delay, then what is
# wrong, if anything.
check_ended() {
    local prefix=$1 n=$2 t0=$3 max=$4 re=$5 i worst=0 d bad=
    for i in $(seq 1 "$n"); do
        [ "$(cat "$T/$prefix.rc.$i" 2>/dev/null)" = 255 ] ||
            bad="$bad session $i exit $(cat "$T/$prefix.rc.$i" 2>/dev/null);"
        grep -Eq "$re" "$T/$prefix.err.$i" && one_line "$T/$prefix.err.$i" ||
            bad="$bad session $i stderr: $(tr '\r\n' '  ' <"$T/$prefix.err.$i");"
        d=$(($(cat "$T/$prefix.t.$i" 2>/dev/null || echo 0) - t0))
        [ "$d" -gt "$worst" ] && worst=$d
    done
    [ "$worst" -le "$max" ] || bad="$bad the last one ended ${worst} ms after the fault;"
    echo "$worst $bad"
}
# ended PREFIX N T0 MAX_MS ERR_REGEX: check_ended, setting WORST and bad.
ended() {
    local r
    r=$(check_ended "$@")
    WORST=${r%% *}
    bad=${r#* }
}

# --- the broker killed with 20 sessions in flight ---------------------------------------
# 1 s; under the sanitizers 3 s, as each of the 20 muxssh runs LeakSanitizer as it exits.
KILL_MS=1000
case "$B" in */san-*) KILL_MS=3000 ;; esac
mssh mux-test true
start_sleepers bk 20 || notok "broker-sigkill" "sessions did not start"
served=$(counters) # (all 21 served by the broker about to be killed)
bp=$(broker_pid)
t0=$(now_ms)
kill -KILL "$bp"
wait "${BG[@]}"
ended bk 20 "$t0" "$KILL_MS" '^muxssh: lost the broker'
[ "${served% *}" -ge 21 ] && [ "${served#* }" = 0 ] ||
    bad="$bad the old broker served ${served% *} sessions (want 21), handed ${served#* } to ssh;"
out=$(mssh mux-test echo next 2>&1)
np=$(broker_pid)
[ "$out" = next ] || bad="$bad next session said: $out;"
bad="$bad$(served_since "0 0 $np" 1)" # the new broker's own counters
[ -n "$np" ] && [ "$np" != "$bp" ] && kill -0 "$np" 2>/dev/null || bad="$bad no new broker;"
verdict "broker-sigkill" "$bad" "broker-sigkill (20 sessions exited 255 within $WORST ms; a new broker took over)"

# --- the server side of the shared connection killed -----------------------------------
descendants() {
    local c
    for c in $(pgrep -P "$1"); do
        echo "$c"
        descendants "$c"
    done
}
kill_server_side() { kill -KILL $(descendants "$(cat "$T/s/sshd.bgpid")") 2>/dev/null; }
c0=$(sshd_connections "$T/s")
n0=$(mark)
start_sleepers sk 3 || notok "server-killed" "sessions did not start"
served=$(served_since "$n0" 3) # (before the broker, once it holds nothing, may stop)
n0=$(mark)
t0=$(now_ms)
kill_server_side
wait "${BG[@]}"
ended sk 3 "$t0" 5000 '^Connection to 127\.0\.0\.1 closed by remote host\.'
out=$(mssh mux-test echo reconnected 2>&1)
[ "$out" = reconnected ] || bad="$bad next session said: $out;"
c1=$(sshd_connections "$T/s")
[ "$c1" -eq $((c0 + 1)) ] || bad="$bad server saw $((c1 - c0)) new connections, want 1;"
bad="$bad$served$(served_since "$n0" 1)"
verdict "server-killed" "$bad" "server-killed (sessions exited 255 within $WORST ms; the next one reconnected)"
# Killed while idle: the next session must not be handed the dead connection.
n0=$(mark)
kill_server_side
sleep 0.3
out=$(mssh mux-test echo after-idle-kill 2>&1)
rc=$?
bad=$(served_since "$n0" 1)
if [ "$out" = after-idle-kill ] && [ "$rc" = 0 ] && [ -z "$bad" ]; then
    ok "server-killed-idle"
else
    notok "server-killed-idle" "exit $rc: $out;$bad"
fi

# --- a network stall: the relay stops forwarding, the TCP connection stays open ----------
sshd_relay "$T/s" "$RELAY" || notok "stall" "the relay did not start"
ALIVE=(-o Port="$RELAY_PORT" -o ServerAliveInterval=1 -o ServerAliveCountMax=3) # window 3 s
n0=$(mark)
mssh "${ALIVE[@]}" mux-test true
start_sleepers st 2 "${ALIVE[@]}" || notok "stall" "sessions did not start"
t0=$(now_ms)
kill -USR1 "$RELAY_PID" # stalls the connections it carries; new ones still pass
# A session that starts in the very instant of the stall cannot tell, and ends like the
# running ones; one that starts later than ServerAliveInterval after the server last spoke
# probes first and goes to a new connection.
sleep 1.2
t1=$(now_ms)
out=$(mssh "${ALIVE[@]}" mux-test echo after-stall 2>&1)
t_new=$(($(now_ms) - t1))
wait "${BG[@]}"
ended st 2 "$t0" 6000 '^Timeout, server 127\.0\.0\.1 not responding\.'
[ "$out" = after-stall ] || bad="$bad new session said: $out;"
[ "$t_new" -le 6000 ] || bad="$bad new session took $t_new ms;"
bad="$bad$(served_since "$n0" 4)"
verdict "stall" "$bad" "stall (window 3 s: running sessions ended after $WORST ms; a new one finished in $t_new ms)"

# Idle longer than ServerAliveInterval, then stalled: the probe before reuse finds it.
n0=$(mark)
mssh "${ALIVE[@]}" mux-test true
sleep 2.5
kill -USR1 "$RELAY_PID"
t0=$(now_ms)
out=$(mssh "${ALIVE[@]}" mux-test echo probed 2>&1)
d=$(($(now_ms) - t0))
bad=$(served_since "$n0" 2)
if [ "$out" = probed ] && [ "$d" -le 6000 ] && [ -z "$bad" ]; then
    ok "stall-after-idle (probe unanswered: served on a new connection in $d ms)"
else
    notok "stall-after-idle" "$d ms: $out;$bad"
fi

# The same without ServerAlive options: muxshim's own window (at most 15 s).
DEF=(-o Port="$RELAY_PORT")
n0=$(mark)
mssh "${DEF[@]}" mux-test true
sleep 6 # longer than the default probe interval (5 s)
kill -USR1 "$RELAY_PID"
t0=$(now_ms)
out=$(mssh "${DEF[@]}" mux-test echo default-window 2>&1)
d=$(($(now_ms) - t0))
bad=$(served_since "$n0" 2)
if [ "$out" = default-window ] && [ "$d" -le 15000 ] && [ -z "$bad" ]; then
    ok "stall-default-window (served in $d ms)"
else
    notok "stall-default-window" "$d ms: $out;$bad"
fi
kill "$RELAY_PID"
RELAY_PID=

# --- servers that accept and then say nothing (tests/fault/silent.sh) -------------------
# shellcheck source=silent.sh
. "$ROOT/tests/fault/silent.sh"

# --- a client killed mid-session --------------------------------------------------------
mssh mux-test true
bp=$(broker_pid)
# Connections that ended above may still be closing: wait for a steady fd count.
fd0=$(fd_count "$bp")
for i in $(seq 1 20); do
    sleep 0.3
    f=$(fd_count "$bp")
    [ "$f" = "$fd0" ] && break
    fd0=$f
done
closes0=$(grep -c "Close session" "$T/s/sshd.log")
c0=$(sshd_connections "$T/s")
n0=$(mark)
(mssh mux-test 'echo started; sleep 2; echo A-done' >"$T/ck.a" 2>&1) &
pa=$!
(head -c 20000000 /dev/zero | mssh mux-test 'echo started >&2; wc -c' >"$T/ck.b" 2>&1) &
pb=$!
as_u "$B/muxssh" mux-test 'echo started; exec cat >/dev/null' >"$T/ck.v" 2>&1 < <(exec sleep 100.$$) &
pv=$! # (the subshell that runs as_u: muxssh is its child)
disown "$pv" # killed below on purpose: no job notice
wait_for "$T/ck.a" "$T/ck.v"
victim=$(pgrep -u "$U" -P "$pv" -f "muxssh mux-test echo started; exec cat")
[ -n "$victim" ] && kill -KILL "$victim"
wait "$pa" "$pb"
bad=
[ -n "$victim" ] || bad="$bad no muxssh process to kill;"
for i in $(seq 1 100); do
    [ "$(fd_count "$bp")" -le "$fd0" ] && [ "$(grep -c "Close session" "$T/s/sshd.log")" -ge $((closes0 + 3)) ] && break
    sleep 0.05
done
[ "$(fd_count "$bp")" -le "$fd0" ] || bad="$bad broker fds $fd0 before, $(fd_count "$bp") after;"
[ "$(grep -c "Close session" "$T/s/sshd.log")" -ge $((closes0 + 3)) ] || bad="$bad the killed client's channel is still open;"
[ "$(cat "$T/ck.a")" = "started
A-done" ] || bad="$bad other session: $(cat "$T/ck.a");"
[ "$(cat "$T/ck.b")" = "started
20000000" ] || bad="$bad upload: $(cat "$T/ck.b");"
[ "$(sshd_connections "$T/s")" = "$c0" ] || bad="$bad a new connection was opened;"
[ "$(broker_pid)" = "$bp" ] || bad="$bad the broker changed;"
bad="$bad$(served_since "$n0" 3)"
pkill -f "sleep 100.$$" 2>/dev/null
verdict "client-killed" "$bad" "client-killed (channel closed, other sessions unaffected, broker fds back to $fd0)"

# --- 40 sessions, 20 of their muxssh SIGKILLed at random moments -----------------------
# Kills land while ssh -G runs, while a session waits for its channel, as STARTED or EXIT
# is sent, and mid-session: the broker must end each killed client's session, channel and
# fds (it once kept 3 fds for good), and serve the other 20 as usual. 40 sessions need more
# than one connection (MaxSessions 10): the pool may keep one more, persisted, so its TCP
# sockets are not counted.
tcp_count() { ss -Htnp state established 2>/dev/null | grep -c "pid=$1,"; }
own_fds() { echo $(($(fd_count "$1") - $(tcp_count "$1"))); }
mssh mux-test true
bp=$(broker_pid)
fd0=$(own_fds "$bp")
for i in $(seq 1 20); do
    sleep 0.3
    f=$(own_fds "$bp")
    [ "$f" = "$fd0" ] && break
    fd0=$f
done
n0=$(mark)
RK=()
for i in $(seq 1 40); do
    rm -f "$T/rw/rk.pid.$i"
    (
        # shellcheck disable=SC2016 # expanded by the inner sh
        as_u sh -c 'echo $$ >"$1.tmp" && mv "$1.tmp" "$1" && exec "$2" mux-test "$3"' sh \
            "$T/rw/rk.pid.$i" "$B/muxssh" "echo started; sleep 2; echo done-$i" \
            >"$T/rk.out.$i" 2>"$T/rk.err.$i" </dev/null
        echo $? >"$T/rk.rc.$i"
    ) &
    RK+=($!)
    if [ $((i % 2)) = 0 ]; then
        ( # the victim: killed 0-2.5 s from now, whatever it is doing then
            sleep "$((RANDOM % 2500 / 1000)).$(printf %03d $((RANDOM % 1000)))"
            for _ in $(seq 1 200); do [ -s "$T/rw/rk.pid.$i" ] && break; sleep 0.01; done
            kill -KILL "$(cat "$T/rw/rk.pid.$i")" 2>/dev/null
        ) &
        RK+=($!)
    fi
done
wait "${RK[@]}"
bad=
killed=0
for i in $(seq 1 40); do
    if [ $((i % 2)) = 0 ]; then
        [ "$(cat "$T/rk.rc.$i")" = 137 ] && killed=$((killed + 1))
    elif [ "$(cat "$T/rk.rc.$i")" != 0 ] || [ "$(cat "$T/rk.out.$i")" != "started
done-$i" ]; then
        bad="$bad session $i exit $(cat "$T/rk.rc.$i"): $(tr '\r\n' '  ' <"$T/rk.out.$i") $(tr '\r\n' '  ' <"$T/rk.err.$i");"
    fi
done
[ "$killed" -ge 15 ] || bad="$bad only $killed of 20 clients died of the kill;"
for i in $(seq 1 200); do
    [ "$(own_fds "$bp")" -le "$fd0" ] && break
    sleep 0.05
done
[ "$(own_fds "$bp")" -le "$fd0" ] || bad="$bad broker fds $fd0 before, $(own_fds "$bp") after (connections not counted): $(ls -l "/proc/$bp/fd" | awk 'NR > 1 {print $NF}' | sort | uniq -c | tr '\n' ' ');"
[ "$(broker_pid)" = "$bp" ] || bad="$bad the broker changed;"
bad="$bad$(served_since "$n0" 20)"
out=$(mssh mux-test echo after-kills 2>&1)
[ "$out" = after-kills ] || bad="$bad next session said: $out;"
verdict "random-client-kills" "$bad" "random-client-kills (20 of 40 killed, 20 served, broker fds back to $fd0 besides $(tcp_count "$bp") connections)"

# --- other users and the runtime directory ----------------------------------------------
mode=$(stat -c %a "$MUXSHIM_DIR")
[ "$mode" = 700 ] && ok "runtime-dir-0700" || notok "runtime-dir-0700" "mode $mode"
if [ "$(id -u)" -ne 0 ]; then
    skip "other-user-refused" "needs root to create a second account"
    skip "runtime-dir-wrong-owner" "needs root to chown"
elif [ "$U" = muxother ]; then
    skip "other-user-refused" "the client account is muxother itself"
    skip "runtime-dir-wrong-owner" "the client account is muxother itself"
else
    id muxother >/dev/null 2>&1 || useradd -M -d /nonexistent -s /usr/sbin/nologin muxother
    OTHER=$(id -u muxother)
    # Open the way for a moment so that only SO_PEERCRED stands between them and the broker.
    chmod 711 "$T" "$MUXSHIM_DIR"
    chmod 777 "$MUXSHIM_DIR/broker.sock"
    # (the broker may close before the HELLO is sent: "send failed" is not part of the answer)
    got=$(p_hello | runuser -u muxother -- "$WIRE" -w 2000 "$MUXSHIM_DIR/broker.sock" 2>&1 |
        grep -v '^send failed')
    mine=$(p_hello | as_u "$WIRE" -w 500 "$MUXSHIM_DIR/broker.sock" 2>&1)
    chmod 711 "$T" # as sshd_start left it: the login account reads its keys below
    chmod 700 "$MUXSHIM_DIR"
    chmod 700 "$MUXSHIM_DIR/broker.sock"
    if [ "$got" = eof ] && [ "$mine" = "HELLO
open" ] && grep -q "refused a connection from uid $OTHER" "$MUXSHIM_DIR/broker.log"; then
        ok "other-user-refused (uid $OTHER got no HELLO; the owner did)"
    else
        notok "other-user-refused" "other: $(echo $got), owner: $(echo $mine)"
    fi
    # A runtime directory of another account than the client's.
    mkdir -m 700 "$T/theirs"
    chown muxother "$T/theirs"
    out=$(MUXSHIM_DIR=$T/theirs mssh mux-test echo real-ssh-ran 2>"$T/wo.err")
    if [ "$out" = real-ssh-ran ] && one_line "$T/wo.err" &&
        grep -q "^muxssh: runtime directory $T/theirs is owned by uid $OTHER" "$T/wo.err" &&
        [ -z "$(ls -A "$T/theirs")" ]; then
        ok "runtime-dir-wrong-owner"
    else
        notok "runtime-dir-wrong-owner" "out: $out, err: $(cat "$T/wo.err")"
    fi
    # An impostor: broker.sock in the account's own runtime directory served by another
    # account, which records what it receives and answers nothing. muxssh must not send it a
    # byte (SO_PEERCRED), say why in one line and run the real ssh, with no ControlPath.
    mkdir -m 700 "$T/imp"
    chown "$U" "$T/imp"
    impostor_start "$T/imp" muxother
    out=$(MUXSHIM_DIR=$T/imp as_u timeout 60 env LD_PRELOAD="$LIB" ssh mux-test echo real-ssh-ran \
        2>"$T/imp.err")
    rc=$?
    got=$(impostor_got)
    kill "$IMPOSTOR_PID" 2>/dev/null
    if [ "$rc" = 0 ] && [ "$out" = real-ssh-ran ] && one_line "$T/imp.err" &&
        grep -q "^muxssh: $T/imp/broker.sock is served by uid $OTHER, not by uid $(id -u "$U")\$" \
            "$T/imp.err" && [ "${got#* }" = 0 ] && [ "${got% *}" -ge 1 ] &&
        [ "$(ls -A "$T/imp")" = broker.sock ]; then
        ok "impostor-socket-gets-nothing (uid $OTHER accepted ${got% *} connection(s), received 0 bytes; the real ssh ran)"
    else
        notok "impostor-socket-gets-nothing" "rc $rc, out: $out, err: $(cat "$T/imp.err"), impostor got (connections bytes): $got, dir: $(ls -A "$T/imp" | tr '\n' ' ')"
    fi
fi

# A relative MUXSHIM_DIR: relative to each program's own directory, and the broker enters
# it. muxssh says so in one line and runs the real ssh; muxbroker and muxrun refuse it.
out=$(cd "$T/rw" && MUXSHIM_DIR=rel mssh mux-test echo real-ssh-ran 2>"$T/rel.err")
rc=$?
if [ "$rc" = 0 ] && [ "$out" = real-ssh-ran ] && one_line "$T/rel.err" &&
    grep -q "^muxssh: MUXSHIM_DIR is not an absolute path: rel\$" "$T/rel.err" &&
    [ ! -e "$T/rw/rel" ]; then
    ok "relative-runtime-dir-refused"
else
    notok "relative-runtime-dir-refused" "rc $rc, out: $out, err: $(cat "$T/rel.err")"
fi
(cd "$T/rw" && MUXSHIM_DIR=rel as_u "$B/muxbroker" --ready-fd 3 3>"$T/rel.word")
rc=$?
word=$(cat "$T/rel.word")
MUXSHIM_DIR=rel "$ROOT/scripts/muxrun" status >"$T/relrun.out" 2>&1
rrc=$?
if [ "$rc" = 1 ] && [ "$word" = "error: MUXSHIM_DIR is not an absolute path: rel" ] &&
    [ ! -e "$T/rw/rel" ] && [ "$rrc" = 2 ] &&
    [ "$(cat "$T/relrun.out")" = "muxrun: MUXSHIM_DIR is not an absolute path: rel" ]; then
    ok "relative-runtime-dir-broker-and-muxrun-refuse"
else
    notok "relative-runtime-dir-broker-and-muxrun-refuse" "broker rc $rc: $word; muxrun rc $rrc: $(cat "$T/relrun.out")"
fi
# A symbolic link as the runtime directory (to the account's own, working one): refused.
ln -s "$MUXSHIM_DIR" "$T/rtlink"
before=$(counters)
out=$(MUXSHIM_DIR=$T/rtlink mssh mux-test echo real-ssh-ran 2>"$T/link.err")
rc=$?
if [ "$rc" = 0 ] && [ "$out" = real-ssh-ran ] && one_line "$T/link.err" &&
    grep -q "^muxssh: runtime directory $T/rtlink is a symbolic link\$" "$T/link.err" &&
    [ "$(counters)" = "$before" ]; then
    ok "symlinked-runtime-dir-refused"
else
    notok "symlinked-runtime-dir-refused" "rc $rc, out: $out, err: $(cat "$T/link.err"), counters $before -> $(counters)"
fi

# --- differential cases: the same snippet with plain ssh and through the shim -----------
# dcase NAME SNIPPET [served|handed|any]: stdout, stderr and exit code must be equal; $D is
# a fresh directory, owned by the account, that both sides run in. By default the broker
# must have served at least one session of the shim's side and handed none to ssh;
# "handed": at least one went to the real ssh; "any": no expectation (errors before any
# session).
dcase() {
    local want=${3:-served} side before after served handed
    for side in plain mux; do
        rm -rf "$T/d"
        mkdir -p "$T/d"
        chown "$U" "$T/d"
        local pre=(env)
        [ "$side" = mux ] && pre=(env "LD_PRELOAD=$LIB") && before=$(counters)
        (cd "$T/d" && D=$T/d as_u timeout -k 5 300 "${pre[@]}" bash -c "$2" \
            >"$T/$side.out" 2>"$T/$side.err" </dev/null)
        echo $? >"$T/$side.rc"
    done
    after=$(counters)
    served=$((${after% *} - ${before% *}))
    handed=$((${after#* } - ${before#* }))
    if { [ "$want" = served ] && { [ "$served" -lt 1 ] || [ "$handed" -ne 0 ]; }; } ||
        { [ "$want" = handed ] && [ "$handed" -lt 1 ]; }; then
        notok "$1" "want $want: served $served, handed to ssh $handed; $(grep -h 'muxshim' "$T/mux.err" | head -2 | tr '\n' ' ')"
        return
    fi
    compare_sides "$1"
}

# A changed host key: OpenSSH's warning (the broker hands the session to ssh, which says
# it), and the remote command never runs.
ssh-keygen -q -t ed25519 -N '' -f "$T/impostor"
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1-2 "$T/impostor.pub")" >"$T/changed_kh"
dcase "changed-host-key" "ssh -o UserKnownHostsFile=$T/changed_kh mux-test touch \$D/ran; echo rc=\$?; ls \$D" handed
grep -q "REMOTE HOST IDENTIFICATION HAS CHANGED" "$T/mux.err" && [ ! -e "$T/d/ran" ] ||
    notok "changed-host-key-warning" "$(head -3 "$T/mux.err")"

# Hostile argv.
dcase "argv-5000-words" 'ssh mux-test echo $(seq 1 5000) | sha256sum'
dcase "argv-binary-bytes" "ssh mux-test printf '%s|' \$'\\x01\\x02\\x7f\\xfe\\xff' \$'a\\nb' '' | od -An -tx1"
dcase "argv-200k-word" 'ssh mux-test echo $(head -c 200000 /dev/zero | tr "\0" a) | wc -c' any
dcase "argv-300k-word" 'ssh mux-test echo $(head -c 300000 /dev/zero | tr "\0" b) | wc -c' any
dcase "argv-3000-options" 'ssh $(for i in $(seq 3000); do printf -- "-oServerAliveCountMax=3 "; done) mux-test echo many'
dcase "argv-unknown-option" 'ssh -Z mux-test true' any
dcase "argv-missing-argument" 'ssh mux-test -p' any
dcase "argv-dash-words" 'ssh mux-test echo -v -p 5 -- -x'

# Bad ssh_config.
# (-F on purpose here; the files that Include a config Include the account's ~/.ssh/config)
dcase "config-garbage" "printf 'Host *\\n  NoSuchKeyword yes\\n\\x01\\xff\\n' >bad.cfg; ssh -F bad.cfg mux-test true" handed
# (muxssh hands a directory to ssh itself: the broker never hears of it)
dcase "config-directory" 'ssh -F "$D" mux-test true' any
dcase "config-bad-value" 'printf "Include %s\nHost mux-test\n Port seventy\n" "$CFG" >bad.cfg; ssh -F bad.cfg mux-test true' handed
dcase "config-long-line" 'printf "Include %s\n# %s\n" "$CFG" "$(head -c 100000 /dev/zero | tr "\0" x)" >long.cfg; ssh -F long.cfg mux-test echo long-ok'
if [ "$(id -u "$U")" -ne 0 ]; then
    dcase "config-unreadable" 'cp "$CFG" u.cfg && chmod 000 u.cfg && ssh -F u.cfg mux-test true' handed
else
    skip "config-unreadable" "root reads any file"
fi

# --- malformed protocol frames: one-line ERROR, closed, the broker carries on -----------
SOCK=$MUXSHIM_DIR/broker.sock
mssh mux-test true
bp=$(broker_pid)
n0=$(mark)
OPEN_BODY=02$(printf '%08x' 0)$(printf '%08x' 0)$(printf '%08x' 0)$(printf '%08x' 0)$(printf '%08x' 0)$(printf '%08x' 0)00000000
# pcase NAME EXPECTED_REGEX BYTES_FUNCTION [wire options]
pcase() {
    local name=$1 want=$2 gen=$3
    shift 3
    local got
    # (the broker may close before all is sent: "send failed" is not part of the answer)
    got=$($gen | as_u "$WIRE" "$@" -w 2000 "$SOCK" 2>&1 | grep -v '^send failed' | tr '\n' '|')
    if echo "$got" | grep -Eq "^($want)$"; then
        ok "proto-$name"
    else
        notok "proto-$name" "got: $got"
    fi
}
p_garbage() { printf 'GET / HTTP/1.0\r\n\r\n'; }
p_oversized() { hex 00100000; hex 01; }
p_zero() { hex 00000000; }
p_unknown() { frame 63; }
p_truncated_field() { frame 0100; }
p_trailing() { frame "${HELLO}ff"; }
p_version() { frame 01000000010000000100000000; }
p_not_hello_first() { frame "$OPEN_BODY"; }
p_second_hello() { frame "$HELLO"; frame "$HELLO"; }
p_open_no_fds() { frame "$HELLO"; frame "$OPEN_BODY"; }
p_fds_with_hello() { frame "$HELLO"; }
p_out_of_order() { frame "$HELLO"; frame 08000000000000000000000000; }
p_list_over_limit() { frame "$HELLO"; frame 020000000000000000ffffffff; }
p_str_past_end() { frame "$HELLO"; frame 05000000ff6162; }
p_nul_in_str() { frame "$HELLO"; frame 0500000003610062; }
p_partial_then_close() { hex 0000006401020304; }
E='HELLO\|' # the broker's answer to a good HELLO
pcase garbage 'ERROR 3 frame size out of range\|eof\|' p_garbage
pcase oversized 'ERROR 3 frame size out of range\|eof\|' p_oversized
pcase zero-length 'ERROR 3 frame size out of range\|eof\|' p_zero
pcase unknown-type 'ERROR 3 unknown message type 99\|eof\|' p_unknown
pcase truncated-field 'ERROR 3 HELLO: truncated or malformed field\|eof\|' p_truncated_field
pcase trailing-bytes 'ERROR 3 HELLO: 1 trailing bytes\|eof\|' p_trailing
pcase wrong-version "ERROR 3 protocol version 1, want $PV\\|eof\\|" p_version
pcase open-before-hello 'ERROR 3 first message is not HELLO\|eof\|' p_not_hello_first
pcase second-hello "${E}ERROR 3 second HELLO\|eof\|" p_second_hello
pcase open-without-fds "${E}ERROR 3 OPEN needs exactly 3 fds\|eof\|" p_open_no_fds
pcase fds-with-hello 'ERROR 3 file descriptors sent with a message other than OPEN or INCOMING_REPLY\|eof\|' p_fds_with_hello -f
pcase out-of-order "${E}ERROR 3 unexpected EXIT from a client\|eof\|" p_out_of_order
pcase list-over-limit "${E}ERROR 3 (OPEN: list of 4294967295 items is over the limit|OPEN: truncated or malformed field)\|eof\|" p_list_over_limit
pcase string-past-end "${E}ERROR 3 MESSAGE: truncated or malformed field\|eof\|" p_str_past_end
pcase nul-in-string "${E}ERROR 3 MESSAGE: truncated or malformed field\|eof\|" p_nul_in_str
# A client that sends half a frame and then sits there holds up nobody.
(p_partial_then_close; sleep 4) | as_u "$WIRE" -w 500 "$SOCK" >"$T/partial.out" 2>&1 &
ppid=$!
sleep 0.5
out=$(mssh mux-test echo not-held-up 2>&1)
wait "$ppid"
if [ "$out" = not-held-up ] && [ "$(cat "$T/partial.out")" = open ]; then
    ok "proto-partial-frame-holds-nobody"
else
    notok "proto-partial-frame-holds-nobody" "session: $out, client: $(cat "$T/partial.out")"
fi
out=$(mssh mux-test echo still-serving 2>&1)
bad=$(served_since "$n0" 2)
if [ "$(broker_pid)" = "$bp" ] && kill -0 "$bp" && [ "$out" = still-serving ] && [ -z "$bad" ]; then
    ok "proto-broker-survives"
else
    notok "proto-broker-survives" "broker $bp -> $(broker_pid), session: $out;$bad"
fi

# --- a full disk under the runtime directory (the broker's log cannot grow) -------------
# (a tmpfs of the account's, as its runtime directory would be)
if [ "$(id -u)" -ne 0 ] || ! mkdir -p "$T/full" ||
    ! mount -t tmpfs -o "size=128k,mode=0700,uid=$(id -u "$U"),gid=$(id -g "$U")" tmpfs "$T/full" 2>/dev/null; then
    skip "full-disk" "cannot mount a small tmpfs here"
else
    bad=
    out=$(MUXSHIM_DIR=$T/full mssh mux-test echo before-full 2>&1)
    [ "$out" = before-full ] || bad="$bad first session: $out;"
    dd if=/dev/zero of="$T/full/filler" bs=4k 2>/dev/null
    for i in 1 2 3 4 5; do
        out=$(MUXSHIM_DIR=$T/full mssh mux-test "echo full-$i; exit $i" 2>"$T/full.err")
        rc=$?
        [ "$out" = "full-$i" ] && [ "$rc" = "$i" ] && [ ! -s "$T/full.err" ] ||
            bad="$bad session $i: exit $rc, out $out, err $(cat "$T/full.err");"
    done
    c=$(broker_counters "$B/muxssh" "$T/full" "$U")
    [ "${c% *}" -ge 6 ] && [ "${c#* }" = 0 ] ||
        bad="$bad the broker served ${c% *} sessions (want 6), handed ${c#* } to ssh;"
    # A broker that must start on the full disk.
    kill "$(cat "$T/full/broker.lock")" 2>/dev/null
    sleep 0.5
    out=$(MUXSHIM_DIR=$T/full mssh mux-test "echo started-full" 2>"$T/full.err")
    rc=$?
    [ "$out" = started-full ] && [ "$rc" = 0 ] && [ "$(wc -l <"$T/full.err")" -le 1 ] ||
        bad="$bad fresh start: exit $rc, out $out, err $(cat "$T/full.err");"
    c=$(broker_counters "$B/muxssh" "$T/full" "$U")
    [ "${c% *}" -ge 1 ] && [ "${c#* }" = 0 ] ||
        bad="$bad the fresh broker served ${c% *} sessions (want 1), handed ${c#* } to ssh;"
    verdict "full-disk" "$bad" "full-disk${FULLNOTE:-}"
    pid=$(cat "$T/full/broker.lock" 2>/dev/null) && kill "$pid" 2>/dev/null
    sleep 0.3
    umount -l "$T/full"
fi

# --- a server that takes two sessions per connection: the pool grows ---------------------
# ($T/s2, started above: Host mux-test2 in the account's ~/.ssh/config)
# Three rounds of 20 at once: from the second on, each open follows other sessions' closes
# on the same connections, which sshd counts until it has collected them (spare.c refused).
n0=$(mark)
bad=
for r in 1 2 3; do
    BG=()
    for i in $(seq 1 20); do
        (mssh mux-test2 "sleep 0.3; echo s$i" >"$T/ms.out.$r.$i" 2>"$T/ms.err.$r.$i"
            echo $? >>"$T/ms.out.$r.$i") &
        BG+=($!)
    done
    wait "${BG[@]}"
    for i in $(seq 1 20); do
        [ "$(cat "$T/ms.out.$r.$i")" = "s$i
0" ] || bad="$bad round $r session $i: $(tr '\n' ' ' <"$T/ms.out.$r.$i");"
    done
done
noise=$(cat "$T"/ms.err.* | wc -l)
n=$(sshd_connections "$T/s2")
bad="$bad$(served_since "$n0" 60)"
sshd_stop "$T/s2"
[ "$noise" = 0 ] || bad="$bad $noise lines on stderr: $(cat "$T"/ms.err.* | head -2 | tr '\r\n' '  ');"
[ "$n" -le 15 ] || bad="$bad $n connections;"
verdict "pool-maxsessions-2" "$bad" "pool-maxsessions-2 (3 rounds of 20 concurrent sessions over $n connections, all served, stderr silent)"

# --- 100 MB both ways while other sessions run -----------------------------------------
head -c 100000000 /dev/urandom >"$T/big.bin"
chmod 644 "$T/big.bin"
want=$(sha256sum <"$T/big.bin" | cut -d' ' -f1)
n0=$(mark)
(mssh mux-test "cat > $T/rw/up.bin" <"$T/big.bin"; echo "up $?") >"$T/cc.up" 2>&1 &
p1=$!
(mssh mux-test "cat $T/big.bin" | sha256sum | cut -d' ' -f1) >"$T/cc.down" 2>&1 &
p2=$!
small=()
for i in $(seq 1 8); do
    (mssh mux-test "seq 1 $((i * 1000)) | tail -1") >"$T/cc.s$i" 2>"$T/cc.e$i" &
    small+=($!)
done
wait "$p1" "$p2" "${small[@]}"
bad=
[ "$(cat "$T/cc.up")" = "up 0" ] || bad="$bad upload: $(cat "$T/cc.up");"
[ "$(sha256sum <"$T/rw/up.bin" | cut -d' ' -f1)" = "$want" ] || bad="$bad uploaded file differs;"
[ "$(cat "$T/cc.down")" = "$want" ] || bad="$bad download differs;"
for i in $(seq 1 8); do
    [ "$(cat "$T/cc.s$i")" = $((i * 1000)) ] || bad="$bad small $i: $(cat "$T/cc.s$i");"
done
bad="$bad$(served_since "$n0" 10)"
verdict "100MB-both-ways-concurrent" "$bad" "100MB-both-ways-concurrent (sha256 equal both ways, 8 other sessions correct)"

# --- a stalled client holds up no other session (tests/fault/stall.sh) ------------------
# shellcheck source=stall.sh
. "$ROOT/tests/fault/stall.sh"

# --- a corrupted link, and a ProxyCommand's stdio (tests/fault/corrupt.sh) ----------------
# shellcheck source=corrupt.sh
. "$ROOT/tests/fault/corrupt.sh"

[ "$failures" -eq 0 ]
