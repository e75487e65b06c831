#!/bin/bash
# `make soak`: many sessions through one broker against a real sshd on loopback.
#
#   1. SOAK_SESSIONS (default 10000) sessions, SOAK_PARALLEL (default 20) at a time, each a
#      small exec with stdin and an exit code; the broker's fd count and RSS are printed at
#      the start (after a warm-up) and at the end, and must not grow.
#   2. The broker under valgrind (memcheck) for SOAK_VG_SESSIONS (default 300) sessions,
#      10 at a time, then stopped with SIGTERM: no definite or indirect leaks, no errors.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
N=${SOAK_SESSIONS:-10000}
P=${SOAK_PARALLEL:-20}
NVG=${SOAK_VG_SESSIONS:-300}
# shellcheck source=../../scripts/lib-sshd.sh
. "$ROOT/scripts/lib-sshd.sh"

T=$(mktemp -d /tmp/muxshim-soak-XXXXXX)
export MUXSHIM_DIR=$T/run MUXSHIM_PERSIST=600
mkdir -m 700 "$MUXSHIM_DIR"
unset LD_PRELOAD MUXSHIM_DISABLE MUXSHIM_GUARD MUXSHIM_REAL_SSH SSH_AUTH_SOCK MUXSHIM_BROKER
cleanup() {
    local pid
    pid=$(cat "$MUXSHIM_DIR/broker.lock" 2>/dev/null) && kill "$pid" 2>/dev/null
    sshd_stop "$T/s"
    rm -rf "$T"
}
trap cleanup EXIT
# The remote side of each session is a shell: as root, log in as an account whose shell is
# /bin/sh with no rc files, so the soak measures muxshim rather than a login profile.
SSHD_USER=$(sshd_light_user) SSHD_MAXSESSIONS=64 sshd_start "$T/s" >/dev/null || exit 1
export CFG=$T/s/ssh_config MUXSSH=$B/muxssh ERRLOG=$T/stderr.log
: >"$ERRLOG"
failed=0

# One session: stdin in, a computed line out, a chosen exit code back. Prints "bad I" on
# any difference (read by the caller); silent when right.
cat >"$T/one.sh" <<'EOF'
#!/bin/bash
i=$1
out=$(echo "$i" | "$MUXSSH" -F "$CFG" mux-test 'read x; echo $((x * 2)); exit $((x % 7))' 2>>"$ERRLOG")
rc=$?
[ "$out" = $((i * 2)) ] && [ "$rc" = $((i % 7)) ] || echo "bad $i: exit $rc, output $out"
EOF
chmod +x "$T/one.sh"
run_many() { seq "$1" "$2" | xargs -P "$3" -n 1 "$T/one.sh"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }

# --- 1. the long soak -------------------------------------------------------------------
run_many 1 200 "$P" >"$T/warm.bad"
bp=$(cat "$MUXSHIM_DIR/broker.lock")
sleep 1
fd0=$(fds "$bp")
rss0=$(rss_kb "$bp")
echo "soak: broker pid $bp after 200 warm-up sessions: $fd0 fds, RSS $rss0 KiB"
t0=$(date +%s)
run_many 1 "$N" "$P" >"$T/soak.bad"
t1=$(date +%s)
sleep 1
fd1=$(fds "$bp")
rss1=$(rss_kb "$bp")
bad=$(cat "$T/warm.bad" "$T/soak.bad" | wc -l)
echo "soak: $N sessions, $P at a time, in $((t1 - t0)) s; $bad wrong"
echo "soak: broker at the end: $fd1 fds (start $fd0), RSS $rss1 KiB (start $rss0 KiB)"
echo "soak: TCP connections the server saw: $(sshd_connections "$T/s"); stderr lines: $(wc -l <"$ERRLOG")"
head -3 "$ERRLOG"
head -5 "$T/soak.bad"
if [ "$bad" -ne 0 ] || [ -s "$ERRLOG" ] || [ "$(cat "$MUXSHIM_DIR/broker.lock")" != "$bp" ]; then
    echo "soak: FAILED: wrong sessions or the broker changed"
    failed=1
fi
# RSS may move by a few pages as malloc reuses memory; growth with the session count
# (a leak of even 100 bytes per session is 1 MB here) may not.
if [ -z "$rss1" ] || [ "$fd1" -gt "$fd0" ] || [ "$rss1" -gt $((rss0 + 512)) ]; then
    echo "soak: FAILED: the broker grew"
    failed=1
fi
kill "$bp"
for i in $(seq 1 50); do kill -0 "$bp" 2>/dev/null || break; sleep 0.1; done

# --- 2. valgrind -------------------------------------------------------------------------
if ! command -v valgrind >/dev/null; then
    echo "soak: valgrind is missing"
    exit 1
fi
cat >"$T/vgbroker" <<EOF
#!/bin/sh
exec valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --track-fds=no --log-file=$T/vg.%p.log \
    $B/muxbroker "\$@"
EOF
chmod +x "$T/vgbroker"
export MUXSHIM_BROKER=$T/vgbroker
run_many 1 "$NVG" 10 >"$T/vg.bad"
vp=$(cat "$MUXSHIM_DIR/broker.lock")
kill "$vp"
for i in $(seq 1 100); do kill -0 "$vp" 2>/dev/null || break; sleep 0.1; done
bad=$(wc -l <"$T/vg.bad")
logs=$(cat "$T"/vg.*.log 2>/dev/null)
echo "soak: under valgrind: $NVG sessions, $bad wrong; valgrind said: ${logs:-nothing (no errors, no leaks)}"
if [ "$bad" -ne 0 ] || [ -n "$logs" ] || ! ls "$T"/vg.*.log >/dev/null 2>&1; then
    echo "soak: FAILED under valgrind"
    failed=1
fi
[ "$failed" -eq 0 ] && echo "soak: passed"
exit $failed
