#!/bin/bash
# User certificates as users run them: the test account with its own ~/.ssh, no -F, the
# system's /etc/ssh/ssh_config, and a server that takes certificates only (TrustedUserCAKeys,
# AuthorizedKeysFile none). Each case runs through plain ssh and through the shim: the same
# output and exit code, the broker served the session (its counters), nothing handed to ssh,
# no OpenSSH master. Certificates beside their key, in CertificateFile (with the key in a
# file or in the agent only) and in the agent; ed25519, ECDSA and RSA (rsa-sha2-512); an
# expired one and one not valid yet (ssh's words); and two certificates of one key never
# share a connection, while two sessions with the same one do.
#
#   tests/cert/run.sh BUILD      (as root)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
SUITE=cert
# shellcheck source=../lib-cases.sh
. "$ROOT/tests/lib-cases.sh"
account_suite cert

test_account "$U" "$H" || exit 1
mkdir -p "$T/ca"
ssh-keygen -q -t ed25519 -N '' -C muxshim-test-ca -f "$T/ca/ca"
SSHD_USER=$U SSHD_EXTRA="TrustedUserCAKeys $T/ca/ca.pub
AuthorizedKeysFile none" sshd_start "$T/s" >/dev/null || exit 1
S=$H/.ssh
# sign KEY VALIDITY ID: KEY-cert.pub, a user certificate for the account signed by the CA
sign() { ssh-keygen -q -s "$T/ca/ca" -I "$3" -n "$U" -V "$2" "$1.pub"; }
newkey() { ssh-keygen -q -t "$1" -N '' -C "$(basename "$2")" -f "$2"; }
# The default key with its certificate beside it
newkey ed25519 "$S/id_ed25519" && sign "$S/id_ed25519" -5m:+1h beside
# CertificateFile with its IdentityFile; two certificates of one key (c1, c2)
mkdir -p "$S/certs" "$S/agent"
newkey ed25519 "$S/k3" && sign "$S/k3" -5m:+1h c1 && mv "$S/k3-cert.pub" "$S/certs/c1-cert.pub"
sign "$S/k3" -5m:+2h c2 && mv "$S/k3-cert.pub" "$S/certs/c2-cert.pub"
# A key for the agent, its certificate beside it (ssh-add adds both)
newkey ed25519 "$S/agent/ak" && sign "$S/agent/ak" -5m:+1h agent
# RSA and ECDSA keys with certificates beside them; an expired one and one not valid yet
newkey rsa "$S/rsa" && sign "$S/rsa" -5m:+1h rsa
newkey ecdsa "$S/ec" && sign "$S/ec" -5m:+1h ecdsa
newkey ed25519 "$S/old" && sign "$S/old" -2d:-1d expired
newkey ed25519 "$S/soon" && sign "$S/soon" +1d:+2d soon
cp "$T/s/known_hosts" "$S/known_hosts"
{
    printf 'Host lab\n    HostName 127.0.0.1\n    Port %s\n' "$SSHD_PORT"
    for h in certfile:'IdentityFile ~/.ssh/k3\n    CertificateFile ~/.ssh/certs/c1-cert.pub' \
        c2:'IdentityFile ~/.ssh/k3\n    CertificateFile ~/.ssh/certs/c2-cert.pub' \
        agent:'IdentityFile none' \
        agent-certfile:'IdentityFile none\n    CertificateFile ~/.ssh/agent/ak-cert.pub' \
        rsa:'IdentityFile ~/.ssh/rsa' ecdsa:'IdentityFile ~/.ssh/ec' \
        expired:'IdentityFile ~/.ssh/old' soon:'IdentityFile ~/.ssh/soon'; do
        printf "Host lab-%s\n    HostName 127.0.0.1\n    Port %s\n    ${h#*:}\n" "${h%%:*}" "$SSHD_PORT"
    done
} >"$S/config"
mkdir -m 700 "$RT"
chown -R "$U:" "$H" "$RT"
chmod 600 "$S"/id_ed25519 "$S"/k3 "$S"/agent/ak "$S"/rsa "$S"/ec "$S"/old "$S"/soon
cp -a "$S" "$T/ssh.pristine"

