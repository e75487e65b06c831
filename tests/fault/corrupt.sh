# shellcheck shell=bash
# Sourced by tests/fault/run.sh: a corrupted link, and what a ProxyCommand is given.
#
# A ProxyCommand (tests/tools/flip) relays to the healthy server and flips one bit of the
# server's stream at a chosen place: in the key exchange, in the first encrypted packet,
# during the login, after it (the channel open). Plain ssh and the shim run the same
# command with the same options; both must exit 255 with the same words on stderr (ssh's
# "Corrupted MAC on input." and its ssh_dispatch_run_fatal line), and the shim must
# return promptly: a session whose connection breaks before it started is moved to a new
# connection once, never more (it used to be reconnected for ever, thousands of times a
# minute, while the session waited). Each connection runs the ProxyCommand once, so its
# log counts the connections the broker made.
#
# Then a ProxyCommand that reports what its stdin and stdout are: pipes, from ssh and
# from the broker alike.

FLIP=$B/tests/tools/flip
# The keepalive settings of the report; ssh's default LogLevel (the account's config says
# ERROR, under which neither side says anything).
CORRUPT_OPTS=(-o ServerAliveInterval=1 -o ServerAliveCountMax=30 -o LogLevel=INFO
    -o KexAlgorithms=curve25519-sha256)
# A session that ends with the corruption, end to end: far below the 30 s keepalive window
# a stuck connection would wait for, far above the ~0.1 s it takes.
CORRUPT_MS=5000
case "$B" in */san-*) CORRUPT_MS=10000 ;; esac

# corrupt_case NAME CIPHER MAC MACLEN WHERE CONNS [handed]: plain ssh and the shim through
# flip at WHERE (flip's N, enc+N or pkt:K); the same exit code (255), stdout and stderr;
# the shim within CORRUPT_MS, with exactly CONNS connections made (1: it failed while being
# made; 2: it broke once made, before the session started, and was made again once), and
# none handed to ssh (with "handed": at least one, for a failure libssh2 cannot name, which
# the real ssh then reports in its own words).
corrupt_case() {
    local name=$1 cipher=$2 mac=$3 maclen=$4 where=$5 conns=$6 want=${7:-served} side t0 t
    local bad='' n0 h0 h1
    for side in plain mux; do
        rm -f "$T/rw/flip.$side"
        local pre=(env)
        if [ "$side" = mux ]; then
            pre=(env "LD_PRELOAD=$LIB")
            n0=$(counters)
        fi
        t0=$(now_ms)
        as_u timeout -k 5 60 "${pre[@]}" ssh "${CORRUPT_OPTS[@]}" -o Ciphers="$cipher" \
            -o MACs="$mac" \
            -o ProxyCommand="$FLIP -m $maclen -l $T/rw/flip.$side %p $where" \
            mux-test echo ran >"$T/$side.out" 2>"$T/$side.err" </dev/null
        echo $? >"$T/$side.rc"
        t=$(($(now_ms) - t0))
    done
    h0=${n0#* }
    h1=$(counters)
    h1=${h1#* }
    [ "$(cat "$T/plain.rc")" = 255 ] || bad="$bad plain ssh exit $(cat "$T/plain.rc") (not a corruption case);"
    [ -s "$T/rw/flip.plain" ] || bad="$bad no byte flipped for plain ssh;"
    [ "$t" -le "$CORRUPT_MS" ] || bad="$bad the shim took $t ms;"
    [ "$(wc -l <"$T/rw/flip.mux" 2>/dev/null || echo 0)" -eq "$conns" ] ||
        bad="$bad the broker made $(wc -l <"$T/rw/flip.mux" 2>/dev/null || echo 0) connections (want $conns);"
    if [ "$want" = handed ]; then
        [ "$((h1 - h0))" -ge 1 ] || bad="$bad not handed to ssh;"
    else
        [ "$((h1 - h0))" -eq 0 ] || bad="$bad handed to ssh ($(broker_handed_why "$B/muxssh" "$MUXSHIM_DIR" "$U"));"
    fi
    if [ -n "$bad" ]; then
        notok "corrupt-$name" "$bad $(tr '\r\n' '  ' <"$T/mux.err")"
        return
    fi
    compare_sides "corrupt-$name ($t ms, $conns connection(s))"
}

# The key exchange, in the clear (the server's ECDH reply): its signature fails. libssh2
# says only that the exchange failed, so the real ssh, handed the session, says how (its
# own ProxyCommand is the second in the log).
corrupt_case kex-signature aes128-ctr hmac-sha2-256 32 1000 2 handed
# The first encrypted packet (the answer to the service request, in libssh2's handshake).
corrupt_case first-packet-hmac aes128-ctr hmac-sha2-256 32 enc+20 1
corrupt_case first-packet-chacha chacha20-poly1305@openssh.com hmac-sha2-256 16 enc+20 1
corrupt_case first-packet-gcm aes256-gcm@openssh.com hmac-sha2-256 16 pkt:0 1
# During the login (a MAC over a USERAUTH answer: libssh2 drops the packet, and used to
# wait for ever for the answer it had lost).
corrupt_case login-etm aes128-ctr hmac-sha2-256-etm@openssh.com 32 pkt:4 1
corrupt_case login-gcm aes256-gcm@openssh.com hmac-sha2-256 16 pkt:3 1
# After the login: the spare channel's open breaks the ready connection before the session
# started; it is made again once, breaks the same way, and the session ends.
corrupt_case channel-open-etm aes128-ctr hmac-sha2-256-etm@openssh.com 32 pkt:6 2
corrupt_case channel-open-gcm aes256-gcm@openssh.com hmac-sha2-256 16 pkt:6 2
corrupt_case channel-open-chacha chacha20-poly1305@openssh.com hmac-sha2-256 16 enc+800 2
grep -q "channel open on 127.0.0.1: .*(-12)" "$MUXSHIM_DIR/broker.log" ||
    notok "corrupt-channel-open-logged" "the broker's log says no channel open failed"

# --- what a ProxyCommand gets as its stdin and stdout ------------------------------------
# (stat's words for what the command's shell has as fd 0 and 1; then flip, which never
# flips at that offset, as a plain relay)
# shellcheck disable=SC2016 # expanded by the ProxyCommand's shell
dcase "proxycommand-stdio-pipes" "ssh -o ProxyCommand='sh -c \"echo \\\$(stat -L -c %%F /proc/\\\$\\\$/fd/0 /proc/\\\$\\\$/fd/1) >&2; exec $FLIP %p 999999999999\"' -o LogLevel=ERROR mux-test echo ran"
grep -qx "fifo fifo" "$T/mux.err" || notok "proxycommand-stdio-pipes-said" "$(head -2 "$T/mux.err")"
