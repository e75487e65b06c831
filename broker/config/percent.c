/* %-token and ${VAR} expansion, with the tokens OpenSSH 9.2 gives client-side commands. */
#include "percent.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "words.h"

/* Append n bytes of s at *o; -1 when out is full. */
static int put(char *out, size_t outlen, size_t *o, const char *s, size_t n)
{
    if (*o + n >= outlen)
        return -1;
    memcpy(out + *o, s, n);
    *o += n;
    out[*o] = '\0';
    return 0;
}

int pct_expand(const char *in, const struct pct *t, int nt, char *const *env, char *out,
               size_t outlen, char *err, size_t errlen)
{
    size_t o = 0;
    if (!outlen)
        return -1;
    out[0] = '\0';
    for (const char *p = in; *p; p++) {
        if (env && p[0] == '$' && p[1] == '{') {
            const char *close = strchr(p + 2, '}');
            char name[256];
            if (!close || (size_t)(close - p - 2) >= sizeof name) {
                snprintf(err, errlen, "environment variable not terminated in \"%.200s\"", in);
                return -1;
            }
            snprintf(name, sizeof name, "%.*s", (int)(close - p - 2), p + 2);
            const char *v = words_env(env, name);
            if (!v) {
                snprintf(err, errlen, "env var ${%s} has no value", name);
                return -1;
            }
            if (put(out, outlen, &o, v, strlen(v)) < 0)
                goto full;
            p = close;
            continue;
        }
        if (*p != '%') {
            if (put(out, outlen, &o, p, 1) < 0)
                goto full;
            continue;
        }
        p++;
        if (*p == '%') {
            if (put(out, outlen, &o, "%", 1) < 0)
                goto full;
            continue;
        }
        if (!*p) {
            snprintf(err, errlen, "percent_expand: invalid format");
            return -1;
        }
        int i = 0;
        while (i < nt && t[i].key != *p)
            i++;
        if (i == nt) {
            snprintf(err, errlen, "percent_expand: unknown key %%%c", *p);
            return -1;
        }
        if (put(out, outlen, &o, t[i].val, strlen(t[i].val)) < 0)
            goto full;
    }
    return 0;
full:
    snprintf(err, errlen, "percent_expand: string too long");
    return -1;
}

int pct_client(const struct hostcfg *cfg, struct pct_client *c)
{
    struct passwd pw, *pp = NULL;
    char buf[4096];
    memset(c, 0, sizeof *c);
    if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &pp) != 0 || !pp)
        return -1;
    snprintf(c->home, sizeof c->home, "%s", pw.pw_dir);
    snprintf(c->locuser, sizeof c->locuser, "%s", pw.pw_name);
    if (gethostname(c->thishost, sizeof c->thishost) != 0)
        return -1;
    c->thishost[sizeof c->thishost - 1] = '\0';
    snprintf(c->shorthost, sizeof c->shorthost, "%.*s", (int)strcspn(c->thishost, "."),
             c->thishost);
    snprintf(c->uid, sizeof c->uid, "%u", (unsigned)getuid());
    snprintf(c->port, sizeof c->port, "%d", cfg->port);
    c->keyalias = cfg->hostkeyalias[0] ? cfg->hostkeyalias : cfg->host;
    c->host_arg = cfg->host;
    c->remhost = cfg->hostname;
    c->remuser = cfg->user;
    /* %C: ssh_connection_hash, the SHA-1 of %l%h%p%r in hex. */
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (!m || !EVP_DigestInit_ex(m, EVP_sha1(), NULL)) {
        EVP_MD_CTX_free(m);
        return -1;
    }
    EVP_DigestUpdate(m, c->thishost, strlen(c->thishost));
    EVP_DigestUpdate(m, cfg->hostname, strlen(cfg->hostname));
    EVP_DigestUpdate(m, c->port, strlen(c->port));
    EVP_DigestUpdate(m, cfg->user, strlen(cfg->user));
    EVP_DigestFinal_ex(m, md, &ml);
    EVP_MD_CTX_free(m);
    for (unsigned i = 0; i < ml && 2 * i + 2 < sizeof c->hash; i++)
        snprintf(c->hash + 2 * i, 3, "%02x", md[i]);
    const struct pct t[11] = {
        {'C', c->hash},     {'L', c->shorthost}, {'i', c->uid},     {'k', c->keyalias},
        {'l', c->thishost}, {'n', c->host_arg},  {'p', c->port},    {'d', c->home},
        {'h', c->remhost},  {'r', c->remuser},   {'u', c->locuser},
    };
    memcpy(c->t, t, sizeof t);
    return 0;
}

int percent_local_command(const struct hostcfg *cfg, char *out, size_t outlen)
{
    struct pct_client c;
    struct pct t[12];
    char err[256];
    if (pct_client(cfg, &c) < 0)
        return -1;
    memcpy(t, c.t, sizeof c.t);
    t[11] = (struct pct){'T', "NONE"}; /* no tunnel device: -w is handed to ssh */
    return pct_expand(cfg->localcommand, t, 12, NULL, out, outlen, err, sizeof err);
}
