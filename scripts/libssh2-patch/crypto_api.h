/* Stands in for OpenSSH's crypto_api.h when its lattice primitives are compiled into
 * libssh2 (scripts/libssh2.sh): the integer types and sizes they use, and their two needs
 * from outside, random bytes and SHA-512, served by OpenSSL in kem.c. */
#ifndef LIBSSH2_PQ_CRYPTO_API_H
#define LIBSSH2_PQ_CRYPTO_API_H
#include <stdint.h>
#include <stdlib.h>

typedef int8_t crypto_int8;
typedef uint8_t crypto_uint8;
typedef int16_t crypto_int16;
typedef uint16_t crypto_uint16;
typedef int32_t crypto_int32;
typedef uint32_t crypto_uint32;
typedef int64_t crypto_int64;
typedef uint64_t crypto_uint64;

/* Fill buf with len random bytes (OpenSSL's RAND_bytes; a failure is remembered and the
 * key pair being made is refused, kem.c). */
void libssh2_pq_randombytes(void *buf, size_t len);
#define randombytes(buf, len) libssh2_pq_randombytes((buf), (len))

#define crypto_hash_sha512_BYTES 64U
/* SHA-512 of in (OpenSSL). */
int crypto_hash_sha512(unsigned char *out, const unsigned char *in, unsigned long long inlen);

#define crypto_kem_sntrup761_PUBLICKEYBYTES 1158
#define crypto_kem_sntrup761_SECRETKEYBYTES 1763
#define crypto_kem_sntrup761_CIPHERTEXTBYTES 1039
#define crypto_kem_sntrup761_BYTES 32

int crypto_kem_sntrup761_enc(unsigned char *c, unsigned char *k, const unsigned char *pk);
int crypto_kem_sntrup761_dec(unsigned char *k, const unsigned char *c, const unsigned char *sk);
int crypto_kem_sntrup761_keypair(unsigned char *pk, unsigned char *sk);
#endif
