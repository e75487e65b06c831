#!/bin/bash
# connect() routing against a real sshd and real TCP services in a network namespace the
# test creates: a bastion on 10.78.1.2 (a veth address reachable from here) and an HTTP
# server and an echo server on 10.78.2.1 and fd78::1, inside the namespace only. This
# namespace gets `unreachable` routes for 10.78.0.0/16 and fd78::/16 first, so nothing can
# leave the machine.
# With a route, real curl (non-blocking connect), python (blocking connect) and a small C
# program (both ways) reach the services through the shim; the bastion logs one SSH
# connection for all the streams; without a route everything behaves as without the shim.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
LIB=$B/libmuxshim.so
TCPGET=$B/tests/tools/tcpget
# shellcheck source=../../scripts/lib-sshd.sh
. "$ROOT/scripts/lib-sshd.sh"
# shellcheck source=../../scripts/lib-netns.sh
. "$ROOT/scripts/lib-netns.sh"
SUITE=route
# shellcheck source=../lib-cases.sh
. "$ROOT/tests/lib-cases.sh"
PY=/usr/bin/python3

if [ "$(id -u)" -ne 0 ] || ! ip netns list >/dev/null 2>&1 || [ ! -x "$PY" ] ||
    ! command -v curl >/dev/null; then
    skip all "needs root, network namespaces, /usr/bin/python3 and curl"
    exit 0
fi

T=$(mktemp -d /tmp/muxshim-route-XXXXXX)
chmod 755 "$T"
unset LD_PRELOAD MUXSHIM_DISABLE MUXSHIM_GUARD SSH_AUTH_SOCK MUXSHIM_REAL_SSH
export MUXSHIM_DIR=$T/rt MUXSHIM_PERSIST=600
NETNS_NET6=fd78::/16
PIDS=""

cleanup() {
    local pid
    pid=$(cat "$MUXSHIM_DIR/broker.lock" 2>/dev/null) && kill "$pid" 2>/dev/null
    for pid in $PIDS; do kill "$pid" 2>/dev/null; done
    sshd_stop "$T/b"
    netns_down
    rm -rf "$T"
}
trap cleanup EXIT

if ! netns_up "muxroute$$" 10.78.0.0/16 10.78.2.1 fd78::1; then
    notok setup "cannot build the namespace"
    exit 1
fi
SSHD_USER=$(sshd_light_user) SSHD_ADDR=10.78.1.2 SSHD_WRAP="ip netns exec $NETNS_NAME" \
    sshd_start "$T/b" >/dev/null || exit 1

# The services, inside the namespace only.
mkdir -p "$T/www"
echo hello-from-inside >"$T/www/index.txt"
head -c 200000000 /dev/urandom >"$T/www/big"
ip netns exec "$NETNS_NAME" "$PY" -m http.server 8080 --bind 10.78.2.1 --directory "$T/www" \
    >/dev/null 2>&1 &
PIDS="$PIDS $!"
ip netns exec "$NETNS_NAME" "$PY" "$ROOT/tests/tools/echo.py" 7007 10.78.2.1 fd78::1 &
PIDS="$PIDS $!"
for i in $(seq 1 100); do
    netns_exec "$PY" -c 'import socket; socket.create_connection(("10.78.2.1", 8080)); socket.create_connection(("10.78.2.1", 7007))' 2>/dev/null && break
    sleep 0.1
done

cat >"$T/cfg" <<EOS
Host bastion
    HostName 10.78.1.2
    Port $(awk '/^Port/ { print $2 }' "$T/b/sshd_config")
    User $(sshd_light_user)
    IdentityFile $T/b/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $T/b/known_hosts
    StrictHostKeyChecking yes
    BatchMode yes
EOS
echo "# services behind the bastion" >"$T/routes"
echo "10.78.2.0/24 port 8080,7007 via bastion -F $T/cfg" >>"$T/routes"
echo "fd78::/16 via bastion -F $T/cfg" >>"$T/routes"
: >"$T/no-routes"

