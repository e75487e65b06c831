#!/bin/bash
# Prompts asked by the broker and answered by muxssh, against real sshds: a password
# account, a second factor through keyboard-interactive (PAM with pam_exec checking a code),
# an encrypted key, StrictHostKeyChecking=ask, BatchMode, a client killed mid-question, two
# questions at once, and a password typed into a real terminal (tmux).
#
# Answers come from SSH_ASKPASS scripts (SSH_ASKPASS_REQUIRE=force, as ssh honours it) that
# log every question, so a test can count what the user was asked. Each case runs the same
# command through the real ssh and through muxssh and compares stdout, exit code, stderr and
# the questions asked. Both sides run as the account muxpw, which they also log in as, with
# its own ~/.ssh/config (one Host entry per server), no -F, and this machine's
# /etc/ssh/ssh_config.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
MUXSSH=$B/muxssh
# shellcheck source=../../scripts/lib-sshd.sh
. "$ROOT/scripts/lib-sshd.sh"

T=$(mktemp -d /tmp/muxshim-inter-XXXXXX)
chmod 1777 "$T" # the account writes its runtime folders and terminal records here
unset LD_PRELOAD MUXSHIM_DISABLE MUXSHIM_GUARD SSH_AUTH_SOCK DISPLAY SSH_ASKPASS_REQUIRE
export MUXSHIM_REAL_SSH=/usr/bin/ssh MUXSHIM_PERSIST=600
PAM_SERVICE=muxshim-test-otp
SERVERS=""

stop_brokers() {
    local d pid
    for d in "$T"/rt*; do
        pid=$(cat "$d/broker.lock" 2>/dev/null) && kill "$pid" 2>/dev/null
    done
}
cleanup() {
    local s
    stop_brokers
    as_test_account muxpw tmux -L muxshim-test kill-server 2>/dev/null
    for s in $SERVERS; do sshd_stop "$s"; done
    rm -f "/etc/pam.d/$PAM_SERVICE"
    rm -rf "$T"
}
trap cleanup EXIT

SUITE=interactive
# shellcheck source=../lib-cases.sh
. "$ROOT/tests/lib-cases.sh"

if [ "$(id -u)" -ne 0 ]; then
    skip all "needs root to create the password account and the PAM service"
    exit 0
fi
PW=pw-$RANDOM-$$
H=$T/home
test_account muxpw "$H" || exit 1
echo "muxpw:$PW" | chpasswd
touch "$H/.ssh/config" && chown muxpw "$H/.ssh/config"

# server NAME [sshd_config lines]: a sshd for the account muxpw, and the Host entry NAME in
# its ~/.ssh/config (the entry sshd_start writes, without BatchMode).
server() {
    local name=$1
    SSHD_USER=muxpw SSHD_EXTRA=${2:-} sshd_start "$T/$name" >/dev/null || return 1
    sed -i '/BatchMode yes/d; /LogLevel ERROR/d' "$T/$name/ssh_config"
    chown muxpw "$T/$name"/id_ed25519*
    chmod 1777 "$T" # (sshd_start made it 0711)
    host_entry "$name" "$T/$name/ssh_config"
    SERVERS="$SERVERS $T/$name"
}
# host_entry NAME FILE: FILE's "Host mux-test" entry, as "Host NAME", into ~/.ssh/config.
host_entry() {
    sed "s/^Host mux-test$/Host $1/" "$2" >>"$H/.ssh/config"
}
# as_pw CMD...: CMD as the account.
as_pw() { as_test_account muxpw "$@"; }
# counted NAME RUNTIME SERVED|handed: the broker of $T/RUNTIME served at least SERVED
# sessions and handed none to ssh (or handed at least one, for "handed").
counted() {
    local c
    c=$(broker_counters "$MUXSSH" "$T/$2" muxpw)
    if { [ "$3" = handed ] && [ "${c#* }" -ge 1 ]; } ||
        { [ "$3" != handed ] && [ "${c% *}" -ge "$3" ] && [ "${c#* }" = 0 ]; }; then
        ok "$1"
    else
        notok "$1" "served ${c% *}, handed to ssh ${c#* } (want $3)"
    fi
}

