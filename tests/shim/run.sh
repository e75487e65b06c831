#!/bin/bash
# Shim tests: every hooked function redirects ssh to muxssh (a recorder stands in for
# muxssh; the ssh being exec'd is the real /usr/bin/ssh), keeps argv, errno and file
# actions, stays out of the way when told to, and leaves other programs alone.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
LIB=$B/libmuxshim.so
P=$B/tests/shim
T=$(mktemp -d /tmp/muxshim-shim-XXXXXX)
trap 'rm -rf "$T"' EXIT
SSH=$(command -v ssh)
unset MUXSHIM_DISABLE MUXSHIM_GUARD MUXSHIM_REAL_SSH MUXSHIM_SSH_NAMES LD_PRELOAD
failures=0

ok() { echo "ok - shim/$1"; }
notok() {
    echo "not ok - shim/$1: $2"
    failures=$((failures + 1))
}

# shimmed CMD…: run with the shim and the recorder; stdout in $T/out, rc in $rc.
shimmed() {
    rm -f "$T/rec"
    LD_PRELOAD=$LIB MUXSHIM_MUXSSH=$P/recorder RECORD=$T/rec "$@" >"$T/out" 2>"$T/err"
    rc=$?
}
# check NAME WANT_ARGV WANT_REAL: the recorder ran with that argv and MUXSHIM_REAL_SSH.
check() {
    local got
    got=$(cat "$T/rec" 2>/dev/null)
    if [ "$rc" = 42 ] && [ "$got" = "$2
real=$3" ]; then
        ok "$1"
    else
        notok "$1" "rc=$rc record=[$(echo "$got" | tr '\n' '|')] want [$2|real=$3] err=$(head -c 200 "$T/err")"
    fi
}

# --- each hooked function redirects, with argv and the real ssh's path ------------------
for f in execve execv execle; do
    shimmed "$P/t_$f" "$SSH" -p 22
    check "$f-path" "$SSH -p 22" "$SSH"
done
for f in execvp execvpe execlp; do
    shimmed env PATH=/usr/local/bin:/usr/bin:/bin "$P/t_$f" ssh -q host
    check "$f-path-search" "ssh -q host" "$SSH"
done
mkdir -p "$T/bin"
ln -s "$SSH" "$T/bin/ssh"
shimmed env PATH="$T/bin:/usr/bin" "$P/t_execvp" ssh -V
check "execvp-path-order" "ssh -V" "$T/bin/ssh"
shimmed "$P/t_fexecve" "$SSH" -T
check "fexecve" "$SSH -T" "$SSH"
shimmed "$P/t_posix_spawn" - "$SSH" -n host
check "posix_spawn" "$SSH -n host" "$SSH"
shimmed env PATH=/usr/bin:/bin "$P/t_posix_spawn" p ssh host cmd
check "posix_spawnp" "ssh host cmd" "$SSH"
shimmed env SPAWN_OUT="$T/spawned" "$P/t_posix_spawn" - "$SSH" x
if [ "$rc" = 42 ] && [ "$(cat "$T/spawned" 2>/dev/null)" = recorded ]; then
    ok "posix_spawn-file-actions-kept"
else
    notok "posix_spawn-file-actions-kept" "rc=$rc file=$(cat "$T/spawned" 2>/dev/null)"
fi
shimmed "$P/t_vfork" ssh -x host
check "vfork-exec" "ssh -x host" "$SSH"
shimmed "$P/t_threads" ssh host
n=$(grep -c "^ssh host$" "$T/rec" 2>/dev/null)
[ "$rc" = 42 ] && [ "$n" = 20 ] && [ "$(grep -c "^real=$SSH$" "$T/rec")" = 20 ] &&
    ok "threads-fork-exec" || notok "threads-fork-exec" "rc=$rc, $n of 20 recorded"
shimmed "$P/t_rawexec" "$SSH" -V
check "handover-from-inside-ssh" "$SSH -V" "$SSH"
shimmed env MUXSHIM_SSH_NAMES=other-ssh:myssh "$P/t_execv" "$T/bin/ssh" y
check "ssh-name" "$T/bin/ssh y" "$T/bin/ssh"
ln -s "$SSH" "$T/bin/myssh"
shimmed env MUXSHIM_SSH_NAMES=other-ssh:myssh "$P/t_execv" "$T/bin/myssh" z
check "extra-ssh-names" "$T/bin/myssh z" "$T/bin/myssh"

# --- errno on failure is what libc gives without the shim ------------------------------
mkdir -p "$T/bin2"
cp /dev/null "$T/bin2/ssh" # not executable
for f in execve execv execle execvp execvpe execlp fexecve; do
    for target in /nonexistent/ssh "$T/bin2/ssh"; do
        want=$(env PATH=/nonexistent "$P/t_$f" "$target" 2>&1)
        wrc=$?
        shimmed env PATH=/nonexistent "$P/t_$f" "$target"
        got=$(cat "$T/out")
        if [ "$got" = "$want" ] && [ "$rc" = "$wrc" ] && [ ! -e "$T/rec" ]; then
            ok "$f-errno-$(basename "$(dirname "$target")")"
        else
            notok "$f-errno-$(basename "$(dirname "$target")")" "got [$got] rc=$rc, want [$want] rc=$wrc"
        fi
    done
done
for f in execvp execvpe execlp; do
    want=$(env PATH=/nonexistent "$P/t_$f" ssh 2>&1)
    shimmed env PATH=/nonexistent "$P/t_$f" ssh
    [ "$(cat "$T/out")" = "$want" ] && [ ! -e "$T/rec" ] && ok "$f-not-on-path" ||
        notok "$f-not-on-path" "got [$(cat "$T/out")] want [$want]"
done
want=$("$P/t_posix_spawn" - /nonexistent/ssh)
shimmed "$P/t_posix_spawn" - /nonexistent/ssh
[ "$(cat "$T/out")" = "$want" ] && ok "posix_spawn-error" || notok "posix_spawn-error" "got [$(cat "$T/out")] want [$want]"

# --- staying out of the way --------------------------------------------------------------
version=$("$SSH" -V 2>&1)
for v in MUXSHIM_DISABLE=1 MUXSHIM_GUARD=1; do
    shimmed env "$v" "$P/t_execv" "$SSH" -V
    if [ "$rc" = 0 ] && [ ! -e "$T/rec" ] && [ "$(cat "$T/err")" = "$version" ]; then
        ok "inert-with-$v"
    else
        notok "inert-with-$v" "rc=$rc err=$(cat "$T/err")"
    fi
done
shimmed env MUXSHIM_GUARD=1 "$P/t_rawexec" "$SSH" -V
[ "$rc" = 0 ] && [ ! -e "$T/rec" ] && ok "no-handover-under-guard" || notok "no-handover-under-guard" "rc=$rc"
rm -f "$T/rec"
LD_PRELOAD=$LIB MUXSHIM_MUXSSH=/nonexistent/muxssh "$P/t_execv" "$SSH" -V >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 0 ] && [ "$(cat "$T/err")" = "$version" ] && ok "missing-muxssh-runs-real-ssh" ||
    notok "missing-muxssh-runs-real-ssh" "rc=$rc err=$(cat "$T/err")"
