#!/bin/bash
# X11 forwarding (-X, -Y, ForwardX11, ForwardX11Trusted, ForwardX11Timeout, XAuthLocation) as
# users run it: the test account with its own ~/.ssh, no -F, the system's /etc/ssh/ssh_config,
# two Xvfb displays that want a cookie (the account's XAUTHORITY), sshd with X11Forwarding and
# xauth on the same machine, xdpyinfo and xprop on the remote. Each case runs through plain
# ssh and through the shim: the same output and exit code, the broker served the sessions,
# nothing handed to ssh, no OpenSSH master, one TCP connection for all of the shim's
# sessions; and both sides' output shows what the case is about (an X client that reached
# its display, trusted or untrusted, or was refused), so that two equal failures do not pass.
# Untrusted cookies (xauth generate, the SECURITY extension) work as the displays run -noreset.
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
SSHD_USER=$U SSHD_EXTRA="X11Forwarding yes" lab_server || exit 1
# lab-nox: a server without X11Forwarding (sshd's default), same key
SSHD_USER=$U second_server lab-nox "$T/s2" || exit 1
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
# -noreset: an X server resets when its last client leaves, and a reset forgets every cookie
# the SECURITY extension generated; `xauth generate` (ssh's untrusted cookie) is that last
# client here (no window manager), so without it no untrusted cookie ever works
# ("Invalid MIT-MAGIC-COOKIE-1 key", with or without ssh).
as_test_account "$U" Xvfb ":$D1" -auth "$XA" -nolisten tcp -noreset -screen 0 1024x768x24 >/dev/null 2>&1 &
as_test_account "$U" Xvfb ":$D2" -auth "$XA" -nolisten tcp -noreset -screen 0 800x600x24 >/dev/null 2>&1 &
for _ in $(seq 1 200); do
    [ -e "/tmp/.X11-unix/X$D1" ] && [ -e "/tmp/.X11-unix/X$D2" ] && break
    sleep 0.05
done
if ! as_test_account "$U" env DISPLAY=":$D1" XAUTHORITY="$XA" xdpyinfo >/dev/null 2>&1 ||
    as_test_account "$U" env DISPLAY=":$D1" XAUTHORITY=/dev/null xdpyinfo >/dev/null 2>&1; then
    notok setup "Xvfb :$D1 does not take its cookie, or takes a client without it"
    exit 1
fi
# xdpyinfo's count of extensions with XAUTHORITY $1: an untrusted client sees fewer
extensions() {
    as_test_account "$U" env DISPLAY=":$D1" XAUTHORITY="$1" xdpyinfo 2>/dev/null |
        sed -n 's/^number of extensions: *//p'
}
as_test_account "$U" env DISPLAY=":$D1" XAUTHORITY="$XA" \
    xauth -f "$T/xa/untrusted" generate ":$D1" . untrusted timeout 60 2>/dev/null
TRUSTED_EXTS=$(extensions "$XA") UNTRUSTED_EXTS=$(extensions "$T/xa/untrusted")
if [ -z "$UNTRUSTED_EXTS" ] || [ "$UNTRUSTED_EXTS" -ge "${TRUSTED_EXTS:-0}" ]; then
    notok setup "Xvfb :$D1 does not take an untrusted cookie from xauth generate, or gives it all its extensions (${UNTRUSTED_EXTS:-none} of ${TRUSTED_EXTS:-none})"
    exit 1
fi

counters() { broker_counters "$MUXSSH" "$RT" "$U"; }
mux_conns=0
SIDE_ENV=(DISPLAY=":$D1" XAUTHORITY="$XA" D1="$D1" D2="$D2")
SIDE_TIMEOUT=120

# shows EREGEX...: "" when both sides' stdout has lines matching each EREGEX in that order,
# else what is missing: what makes a comparison worth something (not two equal failures)
shows() {
    local side re at n
    for side in plain mux; do
        at=0 # lines of the output already matched
        for re in "$@"; do
            n=$(tail -n +$((at + 1)) "$T/$side.out" | grep -nE -m1 "$re" | cut -d: -f1)
            if [ -z "$n" ]; then
                echo "$side: no line /$re/ (in order) in: $(tr '\n' ' ' <"$T/$side.out" | head -c 400)"
                return
            fi
            at=$((at + n))
        done
    done
}

