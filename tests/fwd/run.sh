#!/bin/bash
# Local (-L, LocalForward) and dynamic (-D, SOCKS 4, 4a, 5) forwards as users run them: the
# test account with its own ~/.ssh, no -F, the system's /etc/ssh/ssh_config. Each case runs
# through plain ssh and through the shim: the same output and exit code, the broker served
# the session and each forwarded connection (its counters), nothing handed to ssh, no
# OpenSSH master, and one TCP connection for all of the shim's sessions.
#
#   tests/fwd/run.sh BUILD      (as root)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
SUITE=fwd
# shellcheck source=../lib-cases.sh
. "$ROOT/tests/lib-cases.sh"
account_suite fwd
HTTP_PID= SRV_PID=
cleanup() {
    [ -z "$HTTP_PID" ] || kill "$HTTP_PID" 2>/dev/null
    [ -z "$SRV_PID" ] || kill "$SRV_PID" 2>/dev/null
    mux_stop "$RT"
    sshd_stop "$T/s"
    sshd_stop "$T/s2"
    sshd_stop "$T/s3"
    rm -f /etc/pam.d/muxshim-fwd-otp
    rm -rf "$T"
}
trap cleanup EXIT

test_account "$U" "$H" || exit 1
SSHD_USER=$U lab_server || exit 1
# free_port: a loopback port nothing listens on
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HTTP=$(free_port) P1=$(free_port) P2=$(free_port) P3=$(free_port) P4=$(free_port)
export HTTP P1 P2 P3 P4
# lab-nofwd: a server that refuses every forwarding (AllowTcpForwarding no), same key
SSHD_USER=$U SSHD_EXTRA="AllowTcpForwarding no" second_server lab-nofwd "$T/s2" || exit 1
NOFWD_PORT=$SECOND_PORT
# labfwd: the lab server with its forwards written in the account's ~/.ssh/config
printf 'Host labfwd\n    HostName 127.0.0.1\n    Port %s\n    LocalForward %s 127.0.0.1:%s\n    DynamicForward %s\n' \
    "$LAB_PORT" "$P1" "$HTTP" "$P3" >>"$H/.ssh/config"
mkdir -m 700 "$RT" "$T/www"
head -c 50000000 /dev/urandom >"$T/www/big.bin"
echo "hello through the forward" >"$T/www/index.txt"
chown -R "$U:" "$H" "$RT"
chmod 600 "$H/.ssh/id_ed25519"
cp -a "$H/.ssh" "$T/ssh.pristine"
(cd "$T/www" && exec python3 -m http.server -b 127.0.0.1 "$HTTP" >/dev/null 2>&1) &
HTTP_PID=$!
for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$HTTP/index.txt" >/dev/null && break; sleep 0.05; done
# the same files over a Unix socket on the server's side ($T/srv.sock, open to the account)
python3 -c '
import http.server, os, socketserver, sys
class H(http.server.SimpleHTTPRequestHandler):
    def address_string(self): return "unix"
os.chdir(sys.argv[2])
s = socketserver.UnixStreamServer(sys.argv[1], H)
os.chmod(sys.argv[1], 0o666)
s.serve_forever()' "$T/srv.sock" "$T/www" >/dev/null 2>&1 &
SRV_PID=$!
for _ in $(seq 1 100); do curl -s --unix-socket "$T/srv.sock" http://x/index.txt >/dev/null && break; sleep 0.05; done
export SRV=$T/srv.sock

counters() { broker_counters "$MUXSSH" "$RT" "$U"; }
mux_conns=0

# Each side sees the suite's ports and the server's socket path (run_side, lib-cases.sh).
SIDE_ENV=(HTTP="$HTTP" P1="$P1" P2="$P2" P3="$P3" P4="$P4" SRV="$SRV" NOFWD="$NOFWD_PORT")
SIDE_TIMEOUT=120

# fcase NAME SESSIONS SNIPPET: served_case (lib-cases.sh): differential, and the broker
# served SESSIONS more sessions (the forwards' sessions and each forwarded connection the
# server opened) and handed none to ssh.
fcase() { served_case "$@"; }

