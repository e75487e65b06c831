/* Host key fingerprints as OpenSSH 9.2's sshkey.c prints them (our own code, its facts). */
#include "fingerprint.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hostkey.h"
#include "proto.h"

#define ART_W 17 /* the field: 2 * 8 + 1 columns ... */
#define ART_H 9  /* ... and 8 + 1 rows, so that the start is in the middle */

void fp_sha256(const unsigned char *blob, size_t len, char *out, size_t outlen)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char h[32];
    unsigned int hl = 0;
    EVP_Digest(blob, len, h, &hl, EVP_sha256(), NULL);
    char fp[64];
    size_t o = 0;
    for (int i = 0; i < 32; i += 3) {
        unsigned v =
            (unsigned)h[i] << 16 | (i + 1 < 32 ? h[i + 1] : 0) << 8 | (i + 2 < 32 ? h[i + 2] : 0);
        int chars = i + 2 < 32 ? 4 : i + 1 < 32 ? 3 : 2;
        for (int c = 0; c < chars; c++)
            fp[o++] = b64[(v >> (18 - 6 * c)) & 63];
    }
    fp[o] = '\0';
    snprintf(out, outlen, "SHA256:%s", fp);
}

const char *fp_type_label(const char *t)
{
    if (strcmp(t, "ssh-ed25519") == 0)
        return "ED25519";
    if (strcmp(t, "ssh-rsa") == 0)
        return "RSA";
    if (strcmp(t, "ssh-dss") == 0)
        return "DSA";
    if (strncmp(t, "ecdsa-", 6) == 0)
        return "ECDSA";
    return t;
}

/* The n-th (from 0) string field of a blob: its bytes and length; -1 if out of bounds. */
static int field(const unsigned char *blob, size_t len, int n, const unsigned char **p, size_t *fl)
{
    size_t off = 0;
    for (int i = 0;; i++) {
        if (len - off < 4)
            return -1;
        size_t l = proto_be32(blob + off);
        if (l > len - off - 4)
            return -1;
        if (i == n) {
            *p = blob + off + 4;
            *fl = l;
            return 0;
        }
        off += 4 + l;
    }
}

/* Bits of a positive mpint. */
static unsigned mpint_bits(const unsigned char *p, size_t n)
{
    while (n && !*p) {
        p++;
        n--;
    }
    if (!n)
        return 0;
    unsigned bits = (unsigned)(n - 1) * 8, top = *p;
    while (top) {
        bits++;
        top >>= 1;
    }
    return bits;
}

void fp_added_line(const char *name, const unsigned char *blob, size_t len, char *out,
                   size_t outlen)
{
    char type[64];
    if (hostkey_blob_type(blob, len, type, sizeof type) < 0)
        snprintf(type, sizeof type, "unknown");
    snprintf(out, outlen, "Warning: Permanently added '%s' (%s) to the list of known hosts.\r\n",
             name, fp_type_label(type));
}

unsigned fp_key_bits(const unsigned char *blob, size_t len)
{
    char type[64];
    const unsigned char *p;
    size_t n;
    if (hostkey_blob_type(blob, len, type, sizeof type) < 0)
        return 0;
    if (!strcmp(type, "ssh-ed25519"))
        return 256;
    if (!strcmp(type, "ssh-rsa")) /* e, n */
        return field(blob, len, 2, &p, &n) == 0 ? mpint_bits(p, n) : 0;
    if (!strcmp(type, "ssh-dss")) /* p, q, g, y */
        return field(blob, len, 1, &p, &n) == 0 ? mpint_bits(p, n) : 0;
    if (!strncmp(type, "ecdsa-sha2-nistp", 16))
        return (unsigned)strtoul(type + 16, NULL, 10);
    return 0;
}

/* One border line: '+', title centred in dashes as ssh centres it, '+'. */
static size_t border(char *p, const char *title)
{
    size_t tl = strlen(title), i, o = 0;
    p[o++] = '+';
    for (i = 0; i < (ART_W - tl) / 2; i++)
        p[o++] = '-';
    memcpy(p + o, title, tl);
    o += tl;
    for (i += tl; i < ART_W; i++)
        p[o++] = '-';
    p[o++] = '+';
    return o;
}

int fp_randomart(const unsigned char *blob, size_t len, char *out, size_t outlen)
{
    /* What a square shows for the number of visits; the last two mark start and end. */
    static const char marks[] = " .o+=*BOX@%&#/^SE";
    const unsigned top = (unsigned)strlen(marks) - 1;
    unsigned char field[ART_W][ART_H] = {{0}}, h[32];
    unsigned int hl = 0;
    char type[64], title[ART_W]; /* as ssh: a 17-byte buffer, so a long title is cut */
    if (outlen < (ART_W + 3) * (ART_H + 2) || hostkey_blob_type(blob, len, type, sizeof type) < 0)
        return -1;
    EVP_Digest(blob, len, h, &hl, EVP_sha256(), NULL);
    int x = ART_W / 2, y = ART_H / 2;
    for (unsigned i = 0; i < hl; i++) {
        unsigned in = h[i];
        for (int b = 0; b < 4; b++, in >>= 2) { /* four 2-bit moves a byte, low bits first */
            x += (in & 1) ? 1 : -1;
            y += (in & 2) ? 1 : -1;
            x = x < 0 ? 0 : x > ART_W - 1 ? ART_W - 1 : x;
            y = y < 0 ? 0 : y > ART_H - 1 ? ART_H - 1 : y;
            if (field[x][y] < top - 2)
                field[x][y]++;
        }
    }
    field[ART_W / 2][ART_H / 2] = (unsigned char)(top - 1);
    field[x][y] = (unsigned char)top;
    int r = snprintf(title, sizeof title, "[%s %u]", fp_type_label(type), fp_key_bits(blob, len));
    if (r < 0 || r > (int)sizeof title)
        snprintf(title, sizeof title, "[%s]", fp_type_label(type));
    size_t o = border(out, title);
    out[o++] = '\n';
    for (y = 0; y < ART_H; y++) {
        out[o++] = '|';
        for (x = 0; x < ART_W; x++)
            out[o++] = marks[field[x][y] < top ? field[x][y] : top];
        out[o++] = '|';
        out[o++] = '\n';
    }
    o += border(out + o, "[SHA256]");
    out[o] = '\0';
    return 0;
}

int fp_visual_text(const unsigned char *blob, size_t len, char *out, size_t outlen)
{
    char fp[80], art[(ART_W + 3) * (ART_H + 2)];
    if (fp_randomart(blob, len, art, sizeof art) < 0)
        return -1;
    fp_sha256(blob, len, fp, sizeof fp);
    int n = snprintf(out, outlen, "Host key fingerprint is %s\n%s\r\n", fp, art);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}
