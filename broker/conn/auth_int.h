/* What auth.c (the methods, in ssh's order) shares with pubkey.c (the publickey method). */
#ifndef MUXSHIM_AUTH_INT_H
#define MUXSHIM_AUTH_INT_H

#include <libssh2.h>

#include "conn.h"
#include "sshconfig.h"

/* What auth may ask of the user, and whether it did. */
struct auth_ui {
    const struct conn_prompter *pr; /* NULL: ask nothing (no client, or BatchMode) */
    int asked;                      /* the user answered at least one question */
    int rsa_refused;          /* an RSA key failed, and this libssh2 can only sign it with SHA-1 */
    int cert_old;             /* a certificate came to be offered, and this libssh2 (1.10)
                                 cannot log in with one: nothing more is tried */
    int cert_refused;         /* the server refused a certificate (expired, not yet valid,
                                 another principal, an unknown CA) ... */
    int skipped;              /* ... and a key ssh would offer was not offered (it could not be
                                 read, unlocked or signed with here) */
    int krb5;                 /* the user holds Kerberos credentials */
    struct conn_facts *facts; /* where the key that logged in is recorded (may be NULL) */
    int broken; /* the libssh2 error that corrupted the stream (then nothing more is tried:
                   every later call fails too, with other codes), or 0 */
};

/* Whether the last libssh2 call failed because the connection itself broke (the peer went,
 * or the stream is corrupted), noted in ui->broken; key 1 after a call that read a key file
 * (LIBSSH2_ERROR_DECRYPT is then the key's). */
int auth_broke(LIBSSH2_SESSION *s, struct auth_ui *ui, int key);
/* The publickey method: certificates, the agent's keys and identity files, in ssh's order
 * (offer.h). 0 logged in (how, in ui->facts), -1 not. */
int pubkey_try(LIBSSH2_SESSION *s, const struct hostcfg *cfg, const char *agent_sock,
               struct auth_ui *ui);

#endif