# wait_port PORT: until something listens there (the -f forwards are up)
WAITP='wait_port() { for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.05; done; }'
GET="curl -s --max-time 20"
# BUSY: something else listens on P1 for 5 s
BUSY='python3 -c "import socket,sys,time; s=socket.socket(); s.bind((\"127.0.0.1\", int(sys.argv[1]))); s.listen(); time.sleep(5)" $P4'

fcase L-http 3 "ssh -L \$P1:127.0.0.1:\$HTTP lab 'sleep 1; echo session' & $WAITP; wait_port \$P1; $GET http://127.0.0.1:\$P1/index.txt; wait; echo rc \$?"
fcase L-f-N-http 3 "$WAITP; ssh -f -N -L \$P1:127.0.0.1:\$HTTP lab; echo rc \$?; $GET http://127.0.0.1:\$P1/index.txt; $GET http://localhost:\$P1/index.txt; pkill -u \$(id -u) -x -f \"ssh -f -N -L \$P1:127.0.0.1:\$HTTP lab\" || pkill -u \$(id -u) -f \"^ssh -f -N -L \$P1\"; sleep 0.5; $GET http://127.0.0.1:\$P1/index.txt; echo closed \$?"
fcase L-bulk-sha256 2 "ssh -f -N -o ExitOnForwardFailure=yes -L \$P2:127.0.0.1:\$HTTP lab; $GET http://127.0.0.1:\$P2/big.bin | sha256sum; pkill -u \$(id -u) -f \"^ssh -f -N -o ExitOnForwardFailure=yes -L \$P2\"; echo done"
fcase D-socks 4 "ssh -f -N -D \$P3 lab; $GET --socks5-hostname 127.0.0.1:\$P3 http://127.0.0.1:\$HTTP/index.txt; $GET --socks4a 127.0.0.1:\$P3 http://127.0.0.1:\$HTTP/index.txt; $GET --socks4 127.0.0.1:\$P3 http://127.0.0.1:\$HTTP/index.txt; pkill -u \$(id -u) -f \"^ssh -f -N -D \$P3\"; echo done"
fcase exit-on-forward-failure-busy 0 "$BUSY & b=\$!; sleep 0.5; ssh -o ExitOnForwardFailure=yes -L 127.0.0.1:\$P4:127.0.0.1:\$HTTP lab echo ran; echo rc \$?; kill \$b; wait"
fcase busy-port-goes-on 1 "$BUSY & b=\$!; sleep 0.5; ssh -L 127.0.0.1:\$P4:127.0.0.1:\$HTTP lab echo ran; echo rc \$?; kill \$b; wait"
fcase L-unix-socket 2 "ssh -f -N -L \$W/web.sock:127.0.0.1:\$HTTP lab; sleep 0.5; $GET --unix-socket \$W/web.sock http://x/index.txt; pkill -u \$(id -u) -f \"^ssh -f -N -L \$W/web.sock\"; echo done"
fcase two-sessions-two-forwards 4 "ssh -f -N -L \$P1:127.0.0.1:\$HTTP lab; ssh -f -N -L \$P2:127.0.0.1:\$HTTP lab; $GET http://127.0.0.1:\$P1/index.txt; $GET http://127.0.0.1:\$P2/index.txt; pkill -u \$(id -u) -f \"^ssh -f -N -L\"; echo done"

