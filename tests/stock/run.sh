#!/bin/bash
# Sessions as users run them: a test account with its own ~/.ssh (the default key
# ~/.ssh/id_ed25519, known_hosts, a config naming the host "lab"), no -F, and the system's
# /etc/ssh/ssh_config as a distribution ships it: this machine's own, or (FIXTURE) one of
# tests/stock/etc-ssh/* bind-mounted over /etc/ssh/ssh_config and ssh_config.d in a private
# mount namespace. git, rsync, scp, sftp and ssh with common options run through plain ssh
# and through the shim against one real sshd; output and exit codes must match, the broker
# must have served every session (its counters), no OpenSSH master may appear, and the
# server must log one TCP connection for all of the shim's sessions.
#
#   tests/stock/run.sh BUILD [FIXTURE]      (as root)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
FIXTURE=${2:-}
SUITE=stock${FIXTURE:+-$FIXTURE}${MUXSHIM_TEST_TAG:+-$MUXSHIM_TEST_TAG}
# shellcheck source=../lib-cases.sh
. "$ROOT/tests/lib-cases.sh"
if [ "$(id -u)" -ne 0 ]; then
    skip all "needs root (a test account, and a mount namespace for the fixtures)"
    exit 0
fi

# A fixture: run this script again in a private mount namespace with it over /etc/ssh.
with_fixture "$FIXTURE" "$0" "$B" "$FIXTURE"

account_suite stock
# MUXSHIM_TEST_SSH_DIR: a directory whose ssh (scp, sftp) is the user's, first on PATH on both
# sides; SSHD_BIN: the server's sshd (scripts/lib-sshd.sh); MUXSHIM_TEST_TAG: a suffix of the
# result names. tests/openssh10.sh runs the suite so with OpenSSH 10.
[ -z "${MUXSHIM_TEST_SSH_DIR:-}" ] || export PATH=$MUXSHIM_TEST_SSH_DIR:$PATH

test_account "$U" "$H" || exit 1
SSHD_USER=$U lab_server || exit 1
mkdir -m 700 "$RT"
chown -R "$U:" "$H" "$RT"
chmod 600 "$H/.ssh/id_ed25519"
cp -a "$H/.ssh" "$T/ssh.pristine"

counters() { broker_counters "$MUXSSH" "$RT" "$U"; }
mux_conns=0

# scase NAME SESSIONS SNIPPET: differential, and the broker served SESSIONS more sessions
# (at least one) and handed none to ssh.
scase() {
    local name=$1 want=$2 snippet=$3
    both_sides "$snippet"
    local served=$SERVED handed=$HANDED
    if [ "$handed" -ne 0 ] || [ "$served" -lt "$want" ]; then
        notok "$name" "served $served (want $want), handed to ssh $handed; $(grep -h 'muxshim' "$T/mux.err" | head -2 | tr '\n' ' ')"
        return
    fi
    compare_sides "$name"
}

scase ssh-true 1 'ssh lab true'
scase ssh-echo 1 'ssh lab echo hello; echo "rc $?"'
scase ssh-exit-3 1 'ssh lab "exit 3"'
scase sendenv-lang 1 'ssh lab "echo \$LANG \$LC_MESSAGES"'
# -P: a flag ssh 9.2 ignores, -P TAG since 9.4 (the Tag option): as the user's ssh reads it.
P_OPT=-P
ssh -F /dev/null -G -P x y 2>/dev/null | grep -qx 'hostname y' && P_OPT="-P mytag"
for opt in "-o BatchMode=yes" -4 -C "-i ~/.ssh/id_ed25519" "-o IdentitiesOnly=yes" \
    "-o PasswordAuthentication=no" "-o StrictHostKeyChecking=yes" "-F ~/.ssh/config" -T -q -x \
    -a -n "-o ConnectTimeout=5" "-o LogLevel=ERROR" "-o SendEnv=NOT_SET" "-o SetEnv=FOO=1" \
    "-o RequestTTY=no" "-e none" "-o ServerAliveInterval=30" -g -K "$P_OPT" -y; do
    scase "option $opt" 1 "ssh $opt lab 'echo opt'"
