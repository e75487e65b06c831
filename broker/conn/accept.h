/* Sharing: may a session use one ready connection of its authority? */
#ifndef MUXSHIM_ACCEPT_H
#define MUXSHIM_ACCEPT_H

#include <stddef.h>

#include "conn.h"
#include "sshconfig.h"

/* What a session's sharing decision needs from files, read by its resolve job (a worker),
 * so that conn_accepts compares in memory on the loop. */
struct accept_files {
    char *known;                       /* the lines of its known_hosts files naming the host */
    struct keyid ids[HC_MAX_FILES];    /* each IdentityFile's public key (ids[i] of file i) ... */
    int have[HC_MAX_FILES];            /* ... when it could be read; ... */
    int exists[HC_MAX_FILES];          /* ... whether the file exists */
    struct keyid beside[HC_MAX_FILES]; /* the certificate beside identity file i ... */
    int beside_have[HC_MAX_FILES];     /* ... when it holds one; ... */
    struct keyid beside_plain[HC_MAX_FILES]; /* ... the key it certifies */
    struct keyid certs[HC_MAX_FILES];        /* each CertificateFile's certificate ... */
    int cert_have[HC_MAX_FILES];             /* ... when it holds one; ... */
    struct keyid cert_plain[HC_MAX_FILES];   /* ... the key it certifies */
    int kh_writable; /* a key can be added to the first UserKnownHostsFile */
};

/* Read them for cfg (blocking: a worker's). NULL when out of memory. */
struct accept_files *accept_files_read(const struct hostcfg *cfg);
/* Free a (NULL is fine). */
void accept_files_free(struct accept_files *a);
/* 1 when a session with cfg (env: the client's environment) may use a connection of its
 * authority described by f: (a) its host key is one cfg's known_hosts files and
 * StrictHostKeyChecking accept without asking (*learn 0: the files (or the same
 * KnownHostsCommand's lines) know it, as ssh's HOST_OK, which VisualHostKey shows; 1: it is
 * new to them and the policy, accept-new or no, lets ssh add it; 2: let in without being
 * known, by that policy with no file to add it to, or by a validated SSHFP record); (b) no key
 * logged it in, or the key that did is the one the session would log in with: the first of its
 * certificates, agent's keys (the same agent only) and identity files, in ssh's order
 * (offer.h), that the server did not refuse (a certificate is a key of its own: another
 * certificate of the same key never shares; a certificate file counts only when the session
 * can sign with the key it certifies, through the same agent or an identity file, as ssh
 * skips one it cannot); (c) its negotiated kex, host key algorithm, ciphers
 * and MACs are in cfg's lists; (d) its peer's address family satisfies AddressFamily; (e) it
 * forwards the agent the session would forward (accept_fwd_agent), or none when the session
 * forwards none. Else 0 with a one-line reason in why. af is what accept_files_read read for cfg
 * (NULL: 0); reads no file, but connects to the agent for (e). Loop only. */
int conn_accepts(const struct conn_facts *f, const struct hostcfg *cfg,
                 const struct accept_files *af, char *const *env, int *learn, char *why,
                 size_t whylen);
/* The agent socket a session with cfg and env forwards, as ssh picks it, into out ("" when
 * it forwards none): ForwardAgent yes the agent it would use (IdentityAgent, else its
 * SSH_AUTH_SOCK), a path that path ($NAME was made its value with the config); and none
 * at all when that agent does not answer a connect. Loop only. */
void accept_fwd_agent(const struct hostcfg *cfg, char *const *env, char *out, size_t outlen);

#endif