# env -i: no LD_PRELOAD reaches ssh's children; env itself is hooked and hands ssh to the
# real muxssh, which runs the real ssh for -V: the output is the same as without the shim.
want=$(env -i "$SSH" -V 2>&1)
got=$(LD_PRELOAD=$LIB env -i "$SSH" -V 2>&1)
[ "$got" = "$want" ] && ok "env-i" || notok "env-i" "got [$got] want [$want]"

# --- errno is as the program left it across the shim's constructors --------------------
# t_errno sets errno in a preinit function (before every library's constructor) and prints
# it in main; once as itself, once through a link named ssh (the hand-over check runs
# further, then finds the real program is not ssh).
mkdir -p "$T/bin3" && ln -s "$P/t_errno" "$T/bin3/ssh"
for prog in "$P/t_errno" "$T/bin3/ssh"; do
    got=$(LD_PRELOAD=$LIB MUXSHIM_MUXSSH=/nonexistent/muxssh "$prog" 2>&1)
    want=$("$prog" 2>&1)
    [ "$got" = "errno 4242" ] && [ "$want" = "errno 4242" ] && ok "errno-kept-at-load: $(basename "$prog")" ||
        notok "errno-kept-at-load: $(basename "$prog")" "with the shim: $got; without: $want"
done

# --- other programs run exactly as without the shim ------------------------------------
for cmd in "sh -c 'echo hi; echo err >&2; exit 3'" "ls -d /" "$P/t_execvp true" "$P/t_execvp false" \
    "$P/t_posix_spawn p sh -c 'exit 5'" "$P/t_execl /bin/echo a b" "env -i /bin/sh -c 'echo \$PATH'"; do
    want=$(bash -c "$cmd" 2>&1)
    wrc=$?
    got=$(LD_PRELOAD=$LIB MUXSHIM_MUXSSH=$P/recorder RECORD=$T/rec bash -c "$cmd" 2>&1)
    grc=$?
    if [ "$got" = "$want" ] && [ "$grc" = "$wrc" ]; then
        ok "non-ssh: $cmd"
    else
        notok "non-ssh: $cmd" "got [$got] rc=$grc, want [$want] rc=$wrc"
    fi
