# Reporting for the shell test suites. Source it after setting SUITE (the name prefix) and T
# (the suite's temporary directory).
#
#   ok NAME / notok NAME [WHY] / skip NAME WHY    one result line (failures counts notok)
#   todo NAME WHY [ISSUE]   a known failure (TAP's TODO): not counted in failures
#   compare_sides NAME   $T/{plain,mux}.{rc,out,err} must be equal: one result line, and
#                        the first differences when they are not
#   account_suite NAME   (after SUITE and ROOT, B from $1) a suite that runs as a test
#                        account: skips all unless root, sources scripts/lib-sshd.sh, and sets
#                        LIB, MUXSSH, T (/tmp/muxshim-NAME-XXXXXX), U (the account), H, W,
#                        RT (its home, work and runtime directories under T), a clean
#                        environment and MUXSHIM_PERSIST=600
#   run_side SIDE SNIPPET   (plain or mux) SNIPPET as the account U in a fresh $W with the
#                        pristine ~/.ssh ($T/ssh.pristine), the shim preloaded for mux, into
#                        $T/SIDE.{out,err,rc}; adds mux's new TCP connections to $T/s to
#                        mux_conns. SIDE_ENV: more NAME=VALUE for it; SIDE_TIMEOUT (300 s)
#   both_sides SNIPPET   run_side plain, then mux; SERVED and HANDED: the sessions the broker
#                        of RT (the account U's) served and handed to ssh meanwhile
#   openssh_masters      how many OpenSSH masters ([mux]) of the account U run
#   one_connection WHAT  ok "one-connection" when the shim's side made one TCP connection to
#                        $T/s (mux_conns) and no OpenSSH master runs; WHAT says what shared it
#   served_case NAME WANT SNIPPET   both_sides, then: the broker served exactly WANT sessions
#                        and handed none to ssh, and the sides are equal (compare_sides); with
#                        CASE_TODO (why) set, a difference is a known one (todo)
#   broker_counters MUXSSH DIR ACCOUNT   "SERVED HANDED": sessions the broker of the runtime
#                        directory DIR (ACCOUNT's) served and handed to ssh, over all hosts
#   with_fixture FIXTURE SCRIPT ARGS...   (as root) when FIXTURE is set and this is not yet
#                        done: runs SCRIPT ARGS again in a private mount namespace with
#                        tests/stock/etc-ssh/FIXTURE bind-mounted over /etc/ssh/ssh_config and
#                        /etc/ssh/ssh_config.d (a distribution's ssh_config), and exits with
#                        its status; else returns
#   impostor_start DIR ACCOUNT   (as root) an impostor broker: tests/tools/sink.py run as
#                        ACCOUNT, bound beside DIR and moved to DIR/broker.sock; its pid in
#                        IMPOSTOR_PID
#   impostor_got         what it received: "CONNECTIONS BYTES" once a client has gone
#                        (waits up to 10 s for one), else "0 none"

failures=0
ok() { echo "ok - $SUITE/$1"; }
notok() {
    echo "not ok - $SUITE/$1${2:+: $2}"
    failures=$((failures + 1))
}
skip() { echo "ok - $SUITE/$1 # SKIP $2"; }
# verdict NAME BAD OK_TEXT: ok OK_TEXT when BAD (what went wrong) is empty, else not ok NAME: BAD
verdict() { if [ -z "$2" ]; then ok "$3"; else notok "$1" "$2"; fi; }
# A check known to fail, with its open issue: shown in every run, counted apart (tests/run.sh).
todo() { echo "not ok - $SUITE/$1: $2 # TODO ${3:-open}"; }

compare_sides() {
    local name=$1 what= f
    cmp -s "$T/plain.rc" "$T/mux.rc" || what="exit code $(cat "$T/plain.rc") vs $(cat "$T/mux.rc")"
    cmp -s "$T/plain.out" "$T/mux.out" || what="${what:+$what; }stdout differs"
    cmp -s "$T/plain.err" "$T/mux.err" || what="${what:+$what; }stderr differs"
    if [ -z "$what" ]; then
        ok "$name"
        return
    fi
    notok "$name" "$what"
    for f in rc out err; do
        diff <(head -c 2000 "$T/plain.$f") <(head -c 2000 "$T/mux.$f") | head -20 |
            sed "s/^/#   $f: /"
    done
}

