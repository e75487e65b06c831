#!/bin/bash
# Jump hosts against real sshds in a network namespace the test creates: the bastions listen
# on a veth address reachable from here, the targets only on addresses inside the namespace,
# for which this namespace gets an `unreachable` route first (nothing can leave the machine).
# -J, ProxyJump in ssh_config, -W and a chain of two jumps, each through plain ssh and
# through muxssh; the bastion's log counts logins; a bastion asking a one-time code
# (keyboard-interactive through PAM) asks it once for many sessions to two targets.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
MUXSSH=$B/muxssh
# shellcheck source=../../scripts/lib-sshd.sh
. "$ROOT/scripts/lib-sshd.sh"
# shellcheck source=../../scripts/lib-netns.sh
. "$ROOT/scripts/lib-netns.sh"
SUITE=jump
# shellcheck source=../lib-cases.sh
. "$ROOT/tests/lib-cases.sh"

if [ "$(id -u)" -ne 0 ] || ! ip netns list >/dev/null 2>&1; then
    skip all "needs root and network namespaces"
    exit 0
fi

T=$(mktemp -d /tmp/muxshim-jump-XXXXXX)
chmod 755 "$T"
unset LD_PRELOAD MUXSHIM_DISABLE MUXSHIM_GUARD SSH_AUTH_SOCK DISPLAY SSH_ASKPASS_REQUIRE
export MUXSHIM_REAL_SSH=/usr/bin/ssh MUXSHIM_PERSIST=600 MUXSHIM_DIR=$T/rt
PAM_SERVICE=muxshim-test-jump
SERVERS=""