# The server refuses: ssh's words for it, its channel number included (listeners on
# 127.0.0.1 and ::1, then the session: the connection is channel 3, freed and used again).
# A refused connection is no session served: the broker counts only the session.
# (The refused connection's client only reads: one that sends at once, as curl does, races
# the close, with plain ssh too: a reset when its bytes came first, else a clean end.)
fcase L-server-refuses 1 "ssh -L \$P1:127.0.0.1:\$HTTP lab-nofwd 'sleep 3; echo session' & $WAITP; wait_port \$P1; sleep 0.5; timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/\$P1; cat <&3'; echo read \$?; wait; echo rc \$?"
# ssh answers SOCKS only once the channel is open (the reply waits in the channel's output),
# so a refused one closes with no reply (curl: 97); so does the broker, which sends the reply
# muxssh read the request of (OPEN_FWD_SOCKS). ssh -f sends its stderr to /dev/null: nothing
# printed on either side; in the foreground both print ssh's refusal.
fcase D-server-refuses 1 "ssh -f -N -D \$P3 lab-nofwd; echo rc \$?; $GET --socks5-hostname 127.0.0.1:\$P3 http://127.0.0.1:\$HTTP/index.txt; echo curl \$?; sleep 0.5; pkill -u \$(id -u) -f \"^ssh -f -N -D \$P3\"; echo done"
fcase D-server-refuses-stderr 1 "ssh -D \$P3 lab-nofwd 'sleep 3; echo session' & $WAITP; wait_port \$P3; sleep 0.5; $GET --socks4a 127.0.0.1:\$P3 http://127.0.0.1:\$HTTP/index.txt; echo curl \$?; wait; echo rc \$?"
# LocalForward and DynamicForward from the account's ~/.ssh/config (Host labfwd)
fcase config-forwards 3 "ssh -f -N labfwd; echo rc \$?; $GET http://127.0.0.1:\$P1/index.txt; $GET --socks5-hostname 127.0.0.1:\$P3 http://127.0.0.1:\$HTTP/index.txt; pkill -u \$(id -u) -f \"^ssh -f -N labfwd\"; echo done"
# ClearAllForwardings: the config's forwards bound without it, nothing bound with it (each
# looked at while the session's command runs: ssh binds before it starts the command)
PROBE='probe() { if (exec 3<>/dev/tcp/127.0.0.1/$2) 2>/dev/null; then echo "$1 bound"; else echo "$1 free"; fi; }'
fcase clear-all-forwardings 3 "$PROBE; mkfifo up; ssh labfwd 'echo up; sleep 1' >up & read -r l <up; echo \$l; probe L \$P1; probe D \$P3; wait; ssh -o ClearAllForwardings=yes labfwd 'echo up; sleep 1' >up & read -r l <up; echo \$l; probe L \$P1; probe D \$P3; wait; echo rc \$?"
# Bind addresses and GatewayPorts: what listens (ss), and whether 127.0.0.2 (not the
# loopback address 127.0.0.1, nor localhost) reaches it
LISTENING='listening() { ss -ltnH | awk "{print \$4}" | grep -E ":($P1|$P2|$P4)\$" | sort; }'
fcase bind-address-gateway-ports 4 "$LISTENING; ssh -f -N -L 127.0.0.1:\$P1:127.0.0.1:\$HTTP -L '*:'\$P2:127.0.0.1:\$HTTP lab; ssh -f -N -o GatewayPorts=yes -L \$P4:127.0.0.1:\$HTTP lab; listening | sed \"s/\$P1/P1/; s/\$P2/P2/; s/\$P4/P4/\"; for p in P1 P2 P4; do $GET http://127.0.0.2:\${!p}/index.txt; echo \"\$p \$?\"; done; pkill -u \$(id -u) -f \"^ssh -f -N -L 127.0.0.1:\$P1\"; pkill -u \$(id -u) -f \"^ssh -f -N -o GatewayPorts=yes\"; echo done"
# A Unix socket on the server (direct-streamlocal@openssh.com), from a port and from a socket
fcase L-to-server-socket 3 "ssh -f -N -L \$P1:\$SRV -L \$W/both.sock:\$SRV lab; $GET http://127.0.0.1:\$P1/index.txt; $GET --unix-socket \$W/both.sock http://x/index.txt; pkill -u \$(id -u) -f \"^ssh -f -N -L \$P1:\"; echo done"
# A stale socket file where a Unix-socket forward listens: refused (and 255 under
# ExitOnForwardFailure) without StreamLocalBindUnlink, replaced with it
STALE='python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" $W/x.sock'
fcase stream-local-bind-unlink 3 "$STALE; ssh -o ExitOnForwardFailure=yes -L \$W/x.sock:127.0.0.1:\$HTTP lab echo ran; echo rc \$?; ssh -f -N -L \$W/x.sock:127.0.0.1:\$HTTP lab; echo rc \$?; $GET --unix-socket \$W/x.sock http://x/index.txt; echo curl \$?; pkill -u \$(id -u) -f \"^ssh -f -N -L \$W/x.sock\"; ssh -f -N -o StreamLocalBindUnlink=yes -L \$W/x.sock:127.0.0.1:\$HTTP lab; echo rc \$?; $GET --unix-socket \$W/x.sock http://x/index.txt; pkill -u \$(id -u) -f \"^ssh -f -N -o StreamLocalBindUnlink=yes\"; echo done"
# StreamLocalBindMask: the listening socket's mode (ssh's default 0177 gives 0600)
fcase stream-local-bind-mask 2 "ssh -f -N -L \$W/m1.sock:127.0.0.1:\$HTTP lab; ssh -f -N -o StreamLocalBindMask=0111 -L \$W/m2.sock:127.0.0.1:\$HTTP lab; stat -c '%n %a' m1.sock m2.sock; pkill -u \$(id -u) -f \"^ssh -f -N .*-L \$W/m[12].sock\"; echo done"

