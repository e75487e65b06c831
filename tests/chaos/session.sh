#!/bin/bash
# shellcheck disable=SC2029 # (the remote command is made here, on purpose)
# One session of the chaos suite, run as the test account with the shim preloaded, so that
# `ssh` here is muxssh. It moves a known payload both ways (the remote side echoes it with
# cat) and ends with a known exit code and a known line on stderr.
#
#   session.sh DIR I HOST MODE PAYLOAD [STALL]
#     echo        the payload file is ssh's stdin
#     trickle     the payload comes in four pieces with pauses between them (a longer
#                 session, so that kills and stops find it in flight)
#     slowreader  the reader of ssh's stdout (a pipe) reads nothing for STALL seconds
#     deafpipe    remote `cat /dev/zero`; the reader never reads and exits after STALL
#                 seconds (the session must then end; its bytes are not checked)
#
# Writes DIR/I.out (sha256sum of what came back), DIR/I.err (ssh's stderr) and, when it
# ends, DIR/I.res: "EXIT START_MS END_MS".
set -u
d=$1 i=$2 host=$3 mode=$4 payload=$5 stall=${6:-2}
k=$((i % 5))
t0=$((${EPOCHREALTIME/./} / 1000))
remote="cat; echo done-$i >&2; exit $k"
case $mode in
echo)
    ssh "$host" "$remote" <"$payload" 2>"$d/$i.err" | sha256sum >"$d/$i.out"
    rc=${PIPESTATUS[0]}
    ;;
trickle)
    q=$(($(stat -c %s "$payload") / 4))
    {
        for _ in 1 2 3; do
            head -c "$q"
            sleep "$((RANDOM % 2)).$((RANDOM % 10))"
        done
        cat
    } <"$payload" | ssh "$host" "$remote" 2>"$d/$i.err" | sha256sum >"$d/$i.out"
    rc=${PIPESTATUS[1]}
    ;;
slowreader)
    ssh "$host" "$remote" <"$payload" 2>"$d/$i.err" | {
        sleep "$stall"
        sha256sum
    } >"$d/$i.out"
    rc=${PIPESTATUS[0]}
    ;;
deafpipe)
    # shellcheck disable=SC2216 # (a reader that never reads, on purpose)
    ssh "$host" 'exec cat /dev/zero' </dev/null 2>"$d/$i.err" | sleep "$stall"
    rc=${PIPESTATUS[0]}
    ;;
*)
    echo "session.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac
echo "$rc $t0 $((${EPOCHREALTIME/./} / 1000))" >"$d/$i.res"
