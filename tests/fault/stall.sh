# shellcheck shell=bash
# Sourced by tests/fault/run.sh: a client that does not take its output must not hold up
# anyone else's session. The broker has one event loop for every session of every host, so
# a write that waits on one client's terminal or pipe would stall them all. With one client
# stalled (a terminal stopped by ^S whose master nobody reads, a pipe nobody reads, a
# SIGSTOPped muxssh, a pty master nobody drains), ten `ssh mux-test true` in a row must each finish promptly (figures
# printed, with those of ten taken before as the baseline), and the terminal's file status
# flags (what the user's shell shares) must be what they were, during and after.

PTYRUN=$ROOT/tests/fault/ptyrun.py
# Each probe session, end to end (a bound well above a probe's normal time, far below the
# stall's: before the fix, every probe waited until killed).
PROBE_MS=1000
case "$B" in */san-*) PROBE_MS=3000 ;; esac

# "${U_RUN[@]}" CMD...: CMD as $U (a command, not a function, so that timeout and exec can
# run it).
H=$(getent passwd "$U" | cut -d: -f6)
U_RUN=()
[ "$U" = "$(id -un)" ] ||
    U_RUN=(setpriv --reuid="$U" --regid="$(id -g "$U")" --init-groups
        env HOME="$H" USER="$U" LOGNAME="$U")
# bg_u CMD...: CMD as $U in the background, its pid (after exec, so CMD's own) in $!.
bg_u() { (exec "${U_RUN[@]}" "$@") & }

# probe: ten `ssh mux-test true` one after the other; sets PROBE (each one's ms) and
# PROBE_BAD (what went wrong, if anything).
probe() {
    local i t0 t rc
    PROBE=
    PROBE_BAD=
    for i in $(seq 1 10); do
        t0=$(now_ms)
        timeout 10 "${U_RUN[@]}" env LD_PRELOAD="$LIB" ssh mux-test true </dev/null
        rc=$?
        t=$(($(now_ms) - t0))
        PROBE="$PROBE $t"
        [ "$rc" = 0 ] || PROBE_BAD="$PROBE_BAD probe $i exit $rc after $t ms;"
        [ "$t" -le "$PROBE_MS" ] || PROBE_BAD="$PROBE_BAD probe $i took $t ms;"
    done
}
mssh mux-test true
probe
BASE=$PROBE

