/* known_hosts parsing, matching and appending, as OpenSSH 9.2's hostfile.c means them. */
#include "hostkey.h"
#include "proto.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHA1_LEN 20

void hostkey_lookup_name(const struct hostcfg *cfg, char *out, size_t outlen)
{
    /* As ssh: HostKeyAlias names the known_hosts entry as it is, with no port added. */
    if (cfg->hostkeyalias[0])
        snprintf(out, outlen, "%s", cfg->hostkeyalias);
    else if (cfg->port != 22 && cfg->port != 0)
        snprintf(out, outlen, "[%s]:%d", cfg->hostname, cfg->port);
    else
        snprintf(out, outlen, "%s", cfg->hostname);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

/* '*' and '?' glob of s against pattern p[0..plen). */
static int glob_match(const char *s, const char *p, size_t plen)
{
    const char *star_p = NULL, *star_s = NULL, *pe = p + plen;
    while (*s) {
        if (p < pe && (*p == '?' || *p == *s)) {
            p++;
            s++;
        } else if (p < pe && *p == '*') {
            star_p = ++p;
            star_s = s;
        } else if (star_p) {
            p = star_p;
            s = ++star_s;
        } else {
            return 0;
        }
    }
    while (p < pe && *p == '*')
        p++;
    return p == pe;
}

int hostkey_match_list(const char *host, const char *patterns)
{
    char low[HC_STR + 16];
    snprintf(low, sizeof low, "%s", host);
    for (char *q = low; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    int got = 0;
    const char *p = patterns;
    while (*p) {
        size_t n = strcspn(p, ",");
        int neg = 0;
        const char *pat = p;
        size_t plen = n;
        if (plen > 0 && *pat == '!') {
            neg = 1;
            pat++;
            plen--;
        }
        char lp[HC_STR];
        if (plen < sizeof lp) {
            for (size_t i = 0; i < plen; i++)
                lp[i] = (char)tolower((unsigned char)pat[i]);
            if (glob_match(low, lp, plen)) {
                if (neg)
                    return 0; /* a negated match wins over everything */
                got = 1;
            }
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return got;
}

/* Base64 decode into out (cap bytes); returns the length or -1. */
static long b64_decode(const char *in, size_t inlen, unsigned char *out, size_t cap)
{
    if (inlen == 0 || inlen % 4 != 0 || inlen / 4 * 3 > cap)
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)inlen);
    if (n < 0)
        return -1;
    if (in[inlen - 1] == '=')
        n--;
    if (in[inlen - 2] == '=')
        n--;
    return n;
}

/* 1 if an |1|salt|hash entry is the HMAC-SHA1 of name. */
static int hashed_match(const char *name, const char *field, size_t flen)
{
    const char *salt = field + 3, *end = field + flen;
    const char *bar = memchr(salt, '|', (size_t)(end - salt));
    if (!bar)
        return 0;
    unsigned char s[64], h[64], mac[EVP_MAX_MD_SIZE];
    long sl = b64_decode(salt, (size_t)(bar - salt), s, sizeof s);
    long hl = b64_decode(bar + 1, (size_t)(end - bar - 1), h, sizeof h);
    if (sl != SHA1_LEN || hl != SHA1_LEN)
        return 0;
    unsigned int ml = 0;
    if (!HMAC(EVP_sha1(), s, (int)sl, (const unsigned char *)name, strlen(name), mac, &ml))
        return 0;
    return ml == SHA1_LEN && memcmp(mac, h, SHA1_LEN) == 0;
}

enum marker { MK_NONE, MK_REVOKED, MK_CA, MK_OTHER };

/* One parsed line: fields point into the caller's buffer. */
struct hk_line {
    enum marker marker;
    const char *hosts, *type, *key;
    size_t hlen, tlen, klen;
};

/* Next whitespace-separated word of *p; 0 if none. */
static int word(const char **p, const char **w, size_t *n)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strcspn(s, " \t\r\n");
    if (len == 0)
        return 0;
    *w = s;
    *n = len;
    *p = s + len;
    return 1;
}

static int parse_line(const char *buf, struct hk_line *l)
{
    const char *p = buf, *w;
    size_t n;
    if (!word(&p, &w, &n) || *w == '#')
        return 0;
    l->marker = MK_NONE;
    if (*w == '@') {
        if (n == 8 && memcmp(w, "@revoked", 8) == 0)
            l->marker = MK_REVOKED;
        else if (n == 15 && memcmp(w, "@cert-authority", 15) == 0)
            l->marker = MK_CA;
        else
            return 0;
        if (!word(&p, &w, &n))
            return 0;
    }
    l->hosts = w;
    l->hlen = n;
    if (!word(&p, &l->type, &l->tlen) || !word(&p, &l->key, &l->klen))
        return 0;
    return 1;
}

static int line_names(const struct hk_line *l, const char *name)
{
    if (l->hlen >= 3 && memcmp(l->hosts, "|1|", 3) == 0)
        return hashed_match(name, l->hosts, l->hlen);
    char pats[HC_STR * 4];
    if (l->hlen >= sizeof pats)
        return 0;
    memcpy(pats, l->hosts, l->hlen);
    pats[l->hlen] = '\0';
    return hostkey_match_list(name, pats);
}

struct scan {
    const unsigned char *blob; /* NULL when collecting types */
    size_t bloblen;
    int match, known, revoked, ca;
    char (*types)[64];
    int ntypes, maxtypes;
};

static void scan_stream(FILE *f, const char *host, struct scan *sc)
{
    char name[HC_STR + 16];
    snprintf(name, sizeof name, "%s", host);
    for (char *p = name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    char *buf = NULL;
    size_t cap = 0;
    unsigned char *kb = NULL;
    while (getline(&buf, &cap, f) > 0) {
        struct hk_line l;
        if (!parse_line(buf, &l) || !line_names(&l, name))
            continue;
        if (l.marker == MK_CA) {
            sc->ca = 1;
            continue;
        }
        if (!sc->blob) {
            if (l.marker != MK_NONE || sc->ntypes >= sc->maxtypes || l.tlen >= 64)
                continue;
            char t[64];
            memcpy(t, l.type, l.tlen);
            t[l.tlen] = '\0';
            int dup = 0;
            for (int i = 0; i < sc->ntypes; i++)
                dup |= strcmp(sc->types[i], t) == 0;
            if (!dup)
                memcpy(sc->types[sc->ntypes++], t, l.tlen + 1);
            continue;
        }
        free(kb);
        kb = malloc(l.klen / 4 * 3 + 3);
        if (!kb)
            break;
        long kl = b64_decode(l.key, l.klen, kb, l.klen / 4 * 3 + 3);
        if (kl < 0)
            continue;
        int same = (size_t)kl == sc->bloblen && memcmp(kb, sc->blob, sc->bloblen) == 0;
        if (l.marker == MK_REVOKED)
            sc->revoked |= same;
        else if (same)
            sc->match = 1;
        else
            sc->known = 1;
    }
    free(kb);
    free(buf);
}

static void scan_file(const char *file, const char *host, struct scan *sc)
{
    FILE *f = fopen(file, "re");
    if (!f)
        return;
    scan_stream(f, host, sc);
    fclose(f);
}

/* The verdict of a finished scan. */
static enum hk_result verdict(const struct scan *sc)
{
    if (sc->revoked)
        return HK_REVOKED;
    if (sc->match)
        return HK_MATCH;
    if (sc->known)
        return HK_CHANGED;
    if (sc->ca)
        return HK_CA_ONLY;
    return HK_UNKNOWN;
}

enum hk_result hostkey_check(char (*files)[HC_STR], int nfiles, const char *name,
                             const unsigned char *blob, size_t bloblen)
{
    struct scan sc = {.blob = blob, .bloblen = bloblen};
    for (int i = 0; i < nfiles; i++)
        scan_file(files[i], name, &sc);
    return verdict(&sc);
}

enum hk_result hostkey_check_extra(char (*files)[HC_STR], int nfiles, const char *extra,
                                   const char *name, const unsigned char *blob, size_t bloblen)
{
    struct scan sc = {.blob = blob, .bloblen = bloblen};
    for (int i = 0; i < nfiles; i++)
        scan_file(files[i], name, &sc);
    FILE *f = extra && *extra ? fmemopen((void *)extra, strlen(extra), "r") : NULL;
    if (f) {
        scan_stream(f, name, &sc);
        fclose(f);
    }
    return verdict(&sc);
}

char *hostkey_lines(char (*files)[HC_STR], int nfiles, const char *name)
{
    char host[HC_STR + 16], *buf = NULL, *out = NULL;
    size_t cap = 0, outlen = 0;
    snprintf(host, sizeof host, "%s", name);
    for (char *p = host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    FILE *o = open_memstream(&out, &outlen);
    if (!o)
        return NULL;
    for (int i = 0; i < nfiles; i++) {
        FILE *f = fopen(files[i], "re");
        if (!f)
            continue;
        ssize_t n;
        while ((n = getline(&buf, &cap, f)) > 0) {
            struct hk_line l;
            if (parse_line(buf, &l) && line_names(&l, host))
                fprintf(o, "%s%s", buf, buf[n - 1] == '\n' ? "" : "\n");
        }
        fclose(f);
    }
    free(buf);
    if (fclose(o) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

int hostkey_known_types(char (*files)[HC_STR], int nfiles, const char *name, char types[][64],
                        int maxtypes)
{
    struct scan sc = {.types = types, .maxtypes = maxtypes};
    for (int i = 0; i < nfiles; i++)
        scan_file(files[i], name, &sc);
    return sc.ntypes;
}

int hostkey_blob_type(const unsigned char *blob, size_t bloblen, char *out, size_t outlen)
{
    if (bloblen < 4)
        return -1;
    size_t n = proto_be32(blob);
    if (n == 0 || n > bloblen - 4 || n >= outlen)
        return -1;
    memcpy(out, blob + 4, n);
    out[n] = '\0';
    return 0;
}

static char *b64_encode(const unsigned char *in, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return out;
}

/* The host field of a new line: the name itself or |1|salt|hmac. */
static char *host_field(const char *name, int hashed)
{
    if (!hashed)
        return strdup(name);
    unsigned char salt[SHA1_LEN], mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    if (RAND_bytes(salt, sizeof salt) != 1 ||
        !HMAC(EVP_sha1(), salt, sizeof salt, (const unsigned char *)name, strlen(name), mac, &ml))
        return NULL;
    char *s = b64_encode(salt, sizeof salt), *h = b64_encode(mac, ml), *out = NULL;
    if (s && h && asprintf(&out, "|1|%s|%s", s, h) < 0)
        out = NULL;
    free(s);
    free(h);
    return out;
}

int hostkey_append(const char *file, const char *name, const unsigned char *blob, size_t bloblen,
                   int hashed, char *err, size_t errlen)
{
    char type[64], *host = NULL, *key = NULL, *line = NULL;
    int fd = -1, rc = -1;
    if (hostkey_blob_type(blob, bloblen, type, sizeof type) < 0) {
        snprintf(err, errlen, "malformed host key");
        return -1;
    }
    fd = open(file, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", file, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX) < 0) {
        snprintf(err, errlen, "cannot lock %s: %s", file, strerror(errno));
        goto out;
    }
    char one[1][HC_STR];
    snprintf(one[0], sizeof one[0], "%s", file);
    if (hostkey_check(one, 1, name, blob, bloblen) == HK_MATCH) {
        rc = 0; /* another worker added it meanwhile */
        goto out;
    }
    host = host_field(name, hashed);
    key = b64_encode(blob, bloblen);
    if (!host || !key) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    struct stat st;
    char last = '\n';
    if (fstat(fd, &st) == 0 && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)
        last = '\n';
    int len = asprintf(&line, "%s%s %s %s\n", last == '\n' ? "" : "\n", host, type, key);
    if (len < 0) {
        line = NULL;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (write(fd, line, (size_t)len) != len) {
        snprintf(err, errlen, "cannot write %s: %s", file, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(host);
    free(key);
    free(line);
    close(fd);
    return rc;
}
