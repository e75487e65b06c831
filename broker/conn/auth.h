/* User authentication on a fresh libssh2 session, in OpenSSH's order. */
#ifndef MUXSHIM_AUTH_H
#define MUXSHIM_AUTH_H

#include <libssh2.h>
#include <stddef.h>
#include <sys/types.h>

#include "conn.h"
#include "sshconfig.h"

/* Authenticate as cfg->user: PreferredAuthentications order; publickey via the agent
 * (agent_sock or IdentityAgent) then unencrypted identity files; keyboard-interactive and
 * password only through prompter. Returns 0 when authenticated (how, in facts->login*);
 * -1 with a reason in err; -2 when the user was asked and auth still failed (err holds
 * ssh's "Permission denied"); -3 when an RSA key failed because libssh2 < 1.11 signs it
 * with SHA-1 only; -4 when ssh would log in with gssapi-with-mic (GSSAPIAuthentication on,
 * the server offers it before what would succeed, and krb5cc names Kerberos credentials
 * that exist): the real ssh should serve it; -5 when the stream was corrupted during the
 * login (libssh2's last error is the code it broke with). */
int auth_run(LIBSSH2_SESSION *s, const struct hostcfg *cfg, const char *agent_sock,
             const char *krb5cc, const struct conn_prompter *prompter, struct conn_facts *facts,
             char *err, size_t errlen);
/* 1 if the user holds Kerberos credentials as ssh's GSSAPI would find them: krb5cc is the
 * client's KRB5CCNAME (NULL: unset, then /tmp/krb5cc_<uid>); a FILE: or plain path counts
 * when it exists, any other cache type (KEYRING:, KCM:, DIR:, ...) always. */
int auth_krb5_creds(const char *krb5cc, uid_t uid);

#endif
