#!/bin/bash
# Install the Debian packages muxshim builds, tests and demonstrates with; silent when
# everything is there. Uses sudo when not root.
set -euo pipefail
pkgs=(gcc make libc6-dev pkg-config openssh-server openssh-client libssh2-1-dev uthash-dev
      libssl-dev rsync git hyperfine tmux gnuplot-nox cppcheck clang-format valgrind procps
      iproute2 clang libclang-rt-14-dev curl python3)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
# sshd refuses to start without its privilege separation directory.
[ -d /run/sshd ] || "${sudo[@]}" mkdir -p -m 0755 /run/sshd
