#!/bin/bash
# Which libssh2 muxbroker is built with, written as compiler and linker flags to FLAGS
# (rewritten only when they change, so `make` rebuilds only then):
#
#   scripts/libssh2.sh auto|system ROOT FLAGS
#
#   system   the system's libssh2 (pkg-config), whatever its version
#   auto     the system's when it has the post-quantum hybrid key exchanges (no
#            packaged libssh2 does yet); else Debian 13's libssh2 source package with
#            our patches in scripts/libssh2-patch/, applied in name order: kex-hybrid.patch
#            (sntrup761x25519-sha512[@openssh.com], mlkem768x25519-sha256) and
#            streamlocal-forward.patch (remote Unix-socket forwards,
#            streamlocal-forward@openssh.com), the lattice primitives from Debian 13's openssh
#            source (sntrup761.c, libcrux_mlkem768_sha3.h, compiled with our shims in
#            scripts/libssh2-patch/ and added to the static library). Both are fetched with
#            `apt-get source` from the Debian archive this machine's apt already uses (a
#            private apt state under ROOT.work/, the signed trixie index checks each .dsc;
#            the system's apt sources and state are not touched), built with cmake (static,
#            PIC, OpenSSL, zlib) and installed into ROOT. Later runs use ROOT as it is,
#            offline; ROOT/pq.stamp (a hash of this script and scripts/libssh2-patch/) makes a
#            change to either rebuild from the sources kept in ROOT.work/src. When the
#            source cannot be had, one line says so and the system's library is used
#            (ROOT.work/unavailable keeps the reason, so apt is not asked again until
#            ROOT.work is removed).
set -euo pipefail
mode=${1:?usage: libssh2.sh auto|system ROOT FLAGS}
root=${2:?}
flags=${3:?}
work=$(realpath -m "$root.work") # apt wants absolute paths
pq=$(realpath "$(dirname "$0")/libssh2-patch") # our patches, and the primitives' shims
suite=trixie
# shellcheck source=lib-debsrc.sh
. "$(dirname "$0")/lib-debsrc.sh"

# Write the lines of FLAGS ("cflags=…", "libs=…", and for our build "stamp=…", so that a
# rebuilt library relinks what uses it) unless they are already there.
emit() {
    local text
    text=$(printf 'cflags=%s\nlibs=%s\n' "$1" "$2")
    [ -z "${3:-}" ] || text=$(printf '%s\nstamp=%s\n' "$text" "$3")
    mkdir -p "$(dirname "$flags")"
    if [ ! -f "$flags" ] || [ "$(cat "$flags")" != "$text" ]; then
        printf '%s\n' "$text" >"$flags.tmp" && mv "$flags.tmp" "$flags"
    fi
}

system_flags() {
    emit "$(pkg-config --cflags libssh2 2>/dev/null || true)" \
        "$(pkg-config --libs libssh2 2>/dev/null || echo -lssh2)"
}

# The built copy: its headers first, the static library and what it needs.
own_flags() {
    emit "-I$root/include" "$root/lib/libssh2.a -lssl -lcrypto -lz" "$(cat "$root/pq.stamp")"
}

# Stop with the one line, remember why, and use the system's library.
unavailable() {
    mkdir -p "$work"
    echo "$1" >"$work/unavailable"
    echo "${want:-}" >"$work/unavailable.stamp"
    echo "muxshim: libssh2 1.11 source not available ($1): building with the system's" \
        "libssh2 $(pkg-config --modversion libssh2 2>/dev/null || echo '?') and its fallbacks" >&2
    system_flags
    exit 0
}

# The unpacked sources of Debian 13's libssh2 and openssh into $src and $ossh; 1 if not
# both are there.
find_sources() {
    src=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'libssh2-*' 2>/dev/null |
        head -n1)
    ossh=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'openssh-*' 2>/dev/null |
        head -n1)
    [ -n "$src" ] && [ -n "$ossh" ]
}

# Debian 13's libssh2 and openssh sources, unpacked in $work/src (find_sources).
fetch_source() {
    debsrc_fetch "$work" "$suite" libssh2 openssh || unavailable "$debsrc_error"
    find_sources || unavailable "apt-get source did not unpack libssh2 and openssh"
}

