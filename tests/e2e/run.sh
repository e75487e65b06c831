#!/bin/bash
# End-to-end differential tests against OpenSSH's real sshd on loopback.
#
# Every case is a bash snippet run twice in the same fresh work directory, as a test
# account with its own ~/.ssh (default key, known_hosts, a config naming the host
# mux-test), no -F, and this machine's /etc/ssh/ssh_config: once with plain ssh, once with
# libmuxshim.so preloaded, against one sshd; stdout, stderr and the exit code must be
# byte-for-byte equal, and the broker's counters must say it served the case (or handed it
# to ssh, for the cases that expect that). The shim's sessions of the served cases must
# have made exactly one TCP connection.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
LIB=$B/libmuxshim.so
# shellcheck source=../../scripts/lib-sshd.sh
. "$ROOT/scripts/lib-sshd.sh"

T=$(mktemp -d /tmp/muxshim-e2e-XXXXXX)
chmod 711 "$T"
W=$T/w # the work directory every case runs in (same path on both sides)
export MUXSHIM_DIR=$T/run MUXSHIM_PERSIST=600
unset LD_PRELOAD MUXSHIM_DISABLE MUXSHIM_GUARD MUXSHIM_REAL_SSH SSH_AUTH_SOCK
# MUXSHIM_TEST_SSH_DIR: a directory whose ssh (scp, sftp) is the user's, first on PATH on both
# sides; SSHD_BIN: the server's sshd (scripts/lib-sshd.sh); MUXSHIM_TEST_TAG: a suffix of the
# result names. tests/openssh10.sh runs the suite so with OpenSSH 10.
[ -z "${MUXSHIM_TEST_SSH_DIR:-}" ] || export PATH=$MUXSHIM_TEST_SSH_DIR:$PATH
# As root, both sides run as a test account whose shell reads no profile, and log in as it;
# as anyone else, as that user.
suite_account "$T/home" || exit 1
mkdir -m 700 "$MUXSHIM_DIR"
chown "$U" "$MUXSHIM_DIR"

