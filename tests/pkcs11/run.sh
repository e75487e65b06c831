#!/bin/bash
# PKCS#11 tokens as users run them: the test account with its own ~/.ssh, no -F, the system's
# /etc/ssh/ssh_config, a SoftHSM2 token (its configuration in the account's
# ~/.config/softhsm2) holding a key generated on the token, the only key the server takes
# (no copy in a file or an agent); an ECDSA key, then an RSA one. PKCS11Provider in ~/.ssh/config and -I; the PIN through
# SSH_ASKPASS (SSH_ASKPASS_REQUIRE=force), counted: plain ssh asks it for every session, the
# shim once for the connection. Each case runs through plain ssh and through the shim: the
# same output and exit code, the broker served the session (its counters), nothing handed to
# ssh, no OpenSSH master, no ssh-pkcs11-helper left once the login is over. A wrong PIN and a
# cancelled question end as in ssh, with its words; another provider gets its own connection;
# BatchMode goes to ssh.
#
#   tests/pkcs11/run.sh BUILD      (as root)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
SUITE=pkcs11
# shellcheck source=../lib-cases.sh
. "$ROOT/tests/lib-cases.sh"
LIBP11=/usr/lib/softhsm/libsofthsm2.so
if [ ! -f "$LIBP11" ] || ! command -v pkcs11-tool >/dev/null; then
    skip all "no SoftHSM2 or pkcs11-tool (scripts/install-deps.sh installs softhsm2, opensc)"
    exit 0
fi
account_suite pkcs11

test_account "$U" "$H" || exit 1
SSHD_USER=$U sshd_start "$T/s" >/dev/null || exit 1
# The token, the account's own: SoftHSM reads ~/.config/softhsm2/softhsm2.conf.
mkdir -p "$H/.config/softhsm2" "$H/.softhsm2/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$H/.softhsm2/tokens" >"$H/.config/softhsm2/softhsm2.conf"
chown -R "$U:" "$H"
as_u softhsm2-util --init-token --free --label "muxshim token" --pin 1234 --so-pin 5678 >/dev/null ||
    { notok setup "softhsm2-util --init-token failed"; exit 1; }
as_u pkcs11-tool --module "$LIBP11" --login --pin 1234 --keypairgen --key-type EC:prime256v1 \
    --label tokkey --id 01 >/dev/null 2>&1 || { notok setup "pkcs11-tool --keypairgen failed"; exit 1; }
as_u pkcs11-tool --module "$LIBP11" --login --pin 1234 --keypairgen --key-type rsa:2048 \
    --label tokrsa --id 02 >/dev/null 2>&1 || { notok setup "pkcs11-tool --keypairgen rsa failed"; exit 1; }
# The server takes one of the token's keys only: the ECDSA one, later the RSA one.
as_u ssh-keygen -D "$LIBP11" >"$T/keys"
grep '^ecdsa' "$T/keys" >"$T/s/authorized_keys"
grep '^ssh-rsa' "$T/keys" >"$T/rsa.pub"
[ "$(wc -l <"$T/keys")" = 2 ] && [ -s "$T/rsa.pub" ] || { notok setup "ssh-keygen -D: $(cat "$T/keys")"; exit 1; }
fp=$(ssh-keygen -lf "$T/s/authorized_keys" | awk '{ print $2 }')
fp_rsa=$(ssh-keygen -lf "$T/rsa.pub" | awk '{ print $2 }')
# Another name for the same library: another provider.
ln -s "$LIBP11" "$T/other-provider.so"
S=$H/.ssh
cp "$T/s/known_hosts" "$S/known_hosts"
printf 'Host lab\n    HostName 127.0.0.1\n    Port %s\n    PKCS11Provider %s\n' "$SSHD_PORT" "$LIBP11" >"$S/config"
printf 'Host lab-other\n    HostName 127.0.0.1\n    Port %s\n    PKCS11Provider %s\n' "$SSHD_PORT" "$T/other-provider.so" >>"$S/config"
printf 'Host lab-i\n    HostName 127.0.0.1\n    Port %s\n' "$SSHD_PORT" >>"$S/config"
# The askpass: notes each question in $W/asked; $PIN answers ("cancel": no answer).
cat >"$T/askpass" <<'EOF'
#!/bin/sh
printf '%s\n' "$1" >>"$W/asked"
[ "${PIN:-}" = cancel ] && exit 1
printf '%s\n' "${PIN:-1234}"
EOF
chmod 755 "$T/askpass"
mkdir -m 700 "$RT"
chown -R "$U:" "$H" "$RT"
cp -a "$S" "$T/ssh.pristine"
ASK=(SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force)