mux_conns=0
# ccase NAME SERVED SNIPPET: served_case (lib-cases.sh): differential, and the broker served
# SERVED more sessions and handed none to ssh
ccase() { served_case "$@"; }
# the CA's serial and key id of the certificate that logged the last session in (sshd's log)
LOGGED="sleep 0.2"
logged() { grep "Accepted publickey" "$T/s/sshd.log" | tail -1 | sed -n 's/.*ssh2: \([A-Z0-9-]*\) .* ID \([^ ]*\) .*/\1 \2/p'; }
# agent: start one for the snippet, add KEY (and the certificate beside it), run, stop it
AGENT='eval "$(ssh-agent -s)" >/dev/null; trap "ssh-agent -k >/dev/null" EXIT'

ccase beside 2 "ssh lab 'echo \$USER; echo beside' ; ssh lab true; echo rc \$?"
id_beside=$(logged)
[ "$id_beside" = "ED25519-CERT beside" ] && ok "beside-logged-in-by-cert" ||
    notok "beside-logged-in-by-cert" "sshd logged: $id_beside"
ccase certfile 1 "ssh lab-certfile 'echo certfile'; echo rc \$?"
[ "$(logged)" = "ED25519-CERT c1" ] && ok "certfile-logged-in-by-cert" ||
    notok "certfile-logged-in-by-cert" "sshd logged: $(logged)"
ccase agent 1 "$AGENT; ssh-add -q ~/.ssh/agent/ak 2>&1; ssh-add -l | wc -l; ssh lab-agent 'echo agent'; echo rc \$?"
[ "$(logged)" = "ED25519-CERT agent" ] && ok "agent-logged-in-by-cert" ||
    notok "agent-logged-in-by-cert" "sshd logged: $(logged)"
ccase agent-key-certfile 1 "$AGENT; cp ~/.ssh/agent/ak k; ssh-add -q k 2>&1; ssh-add -l | wc -l; ssh lab-agent-certfile 'echo agent key, certificate file'; echo rc \$?"
ccase rsa-sha2 1 "ssh lab-rsa 'echo rsa'; echo rc \$?"
[ "$(logged)" = "RSA-CERT rsa" ] && ok "rsa-logged-in-by-cert" ||
    notok "rsa-logged-in-by-cert" "sshd logged: $(logged)"
ccase ecdsa 1 "ssh lab-ecdsa 'echo ecdsa'; echo rc \$?"
# A certificate the server refuses: ssh's "Permission denied (publickey)." and 255, said by
# the broker (a session it answers with ssh's failure counts as neither served nor handed)
c0=$mux_conns
ccase expired 0 "ssh lab-expired 'echo never'; echo rc \$?"
ccase not-yet-valid 0 "ssh lab-soon 'echo never'; echo rc \$?"
[ $((mux_conns - c0)) = 2 ] && ok "refused-certificates-tried-by-the-broker" ||
    notok "refused-certificates-tried-by-the-broker" "the shim's side made $((mux_conns - c0)) TCP connections (want 2)"
for why in expired "not yet valid"; do
    [ "$(grep -c "Certificate invalid: $why" "$T/s/sshd.log")" -ge 2 ] && ok "server-saw-${why// /-}" ||
        notok "server-saw-${why// /-}" "sshd did not log the refused certificate on both sides"
done

# Sharing: c1 twice rides one connection, c2 (the same key) gets its own.
c0=$mux_conns
ccase share-same-cert-not-another 3 "ssh lab-certfile 'echo c1'; ssh lab-c2 'echo c2'; ssh lab-certfile 'echo c1 again'"
# the broker already held a c1 connection (certfile above): c2 makes the only new one
[ $((mux_conns - c0)) = 1 ] && ok "c2-own-connection" ||
    notok "c2-own-connection" "the shim's side made $((mux_conns - c0)) TCP connections (want 1: c2's)"
conns=$(broker_status "$MUXSSH" "$RT" "$U" | sed -n 's/.*\([0-9][0-9]*\) connections\{0,1\}.*/\1/p' | head -1)
echo "# broker status (connections: $conns):"
broker_status "$MUXSSH" "$RT" "$U" | sed 's/^/#   /'

masters=$(openssh_masters)
[ "$masters" = 0 ] && ok "no-openssh-master" || notok "no-openssh-master" "OpenSSH masters: $masters"
[ "$failures" -eq 0 ]
