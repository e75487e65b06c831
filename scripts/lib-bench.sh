# The set-up the benchmark scripts share. Source it after lib-sshd.sh.
#
#   bench_as_account SCRIPT [ARGS...]   as root: runs SCRIPT of the tree again as the test
#                       account muxuser (rerun_as_account), so that every side is timed as a
#                       user runs it: its own ~/.ssh, the system's /etc/ssh/ssh_config, no
#                       -F, no root login profile; exits with its status. As anyone else:
#                       returns, and the run goes on as that user
#   bench_setup NAME HOST   a folder T (/tmp/muxshim-NAME-XXXXXX) with a private runtime
#                       directory ($MUXSHIM_DIR), a throwaway sshd in $T/s that logs in as
#                       this account, `Host HOST` for it in the account's ~/.ssh/config
#                       (sshd_user_host), and a trap that ends the broker, the ControlMaster
#                       masters under $T, the relay ($RELAY_PID) and the sshd. F holds the
#                       ssh options every side passes: none as a test account; as a real
#                       user (whose ~/.ssh is left alone) -F and a file that includes the
#                       system's config. Call user_cfg_end after the last sshd_user_host.
#   BENCH_OUT           where results go: the tree's bench/ (through $RERUN_OUT as a test
#                       account)
bench_as_account() {
    [ "$(id -u)" -eq 0 ] || return 0
    # shellcheck source=lib-stage.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib-stage.sh"
    rerun_as_account muxuser bench "$@"
    exit
}

bench_cleanup() {
    mux_stop "$MUXSHIM_DIR" "$T"/cm-*
    [ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null
    sshd_stop "$T/s"
    rm -rf "$T"
}

bench_setup() {
    T=$(mktemp -d "/tmp/muxshim-$1-XXXXXX")
    export MUXSHIM_DIR=$T/run MUXSHIM_PERSIST=600
    mkdir -m 700 "$MUXSHIM_DIR"
    unset LD_PRELOAD MUXSHIM_DISABLE MUXSHIM_GUARD MUXSHIM_REAL_SSH SSH_AUTH_SOCK MUXSHIM_BROKER
    RELAY_PID=
    trap bench_cleanup EXIT
    F=()
    USER_CFG=
    if [ -z "${RERUN_OUT:-}" ]; then
        USER_CFG=$T/ssh_config
        F=(-F "$USER_CFG")
    fi
    BENCH_OUT=${RERUN_OUT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bench}
    sshd_start "$T/s" >/dev/null
    sshd_user_host "$T/s" "$2"
}