mux_conns=0
# asked SIDE: how many PIN questions that side's askpass got, and the first one
asked() { printf '%s %s' "$(cat "$T/asked.$1" 2>/dev/null | wc -l)" "$(head -1 "$T/asked.$1" 2>/dev/null)"; }
# want_asked N: what asked prints for N questions in ssh's words
want_asked() { if [ "$1" = 0 ]; then printf '0 '; else printf "%s Enter PIN for 'muxshim token': " "$1"; fi; }
# pcase NAME SERVED PLAIN_ASKED MUX_ASKED SNIPPET: differential; the broker served SERVED
# sessions and handed none to ssh; plain ssh was asked the PIN PLAIN_ASKED times, the shim
# MUX_ASKED times, with ssh's words
pcase() {
    local name=$1 want=$2 pa=$3 ma=$4 before after
    rm -f "$T/asked.plain" "$T/asked.mux"
    run_side plain "$5"
    cp "$W/asked" "$T/asked.plain" 2>/dev/null
    before=$(broker_counters "$MUXSSH" "$RT" "$U")
    run_side mux "$5"
    cp "$W/asked" "$T/asked.mux" 2>/dev/null
    after=$(broker_counters "$MUXSSH" "$RT" "$U")
    SERVED=$((${after% *} - ${before% *})) HANDED=$((${after#* } - ${before#* }))
    if [ "$HANDED" -ne 0 ] || [ "$SERVED" -ne "$want" ]; then
        notok "$name" "served $SERVED (want $want), handed to ssh $HANDED ($(broker_handed_why "$MUXSSH" "$RT" "$U")); err: $(head -c 300 "$T/mux.err" | tr '\n' ' ')"
        return
    fi
    compare_sides "$name"
    local p m
    p=$(asked plain) m=$(asked mux)
    [ "$p" = "$(want_asked "$pa")" ] && [ "$m" = "$(want_asked "$ma")" ] && ok "$name-pin-asked-$pa-vs-$ma" ||
        notok "$name-pin-asked-$pa-vs-$ma" "plain ssh: $p; the shim: $m"
}
# the key sshd logged for the last login
logged() { grep "Accepted publickey" "$T/s/sshd.log" | tail -1 | tr -d '\r' | sed -n 's/.*ssh2: [A-Z0-9-]* \(SHA256:[^ ]*\).*/\1/p'; }
helpers() { pgrep -u "$U" -f ssh-pkcs11-helper | wc -l; }

SIDE_ENV=("${ASK[@]}")
ten='for i in 1 2 3 4 5 6 7 8 9 10; do ssh lab "echo session \$i"; done; echo rc $?'
pcase ten-sessions-one-pin 10 10 1 "$ten"
sleep 0.3 # sshd's log line may come after the session's output
got=$(logged)
[ "$got" = "$fp" ] && ok "sshd-logged-the-token-key" || notok "sshd-logged-the-token-key" "sshd logged $got, the token's key is $fp"
[ "$mux_conns" = 1 ] && ok "ten-sessions-one-connection" || notok "ten-sessions-one-connection" "the shim's side made $mux_conns TCP connections"
[ "$(helpers)" = 0 ] && ok "helper-stopped-after-login" || notok "helper-stopped-after-login" "$(helpers) ssh-pkcs11-helper still running"
echo "# PIN questions for ten sessions: plain ssh $(asked plain | cut -d' ' -f1), the shim $(asked mux | cut -d' ' -f1)"

# -I on the command line: the same provider and key share the connection (no question).
pcase dash-i-shares 1 1 0 "ssh -I $LIBP11 lab-i 'echo dash-I'; echo rc \$?"
# Another provider (another path to the library) is another login: its own connection.
c0=$mux_conns
pcase other-provider-own-connection 2 2 1 "ssh lab-other 'echo other'; ssh lab-other 'echo other again'; echo rc \$?"
[ $((mux_conns - c0)) = 1 ] && ok "other-provider-one-new-connection" ||
    notok "other-provider-one-new-connection" "the shim's side made $((mux_conns - c0)) TCP connections (want 1)"

# A wrong PIN and a cancelled question, on a broker that holds no connection: ssh's words
# and 255, said by the broker (neither served nor handed).
mux_stop "$RT"
sleep 0.5
SIDE_ENV=("${ASK[@]}" PIN=4321)
pcase wrong-pin 0 1 1 "ssh lab 'echo never'; echo rc \$?"
tr -d '\r' <"$T/plain.err" | sed 's/^/# a wrong PIN, ssh said: /'
SIDE_ENV=("${ASK[@]}" PIN=cancel)
pcase cancelled-pin 0 1 1 "ssh lab 'echo never'; echo rc \$?"
# An RSA key on the token, the only one the server takes now: signed with rsa-sha2-512.
cp "$T/rsa.pub" "$T/s/authorized_keys"
mux_stop "$RT"
sleep 0.5
SIDE_ENV=("${ASK[@]}")
pcase rsa 2 2 1 "ssh lab 'echo rsa'; ssh lab 'echo rsa again'; echo rc \$?"
sleep 0.3
got=$(logged)
[ "$got" = "$fp_rsa" ] && ok "sshd-logged-the-token-rsa-key" || notok "sshd-logged-the-token-rsa-key" "sshd logged $got, the token's RSA key is $fp_rsa"

# BatchMode: ssh's token asks nothing and says "pin required": the session goes to ssh.
SIDE_ENV=("${ASK[@]}")
both_sides "ssh -o BatchMode=yes lab 'echo never'; echo rc \$?"
if [ "$SERVED" = 0 ] && [ "$HANDED" = 1 ]; then
    compare_sides batchmode-handed-to-ssh
else
    notok batchmode-handed-to-ssh "served $SERVED, handed to ssh $HANDED (want 0, 1)"
fi
[ "$(helpers)" = 0 ] && ok "no-helper-left" || notok "no-helper-left" "$(helpers) ssh-pkcs11-helper still running"

echo "# broker status:"
broker_status "$MUXSSH" "$RT" "$U" | sed 's/^/#   /'
masters=$(openssh_masters)
[ "$masters" = 0 ] && ok "no-openssh-master" || notok "no-openssh-master" "OpenSSH masters: $masters"
[ "$failures" -eq 0 ]