done
GIT='export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z
git init -q --bare -b main srv.git && git init -q -b main seed && cd seed && echo one >f && git add f && git commit -qm one'
scase git-push-clone-pull 4 "$GIT"' && git push -q "lab:$W/srv.git" main && cd .. &&
git clone -q "lab:$W/srv.git" clone && cd clone && echo two >>f && git commit -qam two && git push -q && git pull -q && git log --format=%s'
TREE='mkdir -p src/sub && head -c 300000 /dev/zero | tr "\0" x >src/a.bin && echo hi >src/sub/b.txt'
scase rsync-up-down 2 "$TREE"' && rsync -a src/ "lab:$W/up/" && rsync -a "lab:$W/up/" down/ && diff -r src down && echo same'
scase scp-both-modes 4 "$TREE"' && scp -q src/a.bin "lab:$W/1.bin" && scp -q "lab:$W/1.bin" back1 && scp -O -q src/a.bin "lab:$W/2.bin" && scp -O -q "lab:$W/2.bin" back2 && cmp src/a.bin back1 && cmp src/a.bin back2 && echo scp-ok'
scase sftp-batch 1 "$TREE"' && printf "put src/a.bin $W/s.bin\nget $W/s.bin got\n" >batch && sftp -q -b batch lab && cmp src/a.bin got && echo sftp-ok'

# Settings the broker serves on the shared connection (the same authority).
scase visualhostkey 2 'ssh -o VisualHostKey=yes lab "echo art; echo err >&2"; ssh -o VisualHostKey=yes lab true'
scase canonicalize-address 1 'ssh -o CanonicalizeHostname=yes -o CanonicalDomains=invalid lab "echo canon"'
scase verifyhostkeydns-numeric 1 'ssh -o VerifyHostKeyDNS=yes lab "echo dns"'
scase proxycommand-none 1 'ssh -o ProxyCommand=none lab "echo none"'
# -E: what ssh itself says (here the VisualHostKey picture) goes to the file, the remote
# stderr still to stderr.
scase logfile 1 'ssh -E e.log -o VisualHostKey=yes lab "echo out; echo err >&2"; echo "rc $?"; echo log:; cat e.log'

# Relative paths, read as ssh reads them: from the caller's directory ($W, not home; the
# broker runs elsewhere), ~ from passwd. Each names the only key or known_hosts file the
# session has, so a path read from the wrong directory hands the session to ssh.
scase rel-identity-in-its-folder 1 'mkdir proj && cp ~/.ssh/id_ed25519 proj/key.pem && cd proj && ssh -i key.pem lab "echo key.pem"'
scase rel-identity-dot-slash 1 'cp ~/.ssh/id_ed25519 key && ssh -i ./key lab "echo dot-slash"'
scase rel-identity-from-home 1 'cd && ssh -i .ssh/id_ed25519 lab "echo from-home"'
scase rel-identityfile-parent 1 'cp ~/.ssh/id_ed25519 id && mkdir sub && cd sub && ssh -o IdentityFile=../id lab "echo parent"'
scase rel-userknownhostsfile-from-home 1 'cd && ssh -o UserKnownHostsFile=.ssh/known_hosts lab "echo kh-home"'
scase rel-userknownhostsfile 1 'mv ~/.ssh/known_hosts kh && ssh -o UserKnownHostsFile=kh lab "echo kh"'
scase rel-globalknownhostsfile 1 'mv ~/.ssh/known_hosts gkh && ssh -o GlobalKnownHostsFile=gkh -o UserKnownHostsFile=/dev/null lab "echo gkh"'
scase rel-F 1 'cp ~/.ssh/config my.cfg && ssh -F my.cfg lab "echo rel-F"'
scase rel-E 1 'mkdir logs && cd logs && ssh -E rel.log -o VisualHostKey=yes lab "echo rel-E" && cat rel.log'