# run NAME ROUTES CMD...: CMD under the shim with that routes file; $T/NAME.{out,err,rc}
run() {
    local name=$1 routes=$2
    shift 2
    LD_PRELOAD=$LIB MUXSHIM_ROUTES=$routes timeout 120 "$@" >"$T/$name.out" 2>"$T/$name.err"
    echo $? >"$T/$name.rc"
}
# bare NAME CMD...: CMD without the shim
bare() {
    local name=$1
    shift
    timeout 120 "$@" >"$T/$name.out" 2>"$T/$name.err"
    echo $? >"$T/$name.rc"
}
# Time figures in curl's messages ("after 0 ms") are not part of the comparison.
norm() { sed -E 's/after [0-9]+ ms/after N ms/' "$1"; }
same() {
    if cmp -s "$T/$2.out" "$T/$3.out" && cmp -s "$T/$2.rc" "$T/$3.rc" &&
        [ "$(norm "$T/$2.err")" = "$(norm "$T/$3.err")" ]; then
        ok "$1"
    else
        notok "$1" "rc $(cat "$T/$2.rc") vs $(cat "$T/$3.rc"): $(head -c 200 "$T/$3.err")"
    fi
}

before=$(sshd_connections "$T/b")

# Without a route: the same as without the shim (10.78.2.1 is unreachable from here).
bare plain-curl curl -sS --max-time 10 http://10.78.2.1:8080/index.txt
run shim-curl "$T/no-routes" curl -sS --max-time 10 http://10.78.2.1:8080/index.txt
same no-route/curl-as-without-the-shim plain-curl shim-curl
bare plain-c "$TCPGET" 10.78.2.1 7007
run shim-c "$T/no-routes" "$TCPGET" 10.78.2.1 7007
same no-route/blocking-connect-as-without-the-shim plain-c shim-c
run shim-port "$T/routes" curl -sS --max-time 10 http://10.78.2.1:8081/
bare plain-port curl -sS --max-time 10 http://10.78.2.1:8081/
same no-route/port-not-in-the-list plain-port shim-port

# An impostor on broker.sock (another account's listener, in a runtime directory of ours),
# and a relative MUXSHIM_DIR: the route client sends the impostor nothing, starts no broker,
# says nothing, and the connect goes on unrouted, as without the shim.
id muxother >/dev/null 2>&1 || useradd -M -d /nonexistent -s /usr/sbin/nologin muxother
mkdir -m 700 "$T/imp"
impostor_start "$T/imp" muxother
MUXSHIM_DIR=$T/imp run imp-c "$T/routes" "$TCPGET" 10.78.2.1 7007 </dev/null
got=$(impostor_got)
kill "$IMPOSTOR_PID" 2>/dev/null
if cmp -s "$T/plain-c.out" "$T/imp-c.out" && cmp -s "$T/plain-c.rc" "$T/imp-c.rc" &&
    cmp -s "$T/plain-c.err" "$T/imp-c.err" && [ "${got#* }" = 0 ] && [ "${got% *}" -ge 1 ] &&
    [ "$(ls -A "$T/imp")" = broker.sock ]; then
    ok "impostor-broker-gets-nothing (${got% *} connection(s), 0 bytes; unrouted, as without the shim)"
else
    notok "impostor-broker-gets-nothing" "rc $(cat "$T/imp-c.rc") vs $(cat "$T/plain-c.rc"), out: $(head -c 200 "$T/imp-c.out"), err: $(head -c 200 "$T/imp-c.err"), impostor got (connections bytes): $got, dir: $(ls -A "$T/imp" | tr '\n' ' ')"
fi
mkdir -m 755 "$T/cwd"
(cd "$T/cwd" && MUXSHIM_DIR=rel run rel-c "$T/routes" "$TCPGET" 10.78.2.1 7007 </dev/null)
if cmp -s "$T/plain-c.out" "$T/rel-c.out" && cmp -s "$T/plain-c.rc" "$T/rel-c.rc" &&
    cmp -s "$T/plain-c.err" "$T/rel-c.err" && [ -z "$(ls -A "$T/cwd")" ]; then
    ok "relative-runtime-dir-is-no-broker"