# broker_status MUXSSH DIR ACCOUNT: the status of ACCOUNT's broker of runtime directory DIR
account_suite() {
    LIB=$B/libmuxshim.so
    MUXSSH=$B/muxssh
    if [ "$(id -u)" -ne 0 ]; then
        skip all "needs root (a test account)"
        exit 0
    fi
    # shellcheck source=../scripts/lib-sshd.sh
    . "$ROOT/scripts/lib-sshd.sh"
    T=$(mktemp -d "/tmp/muxshim-$1-XXXXXX")
    chmod 711 "$T"
    U=${MUXSHIM_TEST_ACCOUNT:-muxuser}
    H=$T/home
    W=$T/w
    RT=$T/run
    unset LD_PRELOAD MUXSHIM_DISABLE MUXSHIM_GUARD MUXSHIM_REAL_SSH SSH_AUTH_SOCK MUXSHIM_DIR
    export MUXSHIM_PERSIST=600
    # The usual end: the suite's broker, its lab server and its folder (a suite with more to
    # end sets its own trap instead).
    trap 'mux_stop "$RT"; sshd_stop "$T/s"; rm -rf "$T"' EXIT
}

# lab_server (SSHD_* as for sshd_start): the suite's sshd in $T/s for the test account, its
# key and host key in the account's ~/.ssh and "Host lab" its config; its port in LAB_PORT.
lab_server() {
    sshd_start "$T/s" >/dev/null || return 1
    cp "$T/s/id_ed25519" "$T/s/id_ed25519.pub" "$H/.ssh/"
    cp "$T/s/known_hosts" "$H/.ssh/known_hosts"
    LAB_PORT=$SSHD_PORT
    printf 'Host lab\n    HostName 127.0.0.1\n    Port %s\n' "$LAB_PORT" >"$H/.ssh/config"
}

# second_server NAME DIR [SSHDIR] (SSHD_* as for sshd_start): another sshd in DIR that takes
# the lab's key, its host key added to SSHDIR's known_hosts and "Host NAME" to its config
# (SSHDIR: the account's ~/.ssh); its port in SECOND_PORT, SSHD_PORT left the lab's.
second_server() {
    local sshdir=${3:-$H/.ssh}
    sshd_start "$2" >/dev/null || return 1
    SECOND_PORT=$SSHD_PORT SSHD_PORT=$LAB_PORT
    cp "$T/s/id_ed25519.pub" "$2/authorized_keys"
    cat "$2/known_hosts" >>"$sshdir/known_hosts"
    printf 'Host %s\n    HostName 127.0.0.1\n    Port %s\n' "$1" "$SECOND_PORT" >>"$sshdir/config"
}

run_side() {
    local side=$1 snippet=$2 pre=(env) c0
    rm -rf "$W" "$H/.ssh" && mkdir -p "$W" && cp -a "$T/ssh.pristine" "$H/.ssh" && chown "$U" "$W"
    [ "$side" = mux ] && pre=(env "LD_PRELOAD=$LIB")
    c0=$(sshd_connections "$T/s")
    (cd "$W" && as_test_account "$U" env MUXSHIM_DIR="$RT" W="$W" ${SIDE_ENV[@]+"${SIDE_ENV[@]}"} \
        LANG=C.UTF-8 LC_MESSAGES=C timeout -k 5 "${SIDE_TIMEOUT:-300}" "${pre[@]}" \
        bash -c "$snippet" >"$T/$side.out" 2>"$T/$side.err" </dev/null)
    echo $? >"$T/$side.rc"
    [ "$side" = mux ] && mux_conns=$((${mux_conns:-0} + $(sshd_connections "$T/s") - c0))
}

