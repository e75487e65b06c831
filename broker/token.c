/* The host token set: what makes two connections interchangeable, hashed. */
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

static void put_list(EVP_MD_CTX *m, const char (*v)[HC_STR], int n)
{
    put_int(m, n);
    for (int i = 0; i < n; i++)
        put_str(m, v[i]);
}

void token_compute(const struct hostcfg *c, uid_t uid, char out[65])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char md[32];
    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    put_str(m, "muxshim-token-1");
    put_int(m, (long)uid);
    put_str(m, c->user);
    put_str(m, c->hostname);
    put_int(m, c->port);
    put_str(m, c->hostkeyalias);
    put_str(m, c->proxyjump);
    put_str(m, c->proxycommand);
    put_str(m, c->bindaddress);
    put_int(m, c->addressfamily);
    put_list(m, c->identityfile, c->n_identityfile);
    put_int(m, c->identitiesonly);
    put_str(m, c->identityagent);
    put_list(m, c->userknownhostsfile, c->n_userknownhostsfile);
    put_list(m, c->globalknownhostsfile, c->n_globalknownhostsfile);
    put_int(m, c->stricthostkeychecking);
    put_int(m, c->checkhostip);
    put_int(m, c->hashknownhosts);
    put_int(m, c->batchmode);
    put_int(m, c->pubkeyauthentication);
    put_int(m, c->passwordauthentication);
    put_int(m, c->kbdinteractiveauthentication);
    put_str(m, c->preferredauthentications);
    put_str(m, c->hostkeyalgorithms);
    put_str(m, c->kexalgorithms);
    put_str(m, c->ciphers);
    put_str(m, c->macs);
    put_int(m, c->compression);
    EVP_DigestFinal_ex(m, md, NULL);
    EVP_MD_CTX_free(m);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}
