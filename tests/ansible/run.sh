#!/bin/bash
# Ansible (Debian's ansible-core) as users run it: a test account with its own ~/.ssh (the
# default key, a pre-filled known_hosts, a config naming the hosts), no -F, this machine's
# /etc/ssh, and Ansible's defaults (its own ControlMaster=auto, ControlPersist=60s and
# ControlPath on every ssh it runs). A small playbook (gather_facts, command, copy, template,
# fetch) runs once with plain ssh and once under `muxrun ansible-playbook`; the play's output
# and the files it made must be equal, every ssh session Ansible ran must have been served
# by the broker (its counters: nothing handed to ssh), no OpenSSH master may appear, and
# the sshd must log one TCP connection for the muxrun side. Then the same playbook through
# ProxyJump to a bastion that asks a one-time code (keyboard-interactive through PAM,
# answered by an SSH_ASKPASS script that counts the questions): asked once for the play.
#
# With FIXTURE, all of it runs against that distribution's ssh_config (tests/stock/etc-ssh/,
# bind-mounted over /etc/ssh in a private mount namespace), as the stock suite does.
#
#   tests/ansible/run.sh BUILD [FIXTURE]   (as root; the account is ${MUXSHIM_TEST_ACCOUNT:-muxuser})
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
FIXTURE=${2:-}
MUXSSH=$B/muxssh
SUITE=ansible${FIXTURE:+-$FIXTURE}
# shellcheck source=../lib-cases.sh
. "$ROOT/tests/lib-cases.sh"
if [ "$(id -u)" -ne 0 ]; then
    skip all "needs root (a test account and a PAM service for the one-time code)"
    exit 0
fi
if ! command -v ansible-playbook >/dev/null; then
    notok setup "ansible-playbook is not installed (scripts/install-deps.sh installs ansible-core)"
    exit 1
fi
with_fixture "$FIXTURE" "$0" "$B" "$FIXTURE"

# shellcheck source=../../scripts/lib-sshd.sh
. "$ROOT/scripts/lib-sshd.sh"
T=$(mktemp -d /tmp/muxshim-ansible-XXXXXX)
chmod 711 "$T"
U=${MUXSHIM_TEST_ACCOUNT:-muxuser}
H=$T/home
RT=$T/run
PAM_SERVICE=muxshim-test-ansible
unset LD_PRELOAD MUXSHIM_DISABLE MUXSHIM_GUARD MUXSHIM_REAL_SSH SSH_AUTH_SOCK MUXSHIM_DIR \
    DISPLAY SSH_ASKPASS SSH_ASKPASS_REQUIRE
export MUXSHIM_PERSIST=600

# The OpenSSH masters Ansible's plain ssh left (ControlPersist=60s) in ~/.ansible/cp.
exit_masters() {
    local s
    for s in "$H"/.ansible/cp/*; do
        [ -S "$s" ] && ssh -o ControlPath="$s" -O exit x >/dev/null 2>&1
    done
    return 0
}
stop_broker() {
    local pid
    pid=$(cat "$RT/broker.lock" 2>/dev/null) && kill "$pid" 2>/dev/null
    return 0
}
cleanup() {
    stop_broker
    exit_masters
    sshd_stop "$T/s"
    sshd_stop "$T/otp"
    rm -f "/etc/pam.d/$PAM_SERVICE"
    rm -rf "$T"
}
trap cleanup EXIT

test_account "$U" "$H" || exit 1
SSHD_USER=$U sshd_start "$T/s" >/dev/null || exit 1
PORT=$SSHD_PORT
CODE=$((100000 + RANDOM))
OTP_BIN=$(sshd_otp "$PAM_SERVICE" "$T/pam" "$CODE")
SSHD_USER=$U SSHD_BIN=$OTP_BIN SSHD_EXTRA="UsePAM yes
KbdInteractiveAuthentication yes
AuthenticationMethods publickey,keyboard-interactive" sshd_start "$T/otp" >/dev/null || exit 1
cp "$T/s/id_ed25519.pub" "$T/otp/authorized_keys"
cp "$T/s/id_ed25519" "$T/s/id_ed25519.pub" "$H/.ssh/"
cat "$T/s/known_hosts" "$T/otp/known_hosts" >"$H/.ssh/known_hosts"
cat >"$H/.ssh/config" <<EOF
Host lab
    HostName 127.0.0.1
    Port $PORT
Host bastion
    HostName 127.0.0.1
    Port $SSHD_PORT
Host inner
    HostName 127.0.0.1
    Port $PORT
    ProxyJump bastion
EOF
cat >"$T/askpass" <<EOF
#!/bin/sh
echo "\$1" >>"$T/asked"
echo $CODE
EOF
chmod 755 "$T/askpass"

# The play: facts, a command, a copy, a template and a fetch, into \$OUT.
P=$T/play
mkdir -p "$P"
printf 'lab ansible_python_interpreter=/usr/bin/python3\n' >"$P/inventory"
printf 'inner ansible_python_interpreter=/usr/bin/python3\n' >"$P/inventory-jump"
printf 'user {{ ansible_facts.user_id }} on {{ ansible_facts.system }}: {{ hello.stdout }}\n' \
    >"$P/t.j2"
cat >"$P/play.yml" <<'EOF'
- hosts: all
  gather_facts: true
  vars:
    out: "{{ lookup('env', 'OUT') }}"
  tasks:
    - name: a command
      command: echo hello from {{ inventory_hostname }}
      register: hello
      changed_when: false
    - name: a directory
      file: path={{ out }}/remote state=directory mode=0755
    - name: a copy
      copy: content="copied by ansible\n" dest={{ out }}/remote/copied.txt mode=0644
    - name: a template
      template: src=t.j2 dest={{ out }}/remote/templated.txt mode=0644
    - name: a fetch
      fetch: src={{ out }}/remote/templated.txt dest={{ out }}/fetched/ flat=true
    - debug: var=hello.stdout
EOF
mkdir -m 700 "$RT"
chown -R "$U:" "$H" "$RT" "$P"
chmod 600 "$H/.ssh/id_ed25519"

# The broker's counters, summed over its hosts: "SERVED HANDED".
counters() {
    as_test_account "$U" env MUXSHIM_DIR="$RT" "$MUXSSH" --mux-status 2>/dev/null |
        sed -n 's/.*: served \([0-9]*\), handed to ssh \([0-9]*\).*/\1 \2/p' |
        awk '{ s += $1; h += $2 } END { printf "%d %d\n", s, h }'
}

