#!/bin/bash
# make bench-fwd: a local forward (-L) on one throwaway sshd on loopback, as a user runs ssh
# (as root: the test account muxuser, its own ~/.ssh, the system's /etc/ssh/ssh_config, no
# -F; scripts/lib-bench.sh): plain ssh's `ssh -N -L`, the same through the shim (muxssh
# binds it, the broker carries each connection) and a forward the broker holds for
# `ssh -O forward -L`. For each: the throughput of SIZE MiB (1024) read through the forward
# from a local server (the median of RUNS, 3), and the time to the first byte of CONNS (1000)
# short connections made one after the other (a connection, the server's one byte, close):
# median and 90th percentile, and the time for all of them.
# Also run by `make bench`, which puts the table in bench/results.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
LIB=$B/libmuxshim.so
SIZE=${SIZE:-1024} RUNS=${RUNS:-3} CONNS=${CONNS:-1000}
# shellcheck source=lib-sshd.sh
. "$ROOT/scripts/lib-sshd.sh"
# shellcheck source=lib-bench.sh
. "$ROOT/scripts/lib-bench.sh"

bench_as_account scripts/bench-fwd.sh "$@"
bench_setup benchfwd fwdlab
user_cfg_end
SHIMMED=(env "LD_PRELOAD=$LIB")
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
BULK=$(port) ONE=$(port) PB=$(port) PO=$(port) MB=$(port) MO=$(port) HB=$(port) HO=$(port)

# The servers: on BULK, SIZE MiB of zeros then close; on ONE, one byte then close.
python3 - "$BULK" "$ONE" "$SIZE" >/dev/null 2>&1 <<'PY' &
import socket, socketserver, sys, threading
bulk, one, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
chunk = bytes(1 << 20)
class Bulk(socketserver.BaseRequestHandler):
    def handle(self):
        for _ in range(size):
            self.request.sendall(chunk)
class One(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(b"x")
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer.daemon_threads = True
a = socketserver.ThreadingTCPServer(("127.0.0.1", bulk), Bulk)
b = socketserver.ThreadingTCPServer(("127.0.0.1", one), One)
threading.Thread(target=a.serve_forever, daemon=True).start()
b.serve_forever()
PY
SRV_PID=$!
PLAIN_PID= MUX_PID=
trap 'kill $SRV_PID $PLAIN_PID $MUX_PID 2>/dev/null; bench_cleanup' EXIT

# bulk PORT: seconds to read SIZE MiB through PORT (fails on a short read)
bulk() {
    python3 - "$1" "$SIZE" <<'PY'
import socket, sys, time
t0 = time.perf_counter()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
buf, got = bytearray(1 << 20), 0
while True:
    n = s.recv_into(buf)
    if not n:
        break
    got += n
t = time.perf_counter() - t0
if got != int(sys.argv[2]) << 20:
    sys.exit("bench-fwd: read %d bytes" % got)
print("%.3f" % t)
PY
}
# ttfb PORT: "MEDIAN_MS P90_MS TOTAL_S" of CONNS connections through PORT, one at a time
ttfb() {
    python3 - "$1" "$CONNS" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
ts, t0 = [], time.perf_counter()
for _ in range(n):
    a = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    if s.recv(1) != b"x":
        sys.exit("bench-fwd: no first byte")
    ts.append(time.perf_counter() - a)
    s.close()
total = time.perf_counter() - t0
ts.sort()
print("%.2f %.2f %.1f" % (ts[n // 2] * 1e3, ts[(n * 9) // 10] * 1e3, total))
PY
}
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "bench-fwd: nothing listens on $1" >&2; exit 1; }
# mbs SECONDS...: the median's MB/s (MiB = 1.048576 MB)
mbs() { printf '%s\n' "$@" | sort -n | awk -v m="$SIZE" '{ a[NR] = $1 } END { printf "%.0f", m * 1.048576 / a[int((NR + 1) / 2)] }'; }

# The three forwards: plain ssh's, the shim's session's, and one the broker holds (asked
# for with -O forward on the shim's connection).
ssh "${F[@]}" -n -N -L "$PB:127.0.0.1:$BULK" -L "$PO:127.0.0.1:$ONE" fwdlab &
PLAIN_PID=$!
"${SHIMMED[@]}" ssh "${F[@]}" -n -N -L "$MB:127.0.0.1:$BULK" -L "$MO:127.0.0.1:$ONE" fwdlab &
MUX_PID=$!
wait_port "$MO"
"${SHIMMED[@]}" ssh "${F[@]}" -O forward -L "$HB:127.0.0.1:$BULK" -L "$HO:127.0.0.1:$ONE" fwdlab
for p in "$PB" "$PO" "$MB" "$MO" "$HB" "$HO"; do wait_port "$p"; done

echo "bench-fwd: $SIZE MiB through -L, median of $RUNS; $CONNS short connections" >&2
declare -A tput first
for side in P M H; do
    b=${side}B o=${side}O
    bulk "${!b}" >/dev/null # warm-up
    t=()
    for _ in $(seq 1 "$RUNS"); do t+=("$(bulk "${!b}")"); done
    tput[$side]=$(mbs "${t[@]}")
    first[$side]=$(ttfb "${!o}")
done
f() { echo "${first[$1]}" | cut -d' ' -f"$2"; }
echo "| through \`-L\` | plain ssh | muxshim (the session's \`-L\`) | muxshim (\`-O forward -L\`) |"
echo "| --- | ---: | ---: | ---: |"
echo "| $SIZE MiB read through it (MB/s, median of $RUNS) | ${tput[P]} | ${tput[M]} | ${tput[H]} |"
echo "| $CONNS short connections: first byte, median ms | $(f P 1) | $(f M 1) | $(f H 1) |"
echo "| ... 90th percentile ms | $(f P 2) | $(f M 2) | $(f H 2) |"
echo "| ... all of them, one after the other (s) | $(f P 3) | $(f M 3) | $(f H 3) |"
grep -c "Accepted publickey" "$T/s/sshd.log" | sed 's/^/bench-fwd: logins sshd saw: /' >&2
