# A throwaway OpenSSH sshd on loopback for tests, the demo and the benchmark. Source it.
#
#   sshd_start DIR      host key, client key, sshd_config, known_hosts and ssh_config (Host
#                       mux-test) in DIR; sshd listens on a free 127.0.0.1 port, logging to
#                       DIR/sshd.log at LogLevel VERBOSE. Sets SSHD_PORT and SSHD_DIR.
#                       SSHD_ADDR (listen there instead of 127.0.0.1), SSHD_WRAP (a command
#                       prefix such as "ip netns exec NS" to run sshd inside a namespace),
#                       SSHD_MAXSESSIONS (default 10), SSHD_EXTRA (config lines that
#                       override the defaults),
#                       SSHD_USER (the account ssh_config logs in as; default: this one;
#                       another account gets read access to DIR's keys), SSHD_BIN (the sshd
#                       to run; default /usr/sbin/sshd; an OpenSSH 10 one with sshd-session
#                       and sshd-auth beside it runs those, as scripts/openssh10.sh builds).
#   sshd_light_user     as root: the account "muxsoak" (created if missing), whose shell is
#                       /bin/sh with no profile, for runs where a heavy or noisy login
#                       profile (root's may print to stderr under load) would be measured
#                       or compared; as anyone else: nothing. Use: SSHD_USER=$(sshd_light_user)
#   test_account NAME HOME   as root: the account NAME (created if missing; one of
#                       $TEST_ACCOUNTS) with /bin/sh, which reads no profile, home HOME
#                       (made, with an empty ~/.ssh, owned by it); a suite's client side
#                       runs as it (`as_test_account`), with its own ~/.ssh and no -F
#   as_test_account NAME CMD...   runs CMD as NAME with HOME, USER and LOGNAME of NAME and
#                       the rest of the environment kept (setpriv: no PAM session)
#   suite_account HOME  sets U, the account a suite's client side runs as: as root the test
#                       account ${MUXSHIM_TEST_ACCOUNT:-muxuser} (test_account U HOME), as
#                       anyone else that user
#   as_u CMD...         runs CMD as $U (as_test_account, or directly when U is the caller)
#   sshd_otp NAME DIR CODE   as root: a PAM service NAME whose auth is a pam_exec check
#                       that the answer is CODE, and DIR/NAME, a link to sshd under that
#                       name (sshd uses its program name as its PAM service); prints the
#                       link's path, for SSHD_BIN with SSHD_EXTRA="UsePAM yes ...".
#                       Remove /etc/pam.d/NAME afterwards.
#   sshd_user_host DIR NAME [PORT]   gives this account's own ~/.ssh what a user has for
#                       DIR's sshd: its key as ~/.ssh/id_ed25519 (when there is none yet), its
#                       host key in ~/.ssh/known_hosts, and `Host NAME` (HostName, Port: PORT
#                       or the sshd's) in ~/.ssh/config; no other option, so the system's
#                       /etc/ssh/ssh_config decides the rest, as for a user. With USER_CFG
#                       set (a run that must leave a real user's ~/.ssh alone), the block
#                       goes into that file instead, naming DIR's key and known_hosts; the
#                       caller passes -F USER_CFG and ends the file with an Include of the
#                       system's config (user_cfg_end)
#   user_cfg_end        ends $USER_CFG with `Include /etc/ssh/ssh_config` for every host, which
#                       is where ssh reads the system's config without -F
#   sshd_stop DIR       stops it
#   mux_stop DIR [SOCKET...]   ends the broker of the runtime directory DIR and the OpenSSH
#                       masters listening on each SOCKET (masters a case asked for: a
#                       hand-over runs ssh unchanged and starts none of its own)
#   sshd_connections DIR   how many TCP connections it has logged
#   sshd_relay DIR RELAY [ARGS...]   start tests/tools/relay (the binary RELAY, with ARGS such
#                       as -d 25) in front of DIR's sshd; sets RELAY_PID and RELAY_PORT and
#                       adds the relay's port to DIR/known_hosts