# askpass NAME ANSWER...: a script answering each question with the next ANSWER (the last
# one again when they run out; "BLOCK" waits forever), logging the question to NAME.log
# and one line per question to NAME.count.
askpass() {
    local f=$T/$1
    shift
    printf '%s\n' "$@" >"$f.answers"
    : >"$f.log"
    : >"$f.count"
    chown muxpw "$f.log" "$f.count"
    cat >"$f" <<EOS
#!/bin/sh
echo "\$1" >>"$f.log"
echo . >>"$f.count"
n=\$(wc -l <"$f.count")
a=\$(sed -n "\${n}p" "$f.answers")
[ -n "\$a" ] || a=\$(tail -1 "$f.answers")
if [ "\$a" = BLOCK ]; then exec sleep 600; fi
printf '%s\n' "\$a"
EOS
    chmod 755 "$f"
}

# side plain|mux ASKPASS SSH-ARGS...: run with the askpass script, without a terminal;
# results in $T/SIDE.{out,err,rc} and the questions in $T/SIDE.asked.
side() {
    local who=$1 ap=$2 bin=/usr/bin/ssh
    shift 2
    [ "$who" = mux ] && bin=$MUXSSH
    as_pw env SSH_ASKPASS="$T/$ap" SSH_ASKPASS_REQUIRE=force MUXSHIM_DIR="$T/rt-$CASE" \
        setsid -w timeout 60 "$bin" "$@" </dev/null >"$T/$who.out" 2>"$T/$who.err"
    echo $? >"$T/$who.rc"
    cp "$T/$ap.log" "$T/$who.asked"
}

# compare NAME: the two sides gave the same output and were asked the same questions.
compare() {
    if ! cmp -s "$T/plain.asked" "$T/mux.asked"; then
        notok "$1" "different questions"
        diff "$T/plain.asked" "$T/mux.asked" | head -10 | sed 's/^/#   /'
        return
    fi
    compare_sides "$1"
}

server pw "PasswordAuthentication yes
AuthenticationMethods password" || exit 1

# once_then_nothing NAME SERVER ANSWER COMMAND WANT: the first session through plain ssh
# and muxssh compared; then ten more through muxssh print WANT, and muxssh was asked once
# in all, over one server connection.
once_then_nothing() {
    local name=$1 srv=$2 answer=$3 cmd=$4 want=$5 bad=0 i before asked conns
    askpass ap-plain "$answer"
    side plain ap-plain "$srv" "$cmd"
    askpass ap-mux "$answer"
    before=$(sshd_connections "$T/$srv")
    side mux ap-mux "$srv" "$cmd"
    compare "$name/first-session"
    for i in $(seq 1 10); do
        side mux ap-mux "$srv" "$cmd"
        [ "$(cat "$T/mux.out")" = "$want" ] || bad=$((bad + 1))
    done
    asked=$(wc -l <"$T/ap-mux.count")
    conns=$(($(sshd_connections "$T/$srv") - before))
    if [ "$bad" = 0 ] && [ "$asked" = 1 ] && [ "$conns" = 1 ]; then
        ok "$name/ten-more-ask-nothing"
    else
        notok "$name/ten-more-ask-nothing" "$bad wrong, asked $asked times, $conns connections"
    fi
    counted "$name/served-by-the-broker" "rt-$CASE" 11
}

# 1. A password: asked once, then ten sessions ask nothing, all on one connection.
CASE=pw
once_then_nothing password pw "$PW" 'echo hello; id -un' "$(printf 'hello\nmuxpw')"
if grep -q -- "$PW" "$T/rt-pw/broker.log"; then notok password/not-logged; else ok password/not-logged; fi

# 2. A wrong password, then the right one: ssh's retry line, asked twice.
CASE=pw-retry
askpass ap-plain wrong "$PW"
side plain ap-plain pw 'echo hello'
askpass ap-mux wrong "$PW"
side mux ap-mux pw 'echo hello'
compare password/retry

# 3. Wrong every time: ssh's "Permission denied", asked NumberOfPasswordPrompts times, and
# the real ssh is not run to ask the user all over again.
CASE=pw-wrong
askpass ap-plain wrong
side plain ap-plain pw 'echo hello'
askpass ap-mux wrong
side mux ap-mux pw 'echo hello'
compare password/all-wrong

# 4. BatchMode=yes asks nothing and fails as ssh does.
CASE=pw-batch
askpass ap-plain "$PW"
side plain ap-plain -o BatchMode=yes pw 'echo hello'
askpass ap-mux "$PW"
side mux ap-mux -o BatchMode=yes pw 'echo hello'
compare password/batchmode

