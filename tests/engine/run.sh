#!/bin/bash
# What the broker serves with libssh2 1.11 (issue 16), as a user has it: a test account with
# its own ~/.ssh (an RSA-3072 key as its only key, a config naming the host "lab"), no -F,
# against one real sshd that shows an auth banner. Each case runs through plain ssh and
# through the shim: stdout, exit code and stderr must match, and the broker must have served
# the sessions (its counters) with no OpenSSH master. Built against an older libssh2 the
# RSA cases are left to the real ssh by design (docs/prompts-and-terminals.md), so they are skipped.
#
#   tests/engine/run.sh BUILD      (as root)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
SUITE=engine
# shellcheck source=../lib-cases.sh
. "$ROOT/tests/lib-cases.sh"
account_suite engine

version=$("$B/muxbroker" -V 2>&1)
echo "# $version"
old=0
case "$version" in *"libssh2 1.10"* | *"libssh2 1.9"* | *"libssh2 1.8"*) old=1 ;; esac

# The banner: several lines, a UTF-8 word, a tab and an escape byte ssh shows as \033.
printf 'Authorized use only.\n\tGrüße from the engine suite\n\033[1mbold\033[0m\n' >"$T/banner"
test_account "$U" "$H" || exit 1
SSHD_USER=$U SSHD_EXTRA="Banner $T/banner" sshd_start "$T/s" >/dev/null || exit 1
chmod 644 "$T/banner"
# The account's only key is RSA-3072 (sshd 9.2 takes rsa-sha2-*, never ssh-rsa/SHA-1);
# another RSA key lives only in an agent (agent_rsa, outside ~/.ssh).
ssh-keygen -q -t rsa -b 3072 -N '' -C engine-rsa -f "$H/.ssh/id_rsa"
ssh-keygen -q -t rsa -b 3072 -N '' -C engine-agent -f "$H/agent_rsa"
cat "$H/.ssh/id_rsa.pub" "$H/agent_rsa.pub" >"$T/s/authorized_keys"
cp "$T/s/known_hosts" "$H/.ssh/known_hosts"
printf 'Host lab\n    HostName 127.0.0.1\n    Port %s\n' "$SSHD_PORT" >"$H/.ssh/config"
mkdir -m 700 "$RT"
chown -R "$U:" "$H" "$RT"
chmod 600 "$H/.ssh/id_rsa" "$H/agent_rsa"
cp -a "$H/.ssh" "$T/ssh.pristine"

counters() { broker_counters "$MUXSSH" "$RT" "$U"; }

SIDE_TIMEOUT=120 # run_side (lib-cases.sh)

