#!/bin/bash
# `make bench-net` (as root): jump hosts and routes in a network namespace, timed, with the
# client side as a user runs it (a test account's ~/.ssh, the system's ssh_config, no -F).
#   1. `ssh target true` where the target is reachable only through a bastion (ProxyJump):
#      plain ssh (two logins each time) against muxshim (both connections shared);
#   2. 1,000 short TCP streams (connect, 550 bytes echoed, close) to a service behind the
#      bastion through a route, against the same loop run inside the namespace directly.
# The namespace gets 10.76.0.0/16; an `unreachable` route for it is added first.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
. "$ROOT/scripts/lib-sshd.sh"
. "$ROOT/scripts/lib-netns.sh"
[ "$(id -u)" -eq 0 ] || {
    echo "bench-net: needs root (network namespaces)" >&2
    exit 1
}
T=$(mktemp -d /tmp/muxshim-bnet-XXXXXX)
chmod 755 "$T"
unset LD_PRELOAD MUXSHIM_DISABLE MUXSHIM_GUARD SSH_AUTH_SOCK MUXSHIM_REAL_SSH
export MUXSHIM_DIR=$T/rt MUXSHIM_PERSIST=600
PIDS=""
cleanup() {
    local p
    p=$(cat "$MUXSHIM_DIR/broker.lock" 2>/dev/null) && kill "$p" 2>/dev/null
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    sshd_stop "$T/b"
    sshd_stop "$T/t"
    netns_down
    rm -rf "$T"
}
trap cleanup EXIT
# The client side runs as a user runs it: the test account muxuser, its own ~/.ssh (the
# bastion and the target in ~/.ssh/config), the system's /etc/ssh/ssh_config, no -F, from a
# copy of the tree it can read.
. "$ROOT/scripts/lib-stage.sh"
stage_tree "$T/tree" || exit 1
B=$T/tree/${B#"$ROOT"/}
U=muxuser
H=$T/home
test_account "$U" "$H" || exit 1
netns_up "muxbnet$$" 10.76.0.0/16 10.76.2.1 || exit 1
SSHD_USER=$U SSHD_ADDR=10.76.1.2 SSHD_WRAP="ip netns exec $NETNS_NAME" sshd_start "$T/b" >/dev/null || exit 1
SSHD_USER=$U SSHD_ADDR=10.76.2.1 SSHD_WRAP="ip netns exec $NETNS_NAME" sshd_start "$T/t" >/dev/null || exit 1
cp "$T/b/authorized_keys" "$T/t/authorized_keys"
cp "$T/b/id_ed25519" "$T/b/id_ed25519.pub" "$H/.ssh/"
cat "$T/b/known_hosts" "$T/t/known_hosts" >"$H/.ssh/known_hosts"
cat >"$H/.ssh/config" <<EOS
Host bastion
    HostName 10.76.1.2
    Port $(awk '/^Port/ { print $2 }' "$T/b/sshd_config")
Host target
    HostName 10.76.2.1
    Port $(awk '/^Port/ { print $2 }' "$T/t/sshd_config")
    ProxyJump bastion
EOS
mkdir -m 700 "$MUXSHIM_DIR"
chown -R "$U:" "$H" "$MUXSHIM_DIR"
chmod 600 "$H/.ssh/id_ed25519"
as_u() { (cd "$H" && as_test_account "$U" "$@"); }
ip netns exec "$NETNS_NAME" /usr/bin/python3 "$ROOT/tests/tools/echo.py" 7007 10.76.2.1 &
PIDS="$PIDS $!"
for i in $(seq 1 50); do netns_exec /usr/bin/python3 -c 'import socket; socket.create_connection(("10.76.2.1", 7007))' 2>/dev/null && break; sleep 0.1; done

SHIM=(env "LD_PRELOAD=$B/libmuxshim.so")
as_u "${SHIM[@]}" ssh target true || exit 1
# hyperfine itself runs ssh, with the shim loaded on the muxshim side, as any program would.
as_u hyperfine -N -w 3 -r 30 --export-csv "$H/plain.csv" "ssh target true" >"$H/hf.out" 2>&1 || { cat "$H/hf.out"; exit 1; }
as_u "${SHIM[@]}" hyperfine -N -w 3 -r 30 --export-csv "$H/mux.csv" "ssh target true" >"$H/hf.out" 2>&1 || { cat "$H/hf.out"; exit 1; }
plain=$(awk -F, 'NR == 2 { printf "%.1f", $4 * 1000 }' "$H/plain.csv")
mux=$(awk -F, 'NR == 2 { printf "%.1f", $4 * 1000 }' "$H/mux.csv")
served=$(as_u "$B/muxssh" --mux-status 2>/dev/null | sed -n 's/.*served \([0-9]*\), handed to ssh \([0-9]*\).*/\1 \2/p' | head -1)

echo "10.76.2.0/24 via bastion" >"$T/routes"
STREAMS=("$ROOT/tests/tools/streams.py" 10.76.2.1 7007 1000)
direct=$(netns_exec /usr/bin/python3 "${STREAMS[@]}")
before=$(sshd_connections "$T/b")
routed=$(as_u "${SHIM[@]}" MUXSHIM_ROUTES="$T/routes" /usr/bin/python3 "${STREAMS[@]}")
logins=$(($(sshd_connections "$T/b") - before))

echo
echo "| measure | plain / direct | muxshim |"
echo "| --- | ---: | ---: |"
echo "| \`ssh target true\` through ProxyJump, median ms | $plain | $mux |"
field() { echo "$1" | awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }
echo "| 1,000 short TCP streams to a host behind the bastion, total s | $(field "$direct" total_s) (inside the namespace) | $(field "$routed" total_s) (routed) |"
echo "| the same, median ms per stream | $(field "$direct" median_ms) | $(field "$routed" median_ms) |"
echo "| streams whose echo differed | $(field "$direct" bad) | $(field "$routed" bad) |"
echo "| new bastion logins for the 1,000 routed streams (row 1 logged in) | | $logins |"
echo
echo "bench-net: the broker's counters for target (served, handed to ssh): ${served:-none}"