# 5. A client killed during the question: the next client waiting for that connection is
# asked instead, and the broker goes on.
CASE=pw-kill
askpass ap-block BLOCK
askpass ap-next "$PW"
as_pw env SSH_ASKPASS="$T/ap-block" SSH_ASKPASS_REQUIRE=force MUXSHIM_DIR="$T/rt-$CASE" \
    setsid "$MUXSSH" pw 'echo first' </dev/null >"$T/first.out" 2>&1 &
for i in $(seq 1 200); do [ -s "$T/ap-block.log" ] && break; sleep 0.05; done
first=$(pgrep -u muxpw -f "$MUXSSH pw echo first")
as_pw env SSH_ASKPASS="$T/ap-next" SSH_ASKPASS_REQUIRE=force MUXSHIM_DIR="$T/rt-$CASE" \
    setsid "$MUXSSH" pw 'echo second' </dev/null >"$T/second.out" 2>&1 &
second=$!
sleep 0.5
kill -9 "$first" 2>/dev/null
pkill -f "sleep 600" 2>/dev/null
wait "$second"
rc=$?
if [ "$rc" = 0 ] && [ "$(cat "$T/second.out")" = second ] && [ "$(wc -l <"$T/ap-next.count")" = 1 ]; then
    ok prompt/client-killed-mid-question
else
    notok prompt/client-killed-mid-question "rc $rc, output '$(head -c 200 "$T/second.out")'"
fi

# 6. Two new hosts at once: each question goes to the client that asked for that host.
server pw2 "PasswordAuthentication yes
AuthenticationMethods password" || exit 1
CASE=two
askpass ap-a "$PW"
askpass ap-b "$PW"
as_pw env SSH_ASKPASS="$T/ap-a" SSH_ASKPASS_REQUIRE=force MUXSHIM_DIR="$T/rt-two" \
    setsid "$MUXSSH" pw 'echo a' </dev/null >"$T/a.out" 2>&1 &
pa=$!
as_pw env SSH_ASKPASS="$T/ap-b" SSH_ASKPASS_REQUIRE=force MUXSHIM_DIR="$T/rt-two" \
    setsid "$MUXSSH" pw2 'echo b' </dev/null >"$T/b.out" 2>&1 &
pb=$!
wait $pa
ra=$?
wait $pb
rb=$?
port2=$(awk '/^Port/ { print $2 }' "$T/pw2/sshd_config")
if [ "$ra$rb" = 00 ] && [ "$(cat "$T/a.out")$(cat "$T/b.out")" = ab ] &&
    [ "$(wc -l <"$T/ap-a.count")$(wc -l <"$T/ap-b.count")" = 11 ] && ! grep -q "$port2" "$T/ap-a.log"; then
    ok prompt/two-hosts-two-clients
else
    notok prompt/two-hosts-two-clients "rc $ra $rb, asked a: $(cat "$T/ap-a.log") b: $(cat "$T/ap-b.log")"
fi

# 7. StrictHostKeyChecking=ask with an unknown host: "no" fails as ssh, "yes" adds the key
# (hashed, as HashKnownHosts says) and later sessions ask nothing.
for answer in no yes; do
    CASE=hk-$answer
    : >"$T/kh-plain"
    : >"$T/kh-mux"
    chown muxpw "$T/kh-plain" "$T/kh-mux"
    askpass ap-plain "$answer" "$PW"
    side plain ap-plain -o UserKnownHostsFile="$T/kh-plain" -o StrictHostKeyChecking=ask \
        -o HashKnownHosts=yes pw 'echo hello'
    askpass ap-mux "$answer" "$PW"
    side mux ap-mux -o UserKnownHostsFile="$T/kh-mux" -o StrictHostKeyChecking=ask \
        -o HashKnownHosts=yes pw 'echo hello'
    # The fingerprint question names the host by address; both must ask the same.
    compare hostkey/ask-$answer
done
if [ "$(wc -l <"$T/kh-mux")" = 1 ] && grep -q '^|1|' "$T/kh-mux" &&
    ssh-keygen -F "[127.0.0.1]:$(awk '/^Port/ { print $2 }' "$T/pw/sshd_config")" -f "$T/kh-mux" >/dev/null; then
    ok hostkey/yes-adds-hashed-key
else
    notok hostkey/yes-adds-hashed-key "$(head -c 300 "$T/kh-mux")"
