#!/bin/bash
# X11 forwarding (-X, -Y, ForwardX11, ForwardX11Trusted, ForwardX11Timeout, XAuthLocation) as
# users run it: the test account with its own ~/.ssh, no -F, the system's /etc/ssh/ssh_config,
# two Xvfb displays that want a cookie (the account's XAUTHORITY), sshd with X11Forwarding and
# xauth on the same machine, xdpyinfo on the remote. Each case runs through plain ssh and
# through the shim: the same output and exit code, the broker served the sessions, nothing
# handed to ssh, no OpenSSH master, one TCP connection for all of the shim's sessions.
#
#   tests/x11/run.sh BUILD      (as root)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
SUITE=x11
# shellcheck source=../lib-cases.sh
. "$ROOT/tests/lib-cases.sh"
for tool in Xvfb xauth xdpyinfo; do
    command -v "$tool" >/dev/null || {
        skip all "no $tool (packages xvfb, xauth, x11-utils: scripts/install-deps.sh installs them)"
        exit 0
    }
done
account_suite x11
D1= D2=
cleanup() {
    local d
    for d in $D1 $D2; do # each Xvfb's pid is in its display's lock file
        [ -f "/tmp/.X$d-lock" ] && kill "$(tr -d ' ' <"/tmp/.X$d-lock")" 2>/dev/null
    done
    mux_stop "$RT"
    sshd_stop "$T/s"
    sshd_stop "$T/s2"
    rm -rf "$T"
}
trap cleanup EXIT

test_account "$U" "$H" || exit 1
SSHD_USER=$U SSHD_EXTRA="X11Forwarding yes" sshd_start "$T/s" >/dev/null || exit 1
cp "$T/s/id_ed25519" "$T/s/id_ed25519.pub" "$H/.ssh/"
cp "$T/s/known_hosts" "$H/.ssh/known_hosts"
LAB_PORT=$SSHD_PORT
# lab-nox: a server without X11Forwarding (sshd's default), same key
SSHD_USER=$U sshd_start "$T/s2" >/dev/null || exit 1
cp "$T/s/id_ed25519.pub" "$T/s2/authorized_keys"
cat "$T/s2/known_hosts" >>"$H/.ssh/known_hosts"
NOX_PORT=$SSHD_PORT
SSHD_PORT=$LAB_PORT
printf 'Host lab\n    HostName 127.0.0.1\n    Port %s\n' "$LAB_PORT" >"$H/.ssh/config"
printf 'Host lab-nox\n    HostName 127.0.0.1\n    Port %s\n' "$NOX_PORT" >>"$H/.ssh/config"
mkdir -m 700 "$RT"
: >"$H/.Xauthority" # sshd's xauth would say it made it, on the first side only
chown -R "$U:" "$H" "$RT"
chmod 600 "$H/.ssh/id_ed25519"
cp -a "$H/.ssh" "$T/ssh.pristine"