done

# --- connect() reads the routes file once per process, and again when it changes ---------
# 9 non-loopback connects (TEST-NET-1: no route, they fail at once) in one process, the
# routes file rewritten twice in between (same size, then longer): 3 reads, not 9.
if command -v strace >/dev/null && command -v python3 >/dev/null; then
    printf '198.51.100.0/24 via nowhere.invalid\n' >"$T/routes"
    cat >"$T/connects.py" <<'PY'
import socket, sys, time
def connect():
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("192.0.2.1", 9))
    except OSError:
        pass
    s.close()
for i in range(3):
    connect()
time.sleep(0.05)  # past the file system's timestamp granularity
with open(sys.argv[1], "w") as f:
    f.write("198.51.100.0/24 via other.invalid\n")  # the same size
for i in range(3):
    connect()
time.sleep(0.05)
with open(sys.argv[1], "w") as f:
    f.write("198.51.100.0/24 via nowhere.invalid -p 2222\n")
for i in range(3):
    connect()
PY
    LD_PRELOAD=$LIB MUXSHIM_ROUTES=$T/routes strace -f -qq -e trace=open,openat \
        -o "$T/strace" python3 "$T/connects.py" "$T/routes" >"$T/out" 2>&1
    rc=$?
    reads=$(grep -c "\"$T/routes\", O_RDONLY" "$T/strace")
    [ "$rc" = 0 ] && [ "$reads" = 3 ] && ok "routes-read-once-per-change (3 reads for 9 connects)" ||
        notok "routes-read-once-per-change" "rc=$rc, $reads reads of the routes file (want 3): $(head -c 200 "$T/out")"
else
    ok "routes-read-once-per-change # SKIP no strace or python3"
fi

# --- only the hooks are exported ---------------------------------------------------------
exports=$(nm -D --defined-only "$LIB" | awk '{print $3}' | grep -v '^_init$\|^_fini$' | sort | tr '\n' ' ')
want="connect execl execle execlp execv execve execvp execvpe fexecve getpeername posix_spawn posix_spawnp "
[ "$exports" = "$want" ] && ok "exports-only-hooks" || notok "exports-only-hooks" "exports: $exports"
# The dynamic loader itself may be named (libc_sym.c reads its _r_debug): it is in every
# dynamically linked process already, so naming it loads nothing.
needed=$(objdump -p "$LIB" | awk '/NEEDED/ {print $2}' | grep -v '^ld-linux' | sort | tr '\n' ' ')
case "$needed" in
"libc.so.6 " | "libc.so.6 libdl.so.2 " | "libdl.so.2 libc.so.6 ") ok "libc-and-libdl-only" ;;
*) notok "libc-and-libdl-only" "needs: $needed" ;;
esac
undef=$(nm -D --undefined-only "$LIB" | awk '{print $2}' | grep -E '^(malloc|calloc|realloc|free|printf|fprintf|fopen|pthread_mutex_lock)(@|$)' | tr '\n' ' ')
[ -z "$undef" ] && ok "no-heap-stdio-locks" || notok "no-heap-stdio-locks" "uses: $undef"

[ "$failures" -eq 0 ]
