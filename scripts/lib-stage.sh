# A copy of the project that every account may read and run, for runs that execute the
# build as a test account (a checkout in a private home, such as root's, is closed to them).
# Source it.
#
#   stage_tree DIR      copies the tree (no .git) and build/ (timestamps kept, so make sees
#                       nothing to rebuild) into DIR, made mode 0755; prints nothing
stage_tree() {
    local dir=$1 top
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    mkdir -p "$dir" && chmod 755 "$dir" || return 1
    tar -C "$top" --exclude=./.git --exclude=./build -cf - . | tar -C "$dir" -xf - || return 1
    [ -d "$top/build" ] || return 0
    mkdir -p "$dir/build" && tar -C "$top/build" -cf - . | tar -C "$dir/build" -xf -
}

#   staged_run LABEL SCRIPT [ARGS...]   as make check runs its suites: a copy of the tree
#                       and build (stage_tree) in /tmp/muxshim-check-XXXXXX, $B pointed into
#                       it, SCRIPT (a path in the tree) run there with MUXSHIM_STAGED=1 and
#                       B, then tests/sweep.sh (also on an interrupt), each through
#                       $STAGE_WRAP when set (a command prefix, such as a lock); prints
#                       "LABEL: N passed, N failed, N known failures (# TODO) (S s)" and
#                       returns 0 when something passed and nothing but a # TODO failed
staged_run() {
    local label=$1 script=$2 stage passed failed known
    shift 2
    stage=$(mktemp -d /tmp/muxshim-check-XXXXXX) || return 1
    # shellcheck disable=SC2064 # the folder is known now
    trap "${STAGE_WRAP:-} tests/sweep.sh; rm -rf '$stage'" EXIT
    trap 'exit 130' INT TERM
    stage_tree "$stage" || return 1
    case "$B" in /*) B=$stage/${B#"$PWD"/} ;; *) B=$stage/$B ;; esac
    SECONDS=0
    MUXSHIM_STAGED=1 B=$B "$stage/$script" "$@" | tee "$stage/check.out"
    ${STAGE_WRAP:-} tests/sweep.sh --report end | tee -a "$stage/check.out"
    passed=$(grep -c "^ok - " "$stage/check.out")
    failed=$(grep "^not ok - " "$stage/check.out" | grep -vc " # TODO ")
    known=$(grep "^not ok - " "$stage/check.out" | grep -c " # TODO ")
    echo "$label: $passed passed, $failed failed, $known known failures (# TODO) (${SECONDS} s)"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}

#   rerun_as_account NAME TAG SCRIPT [ARGS...]   as root: runs the tree's SCRIPT (a path in
#                       the tree) as the test account NAME, from a copy of the tree and
#                       build in /tmp/muxshim-TAG-XXXXXX with a fresh home there, so that it
#                       runs as a user does: its own ~/.ssh, the system's /etc/ssh, no -F,
#                       no root login profile. $RERUN_OUT (a folder NAME may write) is
#                       copied back over the tree's bench/ afterwards, when not empty.
#                       Returns SCRIPT's status; the copy goes afterwards.
rerun_as_account() {
    local name=$1 tag=$2 script=$3 top rc=0
    shift 3
    top=$(mktemp -d "/tmp/muxshim-$tag-XXXXXX") || return 1
    chmod 755 "$top"
    # shellcheck source=lib-sshd.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib-sshd.sh"
    stage_tree "$top/tree" && test_account "$name" "$top/home" && mkdir -p "$top/out" &&
        chown "$name:" "$top/out" || {
        rm -rf "$top"
        return 1
    }
    echo "$tag: running as the test account $name (shell /bin/sh, no login profile, no -F)" >&2
    as_test_account "$name" env RERUN_OUT="$top/out" bash "$top/tree/$script" "$@" || rc=$?
    pkill -u "$name" 2>/dev/null || true # none left is no failure (callers run under set -e)
    if [ -n "$(ls -A "$top/out")" ]; then
        cp -r "$top/out/." "$(dirname "${BASH_SOURCE[0]}")/../bench/"
    fi
    rm -rf "$top"
    return "$rc"
}
