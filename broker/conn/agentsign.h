/* Signing a login with a key the agent holds, for a public key blob libssh2 offers (a user
 * certificate): one SSH_AGENTC_SIGN_REQUEST of our own, so that RSA signs with rsa-sha2-512
 * or -256 as the offered algorithm says (libssh2's agent calls ask a certificate's RSA key
 * for SHA-1, and libssh2 1.10 has no libssh2_agent_sign). */
#ifndef MUXSHIM_AGENTSIGN_H
#define MUXSHIM_AGENTSIGN_H

#include <libssh2.h>
#include <stddef.h>

/* What agentsign_cb signs with, and what it saw. */
struct agentsign {
    const char *path;         /* the agent's socket */
    const unsigned char *key; /* the blob of the agent's key that signs (a certificate or
                                 the plain key it certifies) */
    size_t keylen;
    int sha1; /* set when libssh2 offered an algorithm that signs with SHA-1 (ssh-rsa,
                 ssh-rsa-cert-v01): refused, nothing was signed */
};

/* The public key algorithm named in a userauth request's signed data (RFC 4252 7: session
 * id, 50, user, service, "publickey", TRUE, algorithm, key) into out; 0, or -1 if it names
 * none or it does not fit. */
int agentsign_alg(const unsigned char *data, size_t len, char *out, size_t cap);
/* 1 if the algorithm signs with SHA-1 (ssh-rsa, ssh-rsa-cert-v01@openssh.com). */
int agentsign_alg_sha1(const char *alg);
/* libssh2's sign callback (libssh2_userauth_publickey); *abstract points to a struct
 * agentsign. The raw signature, malloc'd, for the algorithm libssh2 chose; -1 if the agent
 * is gone, refuses, answers for another algorithm, or that algorithm is SHA-1's. */
LIBSSH2_USERAUTH_PUBLICKEY_SIGN_FUNC(agentsign_cb);

#endif