# The stamp of the patched build: this script and everything in scripts/libssh2-patch/.
stamp() {
    cat "$0" "$pq"/* | sha256sum | cut -d' ' -f1
}

# A copy of the libssh2 source with our patches and the two headers kex-hybrid.patch
# includes, in $work/patched; its directory into $patched.
patch_source() {
    local p
    patched=$work/patched/$(basename "$src")
    rm -rf "$work/patched"
    mkdir -p "$work/patched"
    cp -a "$src" "$patched"
    cp "$pq/kem.h" "$pq/hybrid.h" "$patched/src/"
    : >"$work/patch.log"
    for p in "$pq"/*.patch; do
        (cd "$patched" && patch -p1 -s <"$p") >>"$work/patch.log" 2>&1 ||
            unavailable "our $(basename "$p") does not apply to $(basename "$src"), see $work/patch.log"
    done
}

# The lattice primitives from the openssh source with our shims (crypto_api.h, includes.h
# stand in for OpenSSH's; kem.c calls them; hybrid.c is the exchange's arithmetic), as one
# object whose only global symbols are kem.h's and hybrid.h's, added to the library.
# The primitives (and kem.c, which includes libcrux's header) get their own warning flags.
build_pq() {
    local d=$work/pq cc=${CC:-cc} lib
    lib=$(realpath -m "$root/lib/libssh2.a")
    rm -rf "$d"
    mkdir -p "$d"
    cp "$ossh/sntrup761.c" "$ossh/libcrux_mlkem768_sha3.h" "$pq"/*.[ch] "$d/"
    { (cd "$d" &&
        "$cc" -std=gnu11 -O2 -g -fPIC -Wall -Wextra -Wno-unused-parameter \
            -c sntrup761.c kem.c &&
        "$cc" -std=gnu11 -O2 -g -fPIC -Wall -Wextra -Werror -c hybrid.c &&
        ld -r -o pq.o sntrup761.o kem.o hybrid.o &&
        sed -n 's/^int \(_libssh2_[a-z0-9_]*\)(.*/\1/p' kem.h hybrid.h >keep &&
        objcopy --keep-global-symbols=keep pq.o &&
        ar rcs "$lib" pq.o); } >"$work/pq.log" 2>&1 ||
        unavailable "the post-quantum primitives did not build, see $work/pq.log"
}

# Build the patched source into $root: static, PIC, OpenSSL, zlib, no examples, tests
# or documentation.
build_source() {
    local src=$1 b=$work/cmake
    command -v cmake >/dev/null || unavailable "cmake is not installed"
    rm -rf "$b" "$root"
    echo "libssh2: building $(basename "$src") into $root (log: $work/cmake.log)" >&2
    { cmake -S "$src" -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_INSTALL_PREFIX="$(realpath -m "$root")" -DCMAKE_INSTALL_LIBDIR=lib \
        -DBUILD_SHARED_LIBS=OFF -DBUILD_STATIC_LIBS=ON -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
        -DCRYPTO_BACKEND=OpenSSL -DENABLE_ZLIB_COMPRESSION=ON \
        -DBUILD_EXAMPLES=OFF -DBUILD_TESTING=OFF -DLINT=OFF &&
        cmake --build "$b" -j "$(nproc)" &&
        cmake --install "$b"; } >"$work/cmake.log" 2>&1 || {
        [ "${V:-0}" != 1 ] || cat "$work/cmake.log" >&2
        unavailable "the cmake build failed, see $work/cmake.log"
    }
    [ "${V:-0}" != 1 ] || cat "$work/cmake.log" >&2 # make V=1: the whole build
    rm -rf "$root/share" # the man pages
}

if [ "$mode" = system ]; then
    system_flags
    exit 0
fi
[ "$mode" = auto ] || { echo "libssh2.sh: LIBSSH2 is auto or system, not '$mode'" >&2; exit 2; }
# A system libssh2 with the hybrids would be used as it is; none is packaged yet (its
# kex.c would name them: look for the name in the library).
sys_lib=$(pkg-config --variable=libdir libssh2 2>/dev/null || true)
if [ -n "$sys_lib" ] && grep -qs sntrup761x25519-sha512 "$sys_lib"/libssh2.so* &&
    grep -qs mlkem768x25519-sha256 "$sys_lib"/libssh2.so*; then
    system_flags
    exit 0
fi
mkdir -p "$work"
exec 9>"$work/lock"
flock 9 # one fetch and build, also for make -j and builds side by side
want=$(stamp)
if [ -f "$root/lib/libssh2.a" ] && [ -f "$root/include/libssh2.h" ] &&
    [ "$(cat "$root/pq.stamp" 2>/dev/null)" = "$want" ]; then
    own_flags
    exit 0
fi
# (a failure is not retried until ROOT.work is removed or our patch or this script change)
[ -f "$work/unavailable" ] && [ "$(cat "$work/unavailable.stamp" 2>/dev/null)" = "$want" ] &&
    unavailable "$(cat "$work/unavailable")"
find_sources || fetch_source
started=$(date +%s)
patch_source
build_source "$patched"
build_pq
echo "$want" >"$root/pq.stamp"
rm -f "$work/unavailable" "$work/unavailable.stamp"
echo "libssh2: $(sed -n 's/^#define LIBSSH2_VERSION  *"\(.*\)"/\1/p' "$root/include/libssh2.h")" \
    "with the post-quantum key exchanges built into $root in $(($(date +%s) - started)) s" >&2
own_flags
