#!/bin/bash
# Fault injection against OpenSSH's real sshd on loopback: the broker killed, the server
# killed, a stalled network (tests/tools/relay), a client killed mid-session, another
# local user, a changed host key, malformed protocol frames (tests/tools/wire), hostile
# argv, bad ssh_config, a full disk under the runtime directory, a server with
# MaxSessions 2 (the pool grows), and 100 MB both ways under concurrent sessions.
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
export MUXSHIM_DIR=$T/run MUXSHIM_PERSIST=600
mkdir -m 700 "$MUXSHIM_DIR"
unset LD_PRELOAD MUXSHIM_DISABLE MUXSHIM_GUARD MUXSHIM_REAL_SSH SSH_AUTH_SOCK
RELAY_PID=
MARK=60.$$ # remote `sleep $MARK`: unique, so the leftovers can be found and ended

cleanup() {
    local pid
    pid=$(cat "$MUXSHIM_DIR/broker.lock" 2>/dev/null) && kill "$pid" 2>/dev/null
    [ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null
    pkill -f "sleep $MARK" 2>/dev/null
    mountpoint -q "$T/full" 2>/dev/null && {
        pid=$(cat "$T/full/broker.lock" 2>/dev/null) && kill "$pid" 2>/dev/null
        umount -l "$T/full"
    }
    sshd_stop "$T/s"
    sshd_stop "$T/s2"
    rm -rf "$T"
}
trap cleanup EXIT

# A light account: under 20 concurrent logins, root's login profile (pyenv here) can print
# to stderr, and the checks below count stderr lines.
SSHD_USER=$(sshd_light_user) sshd_start "$T/s" >/dev/null || exit 1
CFG=$T/s/ssh_config
mkdir -m 1777 "$T/rw" # where remote commands (as that account) may write

SUITE=fault
# shellcheck source=../lib-cases.sh
. "$ROOT/tests/lib-cases.sh"

mssh() { LD_PRELOAD=$LIB ssh "$@"; }
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
PV=$(awk '/^#define PROTO_VERSION/ { print $3 }' "$ROOT/broker/proto.h")
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
            mssh -F "$CFG" "$@" mux-test "echo started; sleep $MARK" \
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
mssh -F "$CFG" mux-test true
start_sleepers bk 20 || notok "broker-sigkill" "sessions did not start"
bp=$(broker_pid)
t0=$(now_ms)
kill -KILL "$bp"
wait "${BG[@]}"
ended bk 20 "$t0" "$KILL_MS" '^muxssh: lost the broker'
out=$(mssh -F "$CFG" mux-test echo next 2>&1)
np=$(broker_pid)
[ "$out" = next ] || bad="$bad next session said: $out;"
[ -n "$np" ] && [ "$np" != "$bp" ] && kill -0 "$np" 2>/dev/null || bad="$bad no new broker;"
if [ -z "$bad" ]; then
    ok "broker-sigkill (20 sessions exited 255 within $WORST ms; a new broker took over)"
else
    notok "broker-sigkill" "$bad"
fi

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
start_sleepers sk 3 || notok "server-killed" "sessions did not start"
t0=$(now_ms)
kill_server_side
wait "${BG[@]}"
ended sk 3 "$t0" 5000 '^Connection to 127\.0\.0\.1 closed by remote host\.'
out=$(mssh -F "$CFG" mux-test echo reconnected 2>&1)
[ "$out" = reconnected ] || bad="$bad next session said: $out;"
c1=$(sshd_connections "$T/s")
[ "$c1" -eq $((c0 + 1)) ] || bad="$bad server saw $((c1 - c0)) new connections, want 1;"
if [ -z "$bad" ]; then
    ok "server-killed (sessions exited 255 within $WORST ms; the next one reconnected)"
else
    notok "server-killed" "$bad"
fi
# Killed while idle: the next session must not be handed the dead connection.
kill_server_side
sleep 0.3
out=$(mssh -F "$CFG" mux-test echo after-idle-kill 2>&1)
rc=$?
if [ "$out" = after-idle-kill ] && [ "$rc" = 0 ]; then
    ok "server-killed-idle"
else
    notok "server-killed-idle" "exit $rc: $out"
fi

# --- a network stall: the relay stops forwarding, the TCP connection stays open ----------
sshd_relay "$T/s" "$RELAY" || notok "stall" "the relay did not start"
ALIVE=(-o Port="$RELAY_PORT" -o ServerAliveInterval=1 -o ServerAliveCountMax=3) # window 3 s
mssh -F "$CFG" "${ALIVE[@]}" mux-test true
start_sleepers st 2 "${ALIVE[@]}" || notok "stall" "sessions did not start"
t0=$(now_ms)
kill -USR1 "$RELAY_PID" # stalls the connections it carries; new ones still pass
# A session that starts in the very instant of the stall cannot tell, and ends like the
# running ones; one that starts later than ServerAliveInterval after the server last spoke
# probes first and goes to a new connection.
sleep 1.2
t1=$(now_ms)
out=$(mssh -F "$CFG" "${ALIVE[@]}" mux-test echo after-stall 2>&1)
t_new=$(($(now_ms) - t1))
wait "${BG[@]}"
ended st 2 "$t0" 6000 '^Timeout, server 127\.0\.0\.1 not responding\.'
[ "$out" = after-stall ] || bad="$bad new session said: $out;"
[ "$t_new" -le 6000 ] || bad="$bad new session took $t_new ms;"
if [ -z "$bad" ]; then
    ok "stall (window 3 s: running sessions ended after $WORST ms; a new one finished in $t_new ms)"
else
    notok "stall" "$bad"
fi

# Idle longer than ServerAliveInterval, then stalled: the probe before reuse finds it.
mssh -F "$CFG" "${ALIVE[@]}" mux-test true
sleep 2.5
kill -USR1 "$RELAY_PID"
t0=$(now_ms)
out=$(mssh -F "$CFG" "${ALIVE[@]}" mux-test echo probed 2>&1)
d=$(($(now_ms) - t0))
if [ "$out" = probed ] && [ "$d" -le 6000 ]; then
    ok "stall-after-idle (probe unanswered: served on a new connection in $d ms)"
else
    notok "stall-after-idle" "$d ms: $out"
fi

# The same without ServerAlive options: muxshim's own window (at most 15 s).
DEF=(-o Port="$RELAY_PORT")
mssh -F "$CFG" "${DEF[@]}" mux-test true
sleep 6 # longer than the default probe interval (5 s)
kill -USR1 "$RELAY_PID"
t0=$(now_ms)
out=$(mssh -F "$CFG" "${DEF[@]}" mux-test echo default-window 2>&1)
d=$(($(now_ms) - t0))
if [ "$out" = default-window ] && [ "$d" -le 15000 ]; then
    ok "stall-default-window (served in $d ms)"
else
    notok "stall-default-window" "$d ms: $out"
fi
kill "$RELAY_PID"
RELAY_PID=

# --- a client killed mid-session --------------------------------------------------------
mssh -F "$CFG" mux-test true
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
(mssh -F "$CFG" mux-test 'echo started; sleep 2; echo A-done' >"$T/ck.a" 2>&1) &
pa=$!
(head -c 20000000 /dev/zero | mssh -F "$CFG" mux-test 'echo started >&2; wc -c' >"$T/ck.b" 2>&1) &
pb=$!
"$B/muxssh" -F "$CFG" mux-test 'echo started; exec cat >/dev/null' >"$T/ck.v" 2>&1 < <(exec sleep 100.$$) &
pv=$!
disown "$pv" # killed below on purpose: no job notice
wait_for "$T/ck.a" "$T/ck.v"
kill -KILL "$pv"
wait "$pa" "$pb"
bad=
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
pkill -f "sleep 100.$$" 2>/dev/null
if [ -z "$bad" ]; then
    ok "client-killed (channel closed, other sessions unaffected, broker fds back to $fd0)"
else
    notok "client-killed" "$bad"
fi

# --- other users and the runtime directory ----------------------------------------------
mode=$(stat -c %a "$MUXSHIM_DIR")
[ "$mode" = 700 ] && ok "runtime-dir-0700" || notok "runtime-dir-0700" "mode $mode"
if [ "$(id -u)" -ne 0 ]; then
    skip "other-user-refused" "needs root to create a second account"
    skip "runtime-dir-wrong-owner" "needs root to chown"
else
    id muxother >/dev/null 2>&1 || useradd -M -d /nonexistent -s /usr/sbin/nologin muxother
    OTHER=$(id -u muxother)
    # Open the way for a moment so that only SO_PEERCRED stands between them and the broker.
    chmod 711 "$T" "$MUXSHIM_DIR"
    chmod 777 "$MUXSHIM_DIR/broker.sock"
    # (the broker may close before the HELLO is sent: "send failed" is not part of the answer)
    got=$(p_hello | runuser -u muxother -- "$WIRE" -w 2000 "$MUXSHIM_DIR/broker.sock" 2>&1 |
        grep -v '^send failed')
    mine=$(p_hello | "$WIRE" -w 500 "$MUXSHIM_DIR/broker.sock" 2>&1)
    chmod 711 "$T" # as sshd_start left it: the login account reads its keys below
    chmod 700 "$MUXSHIM_DIR"
    chmod 700 "$MUXSHIM_DIR/broker.sock"
    if [ "$got" = eof ] && [ "$mine" = "HELLO
open" ] && grep -q "refused a connection from uid $OTHER" "$MUXSHIM_DIR/broker.log"; then
        ok "other-user-refused (uid $OTHER got no HELLO; the owner did)"
    else
        notok "other-user-refused" "other: $(echo $got), owner: $(echo $mine)"
    fi
    mkdir -m 700 "$T/theirs"
    chown muxother "$T/theirs"
    out=$(MUXSHIM_DIR=$T/theirs mssh -F "$CFG" mux-test echo real-ssh-ran 2>"$T/wo.err")
    if [ "$out" = real-ssh-ran ] && one_line "$T/wo.err" &&
        grep -q "^muxssh: runtime directory $T/theirs is owned by uid $OTHER" "$T/wo.err" &&
        [ -z "$(ls -A "$T/theirs")" ]; then
        ok "runtime-dir-wrong-owner"
    else
        notok "runtime-dir-wrong-owner" "out: $out, err: $(cat "$T/wo.err")"
    fi
fi

# --- differential cases: the same snippet with plain ssh and through the shim -----------
# dcase NAME SNIPPET: stdout, stderr and exit code must be equal; $D is a fresh directory.
dcase() {
    local side
    for side in plain mux; do
        rm -rf "$T/d"
        mkdir -p "$T/d"
        local pre=(env)
        [ "$side" = mux ] && pre=(env "LD_PRELOAD=$LIB")
        (cd "$T/d" && D=$T/d CFG=$CFG timeout -k 5 300 "${pre[@]}" bash -c "$2" \
            >"$T/$side.out" 2>"$T/$side.err" </dev/null)
        echo $? >"$T/$side.rc"
    done
    compare_sides "$1"
}

# A changed host key: OpenSSH's warning, and the remote command never runs.
ssh-keygen -q -t ed25519 -N '' -f "$T/impostor"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1-2 "$T/impostor.pub")" >"$T/changed_kh"
dcase "changed-host-key" "ssh -F \"\$CFG\" -o UserKnownHostsFile=$T/changed_kh mux-test touch \$D/ran; echo rc=\$?; ls \$D"
grep -q "REMOTE HOST IDENTIFICATION HAS CHANGED" "$T/mux.err" && [ ! -e "$T/d/ran" ] ||
    notok "changed-host-key-warning" "$(head -3 "$T/mux.err")"

# Hostile argv.
dcase "argv-5000-words" 'ssh -F "$CFG" mux-test echo $(seq 1 5000) | sha256sum'
dcase "argv-binary-bytes" "ssh -F \"\$CFG\" mux-test printf '%s|' \$'\\x01\\x02\\x7f\\xfe\\xff' \$'a\\nb' '' | od -An -tx1"
dcase "argv-200k-word" 'ssh -F "$CFG" mux-test echo $(head -c 200000 /dev/zero | tr "\0" a) | wc -c'
dcase "argv-300k-word" 'ssh -F "$CFG" mux-test echo $(head -c 300000 /dev/zero | tr "\0" b) | wc -c'
dcase "argv-3000-options" 'ssh $(for i in $(seq 3000); do printf -- "-oServerAliveCountMax=3 "; done) -F "$CFG" mux-test echo many'
dcase "argv-unknown-option" 'ssh -F "$CFG" -Z mux-test true'
dcase "argv-missing-argument" 'ssh -F "$CFG" mux-test -p'
dcase "argv-dash-words" 'ssh -F "$CFG" mux-test echo -v -p 5 -- -x'

# Bad ssh_config.
dcase "config-garbage" "printf 'Host *\\n  NoSuchKeyword yes\\n\\x01\\xff\\n' >bad.cfg; ssh -F bad.cfg mux-test true"
dcase "config-directory" 'ssh -F "$D" mux-test true'
dcase "config-bad-value" 'printf "Include %s\nHost mux-test\n Port seventy\n" "$CFG" >bad.cfg; ssh -F bad.cfg mux-test true'
dcase "config-long-line" 'printf "Include %s\n# %s\n" "$CFG" "$(head -c 100000 /dev/zero | tr "\0" x)" >long.cfg; ssh -F long.cfg mux-test echo long-ok'
if [ "$(id -u)" -ne 0 ]; then
    dcase "config-unreadable" 'cp "$CFG" u.cfg && chmod 000 u.cfg && ssh -F u.cfg mux-test true'
else
    skip "config-unreadable" "root reads any file"
fi

# --- malformed protocol frames: one-line ERROR, closed, the broker carries on -----------
SOCK=$MUXSHIM_DIR/broker.sock
mssh -F "$CFG" mux-test true
bp=$(broker_pid)
OPEN_BODY=02$(printf '%08x' 0)$(printf '%08x' 0)$(printf '%08x' 0)$(printf '%08x' 0)$(printf '%08x' 0)$(printf '%08x' 0)00000000
# pcase NAME EXPECTED_REGEX BYTES_FUNCTION [wire options]
pcase() {
    local name=$1 want=$2 gen=$3
    shift 3
    local got
    # (the broker may close before all is sent: "send failed" is not part of the answer)
    got=$($gen | "$WIRE" "$@" -w 2000 "$SOCK" 2>&1 | grep -v '^send failed' | tr '\n' '|')
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
pcase fds-with-hello 'ERROR 3 file descriptors sent with a message other than OPEN\|eof\|' p_fds_with_hello -f
pcase out-of-order "${E}ERROR 3 unexpected EXIT from a client\|eof\|" p_out_of_order
pcase list-over-limit "${E}ERROR 3 (OPEN: list of 4294967295 items is over the limit|OPEN: truncated or malformed field)\|eof\|" p_list_over_limit
pcase string-past-end "${E}ERROR 3 MESSAGE: truncated or malformed field\|eof\|" p_str_past_end
pcase nul-in-string "${E}ERROR 3 MESSAGE: truncated or malformed field\|eof\|" p_nul_in_str
# A client that sends half a frame and then sits there holds up nobody.
(p_partial_then_close; sleep 4) | "$WIRE" -w 500 "$SOCK" >"$T/partial.out" 2>&1 &
ppid=$!
sleep 0.5
out=$(mssh -F "$CFG" mux-test echo not-held-up 2>&1)
wait "$ppid"
if [ "$out" = not-held-up ] && [ "$(cat "$T/partial.out")" = open ]; then
    ok "proto-partial-frame-holds-nobody"
else
    notok "proto-partial-frame-holds-nobody" "session: $out, client: $(cat "$T/partial.out")"
fi
out=$(mssh -F "$CFG" mux-test echo still-serving 2>&1)
if [ "$(broker_pid)" = "$bp" ] && kill -0 "$bp" && [ "$out" = still-serving ]; then
    ok "proto-broker-survives"
else
    notok "proto-broker-survives" "broker $bp -> $(broker_pid), session: $out"
fi

# --- a full disk under the runtime directory (the broker's log cannot grow) -------------
if [ "$(id -u)" -ne 0 ] || ! mkdir -p "$T/full" || ! mount -t tmpfs -o size=128k,mode=0700 tmpfs "$T/full" 2>/dev/null; then
    skip "full-disk" "cannot mount a small tmpfs here"
else
    bad=
    out=$(MUXSHIM_DIR=$T/full mssh -F "$CFG" mux-test echo before-full 2>&1)
    [ "$out" = before-full ] || bad="$bad first session: $out;"
    dd if=/dev/zero of="$T/full/filler" bs=4k 2>/dev/null
    for i in 1 2 3 4 5; do
        out=$(MUXSHIM_DIR=$T/full mssh -F "$CFG" mux-test "echo full-$i; exit $i" 2>"$T/full.err")
        rc=$?
        [ "$out" = "full-$i" ] && [ "$rc" = "$i" ] && [ ! -s "$T/full.err" ] ||
            bad="$bad session $i: exit $rc, out $out, err $(cat "$T/full.err");"
    done
    # A broker that must start on the full disk.
    kill "$(cat "$T/full/broker.lock")" 2>/dev/null
    sleep 0.5
    out=$(MUXSHIM_DIR=$T/full mssh -F "$CFG" mux-test "echo started-full" 2>"$T/full.err")
    rc=$?
    [ "$out" = started-full ] && [ "$rc" = 0 ] && [ "$(wc -l <"$T/full.err")" -le 1 ] ||
        bad="$bad fresh start: exit $rc, out $out, err $(cat "$T/full.err");"
    if [ -z "$bad" ]; then
        ok "full-disk${FULLNOTE:-}"
    else
        notok "full-disk" "$bad"
    fi
    pid=$(cat "$T/full/broker.lock" 2>/dev/null) && kill "$pid" 2>/dev/null
    sleep 0.3
    umount -l "$T/full"
fi

# --- a server that takes two sessions per connection: the pool grows ---------------------
# (as root, the login is muxsoak's: root's profile here prints to stderr when 20 start at once)
SSHD_USER=$(sshd_light_user) SSHD_MAXSESSIONS=2 sshd_start "$T/s2" >/dev/null || exit 1
BG=()
for i in $(seq 1 20); do
    (mssh -F "$T/s2/ssh_config" mux-test "sleep 0.3; echo s$i" >"$T/ms.out.$i" 2>"$T/ms.err.$i"
        echo $? >>"$T/ms.out.$i") &
    BG+=($!)
done
wait "${BG[@]}"
bad=
for i in $(seq 1 20); do
    [ "$(cat "$T/ms.out.$i")" = "s$i
0" ] || bad="$bad session $i: $(tr '\n' ' ' <"$T/ms.out.$i");"
done
noise=$(cat "$T"/ms.err.* | wc -l)
n=$(sshd_connections "$T/s2")
sshd_stop "$T/s2"
[ "$noise" = 0 ] || bad="$bad $noise lines on stderr: $(cat "$T"/ms.err.* | head -2 | tr '\r\n' '  ');"
[ "$n" -le 10 ] || bad="$bad $n connections;"
if [ -z "$bad" ]; then
    ok "pool-maxsessions-2 (20 concurrent sessions over $n connections, stderr silent)"
else
    notok "pool-maxsessions-2" "$bad"
fi

# --- 100 MB both ways while other sessions run -----------------------------------------
head -c 100000000 /dev/urandom >"$T/big.bin"
chmod 644 "$T/big.bin"
want=$(sha256sum <"$T/big.bin" | cut -d' ' -f1)
(mssh -F "$CFG" mux-test "cat > $T/rw/up.bin" <"$T/big.bin"; echo "up $?") >"$T/cc.up" 2>&1 &
p1=$!
(mssh -F "$CFG" mux-test "cat $T/big.bin" | sha256sum | cut -d' ' -f1) >"$T/cc.down" 2>&1 &
p2=$!
small=()
for i in $(seq 1 8); do
    (mssh -F "$CFG" mux-test "seq 1 $((i * 1000)) | tail -1") >"$T/cc.s$i" 2>"$T/cc.e$i" &
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
if [ -z "$bad" ]; then
    ok "100MB-both-ways-concurrent (sha256 equal both ways, 8 other sessions correct)"
else
    notok "100MB-both-ways-concurrent" "$bad"
fi

[ "$failures" -eq 0 ]