# Two displays nobody uses, each wanting its cookie from the account's $XA (xauth list).
free_display() {
    local n=$1
    while [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
    echo "$n"
}
D1=$(free_display 71)
D2=$(free_display $((D1 + 1)))
mkdir -m 700 "$T/xa" && chown "$U" "$T/xa" # xauth locks beside its file
XA=$T/xa/xauthority
: >"$XA" && chown "$U" "$XA"
as_test_account "$U" xauth -f "$XA" add ":$D1" . "$(mcookie)"
as_test_account "$U" xauth -f "$XA" add ":$D2" . "$(mcookie)"
as_test_account "$U" Xvfb ":$D1" -auth "$XA" -nolisten tcp -screen 0 1024x768x24 >/dev/null 2>&1 &
as_test_account "$U" Xvfb ":$D2" -auth "$XA" -nolisten tcp -screen 0 800x600x24 >/dev/null 2>&1 &
for _ in $(seq 1 200); do
    [ -e "/tmp/.X11-unix/X$D1" ] && [ -e "/tmp/.X11-unix/X$D2" ] && break
    sleep 0.05
done
if ! as_test_account "$U" env DISPLAY=":$D1" XAUTHORITY="$XA" xdpyinfo >/dev/null 2>&1 ||
    as_test_account "$U" env DISPLAY=":$D1" XAUTHORITY=/dev/null xdpyinfo >/dev/null 2>&1; then
    notok setup "Xvfb :$D1 does not take its cookie, or takes a client without it"
    exit 1
fi

counters() { broker_counters "$MUXSSH" "$RT" "$U"; }
mux_conns=0
SIDE_ENV=(DISPLAY=":$D1" XAUTHORITY="$XA" D1="$D1" D2="$D2")
SIDE_TIMEOUT=120

# xcase NAME SESSIONS SNIPPET: served_case (lib-cases.sh): differential, and the broker
# served SESSIONS more sessions and handed none to ssh.
xcase() { served_case "$@"; }

# What the remote's X client sees of its display: the name sshd gave it, the screen's size.
# (The remote shell is the account's /bin/sh: no PIPESTATUS.)
INFO="f=xi.\$\$; xdpyinfo >\$f; echo xdpyinfo \$?; grep -E '^name of display|dimensions:' \$f; rm -f \$f"
xcase X-xdpyinfo 1 "ssh -X lab \"$INFO\"; echo rc \$?"
xcase Y-xdpyinfo 1 "ssh -Y lab \"$INFO\"; echo rc \$?"
xcase ForwardX11-config 1 "ssh -o ForwardX11=yes lab \"$INFO\"; echo rc \$?"
# Untrusted (ForwardX11Trusted no; Debian's ssh_config says yes): a cookie xauth generates
# for the session (this Xvfb refuses the cookies xauth generates, untrusted or not, even
# with no ssh involved: "Invalid MIT-MAGIC-COOKIE-1 key"), then trusted
EXTS="f=xi.\$\$; xdpyinfo >\$f; echo xdpyinfo \$?; grep -E '^name of display|dimensions:|number of extensions' \$f; rm -f \$f"
xcase X-untrusted 2 "ssh -X -o ForwardX11Trusted=no lab \"$EXTS\" 2>&1; ssh -Y lab \"$EXTS\"; echo rc \$?"
# The second display, through the same session options
xcase X-second-display 1 "DISPLAY=:\$D2 ssh -X lab \"$INFO\"; echo rc \$?"
# Two sessions at once on one connection, each reaching its own display with its own cookie
xcase two-sessions-two-displays 2 "DISPLAY=:\$D1 ssh -X lab \"sleep 1; $INFO\" >a & DISPLAY=:\$D2 ssh -X lab \"sleep 1; $INFO\" >b & wait; cat a; cat b"
# No DISPLAY: ssh says nothing (a debug line) and requests nothing
xcase no-display 1 "env -u DISPLAY ssh -X lab 'echo \"remote DISPLAY=\$DISPLAY\"'; echo rc \$?"
# An invalid DISPLAY: ssh's logit
xcase invalid-display 1 "DISPLAY='bad;display' ssh -X lab 'echo \"remote DISPLAY=\$DISPLAY\"'; echo rc \$?"
# No xauth program: trusted falls back to fake data (the X server then refuses the client),
# untrusted gives up, each with ssh's warning
xcase no-xauth-trusted 1 "ssh -Y -o XAuthLocation=/nonexistent lab \"$INFO\" 2>&1; echo rc \$?"
xcase no-xauth-untrusted 1 "ssh -X -o ForwardX11Trusted=no -o XAuthLocation=/nonexistent lab 'echo \"remote DISPLAY=\$DISPLAY\"'; echo rc \$?"
# A server without X11Forwarding: ssh's error, and the command runs anyway
xcase server-refuses 1 "ssh -X lab-nox 'echo \"remote DISPLAY=\$DISPLAY\"'; echo rc \$?"
xcase server-refuses-quiet 1 "ssh -q -X lab-nox 'echo \"remote DISPLAY=\$DISPLAY\"'; echo rc \$?"
# ForwardX11Timeout: an untrusted cookie's X connections are refused once it expired
xcase timeout-expired 1 "ssh -X -o ForwardX11Trusted=no -o ForwardX11Timeout=1 lab \"$INFO; sleep 2.5; $INFO\" 2>&1; echo rc \$?"
# ... which ssh says under LogLevel VERBOSE (its other verbose lines differ: only that one)
both_sides "ssh -X -o LogLevel=VERBOSE -o ForwardX11Trusted=no -o ForwardX11Timeout=1 lab 'sleep 2.5; xdpyinfo >/dev/null 2>&1; echo xdpyinfo \$?'; echo rc \$?"
want="Rejected X11 connection after ForwardX11Timeout expired"
if [ "$HANDED" -eq 0 ] && [ "$SERVED" -eq 1 ] && cmp -s "$T/plain.out" "$T/mux.out" &&
    grep -q "^$want" "$T/plain.err" && grep -q "^$want" "$T/mux.err"; then
    ok "timeout-verbose-line"
else
    notok "timeout-verbose-line" "served $SERVED handed $HANDED; plain: $(tr '\n' ' ' <"$T/plain.out") $(grep -c "$want" "$T/plain.err"); shim: $(tr '\n' ' ' <"$T/mux.out") $(grep -c "$want" "$T/mux.err")"
fi

one_connection "the shim's sessions to lab (lab-nox is not counted)"
as_test_account "$U" env MUXSHIM_DIR="$RT" "$MUXSSH" --mux-status | sed 's/^/#   /'
[ "$failures" -eq 0 ]