# Remote forwards (-R, RemoteForward): the server listens, each connection comes back as a
# channel that the client connects (the broker asks muxssh, which connects in its own
# context); used from the server's side (the same machine here). The connections are no
# sessions: the broker counts the forward's session only.
fcase R-http 1 "ssh -R \$P1:127.0.0.1:\$HTTP -R \$P3:\$SRV lab \"$GET http://127.0.0.1:\$P1/index.txt; $GET http://localhost:\$P1/index.txt; $GET http://127.0.0.1:\$P3/index.txt\"; echo rc \$?"
# A remote forward listening on a socket path (streamlocal-forward@openssh.com, our libssh2
# patch): absolute; relative, sent as it is (this sshd resolves it in its own working
# directory, /, where the account cannot bind: the same warning on both sides); a path
# already taken: ssh's warning, and under ExitOnForwardFailure its error and 255
RSOCK=0
case "$("$B/muxbroker" -V 2>&1)" in *", remote socket forwards"*) RSOCK=1 ;; esac
if [ "$RSOCK" = 1 ]; then
    fcase R-unix-socket 2 "ssh -R \$W/r.sock:127.0.0.1:\$HTTP lab \"$GET --unix-socket \$W/r.sock http://x/index.txt\"; echo rc \$?; ssh -R ./rel.sock:\$SRV lab \"$GET --unix-socket rel.sock http://x/index.txt; rm -f rel.sock\"; echo rc \$?"
    fcase R-unix-socket-busy 1 "$STALE; ssh -R \$W/x.sock:127.0.0.1:\$HTTP lab echo ran; echo rc \$?; ssh -o ExitOnForwardFailure=yes -R \$W/x.sock:127.0.0.1:\$HTTP lab echo ran; echo rc \$?"
else
    skip R-unix-socket "this build's libssh2 has no streamlocal-forward (muxbroker -V)"
fi