# scase NAME SESSIONS SNIPPET: differential, and the broker served SESSIONS more sessions
# (at least one) and handed none to ssh, with no OpenSSH master left.
scase() {
    local name=$1 want=$2 snippet=$3 before after masters
    run_side plain "$snippet"
    before=$(counters)
    local c0
    c0=$(sshd_connections "$T/s")
    run_side mux "$snippet"
    MUX_CONNS=$(($(sshd_connections "$T/s") - c0))
    after=$(counters)
    local served=$((${after% *} - ${before% *})) handed=$((${after#* } - ${before#* }))
    masters=$(pgrep -u "$U" -f '\[mux\]' | wc -l)
    if [ "$handed" -ne 0 ] || [ "$served" -lt "$want" ] || [ "$masters" -ne 0 ]; then
        notok "$name" "served $served (want $want), handed to ssh $handed, OpenSSH masters $masters; $(grep -h 'muxshim' "$T/mux.err" | head -2 | tr '\n' ' ')"
        return
    fi
    compare_sides "$name"
}

# The banner is what plain ssh prints: check that it does, so the differential means it.
run_side plain 'ssh lab true'
if grep -q 'Authorized use only' "$T/plain.err"; then
    ok banner-shown-by-ssh
else
    notok banner-shown-by-ssh "plain ssh printed no banner: $(head -c 300 "$T/plain.err")"
fi

# pq_sshd EXTRA [OPENSSH]: a DEBUG1 sshd in $T/q (sshd_config lines EXTRA) whose host key
# the account knows, its port SSHD_PORT; with OPENSSH (a directory of OpenSSH 10's
# programs) the sshd is its, and so is the user's ssh (PQPATH puts it first on PATH).
# pq_sshd_end stops it and forgets its key.
pq_sshd() {
    local extra="LogLevel DEBUG1${1:+
$1}" o=${2:-}
    PQPATH=
    if [ -n "$o" ]; then
        extra="$extra
SshdSessionPath $o/sshd-session
SshdAuthPath $o/sshd-auth"
        mkdir -p "$T/ssh10" && ln -sf "$o/ssh" "$T/ssh10/ssh"
        PQPATH="PATH=$T/ssh10:\$PATH "
    fi
    SSHD_BIN=${o:+$o/sshd} SSHD_USER=$U SSHD_EXTRA=$extra sshd_start "$T/q" >/dev/null || exit 1
    cp "$T/s/authorized_keys" "$T/q/authorized_keys"
    chmod 644 "$T/q/authorized_keys"
    cp -a "$T/ssh.pristine" "$T/ssh.keep"
    printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$T/q/host_ed25519.pub")" >>"$T/ssh.pristine/known_hosts"
}
pq_sshd_end() {
    rm -rf "$T/ssh.pristine" && mv "$T/ssh.keep" "$T/ssh.pristine"
    sshd_stop "$T/q"
}
# kex_lines: the exchanges sshd logged, in order, one line ("kex: algorithm: …" per key
# exchange, rekeys included)
kex_lines() { grep -o 'kex: algorithm: [^ ]*' "$T/q/sshd.log" | sed 's/.*: //' | tr '\n' ' '; }

# OpenSSH 10.1 and later warn of a key exchange that is not post-quantum (issue 22 item 3):
# with that ssh first on PATH (MUXSHIM_OPENSSH_WARN, a directory of its programs, as
# `scripts/openssh10.sh build sid` builds them; tests/openssh10.sh sets it), the session
# through the shim prints ssh's three warning lines, in ssh's place among the other stderr
# lines (before the banner), exactly where plain ssh does: a classical-only server (with
# ssh's defaults), and never against a post-quantum server, with KexAlgorithms set by the
# user, with WarnWeakCrypto=no or under LogLevel ERROR. Each case is served by the broker.
# MUXSHIM_ENGINE_ONLY=warn runs only these.
WARN_LINE='** WARNING: connection is not using a post-quantum key exchange algorithm.'
if [ -z "${MUXSHIM_OPENSSH_WARN:-}" ]; then
    skip pq-warn "no OpenSSH 10.1+ given (make check-openssh10 runs these with one)"
elif [[ "$version" != *"post-quantum key exchange: "*sntrup761x25519* ]]; then
    skip pq-warn "$version"
else
    mkdir -p "$T/sshwarn" && ln -sf "$MUXSHIM_OPENSSH_WARN/ssh" "$T/sshwarn/ssh"
    WPATH="PATH=$T/sshwarn:\$PATH "
    echo "# pq-warn: user's ssh $("$T/sshwarn/ssh" -V 2>&1)"
    # wcase NAME WARNS SESSIONS SNIPPET: scase (differential, SESSIONS served), and plain ssh printed the
    # warning (WARNS 1: the three lines per session, before the banner) or not (0), so that the
    # differential means it.
    wcase() {
        local name=$1 warns=$2 n
        scase "$name" "$3" "$4"
        n=$(grep -cF -e "$WARN_LINE" -e '** This session may be vulnerable to "store now, decrypt later" attacks.' \
            -e '** The server may need to be upgraded. See https://openssh.com/pq.html' "$T/plain.err")
        if [ "$warns" = 1 ] && { [ "$n" -ne $((3 * $3)) ] || ! grep -A10 -F "$WARN_LINE" "$T/plain.err" | grep -q 'Authorized use only'; }; then
            notok "$name/ssh-warns" "plain ssh printed $n of the warning lines (want 3, before the banner): $(head -c 400 "$T/plain.err")"
        elif [ "$warns" = 0 ] && [ "$n" -ne 0 ]; then
            notok "$name/ssh-warns" "plain ssh printed the warning: $(head -c 400 "$T/plain.err")"
        else
            ok "$name/ssh-warns (plain ssh: $n warning lines)"
        fi
        [ "$warns" = 0 ] || tr -d '\r' <"$T/plain.err" | sed 's/^/#   plain ssh stderr: /'
    }
    # A server that offers only curve25519-sha256, showing the banner.
    pq_sshd "KexAlgorithms curve25519-sha256
Banner $T/banner"
    # (two sessions: the second rides the first's connection and is told as well)
    wcase pq-warn-classical-server 1 2 "${WPATH}ssh -p $SSHD_PORT 127.0.0.1 'echo w'; ${WPATH}ssh -p $SSHD_PORT 127.0.0.1 'echo w2'"
    wcase pq-warn-kex-set 0 1 "${WPATH}ssh -o KexAlgorithms=curve25519-sha256 -p $SSHD_PORT 127.0.0.1 'echo k'"
    wcase pq-warn-weakcrypto-no 0 1 "${WPATH}ssh -o WarnWeakCrypto=no -p $SSHD_PORT 127.0.0.1 'echo n'"
    wcase pq-warn-loglevel-error 0 1 "${WPATH}ssh -o LogLevel=ERROR -p $SSHD_PORT 127.0.0.1 'echo e'"
    pq_sshd_end
    # This machine's sshd with its defaults (sntrup761x25519 negotiated): no warning.
    pq_sshd "Banner $T/banner"
    wcase pq-warn-pq-server 0 1 "${WPATH}ssh -p $SSHD_PORT 127.0.0.1 'echo p'"
    pq_sshd_end
    # The same OpenSSH as the server (mlkem768x25519-sha256): no warning.
    pq_sshd "Banner $T/banner" "$MUXSHIM_OPENSSH_WARN"
    wcase pq-warn-mlkem-server 0 1 "${WPATH}ssh -p $SSHD_PORT 127.0.0.1 'echo m'"
    if grep -q 'kex: algorithm: mlkem768x25519-sha256' "$T/q/sshd.log"; then
        ok "pq-warn-mlkem-server/kex (sshd: $(kex_lines))"
    else
        notok pq-warn-mlkem-server/kex "sshd negotiated $(kex_lines)"
    fi
    pq_sshd_end
fi
if [ "${MUXSHIM_ENGINE_ONLY:-}" = warn ]; then
    as_test_account "$U" env MUXSHIM_DIR="$RT" "$MUXSSH" --mux-status | sed 's/^/#   /'
    [ "$failures" -eq 0 ]
    exit
fi

if [ "$old" = 1 ]; then
    # The one switch (engine_old): an RSA key goes to the real ssh, which shows the banner.
    run_side plain 'ssh lab "echo rsa"'
    before=$(counters)
    run_side mux 'ssh lab "echo rsa"'
    after=$(counters)
    if [ $((${after#* } - ${before#* })) -ge 1 ]; then
        compare_sides rsa-handed-to-ssh
    else
        notok rsa-handed-to-ssh "counters $before -> $after"
    fi
    skip rsa-agent "$version signs RSA keys with SHA-1 only"
    skip banner-quiet "$version has no banner"
    skip banner-batchmode "$version has no banner"
else
    # An RSA-3072 key, the account's only one: logs in with rsa-sha2, banner and all; the
    # second session shares the connection and still shows the banner, as ssh's own login.
    scase rsa-identity-file 2 'ssh lab "echo rsa; echo err >&2"; ssh lab "exit 5"; echo "rc $?"'
    # An agent that holds an RSA key (and the file key gone): the agent signs with rsa-sha2.
    scase rsa-agent 1 'rm -f ~/.ssh/id_rsa ~/.ssh/id_rsa.pub; eval "$(ssh-agent -s)" >/dev/null &&
        ssh-add -q ~/agent_rsa && ssh lab "echo agent"; rc=$?; ssh-agent -k >/dev/null; echo "rc $rc"'
    # No banner under -q or LogLevel ERROR, as in ssh.
    scase banner-quiet 2 'ssh -q lab "echo q"; ssh -o LogLevel=ERROR lab "echo error"'
    scase banner-batchmode 1 'ssh -o BatchMode=yes lab "echo batch"'
fi

# Agent forwarding (-A, ForwardAgent): the broker joins the server's auth-agent channels to
# the session's agent. Each snippet starts its own agent and removes the file key, so every
# login (the remote's second hop included) can only come from an agent.
AGENT='rm -f ~/.ssh/id_rsa ~/.ssh/id_rsa.pub; eval "$(ssh-agent -s)" >/dev/null && ssh-add -q ~/agent_rsa; '
KILL='; ssh-agent -k >/dev/null'
# mcase NAME CONNS WANT SESSIONS SNIPPET: scase, the shim side's stdout is WANT (so that the
# differential means it), and it opened CONNS connections to sshd.
mcase() {
    local name=$1 conns=$2 want=$3
    shift 3
    scase "$name" "$@"
    if [ "$(tr '\n' '|' <"$T/mux.out")" != "$want" ]; then
        notok "$name/output" "stdout $(tr '\n' '|' <"$T/mux.out"), want $want"
    elif [ "$MUX_CONNS" = "$conns" ]; then
        ok "$name/connections ($conns)"
    else
        notok "$name/connections" "the shim side opened $MUX_CONNS connections, want $conns"
    fi
}
if [ "$old" = 1 ]; then
    run_side plain "${AGENT}ssh -A lab ssh-add -l$KILL"
    before=$(counters)
    run_side mux "${AGENT}ssh -A lab ssh-add -l$KILL"
    after=$(counters)
    if [ $((${after#* } - ${before#* })) -ge 1 ]; then
        compare_sides agent-forward-handed-to-ssh
    else
        notok agent-forward-handed-to-ssh "counters $before -> $after"
    fi
else
    # The remote lists the local agent's keys, as with plain ssh -A; ForwardAgent yes shares.
    mcase agent-forward-list 1 "3072 $(ssh-keygen -lf "$H/agent_rsa.pub" | cut -d' ' -f2) engine-agent (RSA)|1|" 2 "${AGENT}"'ssh -A lab ssh-add -l; ssh -o ForwardAgent=yes lab "ssh-add -l | wc -l"'"$KILL"
    # A second hop from the remote (plain ssh there) logs in with the forwarded agent only.
    mcase agent-second-hop 2 'hop2|' 1 "${AGENT}"'ssh -A lab "ssh -o BatchMode=yes lab echo hop2"'"$KILL"
    # Two agents at once, one key each: each session forwards its own, on its own connection.
    mcase agent-two-agents 2 '2|1|' 2 "${AGENT}"'A1=$SSH_AUTH_SOCK P1=$SSH_AGENT_PID
        eval "$(ssh-agent -s)" >/dev/null && ssh-add -q ~/agent_rsa && ssh-keygen -q -t ed25519 -N "" -f ~/e2 && ssh-add -q ~/e2
        (SSH_AUTH_SOCK=$A1 ssh -A lab "sleep 1; ssh-add -l | wc -l" >a1.out) & SSH_AUTH_SOCK=$SSH_AUTH_SOCK ssh -A lab "ssh-add -l | wc -l"; wait; cat a1.out
        rm -f ~/e2 ~/e2.pub; ssh-agent -k >/dev/null; SSH_AGENT_PID=$P1 ssh-agent -k >/dev/null'
    # ForwardAgent naming a socket by a relative path, and through a variable whose value is
    # one: read from the caller's directory, as ssh does (an empty second agent, so the
    # remote tells it from the first). Both name the same socket: one connection.
    mcase agent-forward-relative 1 'The agent has no identities.|rc 1|rc 1|' 2 "${AGENT}"'ssh-agent -a fwd.sock -s >fwd.env
        ssh -o ForwardAgent=fwd.sock lab "ssh-add -l; echo rc \$?"; MYFWD=fwd.sock ssh -o "ForwardAgent=\$MYFWD" lab "ssh-add -l >/dev/null; echo rc \$?"
        (. ./fwd.env >/dev/null; ssh-agent -k >/dev/null)'"$KILL"
    # A session without -A after one with it: the connection that forwards an agent is not
    # shared (sshd gives its agent to every later session on it), so the remote has no agent,
    # as with plain ssh; the other way round, an -A session still gets its agent.
    mcase agent-not-shared 2 'no agent|1|rc 2|' 4 "${AGENT}"'ssh -A lab true; ssh lab "echo \${SSH_AUTH_SOCK:-no agent}"
        ssh -A lab "ssh-add -l | wc -l"; ssh lab "ssh-add -l >/dev/null 2>&1; echo rc \$?"'"$KILL"
fi

# Strict key exchange (kex-strict-*-v00@openssh.com): sshd logs it at debug level only, so
# ask a second sshd at LogLevel DEBUG3 about one broker login.
if [ "$old" = 0 ]; then
    SSHD_USER=$U SSHD_EXTRA="LogLevel DEBUG3" sshd_start "$T/d" >/dev/null || exit 1
    cp "$T/s/authorized_keys" "$T/d/authorized_keys"
    chmod 644 "$T/d/authorized_keys"
    printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$T/d/host_ed25519.pub")" >>"$T/ssh.pristine/known_hosts"
    run_side mux "ssh -p $SSHD_PORT 127.0.0.1 'echo strict'"
    if grep -q 'strict' "$T/mux.out" && grep -qi 'strict KEX' "$T/d/sshd.log"; then
        ok "strict-kex ($(grep -i -m1 'strict KEX' "$T/d/sshd.log" | sed 's/^.*debug[0-9]: //'))"
    else
        notok strict-kex "out: $(head -c 200 "$T/mux.out"); sshd: $(grep -i -m2 'kex' "$T/d/sshd.log" | tr '\n' ' ')"
    fi
    sshd_stop "$T/d"
fi

# Post-quantum key exchange (issue 22): the server's own log (sshd at DEBUG1 prints "kex:
# algorithm: …" per connection) must show the same exchange for plain ssh and for the
# broker, a post-quantum one where this ssh lists one first; and a server that accepts only
# sntrup761x25519-sha512@openssh.com is served. Needs our libssh2 (scripts/libssh2.sh): a
# LIBSSH2=system build has no post-quantum exchange, so these are skipped there.
if [[ "$version" != *"post-quantum key exchange: "*sntrup761x25519* ]]; then
    skip pq-kex-same-as-ssh "$version"
    skip pq-only-server "$version"
    for c in pq-no-classical-ride pq-verbose-kex-lines pq-classical-server-shared pq-rekey-bulk; do
        skip "$c" "$version"
    done
else
    # pq_case NAME KEXALGORITHMS [OPENSSH]: plain ssh then the shim each open one connection
    # to pq_sshd; both kex lines equal and post-quantum, the broker served the session
    # (scase: differential, counters, no master).
    pq_case() {
        local name=$1 kex=$2 o=${3:-} log plain mux
        pq_sshd "${kex:+KexAlgorithms $kex}" "$o"
        log=$T/q/sshd.log
        scase "$name" 1 "${PQPATH}ssh -p $SSHD_PORT 127.0.0.1 'echo pq'"
        # the first connection's line is plain ssh's, the second the broker's
        plain=$(grep -o 'kex: algorithm: [^ ]*' "$log" | sed -n '1s/.*: //p')
        mux=$(grep -o 'kex: algorithm: [^ ]*' "$log" | sed -n '2s/.*: //p')
        if [ "$(grep -c 'kex: algorithm: ' "$log")" -ne 2 ]; then
            notok "$name/kex" "sshd logged $(grep -c 'kex: algorithm: ' "$log") key exchanges, want 2 (plain ssh, the broker)"
        elif [ "$plain" != "$mux" ]; then
            notok "$name/kex" "plain ssh negotiated $plain, the broker $mux"
        elif [[ "$plain" != sntrup761x25519-* && "$plain" != mlkem* ]]; then
            notok "$name/kex" "plain ssh negotiated $plain: not post-quantum, the case means nothing"
        else
            ok "$name/kex (sshd: kex: algorithm: $mux, for plain ssh and the broker)"
        fi
        pq_sshd_end
    }
    # This machine's ssh and sshd, each with its defaults.
    pq_case pq-kex-same-as-ssh ""
    # A server that takes only OpenSSH's name of sntrup761x25519 (libssh2 1.11.1 alone fails
    # the handshake there).
    pq_case pq-only-server sntrup761x25519-sha512@openssh.com
    # OpenSSH 10.0 (Debian 13's source, built into the build directory once) on both sides,
    # its server taking only mlkem768x25519-sha256.
    if o10=$("$ROOT/scripts/openssh10.sh" "$ROOT/build" 2>"$T/o10.err"); then
        pq_case pq-mlkem-openssh10 mlkem768x25519-sha256 "$o10"
    else
        notok pq-mlkem-openssh10 "no OpenSSH 10: $(head -c 300 "$T/o10.err")"
    fi

    # mux_kex: the exchanges sshd logged for the connections after plain ssh's first NPLAIN
    # (sshd logs "Connection from" before each connection's key exchanges).
    mux_kex() {
        awk -v n="$1" '/Connection from/ { c++ } c > n && /kex: algorithm: / { sub(/.*kex: algorithm: /, ""); printf "%s ", $1 }' "$T/q/sshd.log"
    }
    # Sharing (issue 22 item 2). A session whose own list gets a post-quantum exchange from
    # this server does not ride the connection a classical session (-o KexAlgorithms=…) made:
    # the broker makes a second one, and each gets what plain ssh got.
    pq_sshd ""
    scase pq-no-classical-ride 2 "ssh -o KexAlgorithms=curve25519-sha256 -p $SSHD_PORT 127.0.0.1 'echo classical'; ssh -p $SSHD_PORT 127.0.0.1 'echo pq'"
    plain=$(kex_lines | cut -d' ' -f1-2)
    mux=$(mux_kex 2)
    if [ "$(sshd_connections "$T/q")" -ne 4 ]; then
        notok pq-no-classical-ride/connections "sshd saw $(sshd_connections "$T/q") connections, want 4 (2 plain ssh, 2 the broker)"
    elif [ "$mux" != "$plain " ] || [[ "$mux" != "curve25519-sha256 sntrup761x25519-"* ]]; then
        notok pq-no-classical-ride/kex "plain ssh negotiated $plain, the broker $mux"
    else
        ok "pq-no-classical-ride/kex (2 connections of the broker, sshd: $mux)"
    fi
    # ssh -v prints its "kex: algorithm:" and "kex: host key algorithm:" lines: so does the
    # session through the shim, riding the broker's post-quantum connection (the lines are
    # the snippet's stdout, so the differential compares them).
    scase pq-verbose-kex-lines 1 "ssh -v -p $SSHD_PORT 127.0.0.1 'echo v' 2>&1 >/dev/null | tr -d '\\r' | grep -E '^debug1: kex: (algorithm|host key algorithm):'"
    if [ "$(grep -c '^debug1: kex: ' "$T/mux.out")" -eq 2 ] && grep -q 'algorithm: sntrup761x25519-' "$T/mux.out"; then
        ok "pq-verbose-kex-lines/printed ($(tr '\n' ' ' <"$T/mux.out"))"
    else
        notok pq-verbose-kex-lines/printed "through the shim: $(tr '\n' ' ' <"$T/mux.out")"
    fi
    pq_sshd_end
    # A server that offers no post-quantum exchange: two default sessions share one
    # classical connection, as before.
    pq_sshd "KexAlgorithms curve25519-sha256"
    scase pq-classical-server-shared 2 "ssh -p $SSHD_PORT 127.0.0.1 'echo one'; ssh -p $SSHD_PORT 127.0.0.1 'echo two'"
    mux=$(mux_kex 2)
    if [ "$(sshd_connections "$T/q")" -eq 3 ] && [ "$mux" = "curve25519-sha256 " ]; then
        ok "pq-classical-server-shared/one-connection (sshd: $mux)"
    else
        notok pq-classical-server-shared/one-connection "sshd saw $(sshd_connections "$T/q") connections (want 3: 2 plain ssh, 1 the broker), the broker's exchanges: $mux"
    fi
    pq_sshd_end
    # Rekeys on a served connection (issue 22 item 1): sshd starts a key exchange every 4 MB
    # during a bulk transfer; it runs inside libssh2 on the broker's loop, with the KEM key
    # pair a worker made ahead (broker/pool/kex.c). The output is plain ssh's; the broker's
    # connection rekeyed (sshd's log), each time with a pair made ahead (the status counts
    # them: at least one per rekey), and its loop's longest turn is printed (a fresh broker,
    # so the figure is this case's; not asserted, the machine's load decides it).
    mux_stop "$RT"
    sleep 0.5
    pq_sshd "RekeyLimit 4M 1s"
    scase pq-rekey-bulk 1 "ssh -p $SSHD_PORT 127.0.0.1 'seq 1 6000000' | sha256sum"
    mux=$(mux_kex 1)
    st=$(broker_status "$MUXSSH" "$RT" "$U")
    given=$(echo "$st" | grep "$SSHD_PORT" | sed -n 's/.*, KEM key pairs made ahead \([0-9]*\).*/\1/p')
    if [ "$(echo "$mux" | wc -w)" -lt 3 ]; then
        notok pq-rekey-bulk/rekeyed "the broker's connection did not rekey twice: sshd logged $mux"
    elif [[ "$mux" != sntrup761x25519-* ]] || [ "${given:-0}" -lt $(($(echo "$mux" | wc -w) - 1)) ]; then
        # each rekey took a pair made ahead (none was made on the loop)
        notok pq-rekey-bulk/rekeyed "exchanges $mux; KEM key pairs made ahead: ${given:-none}"
    else
        ok "pq-rekey-bulk/rekeyed ($(($(echo "$mux" | wc -w) - 1)) rekeys, ${given} KEM key pairs made ahead)"
    fi
    echo "# pq-rekey-bulk: $(echo "$st" | grep '^loop:')"
    pq_sshd_end
fi

as_test_account "$U" env MUXSHIM_DIR="$RT" "$MUXSSH" --mux-status | sed 's/^/#   /'
[ "$failures" -eq 0 ]