sshd_start() {
    local dir=$1 port tries=0 addr=${SSHD_ADDR:-127.0.0.1}
    mkdir -p "$dir" /run/sshd 2>/dev/null || mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    rm -f "$dir"/host_ed25519* "$dir"/id_ed25519*
    ssh-keygen -q -t ed25519 -N '' -C muxshim-test-host -f "$dir/host_ed25519"
    ssh-keygen -q -t ed25519 -N '' -C muxshim-test-client -f "$dir/id_ed25519"
    cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
    : >"$dir/sshd.log"
    while :; do
        tries=$((tries + 1))
        port=$((20000 + RANDOM % 40000))
        if [ -z "${SSHD_WRAP:-}" ] && (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null; then
            continue # somebody listens there
        fi
        # SSHD_EXTRA first: for sshd the first value of a keyword wins.
        cat >"$dir/sshd_config" <<EOF
${SSHD_EXTRA:-}
$(sshd_helpers "${SSHD_BIN:-/usr/sbin/sshd}")
Port $port
ListenAddress $addr
HostKey $dir/host_ed25519
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/sshd.pid
UsePAM no
StrictModes no
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
LogLevel VERBOSE
MaxSessions ${SSHD_MAXSESSIONS:-10}
AcceptEnv LANG LC_* GIT_PROTOCOL
Subsystem sftp internal-sftp
EOF
        ${SSHD_WRAP:-} "${SSHD_BIN:-/usr/sbin/sshd}" -D -e -f "$dir/sshd_config" 2>>"$dir/sshd.log" &
        echo $! >"$dir/sshd.bgpid"
        local i
        for i in $(seq 1 200); do
            grep -q "Server listening on" "$dir/sshd.log" && break
            kill -0 "$(cat "$dir/sshd.bgpid")" 2>/dev/null || break
            sleep 0.025
        done
        if grep -q "Server listening on" "$dir/sshd.log"; then
            break
        fi
        kill "$(cat "$dir/sshd.bgpid")" 2>/dev/null || true
        if [ "$tries" -ge 20 ]; then
            echo "sshd_start: sshd would not start; see $dir/sshd.log" >&2
            return 1
        fi
    done
    echo "[$addr]:$port $(cut -d' ' -f1-2 "$dir/host_ed25519.pub")" >"$dir/known_hosts"
    cat >"$dir/ssh_config" <<EOF
Host mux-test
    HostName $addr
    Port $port
    User ${SSHD_USER:-$(id -un)}
    IdentityFile $dir/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $dir/known_hosts
    StrictHostKeyChecking yes
    BatchMode yes
    LogLevel ERROR
EOF
    if [ -n "${SSHD_USER:-}" ] && [ "$SSHD_USER" != "$(id -un)" ]; then
        # sshd reads authorized_keys as the account it logs in.
        chmod 711 "$(dirname "$dir")" "$dir"
        chmod 644 "$dir/authorized_keys"
    fi
    SSHD_PORT=$port
    SSHD_DIR=$dir
    export SSHD_PORT SSHD_DIR
}

# sshd_helpers SSHD: the config lines that make an OpenSSH 10 sshd (sshd-session and
# sshd-auth beside it, built outside their installed place) run its own helpers, and no
# per-source penalties; nothing for an older one (9.x knows no such keywords).
sshd_helpers() {
    local d
    d=$(dirname "$(readlink -f "$1")")
    [ -x "$d/sshd-session" ] || return 0
    # 9.8 and later (which split sshd-session out) refuse for a while a source address whose
    # connections failed (PerSourcePenalties): the suites fail logins and hand-overs on
    # purpose from 127.0.0.1, so the lab server must not hold that against the next case.
    echo 'PerSourcePenalties no'
    [ "$d" != /usr/sbin ] || return 0
    printf 'SshdSessionPath %s/sshd-session\n' "$d"
    [ ! -x "$d/sshd-auth" ] || printf 'SshdAuthPath %s/sshd-auth\n' "$d"
}

# Every account the suites create; tests/sweep.sh ends whatever they leave running.
TEST_ACCOUNTS="muxsoak muxuser muxpw muxother"

test_account() {
    local name=$1 home=$2
    id "$name" >/dev/null 2>&1 || useradd -M -d "$home" -s /bin/sh "$name" || return 1
    usermod -p '*' -d "$home" "$name" || return 1 # not locked: sshd refuses locked accounts
    mkdir -p "$home/.ssh" && chmod 700 "$home/.ssh" && chown -R "$name:" "$home"
}

as_test_account() {
    local name=$1 home
    shift
    home=$(getent passwd "$name" | cut -d: -f6)
    setpriv --reuid="$name" --regid="$(id -g "$name")" --init-groups \
        env HOME="$home" USER="$name" LOGNAME="$name" "$@"
}

suite_account() {
    U=$(id -un)
    [ "$(id -u)" -eq 0 ] || return 0
    U=${MUXSHIM_TEST_ACCOUNT:-muxuser}
    test_account "$U" "$1"
}

as_u() {
    if [ "$U" = "$(id -un)" ]; then "$@"; else as_test_account "$U" "$@"; fi
}

sshd_light_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    id muxsoak >/dev/null 2>&1 || useradd -M -d / -s /bin/sh muxsoak
    usermod -p '*' muxsoak # not locked: sshd refuses locked accounts
    echo muxsoak
}