# -R 0: the port the server picked, printed as ssh prints it, and used; -N killed by SIGTERM
# exits 0 (ssh: no remote status, the end was asked for here)
ALLOC='ssh -N -R 0:127.0.0.1:$HTTP lab 2>$W/e & s=$!; for _ in $(seq 1 200); do grep -q Allocated $W/e && break; sleep 0.05; done; p=$(sed -n "s/^Allocated port \([0-9]*\) .*/\1/p" $W/e)'
fcase R-0-allocated 1 "$ALLOC; $GET http://127.0.0.1:\$p/index.txt; kill \$s; wait \$s; echo rc \$?; sed \"s/port \$p /port N /\" \$W/e"
# A server that refuses remote forwards (AllowTcpForwarding no): ssh's warning and the
# command runs; under ExitOnForwardFailure ssh's error and 255, nothing ran (not counted)
fcase R-refused 1 "ssh -R \$P1:127.0.0.1:\$HTTP lab-nofwd echo ran; echo rc \$?"
fcase R-refused-exit-on-failure 0 "ssh -o ExitOnForwardFailure=yes -R \$P1:127.0.0.1:\$HTTP lab-nofwd echo ran; echo rc \$?"
# A port busy on the server (both loopback addresses taken), then -q
BUSY2='python3 -c "import socket,sys,time; a=socket.socket(); a.bind((\"127.0.0.1\", int(sys.argv[1]))); a.listen(); b=socket.socket(socket.AF_INET6); b.bind((\"::1\", int(sys.argv[1]))); b.listen(); time.sleep(5)" $P4'
fcase R-busy 2 "$BUSY2 & b=\$!; sleep 0.5; ssh -R \$P4:127.0.0.1:\$HTTP lab echo ran; echo rc \$?; ssh -q -R \$P4:127.0.0.1:\$HTTP lab echo ran; echo rc \$?; kill \$b; wait"
# Dynamic: -R PORT makes the client a SOCKS server for the server's side, under
# PermitRemoteOpen (a refused destination gets no reply: curl 97)
fcase R-dynamic-socks 2 "ssh -R \$P2 lab \"$GET --socks5-hostname 127.0.0.1:\$P2 http://127.0.0.1:\$HTTP/index.txt; $GET --socks4a 127.0.0.1:\$P2 http://localhost:\$HTTP/index.txt\"; echo rc \$?; ssh -o PermitRemoteOpen=127.0.0.1:1 -R \$P2 lab \"$GET --socks5-hostname 127.0.0.1:\$P2 http://127.0.0.1:\$HTTP/index.txt; echo curl \\\$?\"; echo rc \$?"
# ssh -f -N -R killed: its remote port closes
fcase R-f-N-killed 1 "$WAITP; ssh -f -N -R \$P1:127.0.0.1:\$HTTP lab; echo rc \$?; wait_port \$P1; $GET http://127.0.0.1:\$P1/index.txt; pkill -u \$(id -u) -f \"^ssh -f -N -R \$P1\"; sleep 1; $GET http://127.0.0.1:\$P1/index.txt; echo closed \$?"
# Two sessions on one connection, each with its own remote forward: each port reaches its
# own session's target (the web server; lab-nofwd's ssh server, which says its banner)
fcase R-two-sessions 2 "$WAITP; ssh -f -N -R \$P1:127.0.0.1:\$HTTP lab; ssh -f -N -R \$P2:127.0.0.1:\$NOFWD lab; wait_port \$P1; wait_port \$P2; $GET http://127.0.0.1:\$P1/index.txt; exec 3<>/dev/tcp/127.0.0.1/\$P2; head -c 7 <&3; echo; exec 3<&-; pkill -u \$(id -u) -f \"^ssh -f -N -R \$P2\"; sleep 1; $GET http://127.0.0.1:\$P1/index.txt; $GET http://127.0.0.1:\$P2/index.txt; echo p2 \$?; pkill -u \$(id -u) -f \"^ssh -f -N -R \$P1\"; echo done"
fcase R-bulk-sha256 1 "ssh -f -N -o ExitOnForwardFailure=yes -R \$P2:127.0.0.1:\$HTTP lab; $GET http://127.0.0.1:\$P2/big.bin | sha256sum; pkill -u \$(id -u) -f \"^ssh -f -N -o ExitOnForwardFailure=yes -R \$P2\"; echo done"
# --- ssh -O forward / -O cancel (issue 24, fwd-control): forwards held for the connection,
# as an OpenSSH master holds them (plain ssh: its ControlMaster; the shim: the broker, no
# master). Only the plain side's master is ended at the end (-O exit on the shim's side would
# end the connection every case shares). The broker counts each session and each connection
# through a held forward as served; -O requests are no sessions.
CM='-o ControlMaster=auto -o ControlPersist=60 -o ControlPath=$W/cm'
CP='-o ControlPath=$W/cm'
ENDM='[ -n "${LD_PRELOAD:-}" ] || ssh '$CP' -O exit lab 2>/dev/null'
fcase O-forward-L-cancel 2 "ssh $CM lab true; echo rc \$?; ssh $CP -O forward -L \$P1:127.0.0.1:\$HTTP lab; echo forward \$?; bash -c '$GET http://127.0.0.1:\$P1/index.txt'; ssh $CP -O forward -L \$P1:127.0.0.1:\$HTTP lab; echo again \$?; ssh $CP -O cancel -L \$P1:127.0.0.1:\$HTTP lab; echo cancel \$?; $GET http://127.0.0.1:\$P1/index.txt; echo closed \$?; ssh $CP -O cancel -L \$P1:127.0.0.1:\$HTTP lab; echo cancel-again \$?; $ENDM"
fcase O-forward-D 3 "ssh $CM lab true; ssh $CP -O forward -D \$P3 lab; echo forward \$?; $GET --socks5-hostname 127.0.0.1:\$P3 http://127.0.0.1:\$HTTP/index.txt; $GET --socks4 127.0.0.1:\$P3 http://127.0.0.1:\$HTTP/index.txt; ssh $CP -O cancel -D \$P3 lab; echo cancel \$?; $GET --socks5-hostname 127.0.0.1:\$P3 http://127.0.0.1:\$HTTP/index.txt; echo closed \$?; $ENDM"
# a held forward outlives the ssh -O forward that asked for it, and a busy port fails as the
# master's does (255, mux_client_forward's words)
fcase O-forward-outlives-busy 2 "ssh $CM lab true; $BUSY & b=\$!; sleep 0.5; ssh $CP -O forward -L \$P2:127.0.0.1:\$HTTP -L 127.0.0.1:\$P4:127.0.0.1:\$HTTP lab; echo forward \$?; sleep 1; $GET http://127.0.0.1:\$P2/index.txt; ssh $CP -O cancel -L \$P2:127.0.0.1:\$HTTP lab; echo cancel \$?; kill \$b; wait; $ENDM"
# -O forward -R / -O cancel -R: the connection holds the remote forward (tcpip-forward on
# it); its channels are connected by the master (the broker, in a worker thread), no client
# asked. Used from the server's side (a session running curl), cancelled, then closed.
fcase O-forward-R-cancel 2 "ssh $CM lab true; ssh $CP -O forward -R \$P1:127.0.0.1:\$HTTP lab; echo forward \$?; ssh $CP lab '$GET http://127.0.0.1:'\$P1/index.txt; ssh $CP -O forward -R \$P1:127.0.0.1:\$HTTP lab; echo again \$?; ssh $CP -O cancel -R \$P1:127.0.0.1:\$HTTP lab; echo cancel \$?; sleep 0.5; $GET http://127.0.0.1:\$P1/index.txt; echo closed \$?; ssh $CP -O cancel -R \$P1:127.0.0.1:\$HTTP lab; echo cancel-again \$?; $ENDM"
# -O forward -R PORT (dynamic): the master (the broker, no client to ask) is the SOCKS server
# for the server's side, SOCKS 5 and 4a, under PermitRemoteOpen (the master's own: both sides
# take the account's config here, which sets none); cancelled by the same words, then closed
fcase O-forward-R-dynamic 2 "ssh $CM lab true; ssh $CP -O forward -R \$P2 lab; echo forward \$?; ssh $CP lab \"$GET --socks5-hostname 127.0.0.1:\$P2 http://127.0.0.1:\$HTTP/index.txt; $GET --socks4a 127.0.0.1:\$P2 http://localhost:\$HTTP/index.txt; $GET --socks5 127.0.0.1:\$P2 http://127.0.0.1:1/; echo refused \\\$?\"; ssh $CP -O cancel -R \$P2 lab; echo cancel \$?; sleep 0.5; $GET --socks5 127.0.0.1:\$P2 http://127.0.0.1:\$HTTP/index.txt; echo closed \$?; $ENDM"
# ... with PermitRemoteOpen: an OpenSSH master takes its own (given here to the master and to
# -O forward alike), the broker the -O forward's; a name is not the address it resolves to
PRO='-o PermitRemoteOpen=127.0.0.1:$HTTP'
fcase O-forward-R-dynamic-permit 2 "ssh $CM $PRO lab true; ssh $CP $PRO -O forward -R \$P2 lab; echo forward \$?; ssh $CP lab \"$GET --socks5-hostname 127.0.0.1:\$P2 http://127.0.0.1:\$HTTP/index.txt; $GET --socks4a 127.0.0.1:\$P2 http://localhost:\$HTTP/index.txt; echo name \\\$?\"; ssh $CP $PRO -O cancel -R \$P2 lab; echo cancel \$?; $ENDM"
# -O forward -R to a socket path on the server, held by the connection, then cancelled
[ "$RSOCK" = 1 ] &&
    fcase O-forward-R-unix-socket 2 "ssh $CM lab true; ssh $CP -O forward -R \$W/h.sock:127.0.0.1:\$HTTP lab; echo forward \$?; ssh $CP lab '$GET --unix-socket '\$W/h.sock' http://x/index.txt'; ssh $CP -O cancel -R \$W/h.sock:127.0.0.1:\$HTTP lab; echo cancel \$?; $ENDM"