both_sides() {
    local before after
    run_side plain "$1"
    before=$(broker_counters "$MUXSSH" "$RT" "$U")
    run_side mux "$1"
    after=$(broker_counters "$MUXSSH" "$RT" "$U")
    SERVED=$((${after% *} - ${before% *})) HANDED=$((${after#* } - ${before#* }))
}

openssh_masters() { pgrep -u "$U" -f '\[mux\]' | wc -l; }

one_connection() {
    local masters
    masters=$(openssh_masters)
    if [ "$mux_conns" = 1 ] && [ "$masters" = 0 ]; then
        ok "one-connection ($1: 1 TCP connection, no OpenSSH master)"
    else
        notok "one-connection" "the shim's side made $mux_conns TCP connections to the lab server, want 1; OpenSSH masters: $masters"
    fi
}

served_case() {
    local name=$1 want=$2
    both_sides "$3"
    if [ "$HANDED" -ne 0 ] || [ "$SERVED" -ne "$want" ]; then
        notok "$name" "served $SERVED (want $want), handed to ssh $HANDED ($(broker_handed_why "$MUXSSH" "$RT" "$U")); out: $(head -c 300 "$T/mux.out" | tr '\n' ' ') err: $(head -c 300 "$T/mux.err" | tr '\n' ' ')"
        return
    fi
    if [ -n "${CASE_TODO:-}" ] && ! { cmp -s "$T/plain.rc" "$T/mux.rc" &&
        cmp -s "$T/plain.out" "$T/mux.out" && cmp -s "$T/plain.err" "$T/mux.err"; }; then
        todo "$name" "$CASE_TODO; plain: $(tr '\n' ' ' <"$T/plain.out")/ shim: $(tr '\n' ' ' <"$T/mux.out")"
        return
    fi
    compare_sides "$name"
}

broker_status() {
    local muxssh=$1 dir=$2 account=$3 run=()
    [ "$account" = "$(id -un)" ] || run=(runuser -u "$account" --)
    "${run[@]}" env MUXSHIM_DIR="$dir" "$muxssh" --mux-status 2>/dev/null
}

broker_counters() {
    broker_status "$@" |
        sed -n 's/.*: served \([0-9]*\), handed to ssh \([0-9]*\).*/\1 \2/p' |
        awk '{ s += $1; h += $2 } END { printf "%d %d\n", s, h }'
}

# broker_handed_why MUXSSH DIR ACCOUNT: why sessions went to the real ssh, as the status says
broker_handed_why() {
    broker_status "$@" | sed -n 's/.*, handed to ssh [1-9][0-9]* (\(.*\))$/\1/p' | tr '\n' ' '
}

with_fixture() {
    local fixture=$1 fx
    shift
    [ -n "$fixture" ] && [ -z "${MUXSHIM_FIXTURE_NS:-}" ] || return 0
    fx=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/stock/etc-ssh/$fixture
    [ -f "$fx/ssh_config" ] || {
        notok setup "no fixture $fx"
        exit 1
    }
    exec env MUXSHIM_FIXTURE_NS=1 unshare -m --propagation private bash -c '
        mount --bind "$1/ssh_config" /etc/ssh/ssh_config &&
        mount --bind "$1/ssh_config.d" /etc/ssh/ssh_config.d && shift && exec "$@"' _ "$fx" "$@"
}

impostor_start() {
    local dir=$1 account=$2 scratch=$1.sink
    mkdir -m 777 "$scratch"
    IMPOSTOR_REC=$scratch/rec
    setpriv --reuid="$account" --regid="$(id -g "$account")" --clear-groups \
        /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/tools/sink.py" "$scratch/l.sock" \
        "$IMPOSTOR_REC" &
    # shellcheck disable=SC2034 # the suites end it
    IMPOSTOR_PID=$!
    for _ in $(seq 1 100); do
        [ -e "$IMPOSTOR_REC.ready" ] && break
        sleep 0.05
    done
    mv "$scratch/l.sock" "$dir/broker.sock"
}

impostor_got() {
    for _ in $(seq 1 100); do
        [ -s "$IMPOSTOR_REC" ] && break
        sleep 0.1
    done
    cat "$IMPOSTOR_REC" 2>/dev/null || echo "0 none"
}
