#!/bin/bash
# The chaos suite's probe, run as the test account with the shim preloaded: `ssh lab-probe true`
# (the same sshd as lab, on a connection of its own: BindAddress makes it another authority,
# so the probe measures the broker's loop, not the bandwidth of the TCP connection that the
# chaos sessions' payloads share, which ControlMaster would share the same way)
# from one shell, timed, every INTERVAL_MS, COUNT times or (COUNT -) until the file STOP
# exists. Each time, the same probe runs at the same moment through a second, idle broker
# (the runtime directory CONTROL_DIR), so that what the machine's load costs both can be
# told from what the broker under test adds. Appends per probe to OUT:
#   "MS EXIT CONTROL_MS CONTROL_EXIT START_MS"
#
#   probe.sh OUT INTERVAL_MS COUNT STOP CONTROL_DIR
set -u
out=$1 interval=$2 count=$3 stop=$4 control=$5 n=0
one() { # DIR RESULT_FILE
    local t0=${EPOCHREALTIME/./} rc
    MUXSHIM_DIR=$1 ssh lab-probe true </dev/null >/dev/null 2>>"$out.err"
    rc=$?
    echo "$(((${EPOCHREALTIME/./} - t0) / 1000)) $rc" >"$2"
}
while [ ! -e "$stop" ]; do
    [ "$count" != - ] && [ "$n" -ge "$count" ] && break
    t0=${EPOCHREALTIME/./}
    one "$MUXSHIM_DIR" "$out.a" &
    one "$control" "$out.b" &
    wait
    echo "$(cat "$out.a") $(cat "$out.b") $((t0 / 1000))" >>"$out"
    n=$((n + 1))
    w=$((interval * (80 + RANDOM % 41) / 100)) # jittered, so it never beats with the chaos
    sleep "$((w / 1000)).$(printf %03d $((w % 1000)))"
done
exit 0