fi
hk_opts=(-o UserKnownHostsFile="$T/kh-mux" -o StrictHostKeyChecking=ask -o HashKnownHosts=yes)
side mux ap-mux "${hk_opts[@]}" pw 'echo again'
n1=$(wc -l <"$T/ap-mux.count")
out1=$(cat "$T/mux.out")
CASE=hk-fresh # a new broker: a new connection, checked against the key written above
side mux ap-mux "${hk_opts[@]}" pw 'echo again'
if [ "$out1" = again ] && [ "$n1" = 2 ] && [ "$(cat "$T/mux.out")" = again ] &&
    [ "$(wc -l <"$T/ap-mux.count")" = 3 ] && ! tail -1 "$T/ap-mux.log" | grep -q authenticity; then
    ok hostkey/later-sessions-ask-nothing
else
    notok hostkey/later-sessions-ask-nothing "$n1 then $(wc -l <"$T/ap-mux.count") questions"
fi
counted hostkey/served-by-the-broker rt-hk-fresh 1

# 8. An encrypted ed25519 key: its passphrase asked once.
server key "" || exit 1
ssh-keygen -q -t ed25519 -N 'open sesame' -C enc -f "$T/key/enc_ed25519"
cp "$T/key/enc_ed25519.pub" "$T/key/authorized_keys"
chown muxpw "$T/key/enc_ed25519"
sed -i "s|IdentityFile .*|IdentityFile $T/key/enc_ed25519|" "$H/.ssh/config"
CASE=key
askpass ap-plain 'open sesame'
side plain ap-plain key 'echo keyed'
askpass ap-mux 'open sesame'
side mux ap-mux key 'echo keyed'
compare passphrase/first-session
for i in 1 2 3; do side mux ap-mux key 'echo keyed'; done
if [ "$(cat "$T/mux.out")" = keyed ] && [ "$(wc -l <"$T/ap-mux.count")" = 1 ]; then
    ok passphrase/asked-once
else
    notok passphrase/asked-once "$(wc -l <"$T/ap-mux.count") questions"
fi
counted passphrase/served-by-the-broker rt-key 4
CASE=key-wrong
askpass ap-plain wrong 'open sesame'
side plain ap-plain key 'echo keyed'
askpass ap-mux wrong 'open sesame'
side mux ap-mux key 'echo keyed'
compare passphrase/wrong-then-right

# 9. A second factor: publickey, then keyboard-interactive through PAM (pam_exec checks a
# code). sshd names its PAM service after its own program name, so a link to sshd under
# another name gets a PAM service of its own and the system's sshd service is untouched.
CODE=$((100000 + RANDOM))
OTP_BIN=$(sshd_otp "$PAM_SERVICE" "$T/bin" "$CODE")
SSHD_BIN=$OTP_BIN server otp "UsePAM yes
KbdInteractiveAuthentication yes
AuthenticationMethods publickey,keyboard-interactive" || exit 1
CASE=otp
once_then_nothing otp otp "$CODE" 'echo coded' coded

# 10. RSA keys: libssh2 1.11 signs them with rsa-sha2-512/256, so the broker serves them:
# six sessions make one connection. libssh2 1.10 signs them with SHA-1 only, which sshd 9.2
# refuses, so the real ssh serves the host, unchanged: the broker tries once and then
# remembers, and six sessions make seven connections (the broker's try and one login a
# session, as plain ssh). An encrypted RSA key's passphrase is then asked by each ssh, as
# plain ssh asks it; the broker asks it once in all.
rsa_old=0
case "$("$B/muxbroker" -V 2>&1)" in *"libssh2 1."[0-9].* | *"libssh2 1.10."*) rsa_old=1 ;; esac
server rsa "" || exit 1
ssh-keygen -q -t rsa -b 2048 -N '' -C rsa -f "$T/rsa/id_rsa"
ssh-keygen -q -t rsa -b 2048 -N 'rsa pass' -C rsa-enc -f "$T/rsa/enc_rsa"
cat "$T/rsa/id_rsa.pub" "$T/rsa/enc_rsa.pub" >"$T/rsa/authorized_keys"
chown muxpw "$T/rsa/id_rsa" "$T/rsa/enc_rsa"
sed "s|IdentityFile .*|IdentityFile $T/rsa/id_rsa|" "$T/rsa/ssh_config" >"$T/rsa/plain_key"
sed "s|IdentityFile .*|IdentityFile $T/rsa/enc_rsa|" "$T/rsa/ssh_config" >"$T/rsa/enc_key"
host_entry rsa-plain "$T/rsa/plain_key"
host_entry rsa-enc "$T/rsa/enc_key"
CASE=rsa
askpass ap-plain x
side plain ap-plain rsa-plain 'echo rsa'
askpass ap-mux x
before=$(sshd_connections "$T/rsa")
side mux ap-mux rsa-plain 'echo rsa'
if [ "$rsa_old" = 1 ]; then compare rsa/falls-back-and-works; else compare rsa/served-and-works; fi
for i in 1 2 3 4 5; do side mux ap-mux rsa-plain 'echo rsa'; done
conns=$(($(sshd_connections "$T/rsa") - before))
if [ "$rsa_old" = 1 ]; then
    if [ "$(cat "$T/mux.out")" = rsa ] && [ "$conns" = 7 ]; then
        ok rsa/tried-once-then-remembered
    else
        notok rsa/tried-once-then-remembered "$conns connections for six sessions"
    fi
    counted rsa/counted-as-handed-to-ssh rt-rsa handed
