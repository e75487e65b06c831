/* The two post-quantum KEMs of the hybrid key exchanges, from Debian's openssh source
 * (sntrup761.c, libcrux_mlkem768_sha3.h) through kem.c: what libssh2's kex.c calls. */
#ifndef LIBSSH2_PQ_KEM_H
#define LIBSSH2_PQ_KEM_H

#define LIBSSH2_SNTRUP761_PUBLICKEYBYTES 1158
#define LIBSSH2_SNTRUP761_SECRETKEYBYTES 1763
#define LIBSSH2_SNTRUP761_CIPHERTEXTBYTES 1039
#define LIBSSH2_MLKEM768_PUBLICKEYBYTES 1184
#define LIBSSH2_MLKEM768_SECRETKEYBYTES 2400
#define LIBSSH2_MLKEM768_CIPHERTEXTBYTES 1088

/* A new sntrup761 key pair into pk and sk; 0, or -1 (no random bytes). */
int _libssh2_sntrup761_keypair(unsigned char *pk, unsigned char *sk);
/* The 32-byte key of ciphertext ct under sk into k; 0, or -1 (ct rejected). */
int _libssh2_sntrup761_dec(unsigned char *k, const unsigned char *ct, const unsigned char *sk);
/* A new ML-KEM-768 key pair into pk and sk; 0, or -1 (no random bytes). */
int _libssh2_mlkem768_keypair(unsigned char *pk, unsigned char *sk);
/* The 32-byte key of ciphertext ct under sk into k (implicit rejection); 0. */
int _libssh2_mlkem768_dec(unsigned char *k, const unsigned char *ct, const unsigned char *sk);
#endif
