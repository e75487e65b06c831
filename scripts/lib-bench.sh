# The set-up the benchmark scripts share. Source it after lib-sshd.sh.
#
#   bench_setup NAME    a folder T (/tmp/muxshim-NAME-XXXXXX) with a private runtime
#                       directory ($MUXSHIM_DIR), a throwaway sshd in $T/s that logs in as
#                       the light account (as root: /bin/sh, no profile, so the remote
#                       shell's start-up is the same for every side and no heavy profile
#                       hides them), and a trap that ends the broker, the ControlMaster
#                       masters under $T, the relay ($RELAY_PID) and the sshd
bench_cleanup() {
    local pid s
    pid=$(cat "$MUXSHIM_DIR/broker.lock" 2>/dev/null) && kill "$pid" 2>/dev/null
    for s in "$T"/cm-*; do [ -S "$s" ] && ssh -o ControlPath="$s" -O exit x >/dev/null 2>&1; done
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
    SSHD_USER=$(sshd_light_user) sshd_start "$T/s" >/dev/null
}