else
    if [ "$conns" = 1 ]; then
        ok rsa/one-connection
    else
        notok rsa/one-connection "$conns connections for six sessions"
    fi
    counted rsa/counted-as-served rt-rsa 6
fi
CASE=rsa-enc
askpass ap-mux 'rsa pass'
for i in 1 2 3; do side mux ap-mux rsa-enc 'echo rsa-enc'; done
asked=$(wc -l <"$T/ap-mux.count") want=1
[ "$rsa_old" = 1 ] && want=3
if [ "$(cat "$T/mux.out")" = rsa-enc ] && [ "$asked" = "$want" ]; then
    ok "rsa/encrypted-key-passphrase-asked ($asked times for three sessions)"
else
    notok rsa/encrypted-key-passphrase-asked "$asked questions, want $want"
fi

# 11. Agent forwarding (-A, ForwardAgent): the broker serves it with libssh2 1.11 (the
# engine suite checks that), the real ssh with 1.10; either way the forwarded agent works.
eval "$(as_pw ssh-agent -s)" >/dev/null
as_pw ssh-add -q "$T/rsa/id_rsa" 2>/dev/null
CASE=agent
askpass ap-plain x
askpass ap-mux x
for how in -A "-o ForwardAgent=yes"; do
    # shellcheck disable=SC2086 # $how is one or two words
    side plain ap-plain $how rsa-plain 'ssh-add -l | wc -l'
    # shellcheck disable=SC2086
    side mux ap-mux $how rsa-plain 'ssh-add -l | wc -l'
    if [ "$(cat "$T/mux.out")" = 1 ]; then
        compare_sides "agent/${how// /-}"
    else
        notok "agent/${how// /-}" "$(cat "$T/mux.out" "$T/mux.err")"
    fi
done
ssh-agent -k >/dev/null
unset SSH_AUTH_SOCK SSH_AGENT_PID

# 12. Without a terminal, -t gets ssh's note and no pty; -tt forces one.
CASE=notty
askpass ap-plain "$PW"
side plain ap-plain -t pw 'tty; echo rc=$?'
askpass ap-mux "$PW"
side mux ap-mux -t pw 'tty; echo rc=$?'
compare terminal/t-without-a-terminal
side plain ap-plain -tt pw 'tty >/dev/null && echo has-a-pty'
side mux ap-mux -tt pw 'tty >/dev/null && echo has-a-pty'
compare_sides terminal/tt-forces-a-pty # (the mux side asked nothing: its connection was up)

# A real terminal: tmux runs plain ssh and muxssh side by side in the same size of window.
if ! command -v tmux >/dev/null; then
    skip terminal/tmux "tmux is not installed"
    stop_brokers
    exit $((failures > 0))
