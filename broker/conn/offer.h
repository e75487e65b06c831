/* The keys and certificates a session offers, in OpenSSH's order (pubkey_prepare), and the
 * public halves of user certificates. */
#ifndef MUXSHIM_OFFER_H
#define MUXSHIM_OFFER_H

#include <stddef.h>

#include "conn.h"

#define OFFER_AGENT_MAX 64 /* agent keys taken into the order at most */

/* Where an offered key comes from. */
enum offer_src {
    OFFER_AGENT = 0, /* an agent key that no file names: index is the agent's */
    OFFER_FILE,      /* identity file index (its key, or its .pub's) */
    OFFER_BESIDE,    /* the "-cert.pub" beside identity file index */
    OFFER_CERT,      /* CertificateFile index */
};

/* One key ssh would offer: its source, and the agent key that is the same (the agent signs
 * it), or -1. */
struct offer_item {
    enum offer_src src;
    int index;
    int agent;
};

/* What a session holds, by key id; a key whose id is unknown has have 0 (a PEM key without
 * its .pub, a missing file). */
struct offer_keys {
    const struct keyid *agent; /* the agent's keys, in its order (NULL: no agent) */
    int n_agent;
    const struct keyid *file; /* identity files, in the config's order */
    const int *file_have;
    int n_file;
    const struct keyid *beside; /* per identity file: its "-cert.pub" (a certificate) */
    const int *beside_have;
    const struct keyid *cert; /* CertificateFile entries (certificates) */
    const int *cert_have;
    int n_cert;
    int identitiesonly;
};

/* The offers in ssh's order into out (at most max): the certificate files; the agent's keys
 * that a file holds too (in the agent's order); the agent's other keys (unless
 * IdentitiesOnly); then the files left, each identity file followed by the certificate
 * beside it (only when no CertificateFile is set, as ssh loads it). Returns the count. */
int offer_order(const struct offer_keys *k, struct offer_item *out, int max);
/* The certificate in path (a .pub-format file) into blob; its length, or -1 when the file is
 * missing or holds no certificate. The "-cert.pub" beside identity file keyfile is
 * offer_beside_path's. */
long offer_cert_file(const char *path, unsigned char *blob, size_t cap);
/* keyfile's "-cert.pub" into out (HC_STR + 16 bytes). */
void offer_beside_path(const char *keyfile, char *out, size_t outlen);
/* 1 if the key blob's type is a certificate ("...-cert-v01@openssh.com"). */
int offer_blob_is_cert(const unsigned char *blob, size_t len);
/* The plain public key a certificate blob certifies (ed25519, ECDSA and RSA), in the wire
 * form of that key, into out; its length, or -1 (not such a certificate, or no room). */
long offer_cert_plain(const unsigned char *blob, size_t len, unsigned char *out, size_t cap);

#endif