# One connection for each key exchange the sessions' own ssh gets from this sshd (which offers
# every one of ssh's): a session given -F reads no /etc/ssh/ssh_config, so under a fixture that
# sets KexAlgorithms (Fedora's crypto policy: classical only) it gets ssh's default
# post-quantum exchange, and never rides the classical connection. ssh -G says which.
first_kex() {
    (cd "$H" && as_test_account "$U" ssh "$@" -G lab 2>/dev/null) | sed -n 's/^kexalgorithms \([^,]*\).*/\1/p'
}
kexes=$( (first_kex; first_kex -F "$H/.ssh/config") | sort -u | wc -l)
masters=$(pgrep -u "$U" -f '\[mux\]' | wc -l)
if [ "$mux_conns" = "$kexes" ] && [ "$masters" = 0 ] && ! ls "$RT"/cm-* >/dev/null 2>&1; then
    ok "one-connection (the shim's sessions: $mux_conns TCP connection(s), one per key exchange, no OpenSSH master)"
else
    notok "one-connection" "the shim's sessions made $mux_conns TCP connections for $kexes key exchange(s); OpenSSH masters: $masters"
fi

# muxrun doctor: what would happen to a session, without running one.
ssh-keygen -q -t ed25519 -N '' -f "$T/other" && chown "$U" "$T/other" "$T/other.pub"
doctor() {
    local name=$1 want_rc=$2 pattern=$3 out rc
    shift 3
    out=$(cd "$H" && as_test_account "$U" env MUXSHIM_DIR="$RT" "$ROOT/scripts/muxrun" doctor "$@" 2>&1)
    rc=$?
    if [ "$rc" = "$want_rc" ] && grep -Eq "$pattern" <<<"$out"; then
        ok "doctor-$name"
        sed 's/^/#   /' <<<"$out"
    else
        notok "doctor-$name" "exit $rc (want $want_rc): $(tr '\n' '|' <<<"$out")"
    fi
}
doctor shares 0 "^served by the broker: yes, sharing open connection [0-9]+ of $kexes \\(" lab
doctor batchmode-shares 0 '^served by the broker: yes, sharing open connection' -o BatchMode=yes lab
doctor other-key 0 "does not take it: .*(key|log).*" \
    -i "$T/other" -o IdentitiesOnly=yes lab
doctor other-user 0 '^served by the broker: yes, on a new connection \(none open' -l nobody lab
doctor remote-forward 0 '^served by the broker: yes' -R 2222:127.0.0.1:22 lab
# (served with our libssh2 streamlocal patch, as muxbroker -V says; else handed to ssh)
case "$("$B/muxbroker" -V 2>&1)" in
*", remote socket forwards"*) doctor remote-socket-forward 0 '^served by the broker: yes' \
    -R /tmp/muxshim-doctor.sock:127.0.0.1:22 lab ;;
*) doctor remote-socket-forward 1 '^served by the broker: no, handed to ssh: RemoteForward of a Unix socket' \
    -R /tmp/muxshim-doctor.sock:127.0.0.1:22 lab ;;
esac
doctor x11 0 '^served by the broker: yes' -o ForwardX11=yes lab

