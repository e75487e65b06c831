/* The arithmetic of the post-quantum hybrid key exchanges (hybrid.h). */
#include "hybrid.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

static const EVP_MD *md_of(int sha_bits)
{
    return sha_bits == 512 ? EVP_sha512() : sha_bits == 256 ? EVP_sha256() : NULL;
}

static void put_u32(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* X25519(priv, peer) into out (32 bytes); 0, or -1 (OpenSSL refuses an all-zero result). */
static int x25519(const unsigned char *priv, const unsigned char *peer, unsigned char *out)
{
    int rc = -1;
    size_t len = LIBSSH2_HYBRID_X25519_BYTES;
    EVP_PKEY *me = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv,
                                                LIBSSH2_HYBRID_X25519_BYTES);
    EVP_PKEY *them = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer,
                                                 LIBSSH2_HYBRID_X25519_BYTES);
    EVP_PKEY_CTX *ctx = me ? EVP_PKEY_CTX_new(me, NULL) : NULL;
    if (!them || !ctx)
        goto cleanup;
    if (EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, them) == 1 &&
        EVP_PKEY_derive(ctx, out, &len) == 1 && len == LIBSSH2_HYBRID_X25519_BYTES)
        rc = 0;
cleanup:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(them);
    EVP_PKEY_free(me);
    return rc;
}

int _libssh2_hybrid_secret(int sha_bits, const unsigned char *kem_key,
                           const unsigned char *x_priv, const unsigned char *x_peer,
                           unsigned char *out)
{
    const EVP_MD *md = md_of(sha_bits);
    unsigned char both[LIBSSH2_HYBRID_KEM_BYTES + LIBSSH2_HYBRID_X25519_BYTES];
    unsigned int dlen = 0;
    int rc = -1;
    if (!md)
        return -1;
    memcpy(both, kem_key, LIBSSH2_HYBRID_KEM_BYTES);
    if (x25519(x_priv, x_peer, both + LIBSSH2_HYBRID_KEM_BYTES) != 0)
        goto cleanup;
    if (EVP_Digest(both, sizeof both, out + 4, &dlen, md, NULL) != 1)
        goto cleanup;
    put_u32(out, dlen);
    rc = (int)(4 + dlen);
cleanup:
    OPENSSL_cleanse(both, sizeof both);
    return rc;
}

int _libssh2_hybrid_exchange_hash(int sha_bits, const unsigned char *const *parts,
                                  const size_t *lens, int n, const unsigned char *k,
                                  size_t klen, unsigned char *out)
{
    const EVP_MD *md = md_of(sha_bits);
    EVP_MD_CTX *ctx = md ? EVP_MD_CTX_new() : NULL;
    int ok = ctx && EVP_DigestInit_ex(ctx, md, NULL) == 1;
    for (int i = 0; ok && i < n; i++) {
        unsigned char len[4];
        put_u32(len, lens[i]);
        ok = EVP_DigestUpdate(ctx, len, 4) == 1 && EVP_DigestUpdate(ctx, parts[i], lens[i]) == 1;
    }
    ok = ok && EVP_DigestUpdate(ctx, k, klen) == 1 && EVP_DigestFinal_ex(ctx, out, NULL) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

int _libssh2_hybrid_derive(int sha_bits, const unsigned char *k, size_t klen,
                           const unsigned char *h, const unsigned char *sid, size_t sidlen,
                           char letter, unsigned char *out, size_t need)
{
    const EVP_MD *md = md_of(sha_bits);
    size_t dlen = md ? (size_t)EVP_MD_size(md) : 0, have = 0;
    unsigned char block[LIBSSH2_HYBRID_MAX_DIGEST];
    EVP_MD_CTX *ctx = md ? EVP_MD_CTX_new() : NULL;
    int ok = ctx != NULL;
    while (ok && have < need) {
        /* the first block hashes the letter and the session id, later ones what came before */
        ok = EVP_DigestInit_ex(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, k, klen) == 1 &&
             EVP_DigestUpdate(ctx, h, dlen) == 1 &&
             (have ? EVP_DigestUpdate(ctx, out, have) == 1
                   : EVP_DigestUpdate(ctx, &letter, 1) == 1 &&
                         EVP_DigestUpdate(ctx, sid, sidlen) == 1) &&
             EVP_DigestFinal_ex(ctx, block, NULL) == 1;
        size_t take = need - have < dlen ? need - have : dlen;
        if (ok)
            memcpy(out + have, block, take);
        have += take;
    }
    OPENSSL_cleanse(block, sizeof block);
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}