sshd_otp() {
    local name=$1 dir=$2 code=$3
    mkdir -p "$dir"
    ln -sf /usr/sbin/sshd "$dir/$name"
    printf '#!/bin/sh\nread -r code\n[ "$code" = "%s" ]\n' "$code" >"$dir/check-code"
    chmod 755 "$dir" "$dir/check-code"
    cat >"/etc/pam.d/$name" <<EOF
auth required pam_exec.so expose_authtok quiet $dir/check-code
auth required pam_permit.so
account required pam_permit.so
session required pam_permit.so
EOF
    echo "$dir/$name"
}

sshd_user_host() {
    local dir=$1 name=$2 port=${3:-} addr
    port=${port:-$(awk '/^Port/ { print $2 }' "$dir/sshd_config")}
    addr=$(awk '/^ListenAddress/ { print $2 }' "$dir/sshd_config")
    if [ -n "${USER_CFG:-}" ]; then
        echo "[$addr]:$port $(cut -d' ' -f1-2 "$dir/host_ed25519.pub")" >>"$dir/known_hosts"
        printf 'Host %s\n    HostName %s\n    Port %s\n    IdentityFile %s\n    UserKnownHostsFile %s\n' \
            "$name" "$addr" "$port" "$dir/id_ed25519" "$dir/known_hosts" >>"$USER_CFG"
        return
    fi
    mkdir -p ~/.ssh && chmod 700 ~/.ssh || return 1
    if [ ! -f ~/.ssh/id_ed25519 ]; then
        cp "$dir/id_ed25519" "$dir/id_ed25519.pub" ~/.ssh/ && chmod 600 ~/.ssh/id_ed25519 || return 1
    else
        cat ~/.ssh/id_ed25519.pub >>"$dir/authorized_keys" || return 1
    fi
    echo "[$addr]:$port $(cut -d' ' -f1-2 "$dir/host_ed25519.pub")" >>~/.ssh/known_hosts
    printf 'Host %s\n    HostName %s\n    Port %s\n' "$name" "$addr" "$port" >>~/.ssh/config
}

user_cfg_end() {
    [ -z "${USER_CFG:-}" ] || printf 'Match all\n    Include /etc/ssh/ssh_config\n' >>"$USER_CFG"
}

mux_stop() {
    local dir=$1 pid s
    shift
    # (safe under set -e, as in an EXIT trap: a broker or master already gone is no failure)
    pid=$(cat "$dir/broker.lock" 2>/dev/null) && kill "$pid" 2>/dev/null || true
    for s in "$@"; do
        [ ! -S "$s" ] || ssh -o ControlPath="$s" -O exit x >/dev/null 2>&1 || true
    done
    return 0
}

sshd_stop() {
    local dir=$1 pid
    pid=$(cat "$dir/sshd.bgpid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$dir/sshd.bgpid"
}

sshd_relay() {
    local dir=$1 bin=$2 i
    shift 2
    "$bin" "$@" "$(awk '/^Port/ { print $2 }' "$dir/sshd_config")" >"$dir/relay.port" &
    RELAY_PID=$!
    for i in $(seq 1 200); do
        [ -s "$dir/relay.port" ] && break
        sleep 0.025
    done
    RELAY_PORT=$(cat "$dir/relay.port")
    [ -n "$RELAY_PORT" ] || return 1
    echo "[127.0.0.1]:$RELAY_PORT $(cut -d' ' -f1-2 "$dir/host_ed25519.pub")" >>"$dir/known_hosts"
}

sshd_connections() {
    grep -c "Connection from" "$1/sshd.log" || true
}
