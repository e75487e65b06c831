#!/bin/bash
# Which libssh2 muxbroker is built with, written as compiler and linker flags to FLAGS
# (rewritten only when they change, so `make` rebuilds only then):
#
#   scripts/libssh2.sh auto|system ROOT FLAGS
#
#   system   the system's libssh2 (pkg-config), whatever its version
#   auto     the system's when it is 1.11 or newer; else Debian 13's source package,
#            fetched with `apt-get source` from the Debian archive this machine's apt
#            already uses (a private apt state under ROOT.work/, the signed trixie
#            index checks the .dsc; the system's apt sources and state are not touched),
#            built with cmake (static, PIC, OpenSSL, zlib) and installed into ROOT once.
#            Later runs use ROOT as it is, offline. When the source cannot be had, one
#            line says so and the system's library is used (ROOT.work/unavailable keeps
#            the reason, so apt is not asked again until ROOT.work is removed).
set -euo pipefail
mode=${1:?usage: libssh2.sh auto|system ROOT FLAGS}
root=${2:?}
flags=${3:?}
work=$(realpath -m "$root.work") # apt wants absolute paths
suite=trixie
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

# Write the two lines of FLAGS ("cflags=…", "libs=…") unless they are already there.
emit() {
    local text
    text=$(printf 'cflags=%s\nlibs=%s\n' "$1" "$2")
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
    emit "-I$root/include" "$root/lib/libssh2.a -lssl -lcrypto -lz"
}

# Stop with the one line, remember why, and use the system's library.
unavailable() {
    mkdir -p "$work"
    echo "$1" >"$work/unavailable"
    echo "muxshim: libssh2 1.11 source not available ($1): building with the system's" \
        "libssh2 $(pkg-config --modversion libssh2 2>/dev/null || echo '?') and its fallbacks" >&2
    system_flags
    exit 0
}

# The URI of the Debian archive (not debian-security) the system's apt sources name.
archive_uri() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
             { uri = ""; deb = 0
               for (i = 1; i <= NF; i++) {
                   if ($i ~ /^URIs:/) { split($i, w, " "); uri = w[2] }
                   if ($i ~ /^Types:.*deb/) deb = 1
               }
               if (deb && uri ~ /\/debian\/?$/) { print uri; exit } }' "$f"
    done
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 ~ /^deb(-src)?$/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {
                 if ($i ~ /\/debian\/?$/) print $i; break } }'
}

# Debian 13's source, unpacked in $work/src; its directory into $src.
fetch_source() {
    local uri kr apt
    uri=$(archive_uri | head -n1 || true)
    [ -n "$uri" ] || unavailable "no Debian archive in the system's apt sources"
    kr=$keyring
    [ -f "$kr" ] || kr=/usr/share/keyrings/debian-archive-$suite-stable.gpg
    [ -f "$kr" ] || unavailable "no Debian archive keyring in /usr/share/keyrings"
    command -v dpkg-source >/dev/null || unavailable "dpkg-source (dpkg-dev) is not installed"
    rm -rf "$work/apt" "$work/src"
    mkdir -p "$work/apt/etc/sources.list.d" "$work/apt/etc/preferences.d" \
        "$work/apt/state/lists/partial" "$work/apt/cache/archives/partial" "$work/src"
    echo "deb-src [signed-by=$kr] $uri $suite main" >"$work/apt/etc/sources.list"
    apt=(apt-get -q -o "Dir::State=$work/apt/state" -o "Dir::Cache=$work/apt/cache"
        -o "Dir::Etc::sourcelist=$work/apt/etc/sources.list"
        -o "Dir::Etc::sourceparts=$work/apt/etc/sources.list.d"
        -o "Dir::Etc::preferences=$work/apt/etc/preferences"
        -o "Dir::Etc::preferencesparts=$work/apt/etc/preferences.d"
        -o APT::Sandbox::User="$(id -un)")
    echo "libssh2: fetching Debian $suite's libssh2 source from $uri" >&2
    "${apt[@]}" --error-on=any update >"$work/apt.log" 2>&1 ||
        unavailable "apt-get update of $uri $suite failed, see $work/apt.log"
    # apt checks the .dsc and its files against the signed Sources index.
    (cd "$work/src" && "${apt[@]}" source "libssh2/$suite") >>"$work/apt.log" 2>&1 ||
        unavailable "apt-get source libssh2/$suite failed, see $work/apt.log"
    src=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'libssh2-*' | head -n1)
    [ -n "$src" ] || unavailable "apt-get source unpacked nothing"
}

# Build the unpacked source into $root: static, PIC, OpenSSL, zlib, no examples, tests
# or documentation.
build_source() {
    local src=$1 b=$work/cmake
    command -v cmake >/dev/null || unavailable "cmake is not installed"
    rm -rf "$b" "$root"
    echo "libssh2: building $(basename "$src") into $root" >&2
    { cmake -S "$src" -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_INSTALL_PREFIX="$(realpath -m "$root")" -DCMAKE_INSTALL_LIBDIR=lib \
        -DBUILD_SHARED_LIBS=OFF -DBUILD_STATIC_LIBS=ON -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
        -DCRYPTO_BACKEND=OpenSSL -DENABLE_ZLIB_COMPRESSION=ON \
        -DBUILD_EXAMPLES=OFF -DBUILD_TESTING=OFF -DLINT=OFF &&
        cmake --build "$b" -j "$(nproc)" &&
        cmake --install "$b"; } >"$work/cmake.log" 2>&1 ||
        unavailable "the cmake build failed, see $work/cmake.log"
    rm -rf "$root/share" # the man pages
}

if [ "$mode" = system ]; then
    system_flags
    exit 0
fi
[ "$mode" = auto ] || { echo "libssh2.sh: LIBSSH2 is auto or system, not '$mode'" >&2; exit 2; }
if pkg-config --atleast-version=1.11 libssh2 2>/dev/null; then
    system_flags
    exit 0
fi
mkdir -p "$work"
exec 9>"$work/lock"
flock 9 # one fetch and build, also for make -j and builds side by side
if [ -f "$root/lib/libssh2.a" ] && [ -f "$root/include/libssh2.h" ]; then
    own_flags
    exit 0
fi
[ -f "$work/unavailable" ] && unavailable "$(cat "$work/unavailable")"
fetch_source
build_source "$src"
echo "libssh2: $(sed -n 's/^#define LIBSSH2_VERSION  *"\(.*\)"/\1/p' "$root/include/libssh2.h")" \
    "built into $root" >&2
own_flags
