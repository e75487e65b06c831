/* The authority: which connections a session may be offered at all, hashed. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "sshconfig.h"

static void put_str(EVP_MD_CTX *m, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    EVP_DigestUpdate(m, &n, sizeof n);
    EVP_DigestUpdate(m, s, n);
}

static void put_int(EVP_MD_CTX *m, long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", v);
    put_str(m, buf);
}

void token_compute(const struct hostcfg *c, uid_t uid, char out[65])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char md[32];
    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    /* The authority only: which of its connections a session may use is decided per
     * connection (accept.c), so that options that only steer the login never split. */
    put_str(m, "muxshim-authority-2");
    put_int(m, (long)uid);
    put_str(m, c->user);
    put_str(m, c->hostname);
    put_int(m, c->port);
    put_str(m, c->proxyjump);
    put_str(m, c->proxycommand);
    put_str(m, c->bindaddress);
    put_str(m, c->bindaddress[0] ? "" : c->bindinterface);
    EVP_DigestFinal_ex(m, md, NULL);
    EVP_MD_CTX_free(m);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}
