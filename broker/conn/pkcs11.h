/* PKCS#11 tokens (PKCS11Provider, -I) without the vendor's library in the broker: the token's
 * public keys as OpenSSH's ssh-keygen -D lists them, and the login and the signatures through
 * OpenSSH's own ssh-pkcs11-helper (the agent protocol over a socket pair), started for one
 * connection's login and stopped after it. The PIN is asked through the client with ssh's
 * words and wiped once sent. */
#ifndef MUXSHIM_PKCS11_H
#define MUXSHIM_PKCS11_H

#include <libssh2.h>
#include <stddef.h>

#include "conn.h"

#define P11_MAX_KEYS 16 /* keys of one provider taken at most */

/* One public key on the token: its wire blob, label (the key's CKA_LABEL, as ssh names it)
 * and ssh's name of its type ("RSA", "ECDSA"). */
struct p11_key {
    unsigned char blob[CF_BLOB_MAX];
    size_t len;
    char label[256];
    char type[16];
};

struct p11;

/* The provider's public keys (ssh-keygen -D, found in the client's PATH, run with its
 * environment in its directory, pr's); NULL when it lists none or cannot run, after saying
 * through pr what ssh's PKCS#11 code said (when loglevel shows errors), or with *later set
 * (nothing said) when the token lists its keys only once logged in. Nothing is asked. */
struct p11 *p11_open(const char *provider, const struct conn_prompter *pr, int loglevel,
                     int *later);
/* How many keys, and key i. */
int p11_count(const struct p11 *t);
const struct p11_key *p11_key(const struct p11 *t, int i);
/* Log the token in through the helper (started on first use) for key i: when the token wants
 * a PIN, asked once through pr as ssh asks it ("Enter PIN for 'LABEL': "); on failure ssh's
 * lines are said (when loglevel shows errors). 0 logged in, -1 not, -2 not here (the PIN is
 * entered on the reader's keypad); *asked set when the user was asked. */
int p11_login(struct p11 *t, int i, const struct conn_prompter *pr, int loglevel, int *asked);
/* What p11_sign_cb signs with. */
struct p11_sign {
    struct p11 *t;
    int key;  /* index of the key */
    int sha1; /* set when libssh2 offered ssh-rsa (SHA-1): refused, nothing signed */
};
/* libssh2's sign callback (libssh2_userauth_publickey); *abstract points to a struct
 * p11_sign. The raw signature (malloc'd) for the algorithm libssh2 offered; -1 if the
 * helper refuses or is gone. */
LIBSSH2_USERAUTH_PUBLICKEY_SIGN_FUNC(p11_sign_cb);
/* Stop the helper (if started) and free t (NULL is fine). */
void p11_close(struct p11 *t);

#endif