# play SIDE INVENTORY: run the playbook as the account with no terminal (setsid), into a
# fresh $T/out; keeps stdout, stderr, rc and the files it made (path and sha256).
play() {
    local side=$1 inv=$2 pre=()
    [ "$side" = mux ] && pre=("$ROOT/scripts/muxrun")
    rm -rf "$T/out" && mkdir "$T/out" && chown "$U" "$T/out"
    (cd "$P" && as_test_account "$U" env PATH=/usr/sbin:/usr/bin:/sbin:/bin MUXSHIM_DIR="$RT" \
        OUT="$T/out" ANSIBLE_PIPELINING=1 ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 \
        SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force \
        setsid -w timeout -k 5 120 "${pre[@]}" ansible-playbook -i "$inv" play.yml \
        >"$T/$side.out" 2>"$T/$side.err" </dev/null)
    echo $? >"$T/$side.rc"
    (cd "$T/out" && find . -type f | sort | xargs -r sha256sum) >>"$T/$side.out"
}

reset_asked() {
    : >"$T/asked" && chown "$U" "$T/asked"
}

# acase NAME INVENTORY SSHD_DIR: the play with plain ssh, then under muxrun; the checks above.
# Leaves the questions each side's SSH_ASKPASS was asked in ASKED_PLAIN / ASKED_MUX and the
# bastion's new logins in BASTION_PLAIN / BASTION_MUX.
acase() {
    local name=$1 inv=$2 sd=$3 c0 b0 conns masters before after served handed
    reset_asked
    b0=$(sshd_connections "$T/otp")
    play plain "$inv"
    ASKED_PLAIN=$(grep -c . "$T/asked")
    BASTION_PLAIN=$(($(sshd_connections "$T/otp") - b0))
    exit_masters
    stop_broker
    reset_asked
    before=$(counters)
    c0=$(sshd_connections "$sd")
    b0=$(sshd_connections "$T/otp")
    play mux "$inv"
    after=$(counters)
    ASKED_MUX=$(grep -c . "$T/asked")
    BASTION_MUX=$(($(sshd_connections "$T/otp") - b0))
    served=$((${after% *} - ${before% *}))
    handed=$((${after#* } - ${before#* }))
    conns=$(($(sshd_connections "$sd") - c0))
    masters=$(pgrep -u "$U" -f '\[mux\]' | wc -l)
    if [ "$served" -le 0 ] || [ "$handed" -ne 0 ]; then
        notok "$name" "the broker served $served sessions and handed $handed to ssh; $(grep -h 'muxshim\|FAILED\|UNREACHABLE' "$T/mux.out" "$T/mux.err" | head -3 | tr '\n' ' ')"
    elif [ "$masters" != 0 ] || [ -n "$(ls -A "$H/.ansible/cp" 2>/dev/null)" ]; then
        notok "$name" "OpenSSH masters appeared: $masters, sockets: $(ls -A "$H/.ansible/cp" | tr '\n' ' ')"
    elif [ "$conns" != 1 ]; then
        notok "$name" "the sshd logged $conns TCP connections for the muxrun side"
    elif ! grep -q 'ok=7 .*failed=0' "$T/mux.out"; then
        notok "$name" "the play did not pass: $(grep -A2 'PLAY RECAP' "$T/mux.out" | tr '\n' ' ')"
    else
        compare_sides "$name (served $served ssh sessions, 1 TCP connection)"
    fi
}

acase playbook "$P/inventory" "$T/s"

# Through ProxyJump to a bastion that asks a one-time code: once for the whole play. (Plain
# ssh asks once too, since Ansible's first ssh becomes its OpenSSH master.)
acase playbook-proxyjump "$P/inventory-jump" "$T/s"
if [ "$ASKED_MUX" = 1 ] && [ "$BASTION_MUX" = 1 ]; then
    ok "otp-asked-once (muxrun: asked $ASKED_MUX, bastion logins $BASTION_MUX; plain ssh: asked $ASKED_PLAIN, logins $BASTION_PLAIN)"
else
    notok "otp-asked-once" "muxrun side asked $ASKED_MUX times (want 1), bastion logins $BASTION_MUX: $(tr '\n' '|' <"$T/asked")"
fi
as_test_account "$U" env MUXSHIM_DIR="$RT" "$MUXSSH" --mux-status | sed 's/^/#   /'
[ "$failures" -eq 0 ]