fi
TM="as_pw tmux -L muxshim-test"
server tty "PrintMotd no
PrintLastLog no
PasswordAuthentication yes
AuthenticationMethods password" || exit 1
# screen NAME: the visible text, trailing blank lines dropped.
screen() { $TM capture-pane -p -t "$1" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'; }
# wait_screen NAME REGEX: until a line of the screen matches REGEX (grep -E; 10 s at most).
# tmux drops trailing blanks, so the shell's prompt "$ " is the line '^\$$'.
wait_screen() {
    local i
    for i in $(seq 1 200); do
        screen "$1" | grep -qE -- "$2" && return 0
        sleep 0.05
    done
    echo "# $1: no '$2' on the screen" >&2
    return 1
}
# term_start NAME BIN ARGS...: run BIN in a new 100x30 window; its exit code goes to
# $T/NAME.rc and the terminal's settings before and after to $T/NAME.{before,after}.
term_start() {
    local name=$1 bin=$2
    shift 2
    rm -f "$T/$name.rc"
    $TM new-session -d -s "$name" -x 100 -y 30 \
        "stty -g >$T/$name.before; MUXSHIM_DIR=$T/rt-tty $bin $*; echo \$? >$T/$name.rc; stty -g >$T/$name.after; sleep 600"
}
wait_rc() {
    local i
    for i in $(seq 1 200); do
        [ -s "$T/$1.rc" ] && return 0
        sleep 0.05
    done
    return 1
}
# A whole session: password typed at the prompt, TERM and the size, a resize, ~~, and ~.
for who in plain mux; do
    bin=/usr/bin/ssh
    [ "$who" = mux ] && bin=$MUXSSH
    term_start "$who" "$bin" tty
    wait_screen "$who" "password:$" && $TM send-keys -t "$who" "$PW" Enter
    wait_screen "$who" '^\$$' && $TM send-keys -t "$who" 'stty size; echo $TERM; echo m1' Enter
    wait_screen "$who" '^m1$' && $TM resize-window -t "$who" -x 120 -y 40
    sleep 0.3
    $TM send-keys -t "$who" 'stty size; echo m2' Enter
    wait_screen "$who" '^m2$' && $TM send-keys -t "$who" '~~x' Enter
    wait_screen "$who" 'not found' && $TM send-keys -t "$who" Enter '~.'
    wait_rc "$who"
    screen "$who" >"$T/$who.out"
    cp "$T/$who.rc" "$T/$who.rc.keep"
done
if grep -q '40 120' "$T/mux.out" && grep -q "^30 100" "$T/mux.out"; then
    ok terminal/size-and-resize
else
    notok terminal/size-and-resize "$(head -c 400 "$T/mux.out")"
fi
if cmp -s "$T/plain.out" "$T/mux.out" && [ "$(cat "$T/plain.rc")$(cat "$T/mux.rc")" = 255255 ]; then
    ok terminal/same-screen-as-ssh
else
    notok terminal/same-screen-as-ssh "rc $(cat "$T/plain.rc") vs $(cat "$T/mux.rc")"
    diff "$T/plain.out" "$T/mux.out" | head -20 | sed 's/^/#   /'
fi
if cmp -s "$T/mux.before" "$T/mux.after"; then ok terminal/settings-restored-after-escape; else notok terminal/settings-restored-after-escape; fi

# ~? lists the escapes muxshim serves; the remote shell's exit ends the session with its
# status and ssh's closing line. (The connection is up: no password this time.)
term_start mux2 "$MUXSSH" tty
wait_screen mux2 '^\$$' && $TM send-keys -t mux2 Enter '~?'
wait_screen mux2 'Supported escape sequences' && $TM send-keys -t mux2 'exit 3' Enter
wait_rc mux2
if screen mux2 | grep -q ' ~\.   - terminate session' && [ "$(cat "$T/mux2.rc")" = 3 ] &&
    screen mux2 | grep -q 'Connection to 127.0.0.1 closed.' && cmp -s "$T/mux2.before" "$T/mux2.after"; then
    ok terminal/help-and-remote-exit
else
    notok terminal/help-and-remote-exit "rc $(cat "$T/mux2.rc" 2>/dev/null)"
    screen mux2 | tail -12 | sed 's/^/#   /'
fi

# SIGTERM to muxssh, and the broker killed: the terminal comes back as it was.
term_start mux3 "$MUXSSH" tty
wait_screen mux3 '^\$$'
kill -TERM "$(pgrep -P "$($TM display -p -t mux3 '#{pane_pid}')" muxssh)"
wait_rc mux3
if [ "$(cat "$T/mux3.rc")" = 255 ] && cmp -s "$T/mux3.before" "$T/mux3.after"; then
    ok terminal/sigterm-restores
else
    notok terminal/sigterm-restores "rc $(cat "$T/mux3.rc" 2>/dev/null)"
fi
counted terminal/served-by-the-broker rt-tty 3 # (before the broker is killed)
term_start mux4 "$MUXSSH" tty
wait_screen mux4 '^\$$'
kill -9 "$(cat "$T/rt-tty/broker.lock")"
wait_rc mux4
if [ "$(cat "$T/mux4.rc")" = 255 ] && screen mux4 | grep -q 'muxssh: lost the broker' &&
    cmp -s "$T/mux4.before" "$T/mux4.after"; then
    ok terminal/broker-death-restores
else
    notok terminal/broker-death-restores "rc $(cat "$T/mux4.rc" 2>/dev/null)"
    screen mux4 | tail -5 | sed 's/^/#   /'
fi

stop_brokers
[ "$failures" -eq 0 ]
