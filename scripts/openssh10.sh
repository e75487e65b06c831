#!/bin/bash
# OpenSSH 10 for the tests, as a second peer (ssh and sshd), built from a Debian openssh
# source package once. Prints the directory holding ssh, scp, sftp, sshd, sshd-session and
# sshd-auth; exits 1 with one line when it cannot. scp and sftp run the `ssh` first on PATH
# (as a user's whose ssh is this one: put the directory first on PATH), not an installed path.
#
#   scripts/openssh10.sh [BUILD_ROOT [SUITE]]      (default: build)
#
# Without SUITE: OpenSSH 10.0p1, Debian 13's source, which scripts/libssh2.sh fetched (and
# the signed index checked) into BUILD_ROOT/libssh2.work/src/, built into
# BUILD_ROOT/openssh10/. With SUITE (sid: the newest, 10.1 or later, for the tests of
# OpenSSH 10.1's post-quantum warning): that suite's openssh source, fetched once with
# `apt-get source` against its signed index (scripts/lib-debsrc.sh) into
# BUILD_ROOT/openssh-SUITE.work/src/, built into BUILD_ROOT/openssh-VERSION/ (10.5p1, …).
# Where the archive does not serve the files its sid index names (this project's test
# machine: the index names 10.6p1-1, the pool has 10.5p1-1 only), sid falls back to
# 10.5p1-1 from the pool, its .dsc's SHA-256 pinned below and its files checked against it.
#
# Debian's patches change configure.ac, and autoreconf may be missing: the shipped configure
# is used as it is (touched), which leaves out only what those patches add to it (GSSAPI key
# exchange, not used here). No PAM; privilege separation in /run/sshd as Debian's sshd.
set -euo pipefail
root=$(realpath -m "${1:-build}")
suite=${2:-}
# shellcheck source=lib-debsrc.sh
. "$(dirname "$0")/lib-debsrc.sh"
pinned_sid=(openssh_10.5p1-1.dsc 15a621f5d4c298127b57740e271ef571760686133f344a4841aa8e96af0ad532)
progs=(ssh scp sftp sshd sshd-session sshd-auth)
# find_src DIR: the unpacked openssh-10.* source in DIR, into $src
find_src() {
    src=$(find "$1" -mindepth 1 -maxdepth 1 -type d -name 'openssh-10.*' 2>/dev/null | head -n1)
    [ -n "$src" ]
}
if [ -z "$suite" ]; then
    find_src "$root/libssh2.work/src" ||
        { echo "openssh10.sh: no OpenSSH 10 source in $root/libssh2.work/src (make fetches it)" >&2; exit 1; }
    dir=$root/openssh10
else
    work=$root/openssh-$suite.work
    mkdir -p "$work"
    exec 8>"$work.lock"
    flock 8 # one fetch, also for runs side by side
    if ! find_src "$work/src"; then
        if ! debsrc_fetch "$work" "$suite" openssh; then
            why=$debsrc_error
            [ "$suite" = sid ] || { echo "openssh10.sh: $why" >&2; exit 1; }
            debsrc_fetch_pinned "$work" "${pinned_sid[@]}" ||
                { echo "openssh10.sh: $why; $debsrc_error" >&2; exit 1; }
        fi
        find_src "$work/src" || { echo "openssh10.sh: no openssh-10.* source came from $suite" >&2; exit 1; }
    fi
    dir=$root/$(basename "$src")
fi
built() { for p in "${progs[@]}"; do [ -x "$dir/src/$p" ] || return 1; done; }
mkdir -p "$dir"
exec 9>"$dir.lock"
flock 9
if built; then
    echo "$dir/src"
    exit 0
fi
# A build of the programs before scp and sftp were added only needs those.
if [ ! -f "$dir/src/config.status" ]; then
    rm -rf "$dir/src"
    cp -a "$src" "$dir/src"
    touch "$dir/src/configure"
fi
echo "openssh10: building $(basename "$src") into $dir/src" >&2
SECONDS=0
if ! (cd "$dir/src" && { [ -f config.status ] || ./configure --without-pam \
    --with-privsep-path=/run/sshd >"$dir/configure.log" 2>&1; } &&
    make -j2 SSH_PROGRAM=ssh "${progs[@]}" >"$dir/make.log" 2>&1) || ! built; then
    echo "openssh10.sh: the build failed, see $dir/configure.log and $dir/make.log" >&2
    exit 1
fi
echo "openssh10: $(basename "$src") built in $SECONDS s" >&2
echo "$dir/src"
