#!/bin/bash
# make demo: the main job on a throwaway sshd on loopback. The same git, rsync, scp, sftp
# and ssh commands run twice, once with plain ssh and once through `muxrun`; the script
# prints each command's wall time on both sides and the TCP connections sshd logged.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib-sshd.sh
. "$ROOT/scripts/lib-sshd.sh"
MUXRUN=$ROOT/scripts/muxrun

# As root, the whole demo (sshd included) runs as a test account whose shell reads no
# profile, with its own ~/.ssh and the system's /etc/ssh/ssh_config, from a copy of the build
# it can read: the table then shows muxshim as a user meets it, not root's login profile.
if [ "$(id -u)" -eq 0 ]; then
    # shellcheck source=lib-stage.sh
    . "$ROOT/scripts/lib-stage.sh"
    rerun_as_account muxuser demo scripts/demo.sh
    exit
fi

T=$(mktemp -d /tmp/muxshim-demo-XXXXXX)
# A private runtime directory: the demo's broker is its own and goes away at the end.
export MUXSHIM_DIR=$T/run
mkdir -m 700 "$MUXSHIM_DIR"
unset LD_PRELOAD MUXSHIM_DISABLE SSH_AUTH_SOCK

cleanup() {
    local pid
    pid=$(cat "$MUXSHIM_DIR/broker.lock" 2>/dev/null) && kill "$pid" 2>/dev/null
    sshd_stop "$T/sshd-plain"
    sshd_stop "$T/sshd-mux"
    rm -rf "$T"
}
trap cleanup EXIT

# Two identical servers, so each side's connections are counted on its own: hosts
# "lab-plain" and "lab-mux" in the account's ~/.ssh/config. Run by anyone but a test
# account, the demo leaves the user's ~/.ssh alone: the same entries go into a file it
# passes with -F, which then includes the system's config, as ssh reads it without -F.
sshd_start "$T/sshd-plain" >/dev/null
sshd_start "$T/sshd-mux" >/dev/null
F=
case "${RERUN_OUT:-}" in
"")
    USER_CFG=$T/ssh_config F="-F $USER_CFG"
    export GIT_SSH_COMMAND="ssh $F"
    ;;
*) USER_CFG= ;;
esac
sshd_user_host "$T/sshd-plain" lab-plain
sshd_user_host "$T/sshd-mux" lab-mux
user_cfg_end

# The "remote" side, on this machine: a bare repository, a directory and a file.
R=$T/remote
mkdir -p "$R/dir/sub"
git init -q --bare -b main "$R/repo.git"
git clone -q "$R/repo.git" "$T/seed" 2>/dev/null
(
    cd "$T/seed"
    git config user.email demo@example.invalid
    git config user.name demo
    for i in $(seq 1 20); do
        echo "line $i" >>notes.txt
        git add notes.txt
        git commit -qm "commit $i"
    done
    git push -q origin HEAD:main
)
for i in $(seq 1 50); do head -c 20000 /dev/urandom >"$R/dir/sub/f$i"; done
head -c 5000000 /dev/urandom >"$R/file.bin"
echo "ls" >"$T/sftp.batch"

now_ms() { date +%s%3N; }
declare -A took

# run_all SIDE: every step of the main job, each timed, in a fresh directory.
run_all() {
    local side=$1 h=lab-$1 pre=() w=$T/work-$1 t0 rc
    [ "$side" = mux ] && pre=("$MUXRUN")
    rm -rf "$w" && mkdir -p "$w"
    local p=${pre[*]:+${pre[*]} } e=${F:+"-e 'ssh $F'"}
    steps=(
        "git clone|${p}git clone -q $h:$R/repo.git repo"
        "git pull|cd repo && ${p}git pull -q"
        "git push|cd repo && git commit -q --allow-empty -m $side && ${p}git push -q origin HEAD:$side"
        "rsync -a host:dir/ dir/|${p}rsync -a $e $h:$R/dir/ dir/"
        "rsync -a dir/ host:dir2/|${p}rsync -a $e dir/ $h:$T/dst-$side/"
        "scp host:file .|${p}scp -q $F $h:$R/file.bin ."
        "scp -O host:file .|${p}scp -q -O $F $h:$R/file.bin legacy.bin"
        "sftp -b batch host|${p}sftp -q $F -b $T/sftp.batch $h >/dev/null"
        "10 x ssh host true|for i in 1 2 3 4 5 6 7 8 9 10; do ${p}ssh $F $h true; done"
    )
    local step label cmd
    for step in "${steps[@]}"; do
        label=${step%%|*}
        cmd=${step#*|}
        t0=$(now_ms)
        rc=0
        (cd "$w" && GIT_CONFIG_COUNT=2 \
            GIT_CONFIG_KEY_0=user.email GIT_CONFIG_VALUE_0=demo@example.invalid \
            GIT_CONFIG_KEY_1=user.name GIT_CONFIG_VALUE_1=demo bash -c "$cmd") || rc=$?
        took[$side/$label]=$(($(now_ms) - t0))
        if [ "$rc" -ne 0 ]; then
            echo "demo: '$label' failed with exit code $rc on the $side side" >&2
            exit 1
        fi
        labels+=("$label")
    done
    # Same files on both sides as at the source.
    cmp -s "$w/file.bin" "$R/file.bin" && cmp -s "$w/legacy.bin" "$R/file.bin" &&
        diff -r -q "$w/dir" "$R/dir" >/dev/null || {
        echo "demo: copied files differ from the originals on the $side side" >&2
        exit 1
    }
}

labels=()
echo "demo: sshd on 127.0.0.1 ports $(awk '/^Port/{print $2}' "$T/sshd-plain/sshd_config") (plain ssh) and $SSHD_PORT (muxshim)"
echo "demo: running git clone/pull/push, rsync both ways, scp both modes, sftp -b, 10 x ssh ..."
run_all plain
run_all mux

printf '\n%-28s %12s %12s\n' "command" "plain ssh" "muxshim"
printf '%-28s %12s %12s\n' "-------" "---------" "-------"
tp=0 tm=0
for label in "${labels[@]:0:${#labels[@]}/2}"; do
    printf '%-28s %9d ms %9d ms\n' "$label" "${took[plain/$label]}" "${took[mux/$label]}"
    tp=$((tp + took[plain/$label]))
    tm=$((tm + took[mux/$label]))
done
printf '%-28s %9d ms %9d ms\n' "total" "$tp" "$tm"
printf '%-28s %12s %12s\n' "TCP connections sshd saw" "$(sshd_connections "$T/sshd-plain")" \
    "$(sshd_connections "$T/sshd-mux")"
echo
echo "demo: \$ muxrun -O check lab-mux"
"$MUXRUN" -O check lab-mux $F || true
echo "demo: \$ muxrun status"
"$MUXRUN" status || true
