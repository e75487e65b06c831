# Sourced by tests/fault/run.sh: servers that accept the TCP connection and then say
# nothing, before their banner, after it, during the login, or once stalled with our bytes
# queued for them. The session ends with ssh's words (the same stderr as plain ssh's, where
# plain ssh ends at all) within the deadline: ConnectTimeout for the banner, then
# ServerAliveInterval × ServerAliveCountMax; meanwhile the broker keeps serving sessions to
# a healthy server.

# The slack on a deadline over plain ssh's time, and over an idle broker's for a probe
# session (the machine may be loaded: both are measured, not assumed).
SLOW_MS=1000
case "$B" in */san-*) SLOW_MS=2500 ;; esac
ALIVE2=(-o ServerAliveInterval=1 -o ServerAliveCountMax=2) # window 2 s

# silent_relay ARGS...: a relay (tests/tools/relay ARGS) in front of the healthy server.
silent_relay() {
    [ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null
    rm -f "$T/s/relay.port"
    sshd_relay "$T/s" "$RELAY" "$@"
}

# probes PREFIX: sessions to the healthy server one after another until $T/PREFIX.stop
# exists; the slowest one's time (ms) goes to $T/PREFIX.probe, a wrong answer to .bad.
probes() {
    local worst=0 t d out
    while [ ! -e "$T/$1.stop" ]; do
        t=$(now_ms)
        out=$(mssh mux-test echo probe 2>&1)
        d=$(($(now_ms) - t))
        [ "$out" = probe ] || echo "$out" >>"$T/$1.bad"
        [ "$d" -gt "$worst" ] && worst=$d
        echo "$worst" >"$T/$1.probe"
        sleep 0.1
    done
}

# probe_check PREFIX: what is wrong with PREFIX's probes, given the idle broker's $BASE_MS.
probe_check() {
    PROBE_MS=$(cat "$T/$1.probe" 2>/dev/null || echo none)
    [ "$PROBE_MS" != none ] && [ "$PROBE_MS" -le $((BASE_MS + SLOW_MS)) ] ||
        echo " a probe session took $PROBE_MS ms (idle broker: $BASE_MS ms);"
    [ -s "$T/$1.bad" ] && echo " a probe said: $(head -1 "$T/$1.bad");"
}

# baseline: BASE_MS, the slowest of the probes over 2 s on an idle broker.
baseline() {
    rm -f "$T/base".*
    probes base &
    local qp=$!
    sleep 2
    touch "$T/base.stop"
    wait "$qp"
    BASE_MS=$(cat "$T/base.probe")
}

# silent_run PREFIX ARGS...: plain ssh and the shim with ARGS at the same time, probes
# alongside; sets P_RC P_MS P_ERR (plain), M_RC M_MS M_ERR (the shim), PROBE_MS, and
# appends to bad what the probes saw wrong. Plain ssh gets PLAIN_S seconds (default 10: it
# may never end; 0: not run, where the case does not compare with it).
silent_run() {
    local prefix=$1 t0 pp mp qp
    shift
    mssh mux-test true # the healthy server's connection is up before the clock starts
    baseline
    rm -f "$T/$prefix".*
    t0=$(now_ms)
    (
        if [ "${PLAIN_S:-10}" = 0 ]; then
            echo "124 0" >"$T/$prefix.prc" && : >"$T/$prefix.perr"
        else
            as_u timeout "${PLAIN_S:-10}" ssh "$@" 2>"$T/$prefix.perr" </dev/null
            echo "$? $(($(now_ms) - t0))" >"$T/$prefix.prc"
        fi
    ) &
    pp=$!
    (
        mssh "$@" 2>"$T/$prefix.merr" </dev/null
        echo "$? $(($(now_ms) - t0))" >"$T/$prefix.mrc"
    ) &
    mp=$!
    sleep 0.3
    probes "$prefix" &
    qp=$!
    wait "$mp"
    touch "$T/$prefix.stop"
    wait "$qp" "$pp"
    read -r P_RC P_MS <"$T/$prefix.prc"
    read -r M_RC M_MS <"$T/$prefix.mrc"
    P_ERR=$(tr '\r' '\n' <"$T/$prefix.perr" | sed '/^$/d')
    M_ERR=$(tr '\r' '\n' <"$T/$prefix.merr" | sed '/^$/d')
    bad="$bad$(probe_check "$prefix")"
    PROBE_MS=$(cat "$T/$prefix.probe" 2>/dev/null || echo none)
}

# same_as_ssh: the shim ended as plain ssh did (exit, stderr), and not later than it.
same_as_ssh() {
    [ "$M_RC" = 255 ] && [ "$P_RC" = 255 ] || bad="$bad exit $M_RC, ssh's $P_RC;"
    [ "$M_ERR" = "$P_ERR" ] || bad="$bad stderr '$M_ERR', ssh's '$P_ERR';"
    [ "$M_MS" -le $((P_MS + SLOW_MS)) ] || bad="$bad ended after $M_MS ms (ssh: $P_MS ms);"
}

# --- silent before the banner: ConnectTimeout --------------------------------------------
silent_relay -s 0 || notok "silent-before-banner" "the relay did not start"
for lv in INFO ERROR; do
    bad=
    silent_run sb -o Port="$RELAY_PORT" -o ConnectTimeout=2 -o LogLevel=$lv mux-test true
    same_as_ssh
    [ -n "$M_ERR" ] || bad="$bad nothing on stderr;"
    verdict "silent-before-banner-$lv" "$bad" "silent-before-banner-$lv (as ssh: '$(echo "$M_ERR" | head -1)' after $M_MS ms; probes $PROBE_MS ms at most, idle $BASE_MS ms)"
done

# Without ConnectTimeout ssh would wait for ever: the window ends it, in the same words.
bad=
PLAIN_S=0 silent_run sw -o Port="$RELAY_PORT" -o LogLevel=INFO "${ALIVE2[@]}" mux-test true
want="Connection timed out during banner exchange
Connection to 127.0.0.1 port $RELAY_PORT timed out"
[ "$M_RC" = 255 ] || bad="$bad exit $M_RC;"
[ "$M_ERR" = "$want" ] || bad="$bad stderr '$M_ERR';"
[ "$M_MS" -le $((2000 + BASE_MS + SLOW_MS)) ] || bad="$bad ended after $M_MS ms;"
verdict "silent-before-banner-window" "$bad" "silent-before-banner-window (window 2 s: ended after $M_MS ms; probes $PROBE_MS ms at most, idle $BASE_MS ms)"

# --- silent after the banner, in the key exchange ----------------------------------------
silent_relay -s 100 || notok "silent-after-banner" "the relay did not start"
bad=
silent_run sa -o Port="$RELAY_PORT" -o LogLevel=INFO -o ConnectTimeout=1 "${ALIVE2[@]}" \
    mux-test true
same_as_ssh
verdict "silent-after-banner" "$bad" "silent-after-banner (as ssh: '$M_ERR' after $M_MS ms, ssh $P_MS ms; probes $PROBE_MS ms at most, idle $BASE_MS ms)"
kill "$RELAY_PID"
RELAY_PID=

# --- silent during the login: the server's key check never returns -----------------------
SSHD_USER=$U SSHD_EXTRA="AuthorizedKeysFile none
AuthorizedKeysCommand /bin/sleep 300
AuthorizedKeysCommandUser $U" sshd_start "$T/s3" >/dev/null || notok "silent-during-auth" "no sshd"
sed 's/^Host mux-test$/Host mux-test3/' "$T/s3/ssh_config" >>"$CFG"
chown "$U" "$T/s3/id_ed25519"
bad=
silent_run sl -o LogLevel=INFO "${ALIVE2[@]}" mux-test3 true
same_as_ssh
verdict "silent-during-auth" "$bad" "silent-during-auth (as ssh: '$M_ERR' after $M_MS ms, ssh $P_MS ms; probes $PROBE_MS ms at most, idle $BASE_MS ms)"
kill -KILL $(descendants "$(cat "$T/s3/sshd.bgpid")") 2>/dev/null
sshd_stop "$T/s3"

# --- a goodbye to a stalled server: the loop does not wait for it ------------------------
# An idle connection (with its spare channel) to a server that stalls, then `-O stop`: the
# broker closes it at its next tick, and libssh2 would wait for the channel's close.
silent_relay || notok "close-to-stalled" "the relay did not start"
DEF=(-o Port="$RELAY_PORT")
bad=
baseline
mssh "${DEF[@]}" mux-test true
sleep 0.3
kill -USR1 "$RELAY_PID"
out=$(mssh "${DEF[@]}" -O stop mux-test 2>&1 | tr -d '\r')
[ "$out" = "Stop listening request sent." ] || bad="$bad -O stop said: $out;"
rm -f "$T/cs".*
probes cs &
qp=$!
# And the loop itself: how long a new client waits for its HELLO (no ssh -G, no fork).
lat=$(p_hello | as_u "$WIRE" -l 3000 "$MUXSHIM_DIR/broker.sock")
touch "$T/cs.stop"
wait "$qp"
bad="$bad$(probe_check cs)"
PROBE_MS=$(cat "$T/cs.probe" 2>/dev/null || echo none)
[ "${lat#max }" != "$lat" ] && [ "${lat#max }" -le $((SLOW_MS / 2)) ] ||
    bad="$bad the loop answered a HELLO after: $lat ms;"
grep -q "closing idle connection to 127.0.0.1" "$MUXSHIM_DIR/broker.log" 2>/dev/null ||
    bad="$bad the connection was not closed;"
verdict "close-to-stalled" "$bad" "close-to-stalled (while it closed: HELLO answered in ${lat#max } ms at most; probes took $PROBE_MS ms, idle $BASE_MS ms)"
kill "$RELAY_PID"
RELAY_PID=

# --- a stall with our bytes queued behind it ---------------------------------------------
# The client's stdin goes on after the server stalls, so the connection's socket queue fills
# behind a server that takes nothing (relay -r: a 64 KiB receive buffer, as a slow link's,
# not megabytes of loopback buffer) and no keepalive can be written. The window counts all
# the same, as ssh's does (it queues its keepalive behind the data): the shared connection's
# session ends as plain ssh's beside it, with 255 and ssh's words, within the window.
silent_relay -r 65536 || notok "stall-queued" "the relay did not start"
QA=(-o Port="$RELAY_PORT" -o LogLevel=INFO -o ServerAliveInterval=1 -o ServerAliveCountMax=3)
# queued NAME CMD...: `CMD mux-test` as the account in the background, its stdin 8 MB once
# $T/sq.go exists; stdout, stderr and "EXIT END_MS" go to $T/sq.NAME.{out,err,rc}. What
# hangs is ended by timeout (exit 124).
queued() {
    local name=$1
    shift
    (
        as_u timeout -k 2 30 "$@" "${QA[@]}" mux-test 'echo started; exec cat >/dev/null' \
            >"$T/sq.$name.out" 2>"$T/sq.$name.err" \
            < <(while [ ! -e "$T/sq.go" ]; do sleep 0.05; done; exec head -c 8000000 /dev/zero)
        echo "$? $(now_ms)" >"$T/sq.$name.rc"
    ) &
}
bad=
n0=$(mark)
mssh "${QA[@]}" mux-test true # the shared connection, through this relay
queued shim env LD_PRELOAD="$LIB" ssh
queued plain ssh
wait_for "$T/sq.shim.out" "$T/sq.plain.out" || bad="$bad the sessions did not start;"
kill -USR1 "$RELAY_PID"
t0=$(now_ms)
touch "$T/sq.go"
for _ in $(seq 1 700); do # (the timeouts end both within 32 s)
    [ -s "$T/sq.shim.rc" ] && [ -s "$T/sq.plain.rc" ] && break
    sleep 0.05
done
read -r M_RC M_MS <"$T/sq.shim.rc"
read -r P_RC P_MS <"$T/sq.plain.rc"
M_MS=$((${M_MS:-0} - t0))
P_MS=$((${P_MS:-0} - t0))
M_ERR=$(tr '\r' '\n' <"$T/sq.shim.err" | sed '/^$/d')
P_ERR=$(tr '\r' '\n' <"$T/sq.plain.err" | sed '/^$/d')
same_as_ssh
[ "$M_ERR" = "Timeout, server 127.0.0.1 not responding." ] || bad="$bad stderr '$M_ERR';"
[ "$M_MS" -le $((3000 + 2000 + SLOW_MS)) ] || bad="$bad ended $M_MS ms after the stall;"
bad="$bad$(served_since "$n0" 2)"
verdict "stall-queued" "$bad" "stall-queued (bytes queued behind the stall: as ssh, '$M_ERR' $M_MS ms after it, ssh $P_MS ms)"
kill "$RELAY_PID"
RELAY_PID=
