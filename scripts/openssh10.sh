#!/bin/bash
# OpenSSH 10.0p1 for the tests, as a second peer (ssh and sshd): built from Debian 13's
# openssh source, which scripts/libssh2.sh fetched (and the signed index checked) into
# BUILD_ROOT/libssh2.work/src/, into BUILD_ROOT/openssh10/ once. Prints the directory
# holding ssh, scp, sftp, sshd, sshd-session and sshd-auth; exits 1 with one line when it
# cannot. scp and sftp run the `ssh` first on PATH (as a user's whose ssh is this one: put
# the directory first on PATH), not an installed path.
#
#   scripts/openssh10.sh [BUILD_ROOT]      (default: build)
#
# Debian's patches change configure.ac, and autoreconf may be missing: the shipped configure
# is used as it is (touched), which leaves out only what those patches add to it (GSSAPI key
# exchange, not used here). No PAM; privilege separation in /run/sshd as Debian's sshd.
set -euo pipefail
root=${1:-build}
dir=$(realpath -m "$root/openssh10")
src=$(find "$(realpath -m "$root/libssh2.work/src")" -mindepth 1 -maxdepth 1 -type d \
    -name 'openssh-10.*' 2>/dev/null | head -n1)
progs=(ssh scp sftp sshd sshd-session sshd-auth)
built() { for p in "${progs[@]}"; do [ -x "$dir/src/$p" ] || return 1; done; }
mkdir -p "$dir"
exec 9>"$dir.lock"
flock 9
if built; then
    echo "$dir/src"
    exit 0
fi
[ -n "$src" ] || { echo "openssh10.sh: no OpenSSH 10 source in $root/libssh2.work/src (make fetches it)" >&2; exit 1; }
# A build of the programs before scp and sftp were added only needs those.
if [ ! -f "$dir/src/config.status" ]; then
    rm -rf "$dir/src"
    cp -a "$src" "$dir/src"
    touch "$dir/src/configure"
fi
echo "openssh10: building $(basename "$src") into $dir/src" >&2
if ! (cd "$dir/src" && { [ -f config.status ] || ./configure --without-pam \
    --with-privsep-path=/run/sshd >"$dir/configure.log" 2>&1; } &&
    make -j2 SSH_PROGRAM=ssh "${progs[@]}" >"$dir/make.log" 2>&1) || ! built; then
    echo "openssh10.sh: the build failed, see $dir/configure.log and $dir/make.log" >&2
    exit 1
fi
echo "$dir/src"
