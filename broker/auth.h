/* User authentication on a fresh libssh2 session, in OpenSSH's order. */
#ifndef MUXSHIM_AUTH_H
#define MUXSHIM_AUTH_H

#include <libssh2.h>
#include <stddef.h>

#include "conn.h"
#include "sshconfig.h"

/* Authenticate as cfg->user: PreferredAuthentications order; publickey via the agent
 * (agent_sock or IdentityAgent) then unencrypted identity files; keyboard-interactive and
 * password only through prompter. Returns 0 when authenticated; -1 with a reason in err;
 * -2 when the user was asked and auth still failed (err holds ssh's "Permission denied");
 * -3 when an RSA key failed because libssh2 < 1.11 signs it with SHA-1 only (the real ssh
 * should serve this host). */
int auth_run(LIBSSH2_SESSION *s, const struct hostcfg *cfg, const char *agent_sock,
             const struct conn_prompter *prompter, char *err, size_t errlen);
/* 1 if the private key file text is encrypted (PEM Proc-Type, PKCS#8, openssh-key-v1). */
int auth_key_encrypted(const char *text, size_t len);

#endif