else
    notok "relative-runtime-dir-is-no-broker" "rc $(cat "$T/rel-c.rc"), err: $(head -c 200 "$T/rel-c.err"), cwd: $(ls -A "$T/cwd" | tr '\n' ' ')"
fi

# With the route.
run curl "$T/routes" curl -sS http://10.78.2.1:8080/index.txt
if [ "$(cat "$T/curl.out")" = hello-from-inside ] && [ "$(cat "$T/curl.rc")" = 0 ]; then
    ok curl
else
    notok curl "rc $(cat "$T/curl.rc"): $(head -c 200 "$T/curl.err")"
fi
run py "$T/routes" "$PY" -c '
import socket
s = socket.create_connection(("10.78.2.1", 8080))
print(*s.getpeername()[:2])
s.sendall(b"GET /index.txt HTTP/1.0\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
print(data.split(b"\r\n\r\n", 1)[1].decode().strip())'
if [ "$(cat "$T/py.out")" = "10.78.2.1 8080
hello-from-inside" ]; then
    ok python-blocking-connect-and-getpeername
else
    notok python-blocking-connect-and-getpeername "$(head -c 300 "$T/py.out" "$T/py.err")"
fi
# Blocking, then non-blocking: that one returns EINPROGRESS at once ("inprogress") and its
# socket becomes writable with SO_ERROR 0 once the channel is open, as a kernel connect does.
for mode in "" -n; do
    # shellcheck disable=SC2086 # $mode is empty or one word
    echo ping-$$ | run c$mode "$T/routes" "$TCPGET" $mode 10.78.2.1 7007
    want="peer 10.78.2.1 7007
nodelay 1
ping-$$"
    [ "$mode" = -n ] && want="inprogress
$want"
    if [ "$(cat "$T/c$mode.out")" = "$want" ]; then
        ok "c-connect${mode:- blocking}"
    else
        notok "c-connect${mode:- blocking}" "$(head -c 300 "$T/c$mode.out" "$T/c$mode.err")"
    fi
done
echo ping6-$$ | run c6 "$T/routes" "$TCPGET" fd78::1 7007
if [ "$(cat "$T/c6.out")" = "peer fd78::1 7007
nodelay 1
ping6-$$" ]; then
    ok ipv6
else
    notok ipv6 "$(head -c 300 "$T/c6.out" "$T/c6.err")"
fi
# A refused destination: ECONNREFUSED, blocking and not.
run ref "$T/routes" "$TCPGET" 10.78.2.1 8080 </dev/null
sed -i '1,$d' "$T/ref.out"
echo "10.78.2.0/24 port 9 via bastion -F $T/cfg" >"$T/routes9"
run ref "$T/routes9" "$TCPGET" 10.78.2.1 9 </dev/null
run refn "$T/routes9" "$TCPGET" -n 10.78.2.1 9 </dev/null
if [ "$(cat "$T/ref.out")" = "connect: Connection refused" ] && [ "$(cat "$T/ref.rc")" = 1 ] &&
    [ "$(cat "$T/refn.out")" = "inprogress
connect: Connection refused" ]; then
    ok refused-is-econnrefused
else
    notok refused-is-econnrefused "$(cat "$T/ref.out" "$T/refn.out")"
fi

# muxrun status lists the routed channels while they are open.
LD_PRELOAD=$LIB MUXSHIM_ROUTES=$T/routes "$PY" -c '
import socket, time
s = [socket.create_connection(("10.78.2.1", 7007)) for i in range(3)]
open("'"$T"'/held", "w").write("x")
time.sleep(30)' &
holder=$!
for i in $(seq 1 100); do [ -s "$T/held" ] && break; sleep 0.1; done
"$ROOT/scripts/muxrun" status >"$T/status.out" 2>&1
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
if grep -Eq '^10\.78\.2\.1:7007 +10\.78\.1\.2 +3$' "$T/status.out"; then
    ok status-lists-channels
else
    notok status-lists-channels "$(cat "$T/status.out")"
fi

# 1,000 short streams, each echoed back whole, and one 200 MB download.
run many "$T/routes" "$PY" "$ROOT/tests/tools/streams.py" 10.78.2.1 7007 1000
if grep -q "^bad 0 " "$T/many.out"; then
    ok 1000-short-streams
else
    notok 1000-short-streams "$(head -c 300 "$T/many.out" "$T/many.err")"
fi
LD_PRELOAD=$LIB MUXSHIM_ROUTES=$T/routes curl -sS http://10.78.2.1:8080/big | sha256sum >"$T/big.sum"
if [ "$(cut -d' ' -f1 "$T/big.sum")" = "$(sha256sum <"$T/www/big" | cut -d' ' -f1)" ]; then
    ok 200MB-stream-sha256-equal
else
    notok 200MB-stream-sha256-equal
fi

logins=$(($(sshd_connections "$T/b") - before))
if [ "$logins" = 1 ]; then
    ok "one-bastion-login-for-all-streams"
else
    notok "one-bastion-login-for-all-streams" "$logins logins"
fi

# A program whose routed connect starts the broker gets no SIGCHLD and no child of ours to
# wait for (the shim clones its children with no exit signal and reaps them itself), on the
# blocking path (muxssh --mux-start) and the non-blocking one (its helper), and the connects
# are served; connect() again on the connected socket is the kernel's (0, then EISCONN).
pid=$(cat "$MUXSHIM_DIR/broker.lock" 2>/dev/null) && kill "$pid" 2>/dev/null
for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
cat >"$T/sigchld.py" <<'PY'
import os, select, signal, socket, sys
seen = []
signal.signal(signal.SIGCHLD, lambda n, f: seen.append(n))
def exchange(s, word):
    s.sendall(word)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            return got
        got += b
out = []
s = socket.create_connection(("10.78.2.1", 7007))  # blocking: starts the broker
out.append(exchange(s, b"one"))
s = socket.socket()
s.setblocking(False)
err = s.connect_ex(("10.78.2.1", 7007))  # non-blocking: the helper asks
select.select([], [s], [], 60)
err2 = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
# Connecting again is the kernel's business: 0 once (the connect completed), then EISCONN,
# on the same socket (the shim does not route it a second time).
ino = os.fstat(s.fileno()).st_ino
again = [s.connect_ex(("10.78.2.1", 7007)) for i in range(2)] == [0, 106]
again = again and os.fstat(s.fileno()).st_ino == ino
s.setblocking(True)
out.append(exchange(s, b"two"))
try:
    w = os.waitpid(-1, os.WNOHANG)
except ChildProcessError:
    w = "none"
print(out, err == 115, err2, again, "sigchld", len(seen), "children", w)
PY
run sigchld "$T/routes" "$PY" "$T/sigchld.py"
if [ "$(cat "$T/sigchld.out")" = "[b'one', b'two'] True 0 True sigchld 0 children none" ] &&
    [ -s "$MUXSHIM_DIR/broker.lock" ]; then
    ok no-sigchld-no-child-when-connect-starts-the-broker
else
    notok no-sigchld-no-child-when-connect-starts-the-broker "$(head -c 300 "$T/sigchld.out" "$T/sigchld.err")"
fi

# A broker that does not answer (stopped): a blocking routed connect fails with ETIMEDOUT
# after the route's ConnectTimeout (2 s here), not never.
echo "10.78.2.0/24 port 7007 via bastion -F $T/cfg -o ConnectTimeout=2" >"$T/routes-ct"
pid=$(cat "$MUXSHIM_DIR/broker.lock")
kill -STOP "$pid"
run ct "$T/routes-ct" "$TCPGET" 10.78.2.1 7007 </dev/null
kill -CONT "$pid"
if [ "$(cat "$T/ct.out")" = "connect: Connection timed out" ] && [ "$(cat "$T/ct.rc")" = 1 ]; then
    ok stopped-broker-is-etimedout
else
    notok stopped-broker-is-etimedout "rc $(cat "$T/ct.rc"): $(head -c 300 "$T/ct.out" "$T/ct.err")"
fi

[ "$failures" -eq 0 ]