# xcase NAME SESSIONS SNIPPET [EREGEX...]: served_case (lib-cases.sh): differential, and
# the broker served SESSIONS more sessions and handed none to ssh; then NAME-output: both
# sides' stdout shows each EREGEX, in order.
xcase() {
    local name=$1
    served_case "$1" "$2" "$3"
    shift 3
    [ $# -eq 0 ] || verdict "$name-output" "$(shows "$@")" "$name-output"
}

# What the remote's X client sees of its display: the name sshd gave it (its number is
# whichever sshd had free: N), the screen's size; EXTS: and its extensions; what xdpyinfo said
# when it failed. The remote shell is the account's /bin/sh (no PIPESTATUS); each goes in
# single quotes, so that the local shell leaves its $ alone.
XDPY="f=xi.\$\$; xdpyinfo >\$f 2>&1; r=\$?; echo xdpyinfo \$r; if [ \$r != 0 ]; then cat \$f; else sed -n"
XDPY_END="\$f; fi | sed \"s/localhost:[0-9]*/localhost:N/\"; rm -f \$f"
INFO="$XDPY \"/^name of display/p; /dimensions:/p\" $XDPY_END"
EXTS="$XDPY \"/^name of display/p; /^number of extensions/,/^default screen/{/^default screen/!p}\" $XDPY_END"
OK1="^xdpyinfo 0" WHOLE1="dimensions: +1024x768 pixels" WHOLE2="dimensions: +800x600 pixels"
ALL="^number of extensions: +$TRUSTED_EXTS\$" FEW="^number of extensions: +$UNTRUSTED_EXTS\$"
xcase X-xdpyinfo 1 "ssh -X lab '$INFO'; echo rc \$?" "$OK1" "^name of display: +localhost:N\.0\$" "$WHOLE1" "^rc 0"
xcase Y-xdpyinfo 1 "ssh -Y lab '$INFO'; echo rc \$?" "$OK1" "$WHOLE1" "^rc 0"
xcase ForwardX11-config 1 "ssh -o ForwardX11=yes lab '$INFO'; echo rc \$?" "$OK1" "$WHOLE1" "^rc 0"
# Untrusted (ForwardX11Trusted no; Debian's ssh_config says yes): a cookie xauth generates
# for the session, which the X server's SECURITY extension restricts: fewer extensions, and
# writing a property of the root window is refused (BadAccess); then trusted, with them all
SETROOT="xprop -root -f MUXSHIM_TEST 8s -set MUXSHIM_TEST x 2>&1; echo xprop \$?"
xcase X-untrusted 2 "ssh -X -o ForwardX11Trusted=no lab '$EXTS; $SETROOT'; echo rc \$?; ssh -Y lab '$EXTS'; echo rc \$?" \
    "$OK1" "$FEW" "BadAccess" "^xprop 1" "^rc 0" "$OK1" "$ALL" "^rc 0"
# The second display, through the same session options
xcase X-second-display 1 "DISPLAY=:\$D2 ssh -X lab '$INFO'; echo rc \$?" "$OK1" "$WHOLE2"
# Two sessions at once on one connection, each reaching its own display with its own cookie
xcase two-sessions-two-displays 2 "DISPLAY=:\$D1 ssh -X lab 'sleep 1; $INFO' >a & DISPLAY=:\$D2 ssh -X lab 'sleep 1; $INFO' >b & wait; cat a; cat b" \
    "$OK1" "$WHOLE1" "$OK1" "$WHOLE2"
# ... the same untrusted, each cookie generated by its own display's server
xcase untrusted-two-displays 2 "DISPLAY=:\$D1 ssh -X -o ForwardX11Trusted=no lab 'sleep 1; $INFO' >a & DISPLAY=:\$D2 ssh -X -o ForwardX11Trusted=no lab 'sleep 1; $INFO' >b & wait; cat a; cat b" \
    "$OK1" "$WHOLE1" "$OK1" "$WHOLE2"
# A trusted and an untrusted session at once on one connection and one display: each X
# client gets its own session's cookie
xcase trusted-and-untrusted-at-once 2 "ssh -Y lab 'sleep 1; $EXTS' >a & ssh -X -o ForwardX11Trusted=no lab 'sleep 1; $EXTS' >b & wait; cat a; cat b" \
    "$OK1" "$ALL" "$OK1" "$FEW"
# An X client without the session's cookie: ssh's logit, the connection refused
xcase wrong-cookie 1 "ssh -Y lab 'XAUTHORITY=/dev/null xdpyinfo >/dev/null 2>&1; echo xdpyinfo \$?' 2>e; echo rc \$?; cat e" \
    "^xdpyinfo 1" "^rc 0" "^X11 connection rejected because of wrong authentication"
# No DISPLAY: ssh says nothing (a debug line) and requests nothing
xcase no-display 1 "env -u DISPLAY ssh -X lab 'echo \"remote DISPLAY=\$DISPLAY\"'; echo rc \$?" "^remote DISPLAY=$" "^rc 0"
# An invalid DISPLAY: ssh's logit
xcase invalid-display 1 "DISPLAY='bad;display' ssh -X lab 'echo \"remote DISPLAY=\$DISPLAY\"'; echo rc \$?" "^remote DISPLAY=$" "^rc 0"
# No xauth program: trusted falls back to fake data (the X server then refuses the client),
# untrusted gives up, each with ssh's warning
xcase no-xauth-trusted 1 "ssh -Y -o XAuthLocation=/nonexistent lab '$INFO' 2>e; echo rc \$?; cat e" \
    "^xdpyinfo 1" "Invalid MIT-MAGIC-COOKIE-1 key" "^rc 0" "^Warning: No xauth data"
xcase no-xauth-untrusted 1 "ssh -X -o ForwardX11Trusted=no -o XAuthLocation=/nonexistent lab 'echo \"remote DISPLAY=\$DISPLAY\"'; echo rc \$?" "^remote DISPLAY=$" "^rc 0"
# A server without X11Forwarding: ssh's error, and the command runs anyway
xcase server-refuses 1 "ssh -X lab-nox 'echo \"remote DISPLAY=\$DISPLAY\"'; echo rc \$?" "^remote DISPLAY=$" "^rc 0"
xcase server-refuses-quiet 1 "ssh -q -X lab-nox 'echo \"remote DISPLAY=\$DISPLAY\"'; echo rc \$?" "^remote DISPLAY=$" "^rc 0"
# ForwardX11Timeout: an untrusted cookie's X connections are refused once it expired
xcase timeout-expired 1 "ssh -X -o ForwardX11Trusted=no -o ForwardX11Timeout=1 lab '$EXTS; sleep 2.5; $EXTS'; echo rc \$?" \
    "$OK1" "$FEW" "^xdpyinfo 1" "^rc 0"
# ... and only an untrusted one: a trusted session's X clients are taken after it
xcase timeout-trusted 1 "ssh -Y -o ForwardX11Timeout=1 lab 'sleep 2.5; $EXTS'; echo rc \$?" "$OK1" "$ALL"
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
