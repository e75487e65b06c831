#!/bin/bash
# Install the Debian packages muxshim builds, tests and demonstrates with; silent when
# everything is there. As root it installs; otherwise it uses sudo when sudo can run
# without asking, and else stops with one line naming the command to run.
#
#   scripts/install-deps.sh           everything (make check, make demo, make bench)
#   scripts/install-deps.sh --build   only what `make` needs to build
set -euo pipefail
build_pkgs=(gcc make libc6-dev pkg-config libssh2-1-dev uthash-dev libssl-dev zlib1g-dev cmake dpkg-dev scdoc)
pkgs=("${build_pkgs[@]}" openssh-server openssh-client rsync git hyperfine tmux gnuplot-nox
      cppcheck clang-format valgrind procps iproute2 clang libclang-rt-14-dev curl python3
      util-linux passwd ansible-core xvfb xauth x11-utils zsh fish bash-completion systemd
      debhelper lintian softhsm2 opensc)
[ "${1:-}" = --build ] && pkgs=("${build_pkgs[@]}")
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if [ "${#missing[@]}" -gt 0 ] && ! sudo -n true 2>/dev/null; then
        echo "muxshim: missing packages ${missing[*]}: run 'sudo $0${1:+ $1}'" >&2
        exit 1
    fi
    sudo=(sudo -n)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
[ "${1:-}" = --build ] && exit 0
# sshd refuses to start without its privilege separation directory.
[ -d /run/sshd ] || "${sudo[@]}" mkdir -p -m 0755 /run/sshd