# -O forward -R 0: the port the server allocated, alone on stdout (mux_client_forward), the
# same again for the same forward; cancelled by the same words, then closed
fcase O-forward-R-0 1 "ssh $CM lab true; p=\$(ssh $CP -O forward -R 0:127.0.0.1:\$HTTP lab); echo forward \$?; [ \"\$p\" -gt 0 ] && echo numeric; $GET http://127.0.0.1:\$p/index.txt; q=\$(ssh $CP -O forward -R 0:127.0.0.1:\$HTTP lab); [ \"\$q\" = \"\$p\" ] && echo same; ssh $CP -O cancel -R 0:127.0.0.1:\$HTTP lab; echo cancel \$?; sleep 0.5; $GET http://127.0.0.1:\$p/index.txt; echo closed \$?; $ENDM"
# A client that reads to the end: the server's close reaches it as EOF (ssh shuts the socket
# down for writing at the channel's EOF), through a session's -L and a held one
READ_EOF='read_eof() { timeout 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1; printf \"GET /index.txt HTTP/1.0\r\n\r\n\" >&3; cat <&3" | tail -1; echo "read ${PIPESTATUS[0]}"; }'
fcase L-read-to-eof 2 "$READ_EOF; ssh -f -N -L \$P1:127.0.0.1:\$HTTP lab; read_eof \$P1; pkill -u \$(id -u) -f \"^ssh -f -N -L \$P1\"; echo done"
fcase O-forward-read-to-eof 2 "$READ_EOF; ssh $CM lab true; ssh $CP -O forward -L \$P2:127.0.0.1:\$HTTP lab; read_eof \$P2; ssh $CP -O cancel -L \$P2:127.0.0.1:\$HTTP lab; $ENDM"
# muxrun status (muxssh --mux-status): every forward with its owner, the session's own -L with
# its client's pid, the held -D with "connection" (served: the session and wait_port's
# connection through its -L)
SIDE_ENV+=(MUXSSH="$MUXSSH")
before=$(counters)
run_side mux "$WAITP; ssh -L \$P2:127.0.0.1:\$HTTP lab 'sleep 3' & pid=\$!; wait_port \$P2; ssh $CP -O forward -D \$P3 lab; ssh $CP -O forward -R \$P4:127.0.0.1:\$HTTP lab; \$MUXSSH --mux-status | grep -E '^(FORWARD|[LDR] )'; echo \"pid \$pid\"; ssh $CP -O cancel -D \$P3 lab; ssh $CP -O cancel -R \$P4:127.0.0.1:\$HTTP lab; wait"
after=$(counters)
want=$(printf 'L %s \\[127\\.0\\.0\\.1\\]:%s .* pid %s\n' "$P2" "$HTTP" "$(sed -n 's/^pid //p' "$T/mux.out")")
if grep -q '^FORWARD  *HOST  *OWNER$' "$T/mux.out" && grep -Eq "^$want\$" "$T/mux.out" &&
    grep -Eq "^D $P3 .* connection\$" "$T/mux.out" && grep -Eq "^R $P4 \\[127\\.0\\.0\\.1\\]:$HTTP .* connection\$" "$T/mux.out" &&
    [ "$((${after% *} - ${before% *}))" = 2 ]; then
    ok "status-forwards-owners"
