/* Identity files as ssh reads them: the file itself, whether it is encrypted, and its public
 * half (the .pub file, or the clear public part of an openssh-key-v1 key). */
#include "keyfile.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "sshconfig.h"

/* Whole small file into a malloc'd NUL-terminated buffer; NULL if missing or too big. */
char *keyfile_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = malloc(KEY_MAX + 1);
    size_t n = buf ? fread(buf, 1, KEY_MAX + 1, f) : 0;
    fclose(f);
    if (!buf || n > KEY_MAX) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int keyfile_encrypted(const char *text, size_t len)
{
    (void)len;
    if (strstr(text, "Proc-Type: 4,ENCRYPTED") || strstr(text, "BEGIN ENCRYPTED PRIVATE KEY"))
        return 1;
    const char *b = strstr(text, "-----BEGIN OPENSSH PRIVATE KEY-----");
    if (!b)
        return 0;
    b = strchr(b, '\n');
    if (!b)
        return 1;
    /* The first base64 line (70 chars) covers the magic and the cipher name. */
    char chunk[96] = {0};
    size_t n = 0;
    for (const char *p = b + 1; *p && *p != '-' && n < 64; p++)
        if (*p != '\n' && *p != '\r')
            chunk[n++] = *p;
    unsigned char dec[64];
    if (n < 64 || EVP_DecodeBlock(dec, (const unsigned char *)chunk, 64) < 0)
        return 1;
    static const char magic[] = "openssh-key-v1";
    if (memcmp(dec, magic, sizeof magic) != 0)
        return 1;
    const unsigned char *c = dec + sizeof magic;
    size_t cl = proto_be32(c);
    return !(cl == 4 && memcmp(c + 4, "none", 4) == 0);
}

/* Wire blob of a .pub file ("type base64 comment") into out; returns its length or -1. */
long keyfile_pub_file(const char *path, unsigned char *out, size_t cap)
{
    size_t len = 0;
    char *t = keyfile_read(path, &len);
    if (!t)
        return -1;
    long n = -1;
    char *sp = strchr(t, ' ');
    if (sp) {
        size_t bl = strcspn(sp + 1, " \t\r\n");
        if (bl % 4 == 0 && bl / 4 * 3 <= cap) {
            n = EVP_DecodeBlock(out, (unsigned char *)sp + 1, (int)bl);
            if (n >= 0 && bl >= 2)
                n -= (sp[bl] == '=') + (sp[bl - 1] == '=');
        }
    }
    free(t);
    return n;
}

/* The public key blob stored in the clear inside an openssh-key-v1 private key (encrypted
 * or not), as ssh reads it when there is no .pub file; its length, or -1. */
static long private_pub_blob(const char *text, unsigned char *out, size_t cap)
{
    const char *b = strstr(text, "-----BEGIN OPENSSH PRIVATE KEY-----");
    const char *e = b ? strstr(b, "-----END OPENSSH PRIVATE KEY-----") : NULL;
    if (!b || !e)
        return -1;
    b = strchr(b, '\n');
    if (!b || b > e)
        return -1;
    size_t n = 0, cap64 = (size_t)(e - b);
    char *b64 = malloc(cap64 + 1);
    unsigned char *raw = malloc(cap64 + 1);
    long rc = -1;
    if (!b64 || !raw)
        goto out;
    for (const char *p = b; p < e; p++)
        if (*p != '\n' && *p != '\r')
            b64[n++] = *p;
    if (n == 0 || n % 4)
        goto out;
    int len = EVP_DecodeBlock(raw, (unsigned char *)b64, (int)n);
    if (len < 0)
        goto out;
    len -= (b64[n - 1] == '=') + (b64[n - 2] == '=');
    /* "openssh-key-v1\0", string cipher, string kdf, string kdfoptions, u32 nkeys,
     * string publickey */
    size_t off = 15;
    for (int field = 0; field < 4; field++) {
        if (off + 4 > (size_t)len)
            goto out;
        size_t fl = field == 3 ? 0 : proto_be32(raw + off);
        off += 4 + fl;
    }
    if (off + 4 > (size_t)len)
        goto out;
    size_t pl = proto_be32(raw + off);
    off += 4;
    if (pl > cap || off + pl > (size_t)len || memcmp(raw, "openssh-key-v1", 15) != 0)
        goto out;
    memcpy(out, raw + off, pl);
    rc = (long)pl;
out:
    free(b64);
    free(raw);
    return rc;
}

/* The public half of an identity file: its .pub file, else the openssh-key-v1 private
 * key's clear public part; the blob's length, or -1 (a PEM key without its .pub). */
long keyfile_public(const char *keyfile, const char *text, unsigned char *blob, size_t cap)
{
    char path[HC_STR + 8];
    snprintf(path, sizeof path, "%s.pub", keyfile);
    long n = keyfile_pub_file(path, blob, cap);
    return n > 0 ? n : private_pub_blob(text, blob, cap);
}

long keyfile_identity_public(const char *keyfile, unsigned char *blob, size_t cap)
{
    char path[HC_STR + 8];
    snprintf(path, sizeof path, "%s.pub", keyfile);
    long n = keyfile_pub_file(path, blob, cap);
    if (n > 0)
        return n;
    size_t len = 0;
    char *text = keyfile_read(keyfile, &len);
    if (!text)
        return -1;
    n = private_pub_blob(text, blob, cap);
    explicit_bzero(text, len);
    free(text);
    return n;
}
