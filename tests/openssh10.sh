#!/bin/bash
# The differential suites again with OpenSSH 10.0 as the user's ssh (issue 22; `make
# check-openssh10`): the end-to-end suite and the stock suite (this machine's /etc/ssh), with
# scripts/openssh10.sh's ssh, scp and sftp first on PATH on both sides, each once against
# that build's sshd 10.0 and once against this machine's sshd. Every case compares plain ssh
# 10.0 with the shim, whose real ssh (the one the broker asks `ssh -G`) is that ssh 10.0.
# Before them, the engine suite's pq-warn cases with the newest OpenSSH 10 Debian has
# (`scripts/openssh10.sh build sid`, 10.1 or later) as the user's ssh: OpenSSH 10.1's
# post-quantum warning, word for word and in its place, through the shim.
# Prints `ok - …`/`not ok - …` lines and a count, as tests/run.sh does.
#
#   tests/openssh10.sh [BUILD]      (as root; BUILD defaults to $B or build)
#
# MUXSHIM_SUITE_LOCK: a file to hold with flock around each suite run and each sweep after
# it (when others run suites with the same test accounts at the same time).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
B=${1:-${B:-build}}
o10=$(scripts/openssh10.sh build) || exit 1
# The newest OpenSSH 10 Debian has (sid; 10.1 or later), for OpenSSH 10.1's post-quantum
# warning: the engine suite's pq-warn cases run with it as the user's ssh. Its source is not
# in a stable suite: when the archive no longer serves it, those cases are skipped, said so.
onew=$(scripts/openssh10.sh build sid) || onew=

# locked CMD...: runs CMD holding MUXSHIM_SUITE_LOCK, if set (CMD's processes do not inherit
# the lock, so what outlives it keeps nobody waiting).
locked() {
    [ -n "${MUXSHIM_SUITE_LOCK:-}" ] || {
        "$@"
        return
    }
    local r=0
    exec 9>>"$MUXSHIM_SUITE_LOCK" && flock 9 || return 1
    "$@" 9>&- || r=$?
    flock -u 9
    exec 9>&-
    return "$r"
}

# Run from a copy every test account may read (as tests/run.sh), swept afterwards.
if [ -z "${MUXSHIM_STAGED:-}" ]; then
    # shellcheck source=../scripts/lib-stage.sh
    . scripts/lib-stage.sh
    [ -n "${MUXSHIM_SUITE_LOCK:-}" ] && STAGE_WRAP=locked
    staged_run check-openssh10 tests/openssh10.sh
    exit
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ok - openssh10 # SKIP needs root (test accounts, a privilege separation directory)"
    exit 0
fi
# shellcheck source=../scripts/lib-sshd.sh
. scripts/lib-sshd.sh
# The user's programs: ssh, scp and sftp of OpenSSH 10.0 (scp and sftp run `ssh` from PATH).
bin=$(mktemp -d /tmp/muxshim-ssh10-XXXXXX)
trap 'rm -rf "$bin"' EXIT
chmod 755 "$bin"
for p in ssh scp sftp; do ln -s "$o10/$p" "$bin/$p"; done
echo "# user's ssh: $("$bin/ssh" -V 2>&1); servers: $("$o10/sshd" -V 2>&1 | head -1), $(/usr/sbin/sshd -V 2>&1 | head -1)"

# Every argv case against ssh 10.0's own `ssh -G` (and the command this machine's sshd gets,
# logging in as the light test account).
argv_cases() {
    local out
    SECONDS=0
    if out=$(MUXSHIM_TEST_USER=$(sshd_light_user) SSH_BIN=$o10/ssh "$B/tests/test_argv" 2>&1); then
        echo "ok - openssh10/argv: $(echo "$out" | tail -1)"
    else
        echo "not ok - openssh10/argv"
        echo "$out" | grep -A3 '^FAIL' | head -40 | sed 's/^/#   /'
    fi
    echo "# argv, ssh 10.0: $SECONDS s"
}
locked argv_cases

# suite NAME SERVER: one suite run, then what it left behind is ended and reported
suite() {
    local sshd=/usr/sbin/sshd rc=0
    [ "$2" = 10 ] && sshd=$o10/sshd
    SECONDS=0
    MUXSHIM_TEST_SSH_DIR=$bin SSHD_BIN=$sshd MUXSHIM_TEST_TAG=ssh10-sshd$2 \
        "tests/$1/run.sh" "$B" 2>&1 || rc=1
    echo "# $1, ssh 10.0 → sshd $2: $SECONDS s"
    tests/sweep.sh --report "$1-ssh10-sshd$2"
    return "$rc"
}
# The post-quantum warning of OpenSSH 10.1+ (only those cases of the engine suite).
warn_cases() {
    if [ -z "$onew" ]; then
        echo "ok - engine/pq-warn # SKIP no OpenSSH 10.1 or later could be fetched and built"
        return 0
    fi
    SECONDS=0
    MUXSHIM_OPENSSH_WARN=$onew MUXSHIM_ENGINE_ONLY=warn tests/engine/run.sh "$B" 2>&1 || return 1
    echo "# engine pq-warn, ssh $(basename "$(dirname "$onew")" | sed 's/^openssh-//'): $SECONDS s"
}
rc=0
locked warn_cases || rc=1
for entry in e2e:10 e2e:9 stock:10 stock:9; do
    locked suite "${entry%%:*}" "${entry#*:}" || rc=1
done
exit "$rc"