# Settings served on a connection of their own (another route or host name): each case
# checks the TCP connections the shim's side made. ccase NAME SESSIONS CONNECTIONS SNIPPET
ccase() {
    local name=$1 want=$2 conns=$3 snippet=$4 c0=$mux_conns f0=$failures
    scase "$name" "$want" "$snippet"
    [ "$failures" -eq "$f0" ] || return
    [ $((mux_conns - c0)) -eq "$conns" ] ||
        notok "$name connections" "the shim's side made $((mux_conns - c0)) TCP connections, want $conns"
}
PROXY="bash -c 'exec 3<>/dev/tcp/%h/%p; cat <&3 & cat >&3'"
ccase proxycommand 2 1 "ssh -o ProxyCommand=\"$PROXY\" lab 'echo via proxy; echo e >&2'; ssh -o ProxyCommand=\"$PROXY\" lab 'exit 4'; echo \"rc \$?\""
# A proxy that fails lives a moment first: ssh writes its banner at once, and a proxy
# already gone makes that write fail ("Broken pipe") or not by timing alone, in ssh as here
# (ProxyCommand=false gave either wording from plain ssh itself).
ccase proxycommand-fails 0 0 "ssh -o ProxyCommand=\"sh -c 'sleep 0.3; exit 1'\" lab true; echo \"rc \$?\""
ccase proxycommand-stderr 0 0 "ssh -o ProxyCommand=\"sh -c 'echo proxy says no >&2; sleep 0.3; exit 1'\" lab true; echo \"rc \$?\""
ccase knownhostscommand 2 1 'cp ~/.ssh/known_hosts ~/kh && : >~/.ssh/known_hosts &&
ssh -o KnownHostsCommand="/bin/cat $HOME/kh" lab "echo khc" && ssh -o KnownHostsCommand="/bin/cat $HOME/kh" lab "echo again"; echo "rc $?"; wc -c <~/.ssh/known_hosts'
VM="-p $SSHD_PORT -o HostKeyAlias=[127.0.0.1]:$SSHD_PORT vm"
ccase verifyhostkeydns-lookup 2 1 "ssh -o VerifyHostKeyDNS=yes $VM 'echo dns-yes'; ssh -o VerifyHostKeyDNS=ask $VM 'echo dns-ask'"
ccase bind-address 1 1 "ssh -b 127.0.0.1 lab 'echo bound'"
ccase bind-interface 2 1 "ssh -B lo lab 'echo bound-if'; ssh -o BindInterface=lo lab 'echo again'"
ccase bind-interface-missing 0 0 'ssh -B nosuch0 lab true; echo "rc $?"'
ccase canonicalize-fallback-local 1 0 "ssh -o CanonicalizeHostname=yes -o CanonicalDomains=invalid $VM 'echo canon-vm'"
ccase visualhostkey-proxy 1 1 "ssh -o VisualHostKey=yes -o ProxyCommand=\"$PROXY\" -o Port=$SSHD_PORT -o HostKeyAlias=[127.0.0.1]:$SSHD_PORT vm 'echo art'"

# A relative IdentityAgent (the agent holds the only key), and sharing by the files
# themselves: a key named from its folder and by its full name from elsewhere is one key,
# so the second session rides the first one's connection.
# (ssh-agent is setgid: a command it runs would lose LD_PRELOAD, so it runs apart.)
ccase rel-identityagent 1 1 'eval "$(ssh-agent -a ag.sock -s)" >/dev/null && ssh-add -q ~/.ssh/id_ed25519 2>/dev/null &&
rm ~/.ssh/id_ed25519 ~/.ssh/id_ed25519.pub && env -u SSH_AUTH_SOCK ssh -o IdentityAgent=ag.sock lab "echo agent"; echo "rc $?"; ssh-agent -k >/dev/null'
ssh-keygen -q -t ed25519 -N '' -f "$T/projkey" && chown "$U" "$T/projkey" && cat "$T/projkey.pub" >>"$T/s/authorized_keys"
ccase rel-identity-shared 2 1 "rm -rf ~/proj && mkdir ~/proj && cp $T/projkey ~/proj/key.pem && cd ~/proj && ssh -i key.pem lab 'echo from-proj' && cd \"\$W\" && ssh -i ~/proj/key.pem lab 'echo from-elsewhere'"
masters=$(pgrep -u "$U" -f '\[mux\]' | wc -l)
bad=
[ "$masters" = 0 ] || bad="OpenSSH masters: $masters"
verdict no-openssh-master "$bad" "no-openssh-master (after every case)"

as_test_account "$U" env MUXSHIM_DIR="$RT" "$MUXSSH" --mux-status | sed 's/^/#   /'
[ "$failures" -eq 0 ]