cleanup() {
    mux_stop "$MUXSHIM_DIR" "$T"/own/* "$T"/owncp/*
    mux_stop "$T/rho"
    [ -n "${LONGRT:-}" ] && mux_stop "$LONGRT"
    [ -n "${XVFB_PID:-}" ] && kill "$XVFB_PID" 2>/dev/null
    sshd_stop "$T/s"
    rm -rf "$T"
}
trap cleanup EXIT

SSHD_EXTRA="X11Forwarding yes" SSHD_USER=$U sshd_start "$T/s" >/dev/null || exit 1
# The account's own ~/.ssh, as a user has it: the default key, known_hosts, a Host entry.
H=$(getent passwd "$U" | cut -d: -f6)
mkdir -p "$H/.ssh"
cp "$T/s/id_ed25519" "$T/s/id_ed25519.pub" "$T/s/known_hosts" "$H/.ssh/"
printf 'Host mux-test\n    HostName 127.0.0.1\n    Port %s\n' "$SSHD_PORT" >"$H/.ssh/config"
chown -R "$U" "$H/.ssh"
chmod 600 "$H/.ssh/id_ed25519"
CFG=$H/.ssh/config # for the cases that name it with -F
HK_PUB=$T/s/host_ed25519.pub
export CFG HK_PUB

SUITE=e2e${MUXSHIM_TEST_TAG:+-$MUXSHIM_TEST_TAG}
# shellcheck source=../lib-cases.sh
. "$ROOT/tests/lib-cases.sh"

# Big test data, made once.
head -c 100000000 /dev/urandom >"$T/big.bin"
chmod 644 "$T/big.bin"
BIG_SHA=$(sha256sum <"$T/big.bin" | cut -d' ' -f1)
export BIG=$T/big.bin BIG_SHA

MUX_CONNS=0 # TCP connections the shim's sides made

# run_side SIDE SNIPPET: fresh $W, run the snippet, keep stdout/stderr/rc in $T/SIDE.*
run_side() {
    local side=$1 snippet=$2 pre=(env) c0
    rm -rf "$W"
    mkdir -p "$W"
    chown "$U" "$W"
    [ "$side" = mux ] && pre=(env "LD_PRELOAD=$LIB")
    c0=$(sshd_connections "$T/s")
    # (a hang fails the case after 5 minutes instead of holding up the whole run)
    (cd "$W" && W=$W as_u timeout -k 5 300 "${pre[@]}" bash -c "$snippet" \
        >"$T/$side.out" 2>"$T/$side.err" </dev/null)
    echo $? >"$T/$side.rc"
    [ "$side" = mux ] && MUX_CONNS=$((MUX_CONNS + $(sshd_connections "$T/s") - c0))
}

# dcase NAME SNIPPET [served|N|handed|any]: the differential case; by default the broker
# must have served at least one session of it (N: at least N) and handed none to ssh;
# "handed": at least one went to the real ssh; "any": no expectation (errors before any
# session).
dcase() {
    local want=${3:-served} min=1 before after served handed
    case "$want" in [0-9]*) min=$want want=served ;; esac
    run_side plain "$2"
    before=$(broker_counters "$B/muxssh" "$MUXSHIM_DIR" "$U")
    run_side mux "$2"
    after=$(broker_counters "$B/muxssh" "$MUXSHIM_DIR" "$U")
    served=$((${after% *} - ${before% *}))
    handed=$((${after#* } - ${before#* }))
    if { [ "$want" = served ] && { [ "$served" -lt "$min" ] || [ "$handed" -ne 0 ]; }; } ||
        { [ "$want" = handed ] && [ "$handed" -lt 1 ]; }; then
        notok "$1" "want $want: served $served, handed to ssh $handed; $(grep -h 'muxshim' "$T/mux.err" | head -2 | tr '\n' ' ')"
        return
    fi
    compare_sides "$1"
}

# expect NAME WANT_RC SNIPPET: a mux-only case with an expected exit code and stdout
# pattern (for what plain ssh cannot do, like -O check with no master).
expect() {
    local name=$1 want_rc=$2 pattern=$3 snippet=$4
    run_side mux "$snippet"
    local rc
    rc=$(cat "$T/mux.rc")
    if [ "$rc" = "$want_rc" ] && grep -Eq "$pattern" "$T/mux.out"; then
        ok "$name"
    else
        notok "$name" "exit $rc (want $want_rc), stdout: $(head -c 300 "$T/mux.out" | tr '\n\r' '  '), stderr: $(head -c 300 "$T/mux.err" | tr '\n\r' '  ')"
    fi
}

S='ssh mux-test'

# --- sessions: exit codes, streams, stdin, argv -------------------------------------
for n in 0 1 2 7 100 254 255; do
    dcase "exit-$n" "$S 'exit $n'"
done
# Every status, through the shim alone against the known answer (plain ssh passes the remote
# status through, as the cases above compare; 256 plain logins would cost a minute).
c0=$(broker_counters "$B/muxssh" "$MUXSHIM_DIR" "$U")
run_side mux 'for i in $(seq 0 255); do ssh mux-test "exit $i"; echo "$i:$?"; done'
c1=$(broker_counters "$B/muxssh" "$MUXSHIM_DIR" "$U")
if [ "$(cat "$T/mux.rc")" = 0 ] && [ ! -s "$T/mux.err" ] && [ $((${c1% *} - ${c0% *})) -ge 256 ] &&
    [ "${c1#* }" = "${c0#* }" ] && cmp -s "$T/mux.out" <(for i in $(seq 0 255); do echo "$i:$i"; done); then
    ok "exit-0-to-255 (256 sessions served)"
else
    notok "exit-0-to-255" "rc $(cat "$T/mux.rc"), served $((${c1% *} - ${c0% *})), stderr: $(head -c 200 "$T/mux.err")"
fi
dcase "stdout-stderr" "$S 'echo out; echo err >&2; echo out2; exit 3'"
dcase "stderr-only" "$S 'for i in 1 2 3; do echo e\$i >&2; done'"
dcase "stdin-pipe" "printf 'abc\ndef' | $S 'cat; echo; echo done'"
dcase "stdin-eof" "$S 'cat; echo eof-seen' </dev/null"
dcase "stdin-n" "printf data | ssh -n mux-test 'cat; echo n-done'"
dcase "stdin-wc" "seq 1 200000 | $S 'wc -l'"
dcase "command-words" "$S echo '\"a  b\"' 'c;d' e\\\$HOME_NOT_SET f"
dcase "command-after-dashdash" "ssh -- mux-test printf '%s-' x y z"
dcase "options-after-dest" "ssh mux-test -q -T echo late-options"
dcase "ssh-url" "ssh -o HostName=127.0.0.1 ssh://mux-test echo url"
dcase "sendenv" "LANG=C.UTF-8 LC_FOO=bar ssh -o SendEnv='LANG LC_*' mux-test 'echo \$LANG \$LC_FOO'"
dcase "setenv-refused" "ssh -o SetEnv=NOT_ACCEPTED=1 mux-test 'echo [\$NOT_ACCEPTED]'"

# --- env across sessions: spares are prepared with the last session's env requests -------
# Each session must see exactly its own SendEnv/SetEnv values, as plain ssh gives them,
# whatever the session before it sent; and the broker must have served every one.
ENVPRE='for v in $(env | sed -n "s/^\(LC_[A-Za-z_]*\)=.*/\1/p"); do unset "$v"; done; unset LANG
q='"'"'echo "L=${LANG-unset} F=${LC_FOO-unset} B=${LC_BAR-unset} S=${LC_SET-unset} N=${NOT_ACCEPTED-unset}"'"'"'
E() { ssh -o SendEnv="LANG LC_*" mux-test "$@"; }
'
dcase "env-back-to-back" "$ENVPRE"'
for i in 1 2 3; do LANG=C.UTF-8 E "$q"; done
LANG=en_US.UTF-8 E "$q"
E "$q"
LANG=C.UTF-8 LC_FOO=a E "$q"
LANG=C.UTF-8 E "$q"
LC_FOO=b LC_BAR=c E "$q"
LC_FOO=b LC_BAR=c E -o SetEnv=LC_SET=x "$q"
LC_FOO=b LC_BAR=c E "$q"
LC_SET=fromenv E -o SetEnv=LC_SET=x "$q"
LC_SET=fromenv E "$q"
LANG=C.UTF-8 E -o SetEnv=NOT_ACCEPTED=1 "$q"
LANG=C.UTF-8 E "$q"
LANG=C.UTF-8 ssh mux-test "$q"
LANG=C.UTF-8 LC_FOO="two words" E "$q"
LANG=C.UTF-8 LC_FOO= E "$q"' 17
dcase "env-alternating" "$ENVPRE"'
for i in 1 2 3 4; do LANG=C.UTF-8 E "$q"; LC_FOO=z$i E "$q"; LANG=POSIX LC_BAR=y E -o SetEnv=LC_FOO=s "$q"; done' 12
# 4 + 4 at once: plain ssh would meet sshd's MaxStartups (10) beyond that.
dcase "env-concurrent" "$ENVPRE"'
for i in $(seq 1 4); do
    (LANG=C.$i LC_FOO=f$i E "$q" >out.a$i) &
    (LC_BAR=b$i E -o SetEnv=LC_SET=s$i "$q" >out.b$i) &
done
wait
for i in $(seq 1 4); do cat out.a$i out.b$i; done' 8
dcase "env-pty-and-subsystem" "$ENVPRE"'
LANG=C.UTF-8 LC_FOO=p E -tt "$q" </dev/null | tr -d "\r"
LANG=C.UTF-8 LC_FOO=p E "$q"
echo "ls -1 /nonexistent-dir" >batch; LANG=C.UTF-8 LC_FOO=p sftp -q -o SendEnv="LANG LC_*" -b batch mux-test 2>&1 | grep -c nonexistent-dir' 3
# -f: to the background after login, before the command runs; exit 0 in the foreground and
# the command's output later on the same stdout/stderr (the pipe closes when it ends).
dcase "fork-after-auth" "{ ssh -f mux-test 'sleep 1; echo done; echo err >&2; exit 3'; echo \"rc=\$?\"; } 2>&1 | cat"
dcase "fork-stdin-null" "{ echo input | ssh -f mux-test 'sleep 1; cat; echo cat-done'; echo \"rc=\$?\"; } | cat"
dcase "fork-config" "{ ssh -o ForkAfterAuthentication=yes mux-test 'sleep 1; echo cfg-done'; echo \"rc=\$?\"; } | cat"
dcase "fork-no-command" "ssh -f mux-test" any
# -f -N with no forwarding: ssh does not complain; it stays in the background (ended here).
dcase "fork-N" "ssh -f -N -o SetEnv=MUXSHIM_E2E_MARK=\$\$ mux-test; echo \"rc=\$?\"
    sleep 0.5; p=\$(pgrep -u \"\$(id -u)\" -f \"MUXSHIM_E2E_MARK=\$\$\" | grep -vx \$\$); echo \"background: \$(echo \$p | wc -w)\"; kill \$p"
# LocalCommand with PermitLocalCommand: run locally after login, before the command (the
# tokens that differ between the two sides' sshds, %p and %C, are checked in test_sshconfig).
LC="-o PermitLocalCommand=yes -o 'LocalCommand=echo local %n %r %u %h %T %%; echo local-err >&2; cat'"
dcase "localcommand" "echo typed | ssh $LC mux-test 'echo remote; cat; echo remote-err >&2' 2>&1"
dcase "localcommand-not-permitted" "ssh -o 'LocalCommand=echo never' mux-test echo remote"
dcase "localcommand-fork" "{ ssh -f -o PermitLocalCommand=yes -o 'LocalCommand=echo local-first' mux-test 'sleep 0.5; echo remote-later'; echo \"rc=\$?\"; } | cat"
dcase "remote-signal" "$S 'kill -TERM \$\$'"
dcase "remote-closes-stdout" "$S 'exec >&-; echo still >&2; exit 4'"
# ssh -G answers from the config alone: both sides read the same file here.
dcase "ssh-G-unchanged" "ssh -G mux-test; ssh -G -l other -p 2 mux-test echo x" handed
dcase "F-config-file" 'ssh -F "$CFG" mux-test echo with-F; ssh -F "$CFG" -o BatchMode=yes mux-test echo batch'
dcase "missing-identity-warning" "ssh -i /nonexistent/key mux-test echo warned"
dcase "config-error" "ssh -F /nonexistent/config mux-test true" handed
dcase "connection-refused" "ssh -p 1 mux-test true" any
dcase "unknown-hostname" "ssh -o HostName=no-such-host.invalid mux-test true" any

# --- 100 MB binary both ways ----------------------------------------------------------
dcase "100MB-up-down" "$S \"cat > \$W/up.bin\" <\"\$BIG\" && $S \"cat \$W/up.bin\" | sha256sum && sha256sum <\"\$W/up.bin\" && echo \$BIG_SHA"

# --- git ------------------------------------------------------------------------------
GIT='export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z;
git init -q --bare -b main srv.git && git init -q -b main seed && (cd seed && echo one >f && git add f && git commit -qm one && git push -q "mux-test:$W/srv.git" main)'
dcase "git-clone-fetch-push" "$GIT"'
git clone -q "mux-test:$W/srv.git" clone && cd clone && git log --format=%s &&
echo two >>f && git commit -qam two && git push -q origin main &&
cd ../seed && git pull -q "mux-test:$W/srv.git" main && git fetch -q "mux-test:$W/srv.git" && git log --format=%s && git ls-remote "mux-test:$W/srv.git"'

# --- rsync, scp, sftp -----------------------------------------------------------------
TREE='mkdir -p src/sub && head -c 300000 "$BIG" >src/a.bin && echo hello >src/sub/b.txt && ln -s a.bin src/link'
dcase "rsync-up-down" "$TREE"'
rsync -a src/ "mux-test:$W/up/" && rsync -a "mux-test:$W/up/" down/ && diff -r src down && find down | sort'
dcase "rsync-update" "$TREE"'
rsync -a src/ "mux-test:$W/up/" && echo changed >>src/sub/b.txt && touch -d "2026-01-02 03:04:05" src/sub/b.txt && rsync -ai src/ "mux-test:$W/up/" && diff -r src up'
dcase "scp-sftp-mode" "$TREE"'
scp -q src/a.bin "mux-test:$W/scp1.bin" && scp -q "mux-test:$W/scp1.bin" back.bin && cmp src/a.bin back.bin && scp -q -r src "mux-test:$W/tree" && diff -r src tree && echo scp-ok'
dcase "scp-legacy-mode" "$TREE"'
scp -O -q src/a.bin "mux-test:$W/scp2.bin" && scp -O -q "mux-test:$W/scp2.bin" back.bin && cmp src/a.bin back.bin && echo scp-O-ok'
dcase "scp-missing-file" 'scp -q "mux-test:$W/does-not-exist" x'
dcase "sftp-batch" "$TREE"'
printf "%s\n" "put src/a.bin $W/sftp.bin" "get $W/sftp.bin got.bin" "ls -1 $W" "mkdir $W/made" "rename $W/sftp.bin $W/moved.bin" "ls -1 $W" >batch &&
sftp -q -b batch mux-test && cmp src/a.bin got.bin && echo sftp-ok'

# --- activation and control -----------------------------------------------------------
dcase "init-bash" "eval \"\$($ROOT/scripts/muxrun off)\"; eval \"\$($ROOT/scripts/muxrun --init bash)\"; ssh mux-test echo activated"
# The same in real zsh and fish, each in its own syntax (the shim is taken off first, so a
# line that did not switch it on leaves the session unserved).
dcase "init-zsh" "zsh -f -c 'eval \"\$($ROOT/scripts/muxrun off)\"; eval \"\$($ROOT/scripts/muxrun --init zsh)\"; ssh mux-test echo activated'"
dcase "init-fish" "fish --no-config -c '$ROOT/scripts/muxrun off | source; set -q LD_PRELOAD; and exit 98; $ROOT/scripts/muxrun --init fish | source; ssh mux-test echo activated'"
# enable_case KIND FILE SHELL...: `muxrun enable KIND` writes its line once into the
# account's FILE (a second enable changes nothing), a new SHELL started without the shim
# has it and its session is served; `muxrun disable` removes the line and nothing else.
enable_case() {
    local kind=$1 file=$2 c0 c1 snip sshcmd=ssh
    shift 2
    # a login shell sets its own PATH: the user's ssh of MUXSHIM_TEST_SSH_DIR stays first
    [ -z "${MUXSHIM_TEST_SSH_DIR:-}" ] || sshcmd="env PATH=$PATH ssh"
    snip="M=$ROOT/scripts/muxrun; F=\$HOME/$file; unset LD_PRELOAD
        mkdir -p \"\$(dirname \"\$F\")\" && echo 'true muxtest-keep' >\"\$F\"
        \$M enable $kind | grep -qF \"muxrun: enabled in \$F \" || exit 91
        \$M enable $kind | grep -qxF \"muxrun: already enabled in \$F\" || exit 92
        [ \"\$(grep -c 'muxrun enable' \"\$F\")\" = 1 ] || exit 93
        $* '$sshcmd mux-test echo via-$kind' </dev/null 2>/dev/null
        \$M disable | grep -qxF \"muxrun: disabled in \$F\" || exit 94
        [ \"\$(cat \"\$F\")\" = 'true muxtest-keep' ] || exit 95
        $* 'echo \"after=[\$LD_PRELOAD]\"' </dev/null 2>/dev/null
        rm -f \"\$F\""
    c0=$(broker_counters "$B/muxssh" "$MUXSHIM_DIR" "$U")
    run_side mux "$snip"
    c1=$(broker_counters "$B/muxssh" "$MUXSHIM_DIR" "$U")
    if [ "$(cat "$T/mux.rc")" = 0 ] && [ "$(cat "$T/mux.out")" = "via-$kind
after=[]" ] && [ $((${c1% *} - ${c0% *})) -ge 1 ] && [ "${c1#* }" = "${c0#* }" ]; then
        ok "enable-$kind (~/$file)"
    else
        notok "enable-$kind" "rc $(cat "$T/mux.rc"), served $((${c1% *} - ${c0% *})), handed $((${c1#* } - ${c0#* })), stdout: $(tr '\n' ' ' <"$T/mux.out"), stderr: $(head -c 300 "$T/mux.err")"
    fi
}
enable_case bash .bashrc bash -i -c
enable_case zsh .zshrc zsh -i -c
enable_case fish .config/fish/config.fish fish -c
enable_case profile .profile sh -l -c
# Completion: each shell, with completions/ loaded as it loads it, completes `muxrun st`
# to the subcommand status (with the commands that start so, none other), `muxrun doctor -`
# to exactly ssh's options and --json, a later `-` after doctor to ssh's options alone (muxrun
# takes --json only first), `muxrun status ` to --json, and `muxrun -O ` to ssh -O's
# operations that the broker answers.
SSH_OPTS="-4 -6 -A -a -B -b -C -c -D -E -e -F -f -g -I -i -J -K -k -L -l -M -m -N -n -O -o -P -p -q -R -S -s -T -t -v -W -w -X -x -Y -y"
words() { tr ' ' '\n' <<<"$*" | sort | tr '\n' ' '; }
# complete_line LINE: what the shell $sh completes for LINE, as the account
complete_line() { as_u "$ROOT/tests/e2e/complete.sh" "$sh" "$ROOT/completions" "$1" 2>&1; }
for sh in bash zsh fish; do
    st=$(complete_line "muxrun st")
    opts=$(complete_line "muxrun doctor -" | sort | tr '\n' ' ')
    later=$(complete_line "muxrun doctor -v -" | sort | tr '\n' ' ')
    st_json=$(complete_line "muxrun status " | sort | tr '\n' ' ')
    ops=$(complete_line "muxrun -O " | sort | tr '\n' ' ')
    if ! grep -qx status <<<"$st" || grep -qvx 'st.*' <<<"$st"; then
        notok "complete-$sh" "muxrun st: $(tr '\n' ' ' <<<"$st" | head -c 300)"
    elif [ "$opts" != "$(words "$SSH_OPTS --json")" ]; then
        notok "complete-$sh" "muxrun doctor -: $opts"
    elif [ "$later" != "$(words "$SSH_OPTS")" ]; then
        notok "complete-$sh" "muxrun doctor -v -: $later"
    elif [ "$st_json" != "$(words --json)" ]; then
        notok "complete-$sh" "muxrun status: $st_json"
    elif [ "$ops" != "$(words check stop exit forward cancel)" ]; then
        notok "complete-$sh" "muxrun -O: $ops"
    else
        ok "complete-$sh (muxrun st: $(grep -c . <<<"$st") answers, status among them; muxrun doctor -: ssh's options and --json, later ssh's alone; muxrun status: --json; muxrun -O: its five operations)"
    fi
done
dcase "python-subprocess" "python3 -c 'import subprocess,sys; r=subprocess.run([\"ssh\",\"-F\",sys.argv[1],\"mux-test\",\"echo py; exit 5\"]); print(r.returncode)' \"\$CFG\""
dcase "system-popen" "perl -e 'print qx{ssh -F \$ARGV[0] mux-test echo from-perl}; system(\"ssh\", \"-F\", \$ARGV[0], \"mux-test\", \"exit 9\"); print \$? >> 8, \"\\n\"' \"\$CFG\""
expect "O-check" 0 '^Master running \(pid=[0-9]+\)' "ssh -O check mux-test 2>&1"
expect "muxrun-O-check" 0 '^Master running' "$ROOT/scripts/muxrun -O check mux-test -F \"\$CFG\" 2>&1"
# muxrun -O forward and -O cancel (muxrun(1)): a -L from a socket in the work directory to a
# socket there that answers "held" (no TCP connection: one_connection counts them), held by
# the broker for mux-test's connection after muxrun exits, listed with owner "connection" by
# muxrun status, gone after the cancel; its one connection is a served session, none handed.
# A build whose libssh2 opens no direct-streamlocal channel (1.10, LIBSSH2=system) says so
# and holds nothing, nor a -R on a socket path (no streamlocal-forward there), and the
# connection goes on serving (it used to wait for that open).
c0=$(broker_counters "$B/muxssh" "$MUXSHIM_DIR" "$U")
case "$("$B/muxbroker" -V 2>&1)" in
*"built with 1.10."* | *"built with 1.11.0"*)
    run_side mux "m=$ROOT/scripts/muxrun; L=\$PWD/f.sock:\$PWD/t.sock
\$m -O forward mux-test -F \"\$CFG\" -L \$L; echo forward \$?
\$m -O forward mux-test -F \"\$CFG\" -R \$PWD/r.sock:127.0.0.1:9; echo rforward \$?
\$m status | grep -c 'f\.sock\|r\.sock'
ssh -F \"\$CFG\" mux-test echo still-served"
    c1=$(broker_counters "$B/muxssh" "$MUXSHIM_DIR" "$U")
    if [ "$(tr '\n' ' ' <"$T/mux.out")" = "forward 255 rforward 255 0 still-served " ] &&
        grep -q "cannot forward to a socket path on the server" "$T/mux.err" &&
        [ $((${c1% *} - ${c0% *})) = 1 ]; then
        ok "muxrun-O-forward-cancel (this libssh2: a socket path target refused, said why)"
    else
        notok "muxrun-O-forward-cancel" "stdout: $(tr '\n' '|' <"$T/mux.out"), stderr: $(head -c 300 "$T/mux.err")"
    fi
    ;;
*)
    run_side mux "m=$ROOT/scripts/muxrun; L=\$PWD/f.sock:\$PWD/t.sock
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); c=s.accept()[0]; c.sendall(b\"held\\n\")' t.sock &
for i in \$(seq 100); do [ -S t.sock ] && break; sleep 0.1; done
\$m -O forward mux-test -F \"\$CFG\" -L \$L && echo forward
python3 -c 'import socket,sys; c=socket.socket(socket.AF_UNIX); c.connect(sys.argv[1]); print(c.makefile().readline().strip())' f.sock
\$m status | grep -c 'f\.sock.* connection\$'
\$m -O cancel mux-test -F \"\$CFG\" -L \$L && echo cancel
\$m status | grep -c 'f\.sock'
wait"
    c1=$(broker_counters "$B/muxssh" "$MUXSHIM_DIR" "$U")
    if [ "$(tr '\n' ' ' <"$T/mux.out")" = "forward held 1 cancel 0 " ] &&
        [ $((${c1% *} - ${c0% *})) = 1 ] && [ "${c1#* }" = "${c0#* }" ]; then
        ok "muxrun-O-forward-cancel (held -L, listed, cancelled; 1 served)"
    else
        notok "muxrun-O-forward-cancel" "served $((${c1% *} - ${c0% *})) (want 1), handed $((${c1#* } - ${c0#* })); stdout: $(tr '\n' '|' <"$T/mux.out"), stderr: $(head -c 300 "$T/mux.err")"
    fi
    ;;
esac
expect "muxrun-status" 0 '127\.0\.0\.1 .* ready' "$ROOT/scripts/muxrun status"
# json_check NAME KIND DIR ARGS [CHECKS...]: `muxrun KIND --json ARGS` and `muxrun KIND ARGS`
# (ARGS as shell words) as the account, with the broker of runtime directory DIR: the same
# exit code, one JSON object whose fields rebuild the text's lines, and CHECKS
# (tests/e2e/status_json.py: REASON=COUNT and conn:HOST:PORT:STATE for status, FIELD=VALUE
# for doctor).
json_check() {
    local name=$1 kind=$2 dir=$3 args=$4 rj rt why
    shift 4
    as_u env MUXSHIM_DIR="$dir" bash -c "cd / && $ROOT/scripts/muxrun $kind --json $args" \
        >"$T/j.json" 2>"$T/j.err"
    rj=$?
    as_u env MUXSHIM_DIR="$dir" bash -c "cd / && $ROOT/scripts/muxrun $kind $args" \
        >"$T/j.txt" 2>>"$T/j.err"
    rt=$?
    if [ "$rj" != "$rt" ] || [ -s "$T/j.err" ]; then
        notok "$name" "exit $rj with --json, $rt without; stderr: $(head -c 300 "$T/j.err")"
    elif why=$(python3 "$ROOT/tests/e2e/status_json.py" "$kind" "$T/j.json" "$T/j.txt" "$@"); then
        ok "$name ($why)"
    else
        notok "$name" "$why; json: $(head -c 600 "$T/j.json")"
    fi
}
json_check "status-json" status "$MUXSHIM_DIR" "" "conn:127.0.0.1:$SSHD_PORT:ready"
json_check "doctor-json-served" doctor "$MUXSHIM_DIR" "mux-test" served=True connection.kind=open \
    connection.index=1 host=127.0.0.1 "port=$SSHD_PORT"
# Names and reasons with a backslash, UTF-8 and a quote: from the broker (the resolved
# HostName and User, a hand-over it decides; ssh -G's error) and from muxssh alone (-w).
json_check "doctor-json-escapes" doctor "$MUXSHIM_DIR" "-o 'HostName=we\\ird' -o 'User=bä\\x' -o Tunnel=yes mux-test" \
    served=False reason=Tunnel 'host=we\ird' "user=bä\\x"
json_check "doctor-json-ssh-G-error" doctor "$MUXSHIM_DIR" "-o 'Ciphers=a\\\"b' mux-test" served=False \
    "reason=command-line line 0: Bad SSH2 cipher spec 'a\"b'."
json_check "doctor-json-muxssh" doctor "$MUXSHIM_DIR" "-w any mux-test" served=False \
    "reason=-w (muxssh does not serve it)" destination=mux-test
# systemd's user units: systemd-analyze accepts them, and socket activation works as
# muxbroker.socket sets it up, at its ListenStream path under XDG_RUNTIME_DIR (%t), which
# must be the clients' default runtime directory. systemd-socket-activate listens there as
# the account and execs the broker (the same pid) with the socket when the first client
# connects; the session through the shim is served by that broker.
UNITS=$T/units
mkdir -p "$UNITS" "$T/xdg" && chmod 755 "$UNITS" && chmod 700 "$T/xdg" && chown "$U" "$T/xdg"
cp "$ROOT/systemd/muxbroker.socket" "$UNITS/"
sed "s|@LIBDIR@|$B|" "$ROOT/systemd/muxbroker.service.in" >"$UNITS/muxbroker.service"
v=$(as_u env XDG_RUNTIME_DIR="$T/xdg" systemd-analyze verify --user --man=no \
    "$UNITS/muxbroker.socket" "$UNITS/muxbroker.service" 2>&1) && [ -z "$v" ] &&
    ok "systemd-units-verify" || notok "systemd-units-verify" "$v"
ACT_SOCK=$T/xdg$(sed -n 's|^ListenStream=%t||p' "$ROOT/systemd/muxbroker.socket")
ACT_DIR=$(dirname "$ACT_SOCK")
mkdir -m 700 "$ACT_DIR" && chown "$U" "$ACT_DIR" # (the unit's DirectoryMode)
as_u env -u MUXSHIM_DIR XDG_RUNTIME_DIR="$T/xdg" bash -c 'echo $$ >"$1"; shift; exec "$@"' \
    act "$T/xdg/act.pid" systemd-socket-activate -l "$ACT_SOCK" -E XDG_RUNTIME_DIR -E HOME -E PATH \
    -E USER -E LOGNAME "$B/muxbroker" 2>"$T/act.err" & # (the environment a user service gets)
for i in $(seq 1 200); do [ -S "$ACT_SOCK" ] && break; sleep 0.05; done
c0=$(broker_counters "$B/muxssh" "$ACT_DIR" "$U")
k0=$MUX_CONNS # (a broker of its own: its TCP connection is not the shared one counted below)
run_side mux "unset MUXSHIM_DIR; export XDG_RUNTIME_DIR=$T/xdg; ssh mux-test echo activated"
MUX_CONNS=$k0
c1=$(broker_counters "$B/muxssh" "$ACT_DIR" "$U")
if [ "$(cat "$T/mux.out")" = activated ] && [ $((${c1% *} - ${c0% *})) -ge 1 ] &&
    [ "$(cat "$ACT_DIR/broker.lock" 2>/dev/null)" = "$(cat "$T/xdg/act.pid")" ] &&
    grep -q 'on the socket systemd passed' "$ACT_DIR/broker.log"; then
    ok "socket-activation (served $((${c1% *} - ${c0% *})) by the broker systemd-socket-activate started)"
else
    notok "socket-activation" "stdout $(head -c 100 "$T/mux.out"), served $((${c1% *} - ${c0% *})), broker pid $(cat "$ACT_DIR/broker.lock" 2>/dev/null) (activator $(cat "$T/xdg/act.pid")), log: $(tr "\n" " " <"$ACT_DIR/broker.log" | head -c 400), $(tr '\n' ' ' <"$T/act.err" | head -c 300) $(head -c 300 "$T/mux.err")"
fi
mux_stop "$ACT_DIR"
kill "$(cat "$T/xdg/act.pid")" 2>/dev/null
# wait_for SECONDS COMMAND...: until COMMAND succeeds, polling every 0.1 s; its status.
wait_for() {
    local i n=$(($1 * 10))
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    "$@"
}
# The brokers whose runtime directory is DIR (each works in its own: their cwd).
brokers_in() {
    local p
    for p in $(pgrep -u "$U" -x muxbroker); do
        [ "$(readlink "/proc/$p/cwd")" != "$1" ] || echo "$p"
    done
}
# systemd's socket enabled while a broker that muxssh started runs and serves a session
# (`systemctl --user enable --now muxbroker.socket` on a busy day): systemd binds its own
# socket at the path. The broker it starts for the next client must serve it although the
# other holds broker.lock (exiting "busy", as it did, left that client with no broker and
# would have had systemd start it again and again); the other notices that the path is no
# longer its socket, finishes its session and exits, leaving systemd's socket in place;
# then the activated broker, the only one left, holds the lock.
X=$T/xdg2
XS=$X${ACT_SOCK#"$T/xdg"}
XD=$(dirname "$XS")
mkdir -m 700 "$X" "$XD" && chown "$U" "$X" "$XD"
(cd / && as_u env -u MUXSHIM_DIR XDG_RUNTIME_DIR="$X" LD_PRELOAD="$LIB" \
    ssh mux-test 'echo long; sleep 4; echo done' >"$X/long.out" 2>"$X/long.err"
    echo $? >"$X/long.rc") &
wait_for 20 grep -q long "$X/long.out"
od=$(cat "$XD/broker.lock" 2>/dev/null)
ino0=$(stat -c %i "$XS" 2>/dev/null)
as_u env -u MUXSHIM_DIR XDG_RUNTIME_DIR="$X" bash -c 'echo $$ >"$1"; shift; exec "$@"' \
    act "$X/act.pid" systemd-socket-activate -l "$XS" -E XDG_RUNTIME_DIR -E HOME -E PATH \
    -E USER -E LOGNAME "$B/muxbroker" 2>"$T/act2.err" &
wait_for 10 eval '[ -S "$XS" ] && [ "$(stat -c %i "$XS")" != "$ino0" ]'
ino1=$(stat -c %i "$XS" 2>/dev/null)
k0=$MUX_CONNS
run_side mux "unset MUXSHIM_DIR; export XDG_RUNTIME_DIR=$X; ssh mux-test echo took-over"
MUX_CONNS=$k0
st=$(broker_status "$B/muxssh" "$XD" "$U")
c1=$(broker_counters "$B/muxssh" "$XD" "$U")
ap=$(cat "$X/act.pid")
wait_for 20 test -s "$X/long.rc"
wait_for 10 eval '! kill -0 "$od" 2>/dev/null'
bad=
[ "$(cat "$T/mux.out")" = took-over ] || bad+="the client: $(head -c 200 "$T/mux.out" "$T/mux.err" | tr '\n' ' '); "
[ "${c1% *}" -ge 1 ] && grep -q "^broker pid $ap," <<<"$st" ||
    bad+="not served by the activated broker $ap (served ${c1% *}, $(grep '^broker pid' <<<"$st")); "
[ "$(cat "$X/long.out")" = "$(printf 'long\ndone')" ] && [ "$(cat "$X/long.rc")" = 0 ] ||
    bad+="the session on the broker muxssh started: rc $(cat "$X/long.rc"), $(head -c 200 "$X/long.out" "$X/long.err" | tr '\n' ' '); "
[ -n "$od" ] && [ "$od" != "$ap" ] && ! kill -0 "$od" 2>/dev/null ||
    bad+="the broker muxssh started ($od) is still there; "
[ "$(brokers_in "$XD" | tr '\n' ' ')" = "$ap " ] ||
    bad+="brokers left: $(brokers_in "$XD" | tr '\n' ' ')(want the activated one, $ap); "
[ "$(grep -c 'on the socket systemd passed' "$XD/broker.log")" = 1 ] ||
    bad+="the activated broker started $(grep -c 'on the socket systemd passed' "$XD/broker.log") times; "
[ -S "$XS" ] && [ "$(stat -c %i "$XS")" = "$ino1" ] || bad+="systemd's socket file is gone; "
[ "$(cat "$XD/broker.lock")" = "$ap" ] || bad+="broker.lock names $(cat "$XD/broker.lock"); "
verdict "socket-activation-takes-over" "$bad${bad:+log: $(tr '\n' ' ' <"$XD/broker.log" | tail -c 600)}" \
    "socket-activation-takes-over (served ${c1% *} by the activated broker $ap; the one muxssh started, $od, finished its session and exited)"
mux_stop "$XD"
kill "$od" "$ap" 2>/dev/null
# A broker started on demand while systemd's socket waits for its first client leaves that
# socket alone (it used to replace it): it says "busy", so the client that started it goes
# to systemd's socket, whose broker its look (a connection) has started.
X=$T/xdg3
XS=$X${ACT_SOCK#"$T/xdg"}
XD=$(dirname "$XS")
mkdir -m 700 "$X" "$XD" && chown "$U" "$X" "$XD"
as_u env -u MUXSHIM_DIR XDG_RUNTIME_DIR="$X" bash -c 'echo $$ >"$1"; shift; exec "$@"' \
    act "$X/act.pid" systemd-socket-activate -l "$XS" -E XDG_RUNTIME_DIR -E HOME -E PATH \
    -E USER -E LOGNAME "$B/muxbroker" 2>"$T/act3.err" &
wait_for 10 test -S "$XS"
ino1=$(stat -c %i "$XS" 2>/dev/null)
word=$(cd / && as_u env -u MUXSHIM_DIR XDG_RUNTIME_DIR="$X" timeout 10 "$B/muxbroker" --ready-fd 1)
ap=$(cat "$X/act.pid")
if [ "$word" = busy ] && [ "$(stat -c %i "$XS" 2>/dev/null)" = "$ino1" ] &&
    wait_for 10 grep -q 'on the socket systemd passed' "$XD/broker.log"; then
    ok "socket-activation-socket-kept (the broker started on demand said busy; systemd's socket stays, and its broker started)"
else
    notok "socket-activation-socket-kept" "said $word; socket inode $(stat -c %i "$XS" 2>&1), was $ino1; log: $(tr '\n' ' ' <"$XD/broker.log" 2>/dev/null | head -c 400)"
fi
mux_stop "$XD"
kill "$ap" 2>/dev/null
# `make install` with DESTDIR: the installed muxrun switches on the installed shim.
INST=$T/inst
if make -s -C "$ROOT" install B="$B" DESTDIR="$INST" PREFIX=/usr/local >"$T/install.log" 2>&1; then
    expect "installed-muxrun" 0 '^Master running \(pid=[0-9]+\)' "eval \"\$($INST/usr/local/bin/muxrun off)\"
        eval \"\$($INST/usr/local/bin/muxrun --init bash)\"
        [ \"\$LD_PRELOAD\" = $INST/usr/local/lib/muxshim/libmuxshim.so ] || exit 99
        ssh mux-test echo installed
        ssh -O check mux-test 2>&1"
else
    notok "installed-muxrun" "make install failed: $(tail -3 "$T/install.log" | tr '\n' ' ')"
fi

# --- the whole served run used one TCP connection ---------------------------------------
p=$(($(sshd_connections "$T/s") - MUX_CONNS))
if [ "$MUX_CONNS" = 1 ] && [ "$p" -gt 50 ]; then # (plain ssh: a login a session)
    ok "one-connection (the shim's sessions: $MUX_CONNS, plain ssh's: $p)"
else
    notok "one-connection" "the shim's sessions made $MUX_CONNS TCP connections, plain ssh's $p"
fi

# Another known_hosts entry name (checked against another file): after the count.
dcase "hostkeyalias" 'echo "myalias $(cut -d" " -f1-2 "$HK_PUB")" >kh
    ssh -o HostKeyAlias=myalias -o UserKnownHostsFile="$PWD/kh" mux-test echo alias-ok'

# A session whose known_hosts lacks the shared connection's host key, under a policy that
# adds it: ssh's line on stderr, the key in the file (a strict session then knows it), and
# ssh's other line when the file cannot be written. After the count: they share it.
k0=$MUX_CONNS
dcase "accept-new-shared" 'ssh -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile="$PWD/kh" mux-test echo learnt &&
    ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$PWD/kh" mux-test echo known && wc -l <kh' 2
dcase "known-hosts-dev-null" "ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null mux-test echo devnull"
dcase "known-hosts-unwritable" "ssh -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=/nonexistent/kh mux-test echo unwritable"
if [ "$MUX_CONNS" = "$k0" ]; then
    ok "known-hosts-shared (those sessions rode the open connection)"
else
    notok "known-hosts-shared" "they made $((MUX_CONNS - k0)) TCP connections"
fi

# --- handed to the real ssh: exactly plain ssh -----------------------------------------
# A hand-over runs the real ssh unchanged, so it is plain ssh whatever its stdio and settings.
# Its own runtime directory gives the counters of these cases alone (the status keeps 12
# reasons a host); the served session starts its broker, which then counts the hand-overs
# muxssh decides on by itself.
HO=$T/rho
mkdir -m 700 "$HO" && chown "$U" "$HO"
ho_run() { MUXSHIM_DIR=$HO run_side "$@"; }
# handed [DIR]: how many sessions the broker of DIR (else $MUXSHIM_DIR) handed to ssh
handed() {
    local c
    c=$(broker_counters "$B/muxssh" "${1:-$MUXSHIM_DIR}" "$U")
    echo "${c#* }"
}
# ho_reason TEXT: how many hand-overs the status counts under the reason TEXT
ho_reason() {
    broker_status "$B/muxssh" "$HO" "$U" | sed -n 's/.*, handed to ssh [0-9]* (\(.*\))$/\1/p' |
        tr ',' '\n' | sed 's/^ *//' |
        awk -v w="$1: " 'index($0, w) == 1 { n += substr($0, length(w) + 1) } END { print n + 0 }'
}
ho_run mux "$S echo broker-up"
# handcase NAME REASON OPTS: a session handed to ssh for REASON (as the status words it), run
# under -v with stderr into the pipe, with stdout and stderr on pipes, and with -f: the same
# output and exit codes as plain ssh, and every pipe closed when ssh is done (`timeout` says
# 124 otherwise). -v comes first: a master started under -v kept the caller's stderr, and so
# the pipe, for all of ControlPersist.
handcase() {
    local name=$1 why=$2 opts=$3 h0 r0 bad=
    local c="'echo out; echo err >&2; exit 3'" snippet
    snippet="timeout 20 ssh -v $opts mux-test $c 2>&1 | timeout 20 cat >\"\$W/v\"; echo \"-v: \${PIPESTATUS[*]}\"; grep -x -e out -e err \"\$W/v\"
ssh $opts mux-test $c 2>\"\$W/err\" | cat; echo \"pipes: \${PIPESTATUS[*]}\"; cat \"\$W/err\"
{ timeout 20 ssh -f $opts mux-test 'sleep 1; echo late; exit 3'; echo \"-f: \$?\"; } 2>/dev/null | timeout 20 cat; echo \"-f pipe: \${PIPESTATUS[1]}\""
    run_side plain "$snippet"
    h0=$(handed "$HO") r0=$(ho_reason "$why")
    ho_run mux "$snippet"
    grep -Eq '^-v: .*\<124\>|^-f pipe: 124' "$T/mux.out" && bad="timed out: $(grep -E '^-v|^-f' "$T/mux.out" | tr '\n' ' ')"
    [ "$(handed "$HO")" = $((h0 + 3)) ] && [ "$(ho_reason "$why")" = $((r0 + 3)) ] ||
        bad="${bad:+$bad; }handed to ssh $h0 -> $(handed "$HO"), as \"$why\" $r0 -> $(ho_reason "$why"): $(broker_handed_why "$B/muxssh" "$HO" "$U")"
    if [ -n "$bad" ]; then
        notok "handover-$name" "$bad"
        return
    fi
    compare_sides "handover-$name"
}
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1-2 "$T/s/id_ed25519.pub")" >"$T/changed_kh"
ssh-keygen -q -t ed25519 -N '' -f "$T/stranger"
chmod 644 "$T/changed_kh"
chown "$U" "$T/stranger"
# (a remote forward listening on a socket path is served when the build's libssh2 has our
# streamlocal-forward patch, as `muxbroker -V` says; a LIBSSH2=system build hands it over)
RSOCK=0
case "$("$B/muxbroker" -V 2>&1)" in *", remote socket forwards"*) RSOCK=1 ;; esac
[ "$RSOCK" = 1 ] ||
    handcase remote-forward "RemoteForward of a Unix socket" "-R \"\$W/rfwd\$\$-\$RANDOM.sock:127.0.0.1:9\""
handcase tunnel -w "-w any"
handcase M -M "-M -S \"\$W/m.sock\""
handcase unknown-host-key-strict "host key for [127.0.0.1]:$SSHD_PORT is unknown" "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null"
handcase changed-host-key "host key for [127.0.0.1]:$SSHD_PORT has changed" "-o StrictHostKeyChecking=no -o UserKnownHostsFile=$T/changed_kh"
handcase known-hosts-command "KnownHostsCommand failed" "-o UserKnownHostsFile=/dev/null -o KnownHostsCommand=/bin/false"
handcase login-failed "no usable credentials" "-o IdentitiesOnly=yes -i $T/stranger"
handcase logfile-unopenable "-E file cannot be opened" "-E /nonexistent/ssh.log"
# The counters as JSON: each host's line rebuilt from it is the text's, with the reasons
# counted above (three hand-overs each).
json_check "status-json-handovers" status "$HO" "" -w=3 -M=3 "-E file cannot be opened=3" \
    "conn:127.0.0.1:$SSHD_PORT:ready"

# A second hand-over to the same host with other settings gets what it asked for, as from
# plain ssh, after a first one (-M, a master of the caller's own) whose OpenSSH master would
# have served them all with its own: an agent, its environment; X11 (-X, -Y: Xvfb, xauth,
# xdpyinfo) between them is served by the broker now, and must not disturb them. The last,
# a Unix-socket -R, is served when the build has our streamlocal patch (RSOCK), else handed.
XA=$T/x/xauthority # in a directory of the account's: xauth locks the file beside it
XDISPLAY=
if command -v Xvfb >/dev/null && command -v xauth >/dev/null; then
    xauth -q -f "$T/xserver.auth" add :0 . "$(mcookie)" 2>/dev/null
    Xvfb -displayfd 5 -auth "$T/xserver.auth" -nolisten tcp 5>"$T/xdisplay" >"$T/xvfb.log" 2>&1 &
    XVFB_PID=$!
    for _ in $(seq 1 100); do [ -s "$T/xdisplay" ] && break; sleep 0.05; done
    XDISPLAY=:$(cat "$T/xdisplay")
    mkdir -m 700 "$T/x"
    xauth -q -f "$XA" add "$XDISPLAY" . "$(xauth -f "$T/xserver.auth" list | awk '{ print $3 }')" 2>/dev/null
    chown -R "$U" "$T/x"
fi
export XA XDISPLAY
if [ "$XDISPLAY" = : ] || [ -z "$XDISPLAY" ]; then
    notok "handover-other-settings" "no X server (Xvfb, xauth: scripts/install-deps.sh)"
else
    # (sshd's xauth makes ~/.Xauthority, saying so the first time: both sides start without)
    ho_snippet='rm -f ~/.Xauthority
ssh -M -S "$W/m1.sock" mux-test echo first
DISPLAY=$XDISPLAY XAUTHORITY=$XA ssh -X mux-test '"'"'xdpyinfo | grep -c "^name of display"'"'"'
DISPLAY=$XDISPLAY XAUTHORITY=$XA ssh -Y mux-test '"'"'echo ${DISPLAY%%:*}; xdpyinfo >/dev/null && echo trusted'"'"'
eval "$(ssh-agent -s)" >/dev/null && ssh-add -q 2>/dev/null
ssh -A -M -S "$W/m2.sock" mux-test '"'"'ssh-add -l | wc -l'"'"'
ssh-agent -k >/dev/null
LC_HANDOVER=h ssh -o SendEnv=LC_HANDOVER -M -S "$W/m3.sock" mux-test '"'"'echo ${LC_HANDOVER-unset}'"'"'
ssh -R "$W/r.sock:127.0.0.1:9" mux-test "test -S $W/r.sock && echo remote-forward"'
    run_side plain "$ho_snippet"
    h0=$(handed "$HO")
    ho_run mux "$ho_snippet"
    h1=$(handed "$HO")
    if ! printf 'first\n1\nlocalhost\ntrusted\n1\nh\nremote-forward\n' | cmp -s - "$T/mux.out"; then
        notok "handover-other-settings" "stdout: $(tr '\n' ' ' <"$T/mux.out"), stderr: $(head -c 400 "$T/mux.err" | tr '\n' ' ')"
    elif [ "$h1" != $((h0 + 4 - RSOCK)) ]; then
        notok "handover-other-settings" "handed to ssh $h0 -> $h1, want $((4 - RSOCK)) more (the -M ones, and -R unless served)"
    else
        compare_sides "handover-other-settings"
    fi
fi
ho_left="$(find "$HO" "$MUXSHIM_DIR" -maxdepth 1 -name 'cm-*')$(pgrep -a -u "$U" -f '^ssh: .*\[mux\]')"
verdict "handover-no-master" "${ho_left:+OpenSSH masters: $(echo "$ho_left" | tr '\n' ' ')}" \
    "handover-no-master (no OpenSSH master or socket of ours)"
dcase "fallback-version" "ssh -V" any

# --- the caller's own ControlMaster/ControlPath/ControlPersist: the broker is the master ---
exit_masters() {
    local s
    for s in "$1"/*; do [ -S "$s" ] && ssh -o ControlPath="$s" -O exit x >/dev/null 2>&1; done
    return 0
}
OWNCP=$T/owncp
mkdir -m 700 "$OWNCP" && chown "$U" "$OWNCP"
# owncase NAME SNIPPET: differential; the shim side is served (nothing handed to ssh) and
# leaves no socket in $OWNCP, where plain ssh made its master (ended before the shim runs).
owncase() {
    local h0 h1
    run_side plain "$2"
    exit_masters "$OWNCP"
    h0=$(handed)
    run_side mux "$2"
    h1=$(handed)
    if [ "$h0" != "$h1" ] || [ -n "$(ls -A "$OWNCP")" ]; then
        notok "$1" "handed to ssh $h0 -> $h1, in $OWNCP: $(ls -A "$OWNCP" | tr '\n' ' ')"
        exit_masters "$OWNCP"
        return
    fi
    compare_sides "$1"
}
# exactly what Ansible passes (its ControlPath in double quotes)
ANS="-C -o ControlMaster=auto -o ControlPersist=60s -o KbdInteractiveAuthentication=no -o PreferredAuthentications=gssapi-with-mic,gssapi-keyex,hostbased,publickey -o PasswordAuthentication=no -o ConnectTimeout=10 -o ControlPath=\\\"$OWNCP/%C\\\""
owncase "own-controlpath-ansible" "ssh $ANS mux-test 'echo own; exit 3'"
expect "own-controlpath-O-check" 0 '^Master running \(pid=[0-9]+\)' "ssh $ANS -O check mux-test 2>&1"
owncase "own-controlpath-S" "ssh -S $OWNCP/s mux-test echo via-S"
owncase "controlpath-none" "ssh -o ControlPath=none mux-test echo none"

# A config that chooses its own ControlMaster/ControlPath: a session handed to the real ssh
# (-M) starts its master on the config's path, persisting as the config asks.
mkdir -m 700 "$T/own" && chown "$U" "$T/own"
printf 'Include %s\nHost mux-test\n ControlMaster auto\n ControlPath %s/own-%%C\n ControlPersist 20\n' \
    "$CFG" "$T/own" >"$T/own.cfg"
run_side mux "ssh -F $T/own.cfg -M mux-test echo own-config"
if [ "$(cat "$T/mux.out")" = own-config ] && ls "$T"/own/own-* >/dev/null 2>&1; then
    ok "fallback-config-controlpath"
else
    notok "fallback-config-controlpath" "out: $(cat "$T/mux.out"), own masters: $(ls "$T/own" | grep -c '^own-')"
fi
# While that OpenSSH master lives, a session on its path rides it (as ssh would: no new
# login) and -O answers from it; once it is gone, the broker serves the path.
c0=$(sshd_connections "$T/s")
h0=$(handed)
run_side mux "ssh -F $T/own.cfg mux-test echo rides-master && ssh -F $T/own.cfg -O check mux-test 2>&1"
c1=$(sshd_connections "$T/s")
if grep -q '^rides-master$' "$T/mux.out" && grep -q 'Master running' "$T/mux.out" &&
    ! grep -q "pid=$(cat "$MUXSHIM_DIR/broker.lock" 2>/dev/null)" "$T/mux.out" &&
    [ "$c0" = "$c1" ] && [ "$(handed)" = $((h0 + 1)) ]; then
    ok "config-controlpath-live-master"
else
    notok "config-controlpath-live-master" "new connections $((c1 - c0)), out: $(tr '\n' ' ' <"$T/mux.out"), err: $(head -c 300 "$T/mux.err")"
fi
exit_masters "$T/own"
h0=$(handed)
run_side mux "ssh -F $T/own.cfg mux-test echo own-config"
if [ "$(cat "$T/mux.out")" = own-config ] && [ -z "$(ls -A "$T/own")" ] && [ "$(handed)" = "$h0" ]; then
    ok "config-controlpath-served"
else
    notok "config-controlpath-served" "out: $(cat "$T/mux.out"), in $T/own: $(ls -A "$T/own" | tr '\n' ' '), handed $h0 -> $(handed)"
fi

# A relative ControlPath is where ssh looks: in the caller's directory. While an OpenSSH
# master (plain ssh's) listens there, a session rides it and -O check and -O exit answer
# from it, not from the broker; once it has exited, the broker serves the path.
c0=$(sshd_connections "$T/s")
h0=$(handed)
run_side mux "MUXSHIM_DISABLE=1 ssh -o ControlMaster=yes -o ControlPath=rel-cm -o ControlPersist=20 -fN mux-test &&
    ssh -o ControlPath=rel-cm mux-test echo rides-master && ssh -o ControlPath=rel-cm -O check mux-test 2>&1 &&
    ssh -o ControlPath=rel-cm -O exit mux-test 2>&1 && sleep 0.5 && ssh -o ControlPath=rel-cm mux-test echo served; ls"
c1=$(sshd_connections "$T/s")
exit_masters "$W"
bpid=$(cat "$MUXSHIM_DIR/broker.lock" 2>/dev/null)
if grep -q '^rides-master$' "$T/mux.out" && grep -q '^Master running (pid=' "$T/mux.out" &&
    ! grep -q "pid=$bpid)" "$T/mux.out" && grep -q '^Exit request sent' "$T/mux.out" &&
    grep -q '^served$' "$T/mux.out" && ! grep -q rel-cm "$T/mux.out" &&
    [ $((c1 - c0)) = 1 ] && [ "$(handed)" = $((h0 + 1)) ]; then
    ok "relative-controlpath-live-master"
else
    notok "relative-controlpath-live-master" "new connections $((c1 - c0)), handed $h0 -> $(handed), out: $(tr '\n\r' '  ' <"$T/mux.out"), err: $(head -c 300 "$T/mux.err")"
fi

# --- a runtime directory that is not private is refused, and ssh still runs -------------
mkdir -m 755 "$T/open"
chown "$U" "$T/open"
run_side mux "MUXSHIM_DIR=$T/open ssh mux-test echo still-works"
if [ "$(cat "$T/mux.out")" = still-works ] && grep -q "^muxssh: runtime directory .* has mode 0755, want 0700" "$T/mux.err"; then
    ok "runtime-dir-mode"
else
    notok "runtime-dir-mode" "out: $(cat "$T/mux.out"), err: $(cat "$T/mux.err")"
fi
# A runtime directory path as long as a socket beside it allows (94 bytes) is served; one
# byte more is refused, and ssh still runs.
LONGRT=$T/$(printf 'l%.0s' $(seq 1 $((94 - ${#T} - 1))))
mkdir -m 700 "$LONGRT" "${LONGRT}x" && chown "$U" "$LONGRT" "${LONGRT}x"
run_side mux "MUXSHIM_DIR=$LONGRT ssh mux-test echo long; MUXSHIM_DIR=${LONGRT}x ssh mux-test echo longer"
c=$(broker_counters "$B/muxssh" "$LONGRT" "$U")
if [ "$(tr '\n' ' ' <"$T/mux.out")" = "long longer " ] && [ "${c% *}" = 1 ] &&
    grep -q "^muxssh: runtime directory path is too long for a socket" "$T/mux.err"; then
    ok "runtime-dir-long (${#LONGRT} bytes served)"
else
    notok "runtime-dir-long" "served ${c% *}, out: $(tr '\n' ' ' <"$T/mux.out"), err: $(head -c 300 "$T/mux.err")"
fi

[ "$failures" -eq 0 ]
