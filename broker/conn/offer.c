/* The order in which ssh offers keys and certificates (OpenSSH's load_public_identity_files
 * and pubkey_prepare), shared by the login (auth.c) and the sharing decision (accept.c), and
 * the plain key inside a user certificate. */
#include "offer.h"

#include <stdio.h>
#include <string.h>

#include "keyfile.h"
#include "proto.h"

static int same(const struct keyid *a, const struct keyid *b)
{
    return memcmp(a->h, b->h, sizeof a->h) == 0;
}

int offer_order(const struct offer_keys *k, struct offer_item *out, int max)
{
    /* ssh's list of files: each identity file, then (without CertificateFile) the
     * certificate beside it, its name left pointing at the private key. */
    struct offer_item files[2 * HC_MAX_FILES];
    const struct keyid *ids[2 * HC_MAX_FILES];
    int moved[2 * HC_MAX_FILES] = {0}, nf = 0, n = 0;
    for (int i = 0; i < k->n_file && nf + 2 <= 2 * HC_MAX_FILES; i++) {
        ids[nf] = k->file_have[i] ? &k->file[i] : NULL;
        files[nf++] = (struct offer_item){OFFER_FILE, i, -1};
        if (k->n_cert == 0 && k->beside_have && k->beside_have[i]) {
            ids[nf] = &k->beside[i];
            files[nf++] = (struct offer_item){OFFER_BESIDE, i, -1};
        }
    }
    /* The certificates the config names come first. */
    for (int i = 0; i < k->n_cert && n < max; i++)
        if (k->cert_have[i])
            out[n++] = (struct offer_item){OFFER_CERT, i, -1};
    /* Agent keys: one a file holds too moves that file's entry here (the agent signs it);
     * the others wait for the end of the agent's list, and IdentitiesOnly drops them. */
    int others[OFFER_AGENT_MAX], no = 0;
    for (int j = 0; j < k->n_agent && j < OFFER_AGENT_MAX; j++) {
        int f = 0;
        while (f < nf && (moved[f] || !ids[f] || !same(ids[f], &k->agent[j])))
            f++;
        if (f < nf) {
            moved[f] = 1;
            if (n < max)
                out[n++] = (struct offer_item){files[f].src, files[f].index, j};
        } else if (!k->identitiesonly) {
            others[no++] = j;
        }
    }
    for (int i = 0; i < no && n < max; i++)
        out[n++] = (struct offer_item){OFFER_AGENT, others[i], others[i]};
    for (int f = 0; f < nf && n < max; f++)
        if (!moved[f])
            out[n++] = files[f];
    return n;
}

/* The type string at the start of a key blob, its length in *tl; NULL if malformed. */
static const unsigned char *blob_type(const unsigned char *b, size_t len, size_t *tl)
{
    if (len < 4)
        return NULL;
    *tl = proto_be32(b);
    return *tl <= len - 4 ? b + 4 : NULL;
}

int offer_blob_is_cert(const unsigned char *blob, size_t len)
{
    static const char sfx[] = "-cert-v01@openssh.com";
    size_t tl = 0, sl = sizeof sfx - 1;
    const unsigned char *t = blob_type(blob, len, &tl);
    return t && tl > sl && memcmp(t + tl - sl, sfx, sl) == 0;
}

long offer_cert_plain(const unsigned char *blob, size_t len, unsigned char *out, size_t cap)
{
    /* A certificate: string type, string nonce, then the key's own public fields (PROTOCOL.
     * certkeys), then serial and the rest. The plain key is the plain type and those fields. */
    static const struct {
        const char *cert, *plain;
        int fields;
    } kinds[] = {
        {"ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519", 1},
        {"ssh-rsa-cert-v01@openssh.com", "ssh-rsa", 2}, /* e, n */
        {"ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp256", 2},
        {"ecdsa-sha2-nistp384-cert-v01@openssh.com", "ecdsa-sha2-nistp384", 2},
        {"ecdsa-sha2-nistp521-cert-v01@openssh.com", "ecdsa-sha2-nistp521", 2},
    };
    size_t tl = 0;
    const unsigned char *t = blob_type(blob, len, &tl);
    if (!t)
        return -1;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strlen(kinds[i].cert) != tl || memcmp(t, kinds[i].cert, tl) != 0)
            continue;
        size_t off = 4 + tl, start = 0;
        for (int f = -1; f < kinds[i].fields; f++) { /* the nonce, then the fields */
            if (f == 0)
                start = off;
            if (len - off < 4 || proto_be32(blob + off) > len - off - 4)
                return -1;
            off += 4 + proto_be32(blob + off);
        }
        size_t pl = strlen(kinds[i].plain), body = off - start;
        if (4 + pl + body > cap)
            return -1;
        proto_set_be32(out, (uint32_t)pl);
        memcpy(out + 4, kinds[i].plain, pl);
        memcpy(out + 4 + pl, blob + start, body);
        return (long)(4 + pl + body);
    }
    return -1;
}

void offer_beside_path(const char *keyfile, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s-cert.pub", keyfile);
}

long offer_cert_file(const char *path, unsigned char *blob, size_t cap)
{
    long n = keyfile_pub_file(path, blob, cap);
    return n > 0 && offer_blob_is_cert(blob, (size_t)n) ? n : -1;
}