cleanup() {
    local s pid
    pid=$(cat "$MUXSHIM_DIR/broker.lock" 2>/dev/null) && kill "$pid" 2>/dev/null
    for s in $SERVERS; do sshd_stop "$s"; done
    netns_down
    rm -f "/etc/pam.d/$PAM_SERVICE"
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# First the guard route: whatever goes wrong below, 10.77/16 stays on this machine.
if ! netns_up "muxjump$$" 10.77.0.0/16 10.77.2.1 10.77.2.2 10.77.2.3; then
    notok setup "cannot build the namespace"
    exit 1
fi

U=$(sshd_light_user)
# server NAME ADDR [sshd_config lines]: a sshd inside the namespace.
server() {
    SSHD_USER=$U SSHD_ADDR=$2 SSHD_WRAP="ip netns exec $NETNS_NAME" SSHD_EXTRA=${3:-} \
        sshd_start "$T/$1" >/dev/null || return 1
    SERVERS="$SERVERS $T/$1"
    cat "$T/$1/known_hosts" >>"$T/known_hosts"
    cat "$T/$1/id_ed25519.pub" >>"$T/keys.pub"
}
port() { awk '/^Port/ { print $2 }' "$T/$1/sshd_config"; }
: >"$T/known_hosts"
: >"$T/keys.pub"
server bastion 10.77.1.2 || exit 1
server target 10.77.2.1 || exit 1
server target2 10.77.2.2 || exit 1
server inner 10.77.2.3 || exit 1
CODE=$((100000 + RANDOM))
OTP_BIN=$(sshd_otp "$PAM_SERVICE" "$T/pam" "$CODE")
SSHD_BIN=$OTP_BIN server otp 10.77.1.2 "UsePAM yes
KbdInteractiveAuthentication yes
AuthenticationMethods publickey,keyboard-interactive" || exit 1
# Every server takes every test key.
for s in bastion target target2 inner otp; do cp "$T/keys.pub" "$T/$s/authorized_keys"; done

cat >"$T/cfg" <<EOS
Host bastion
    HostName 10.77.1.2
    Port $(port bastion)
Host otp
    HostName 10.77.1.2
    Port $(port otp)
    BatchMode no
Host inner
    HostName 10.77.2.3
    Port $(port inner)
Host target
    HostName 10.77.2.1
    Port $(port target)
    ProxyJump bastion
Host target2
    HostName 10.77.2.2
    Port $(port target2)
    ProxyJump bastion
Host chained
    HostName 10.77.2.1
    Port $(port target)
    ProxyJump bastion,inner
Host otp-target
    HostName 10.77.2.1
    Port $(port target)
    ProxyJump otp
Host otp-target2
    HostName 10.77.2.2
    Port $(port target2)
    ProxyJump otp
Host *
    User $U
    IdentityFile $T/bastion/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $T/known_hosts
    StrictHostKeyChecking yes
    BatchMode yes
EOS

# side plain|mux ARGS...: results in $T/SIDE.{out,err,rc}
side() {
    local who=$1 bin=/usr/bin/ssh
    shift
    [ "$who" = mux ] && bin=$MUXSSH
    timeout 60 "$bin" "$@" </dev/null >"$T/$who.out" 2>"$T/$who.err"
    echo $? >"$T/$who.rc"
}
both() {
    local name=$1
    shift
    side plain "$@"
    side mux "$@"
    compare_sides "$name"
}

# The targets cannot be reached from here except through the bastion.
if timeout 10 ssh -F "$T/cfg" -o ProxyJump=none target true 2>/dev/null; then
    notok target-unreachable-directly
else
    ok target-unreachable-directly
fi

both proxyjump-in-config -F "$T/cfg" target 'echo via $(hostname -I 2>/dev/null | wc -w); id -un'
both dash-J -F "$T/cfg" -J bastion -p "$(port target)" "$U@10.77.2.1" 'echo dash-J'
both chain-of-two -F "$T/cfg" chained 'echo two hops'
both remote-exit-status -F "$T/cfg" target 'echo out; echo err >&2; exit 7'
# -W: the target's banner comes back through the bastion.
for who in plain mux; do
    bin=/usr/bin/ssh
    [ "$who" = mux ] && bin=$MUXSSH
    echo | timeout 20 "$bin" -F "$T/cfg" -W "10.77.2.1:$(port target)" bastion 2>"$T/$who.err" |
        head -1 | cut -c1-8 >"$T/$who.out"
    echo "${PIPESTATUS[1]}" >"$T/$who.rc"
done
if [ "$(cat "$T/mux.out")" = SSH-2.0- ] && cmp -s "$T/plain.out" "$T/mux.out" &&
    cmp -s "$T/plain.rc" "$T/mux.rc"; then
    ok dash-W
else
    notok dash-W "out '$(cat "$T/mux.out")' rc $(cat "$T/mux.rc")"
fi
# -W to a closed port: ssh's last line and exit code (libssh2 1.10 does not give the
# server's reason, so the first line lacks ": Connection refused").
side plain -F "$T/cfg" -W 10.77.2.1:1 bastion
side mux -F "$T/cfg" -W 10.77.2.1:1 bastion
if [ "$(cat "$T/mux.rc")" = 255 ] && [ "$(tail -1 "$T/plain.err")" = "$(tail -1 "$T/mux.err")" ]; then
    ok dash-W-refused
else
    notok dash-W-refused "rc $(cat "$T/mux.rc"): $(cat "$T/mux.err")"
fi

# Many sessions to two targets behind one bastion: one bastion login in all.
before=$(sshd_connections "$T/bastion")
bad=0
for i in $(seq 1 10); do
    side mux -F "$T/cfg" target 'echo t1'
    [ "$(cat "$T/mux.out")" = t1 ] || bad=$((bad + 1))
    side mux -F "$T/cfg" target2 'echo t2'
    [ "$(cat "$T/mux.out")" = t2 ] || bad=$((bad + 1))
done
logins=$(($(sshd_connections "$T/bastion") - before))
if [ "$bad" = 0 ] && [ "$logins" = 0 ]; then
    ok one-bastion-login-for-many-sessions
else
    notok one-bastion-login-for-many-sessions "$bad wrong, $logins new bastion logins"
fi
if [ "$(sshd_connections "$T/target2")" = 1 ]; then
    ok one-connection-per-target
else
    notok one-connection-per-target "$(sshd_connections "$T/target2") connections to target2"
fi

# A bastion that asks a one-time code: asked once, for many sessions to two targets. (The
# jump's own config must allow questions: like ssh, the command line's -o options do not
# reach the jump.)
cat >"$T/askpass" <<EOS
#!/bin/sh
echo "\$1" >>"$T/asked"
echo $CODE
EOS
chmod 755 "$T/askpass"
: >"$T/asked"
bad=0
for i in $(seq 1 5); do
    for t in otp-target otp-target2; do
        SSH_ASKPASS=$T/askpass SSH_ASKPASS_REQUIRE=force setsid -w timeout 60 \
            "$MUXSSH" -F "$T/cfg" "$t" "echo $t" </dev/null >"$T/mux.out" 2>"$T/mux.err"
        [ "$(cat "$T/mux.out")" = "$t" ] || bad=$((bad + 1))
    done
done
if [ "$bad" = 0 ] && [ "$(wc -l <"$T/asked")" = 1 ] && [ "$(sshd_connections "$T/otp")" = 1 ]; then
    ok otp-bastion-asks-once
else
    notok otp-bastion-asks-once "$bad wrong, asked $(wc -l <"$T/asked") times, $(sshd_connections "$T/otp") logins: $(head -c 300 "$T/mux.err")"
fi

# An unknown target behind the bastion with StrictHostKeyChecking=ask: the same question.
grep -v "10.77.2.2" "$T/known_hosts" >"$T/kh-ask"
for who in plain mux; do
    cp "$T/kh-ask" "$T/kh-$who"
    bin=/usr/bin/ssh
    [ "$who" = mux ] && bin=$MUXSSH
    printf '#!/bin/sh\necho "$1" >>%s\necho yes\n' "$T/q-$who" >"$T/ap-$who"
    chmod 755 "$T/ap-$who"
    SSH_ASKPASS=$T/ap-$who SSH_ASKPASS_REQUIRE=force MUXSHIM_DIR=$T/rt-ask setsid -w timeout 60 \
        "$bin" -F "$T/cfg" -o BatchMode=no -o StrictHostKeyChecking=ask \
        -o UserKnownHostsFile="$T/kh-$who" target2 'echo asked' </dev/null >"$T/$who.out" 2>"$T/$who.err"
    echo $? >"$T/$who.rc"
done
if cmp -s "$T/q-plain" "$T/q-mux" && [ -s "$T/q-mux" ]; then
    compare_sides unknown-target-asks-as-ssh
else
    notok unknown-target-asks-as-ssh "questions differ"
    diff "$T/q-plain" "$T/q-mux" | head -8 | sed 's/^/#   /'
fi
pid=$(cat "$T/rt-ask/broker.lock" 2>/dev/null) && kill "$pid" 2>/dev/null

[ "$failures" -eq 0 ]
