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
    pkill -u "$name" 2>/dev/null
    if [ -n "$(ls -A "$top/out")" ]; then
        cp -r "$top/out/." "$(dirname "${BASH_SOURCE[0]}")/../bench/"
    fi
    rm -rf "$top"
    return "$rc"
}