else
    notok "status-forwards-owners" "served $((${after% *} - ${before% *})) (want 2); out: $(tr '\n' '|' <"$T/mux.out") err: $(head -c 300 "$T/mux.err")"
fi

# A host whose login asks a one-time code after the key (keyboard-interactive through PAM,
# as a bastion with a second factor): plain ssh asks it for every session, the shim once for
# a session with -L (and two connections through it: wait_port's and curl's), one with -R
# used from the server's side and a plain one, all on one TCP connection (its sshd's log).
OTP_CODE=$((100000 + RANDOM))
OTP_BIN=$(sshd_otp muxshim-fwd-otp "$T/pam" "$OTP_CODE")
SSHD_USER=$U SSHD_BIN=$OTP_BIN SSHD_EXTRA="UsePAM yes
KbdInteractiveAuthentication yes
AuthenticationMethods publickey,keyboard-interactive" second_server lab-otp "$T/s3" "$T/ssh.pristine" || exit 1
printf '#!/bin/sh\necho "$1" >>"$W/asked"\necho %s\n' "$OTP_CODE" >"$T/otp-askpass"
chmod 755 "$T/otp-askpass"
SIDE_ENV+=(SSH_ASKPASS="$T/otp-askpass" SSH_ASKPASS_REQUIRE=force)
otp_snippet="$WAITP; ssh -f -N -L \$P1:127.0.0.1:\$HTTP lab-otp; wait_port \$P1; $GET http://127.0.0.1:\$P1/index.txt; ssh -R \$P2:127.0.0.1:\$HTTP lab-otp \"$GET http://127.0.0.1:\$P2/index.txt\"; ssh lab-otp echo plain; pkill -u \$(id -u) -f \"^ssh -f -N -L \$P1\"; echo asked \$(wc -l <\$W/asked)"
c0=$(sshd_connections "$T/s3")
run_side plain "$otp_snippet"
c1=$(sshd_connections "$T/s3")
before=$(counters)
run_side mux "$otp_snippet"
after=$(counters)
c2=$(sshd_connections "$T/s3")
served=$((${after% *} - ${before% *})) handed=$((${after#* } - ${before#* }))
if [ "$(grep -v '^asked' "$T/plain.out")" = "$(grep -v '^asked' "$T/mux.out")" ] &&
    grep -qx 'asked 3' "$T/plain.out" && grep -qx 'asked 1' "$T/mux.out" &&
    [ "$(grep -c 'hello through the forward' "$T/mux.out")" = 2 ] && grep -qx plain "$T/mux.out" &&
    [ "$served" = 5 ] && [ "$handed" = 0 ] && [ $((c1 - c0)) = 3 ] && [ $((c2 - c1)) = 1 ]; then
    ok "otp-asked-once (plain ssh: 3 codes, 3 connections; the shim: 1 code, 1 connection; served 5, handed 0)"
else
    notok "otp-asked-once" "plain: $(tr '\n' ' ' <"$T/plain.out") ($((c1 - c0)) connections); shim: $(tr '\n' ' ' <"$T/mux.out") ($((c2 - c1)) connections), served $served, handed $handed; err: $(head -c 300 "$T/mux.err" | tr '\n' ' ')"
fi

one_connection "the shim's sessions and forwards"
as_test_account "$U" env MUXSHIM_DIR="$RT" "$MUXSSH" --mux-status | sed 's/^/#   /'
[ "$failures" -eq 0 ]
