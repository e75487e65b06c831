/* ChaCha20 and Poly1305 for libssh2's chacha20-poly1305@openssh.com, on OpenSSL's EVP. */
#include "fastcrypto.h"
#include "fatal.h"

#include <pthread.h>
#include <string.h>

#include <libssh2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

/* Per thread: the worker threads that make connections encrypt too. */
static __thread EVP_CIPHER_CTX *cctx;
static __thread EVP_CIPHER *chacha;
static __thread EVP_MAC_CTX *mctx;

/* A worker thread's contexts are freed when it ends (the key's destructor runs while its
 * thread-local variables still exist); the main thread's live as long as the broker. */
static pthread_key_t fc_key;
static pthread_once_t fc_once = PTHREAD_ONCE_INIT;

static void fc_free(void *unused)
{
    (void)unused;
    EVP_CIPHER_CTX_free(cctx);
    cctx = NULL;
    EVP_CIPHER_free(chacha);
    chacha = NULL;
    EVP_MAC_CTX_free(mctx);
    mctx = NULL;
}

static void fc_key_make(void)
{
    pthread_key_create(&fc_key, fc_free);
}

int fastcrypto_ready(void)
{
    if (!cctx && pthread_once(&fc_once, fc_key_make) == 0)
        pthread_setspecific(fc_key, &fc_key); /* any non-NULL value: the destructor runs */
    if (!cctx && !(cctx = EVP_CIPHER_CTX_new()))
        return 0;
    if (!chacha && !(chacha = EVP_CIPHER_fetch(NULL, "ChaCha20", NULL)))
        return 0;
    if (!mctx) {
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "POLY1305", NULL);
        if (!mac)
            return 0;
        mctx = EVP_MAC_CTX_new(mac);
        EVP_MAC_free(mac); /* the context holds its own reference */
    }
    return mctx != NULL;
}

/* The layout of struct chacha_ctx and the four functions' contracts are those of
 * libssh2 1.11.1's src/chacha.c and src/poly1305.c: built against another version, the
 * library keeps its own. */
#if LIBSSH2_VERSION_NUM == 0x010b01
static u_int le32(const u_char *p)
{
    return (u_int)p[0] | (u_int)p[1] << 8 | (u_int)p[2] << 16 | (u_int)p[3] << 24;
}

static void put_le32(u_char *p, u_int v)
{
    p[0] = (u_char)v;
    p[1] = (u_char)(v >> 8);
    p[2] = (u_char)(v >> 16);
    p[3] = (u_char)(v >> 24);
}

void chacha_keysetup(struct chacha_ctx *x, const u_char *k, u_int kbits)
{
    static const u_char sigma[16] = "expand 32-byte k";
    (void)kbits;
    for (int i = 0; i < 4; i++)
        x->input[i] = le32(sigma + 4 * i);
    for (int i = 0; i < 8; i++)
        x->input[4 + i] = le32(k + 4 * i);
}

void chacha_ivsetup(struct chacha_ctx *x, const u_char *iv, const u_char *ctr)
{
    x->input[12] = ctr ? le32(ctr) : 0;
    x->input[13] = ctr ? le32(ctr + 4) : 0;
    x->input[14] = le32(iv);
    x->input[15] = le32(iv + 4);
}

/* The context chacha_encrypt_bytes used last in this thread: in a decryption, the
 * packet's main context, which has just made the Poly1305 key that poly1305_auth gets. */
static __thread struct chacha_ctx *last_ctx;

/* A context whose first word is not sigma's: its connection failed a tag (poly1305_auth). */
#define POISONED(x) ((x)->input[0] == 0)

void chacha_encrypt_bytes(struct chacha_ctx *x, const u_char *m, u_char *c, u_int bytes)
{
    last_ctx = x;
    if (!bytes)
        return;
    if (POISONED(x)) {
        memset(c, 0, bytes);
        return;
    }
    /* OpenSSL's 16-byte IV is state words 12-15: its 32-bit counter is the low half of
     * ours, which an SSH packet (35000 bytes: 547 blocks, from 0 or 1) never carries out of. */
    u_char key[32], iv[16];
    int outl = 0;
    for (int i = 0; i < 8; i++)
        put_le32(key + 4 * i, x->input[4 + i]);
    for (int i = 0; i < 4; i++)
        put_le32(iv + 4 * i, x->input[12 + i]);
    if (!fastcrypto_ready() || !EVP_EncryptInit_ex2(cctx, chacha, key, iv, NULL) ||
        !EVP_EncryptUpdate(cctx, c, &outl, m, (int)bytes))
        memset(c, 0, bytes);
    OPENSSL_cleanse(key, sizeof key);
    unsigned long long n =
        ((unsigned long long)x->input[13] << 32 | x->input[12]) + (bytes + 63) / 64;
    x->input[12] = (u_int)n;
    x->input[13] = (u_int)(n >> 32);
}

void poly1305_auth(u_char out[16], const u_char *m, size_t inlen, const u_char key[32])
{
    size_t outl = 0;
    if (!fastcrypto_ready() || !EVP_MAC_init(mctx, key, 32, NULL) ||
        !EVP_MAC_update(mctx, m, inlen) || !EVP_MAC_final(mctx, out, &outl, 16) || outl != 16)
        memset(out, 0, 16);
    /* libssh2 1.11.1 turns a failed tag into a positive return from its transport read,
     * which its callers take for a packet: it decrypts the same bytes again, for ever,
     * leaking a packet each time (upstream's fix is libssh2 PR #2392). A verification is
     * the call whose tag follows m (a signature writes it there): when it fails, the
     * length key of that direction (the context after the main one in libssh2's struct
     * chachapoly_ctx) is spoilt, so the next read finds a length of 0 and fails with
     * LIBSSH2_ERROR_DECRYPT. The connection is dead anyway, as it is in ssh. */
    if (out != m + inlen && last_ctx && CRYPTO_memcmp(out, m + inlen, 16) != 0) {
        (last_ctx + 1)->input[0] = 0;
        fatal_note(LIBSSH2_ERROR_DECRYPT); /* what failed, which libssh2 does not say */
    }
}
#endif