# stall_tty NAME OWNER: `ssh mux-test yes` on a terminal stopped by ^S, the pty opened by
# OWNER (u: the test account, the broker reopens the terminal; root: the broker may not
# open it and must leave it blocking, touching it only when poll says so).
stall_tty() {
    local name=$1 d=$T/rw/$1 run=("${U_RUN[@]}") cmd=() out bad n0
    mkdir -m 777 "$d"
    [ "$2" = u ] || { cmd=("${U_RUN[@]}"); run=(); }
    n0=$(mark)
    "${run[@]}" python3 "$PTYRUN" stop "$d" -- "${cmd[@]}" env LD_PRELOAD="$LIB" \
        ssh mux-test yes >"$d/out" 2>&1 &
    local py=$!
    if ! wait_file "$d/ready"; then
        kill "$py" 2>/dev/null
        notok "$name" "the terminal session did not start"
        return
    fi
    probe
    touch "$d/go"
    wait "$py"
    bad=$PROBE_BAD
    out=$(cat "$d/out")
    read -r _ f0 f1 f2 <<<"$(grep '^flags' "$d/out")"
    [ -n "$f0" ] && [ "$f0" = "$f1" ] && [ "$f0" = "$f2" ] ||
        bad="$bad terminal flags before/during/after: $f0 $f1 $f2;"
    grep -Eq '^flowed [1-9]' "$d/out" || bad="$bad no output after ^Q: $out;"
    bad="$bad$(served_since "$n0" 11)"
    verdict "$name" "${bad:+$bad ms:$PROBE}" "$name (10 sessions while one terminal is stopped, ms:$PROBE; before:$BASE; flags $f0 kept)"
}
wait_file() {
    local i
    for i in $(seq 1 400); do
        [ -e "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

stall_tty stall-stopped-terminal u
if [ "$(id -u)" -eq 0 ] && [ "$U" != root ]; then
    stall_tty stall-stopped-terminal-not-reopenable root
else
    skip stall-stopped-terminal-not-reopenable "needs root (a pty the test account cannot open)"
fi

# Typed input reaches the remote command (no pty: the line discipline's cooked line), the
# terminal's flags unchanged; on a terminal the broker reopens, and one it cannot.
type_tty() {
    local name=$1 d=$T/rw/$1 run=("${U_RUN[@]}") cmd=() bad
    mkdir -m 777 "$d"
    [ "$2" = u ] || { cmd=("${U_RUN[@]}"); run=(); }
    # shellcheck disable=SC2016 # ($l is the remote shell's)
    "${run[@]}" python3 "$PTYRUN" type "$d" -- "${cmd[@]}" env LD_PRELOAD="$LIB" \
        ssh mux-test 'read l; echo got:$l' >"$d/out" 2>&1
    read -r _ f0 f1 f2 <<<"$(grep '^flags' "$d/out")"
    bad=
    grep -q '^typed 1' "$d/out" || bad="$bad the remote did not get the line: $(tr '\n' ' ' <"$d/out");"
    [ -n "$f0" ] && [ "$f0" = "$f1" ] && [ "$f0" = "$f2" ] ||
        bad="$bad terminal flags before/during/after: $f0 $f1 $f2;"
    verdict "$name" "$bad" "$name (typed line reached the remote, flags $f0 kept)"
}
type_tty terminal-input u
if [ "$(id -u)" -eq 0 ] && [ "$U" != root ]; then
    type_tty terminal-input-not-reopenable root
else
    skip terminal-input-not-reopenable "needs root (a pty the test account cannot open)"
fi

# `ssh mux-test yes | (sleep 30)`: a pipe nobody reads.
n0=$(mark)
# shellcheck disable=SC2216 # (the point: nobody reads)
{
    bg_u env LD_PRELOAD="$LIB" ssh mux-test yes
    echo $! >"$T/pipe.pid"
} | sleep 30 &
sleeper=$!
sleep 1.5 # the pipe and the channel's window fill
probe
mp=$(cat "$T/pipe.pid")
bad=$PROBE_BAD
kill -0 "$mp" 2>/dev/null || bad="$bad the stalled session already ended;"
kill "$mp" "$sleeper" 2>/dev/null
wait "$sleeper" 2>/dev/null
bad="$bad$(served_since "$n0" 11)"
verdict "stall-unread-pipe" "${bad:+$bad ms:$PROBE}" "stall-unread-pipe (10 sessions while a pipe nobody reads is full, ms:$PROBE)"

# A SIGSTOPped muxssh, its session's output (a line every 10 ms: this is not about the CPU)
# going on to a pipe that is read.
n0=$(mark)
bg_u env LD_PRELOAD="$LIB" ssh mux-test 'while sleep 0.01; do echo y; done' > >(cat >/dev/null)
mp=$!
sleep 1
kill -STOP "$mp"
sleep 0.5
probe
bad=$PROBE_BAD
kill -CONT "$mp"
kill "$mp" 2>/dev/null
wait "$mp" 2>/dev/null
bad="$bad$(served_since "$n0" 11)"
verdict "stall-stopped-muxssh" "${bad:+$bad ms:$PROBE}" "stall-stopped-muxssh (10 sessions while a muxssh is stopped, ms:$PROBE)"

# stdout a pty master (/dev/ptmx, its slave never opened: its input buffer fills): the
# broker must not reopen it (that would make a new pty) and must not wait on it.
n0=$(mark)
bg_u env LD_PRELOAD="$LIB" ssh mux-test yes >/dev/ptmx
mp=$!
sleep 1.5
probe
bad=$PROBE_BAD
kill -0 "$mp" 2>/dev/null || bad="$bad the stalled session already ended;"
kill "$mp" 2>/dev/null
wait "$mp" 2>/dev/null
bad="$bad$(served_since "$n0" 11)"
verdict "stall-pty-master" "${bad:+$bad ms:$PROBE}" "stall-pty-master (10 sessions while a pty master nobody drains is full, ms:$PROBE)"
