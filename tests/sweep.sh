#!/bin/bash
# What the suites start must not outlive them. Run after the suites (and from a trap when
# make check is interrupted): it waits a moment for what is still ending, then ends whatever
# is left (processes of the test accounts, brokers, OpenSSH masters and sshds under the
# suites' temporary folders, network namespaces, guard routes, PAM services) and prints
# one line for each kind it had to end.
#
#   tests/sweep.sh [--report NAME]   with --report, leftovers are printed as `not ok` lines
#                                    named after NAME (the suite that left them)
set -u
report=${1:-}
name=${2:-check}
# shellcheck source=../scripts/lib-sshd.sh
. "$(dirname "$0")/../scripts/lib-sshd.sh"
[ "$(id -u)" -eq 0 ] || exit 0 # only root's runs create accounts, namespaces and routes

# Processes of ours: the test accounts', and anything running from a suite's folder that
# the suite has removed (a suite still running elsewhere keeps its folder, and its
# processes are not leftovers; nor is the copy make check runs from).
ours() {
    local u pid dir
    for u in $TEST_ACCOUNTS; do
        id "$u" >/dev/null 2>&1 && pgrep -u "$u"
    done
    pgrep -af '/tmp/muxshim-[a-z0-9]+-[A-Za-z0-9]{6}/' | grep -v '/tmp/muxshim-check-' |
        while read -r pid dir; do
            dir=$(grep -Eo '/tmp/muxshim-[a-z0-9]+-[A-Za-z0-9]{6}/' <<<"$dir" | head -n 1)
            [ -d "$dir" ] || echo "$pid"
        done
}

left() {
    local p
    for p in $(ours | sort -u); do
        [ "$p" = "$$" ] && continue
        ps -o user=,pid=,args= -p "$p" 2>/dev/null
    done
}

say() {
    if [ "$report" = --report ]; then
        echo "not ok - sweep/$name: $1"
    else
        echo "# sweep: $1"
    fi
}

for _ in $(seq 1 50); do
    [ -z "$(left)" ] && break
    sleep 0.1
done
procs=$(left)
if [ -n "$procs" ]; then
    say "processes left running: $(echo "$procs" | awk '{print $1 ":" $3}' | sort | uniq -c | tr -s ' \n' ' ')"
    echo "$procs" | head -20 | sed 's/^/#   /'
    for sig in TERM KILL; do
        for p in $(ours | sort -u); do kill "-$sig" "$p" 2>/dev/null; done
        sleep 0.5
    done
fi

ns=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^mux(jump|route|bnet)[0-9]+$')
if [ -n "$ns" ]; then
    say "network namespaces left: $(echo "$ns" | tr '\n' ' ')"
    for n in $ns; do ip netns del "$n"; done
fi
for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | grep -E '^mx.*h(@|$)' | cut -d@ -f1); do
    ip link del "$l" 2>/dev/null
done
routes=$(ip route show type unreachable 2>/dev/null | awk '{print $1}' | grep -E '^10\.7[6-9]\.0\.0/16$')
routes6=$(ip -6 route show type unreachable 2>/dev/null | awk '{print $1}' | grep -E '^fd7[6-9]::/16$')
if [ -n "$routes$routes6" ]; then
    say "guard routes left: $(echo $routes $routes6)"
    for r in $routes; do ip route del unreachable "$r"; done
    for r in $routes6; do ip -6 route del unreachable "$r"; done
fi
pam=$(ls /etc/pam.d 2>/dev/null | grep '^muxshim-test-')
if [ -n "$pam" ]; then
    say "PAM services left: $(echo $pam)"
    for f in $pam; do rm -f "/etc/pam.d/$f"; done
fi
exit 0
