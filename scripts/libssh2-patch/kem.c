/* The KEMs of the hybrid key exchanges (kem.h): thin calls into Debian's openssh source,
 * and the two things its primitives take from outside, random bytes and SHA-512, from
 * OpenSSL. Compiled with libcrux_mlkem768_sha3.h, so with the primitives' warning flags
 * (scripts/libssh2.sh). */
#include "kem.h"
#include "crypto_api.h"

#include <endian.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* The opt-blockers sntrup761.c's constant-time integers read (OpenSSH defines them beside
 * its caller, kexsntrup761x25519.c). */
volatile crypto_int16 crypto_int16_optblocker = 0;
volatile crypto_int32 crypto_int32_optblocker = 0;
volatile crypto_int64 crypto_int64_optblocker = 0;

/* libcrux stops on an internal error it cannot return. */
#define fatal_f(...) abort()
#include "libcrux_mlkem768_sha3.h"

static __thread int rand_failed;

void libssh2_pq_randombytes(void *buf, size_t len)
{
    if (len > 0x7fffffff || RAND_bytes(buf, (int)len) != 1) {
        rand_failed = 1;
        memset(buf, 0, len);
    }
}

int crypto_hash_sha512(unsigned char *out, const unsigned char *in, unsigned long long inlen)
{
    return EVP_Digest(in, (size_t)inlen, out, NULL, EVP_sha512(), NULL) == 1 ? 0 : -1;
}

int _libssh2_sntrup761_keypair(unsigned char *pk, unsigned char *sk)
{
    rand_failed = 0;
    crypto_kem_sntrup761_keypair(pk, sk);
    if (!rand_failed)
        return 0;
    OPENSSL_cleanse(sk, crypto_kem_sntrup761_SECRETKEYBYTES);
    return -1;
}

int _libssh2_sntrup761_dec(unsigned char *k, const unsigned char *ct, const unsigned char *sk)
{
    return crypto_kem_sntrup761_dec(k, ct, sk) == 0 ? 0 : -1;
}

int _libssh2_mlkem768_keypair(unsigned char *pk, unsigned char *sk)
{
    unsigned char rnd[LIBCRUX_ML_KEM_KEY_PAIR_PRNG_LEN];
    struct libcrux_mlkem768_keypair kp;
    int rc = -1;
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        goto cleanup;
    kp = libcrux_ml_kem_mlkem768_portable_generate_key_pair(rnd);
    memcpy(pk, kp.pk.value, LIBSSH2_MLKEM768_PUBLICKEYBYTES);
    memcpy(sk, kp.sk.value, LIBSSH2_MLKEM768_SECRETKEYBYTES);
    OPENSSL_cleanse(&kp, sizeof kp);
    rc = 0;
cleanup:
    OPENSSL_cleanse(rnd, sizeof rnd);
    return rc;
}

int _libssh2_mlkem768_dec(unsigned char *k, const unsigned char *ct, const unsigned char *sk)
{
    struct libcrux_mlkem768_sk priv;
    struct libcrux_mlkem768_ciphertext c;
    memcpy(priv.value, sk, sizeof priv.value);
    memcpy(c.value, ct, sizeof c.value);
    libcrux_ml_kem_mlkem768_portable_decapsulate(&priv, &c, k);
    OPENSSL_cleanse(&priv, sizeof priv);
    return 0;
}

/* The sizes kem.h promises are the primitives' own. */
_Static_assert(LIBSSH2_SNTRUP761_PUBLICKEYBYTES == crypto_kem_sntrup761_PUBLICKEYBYTES, "pk");
_Static_assert(LIBSSH2_SNTRUP761_SECRETKEYBYTES == crypto_kem_sntrup761_SECRETKEYBYTES, "sk");
_Static_assert(LIBSSH2_SNTRUP761_CIPHERTEXTBYTES == crypto_kem_sntrup761_CIPHERTEXTBYTES, "ct");
_Static_assert(sizeof(((struct libcrux_mlkem768_sk *)0)->value) ==
                   LIBSSH2_MLKEM768_SECRETKEYBYTES, "mlkem sk");
_Static_assert(sizeof(((struct libcrux_mlkem768_pk *)0)->value) ==
                   LIBSSH2_MLKEM768_PUBLICKEYBYTES, "mlkem pk");
_Static_assert(sizeof(((struct libcrux_mlkem768_ciphertext *)0)->value) ==
                   LIBSSH2_MLKEM768_CIPHERTEXTBYTES, "mlkem ct");
