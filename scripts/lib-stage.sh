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
