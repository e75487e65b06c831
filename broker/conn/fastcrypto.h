/* chacha20-poly1305@openssh.com at OpenSSL's speed: libssh2 1.11.1 runs its own portable C
 * ChaCha20 and Poly1305 (src/chacha.c, src/poly1305.c), three quarters of the broker's time
 * in a bulk transfer with ssh's default cipher. fastcrypto.o defines the same four functions
 * on OpenSSL's EVP (as OpenSSH's cipher-chachapoly-libcrypto.c does), and muxbroker links it
 * as an object ahead of the static libssh2, so the library's copies are never linked in.
 * Only built against libssh2 1.11.1 (the layout below is its); against a shared system
 * libssh2 they are unused (its internal calls stay internal). */
#ifndef MUXSHIM_FASTCRYPTO_H
#define MUXSHIM_FASTCRYPTO_H

#include <stddef.h>
#include <sys/types.h>

/* libssh2's struct chacha_ctx (src/chacha.h of 1.11.1): the reference layout, words 4-11
 * the key, 12-13 the 64-bit block counter, 14-15 the 64-bit nonce, little-endian. */
struct chacha_ctx {
    u_int input[16];
};

/* Keep a 256-bit key (the only size libssh2 uses; kbits is ignored otherwise). */
void chacha_keysetup(struct chacha_ctx *x, const u_char *k, u_int kbits);
/* Set the nonce (8 bytes) and block counter (8 bytes little-endian; NULL: 0). */
void chacha_ivsetup(struct chacha_ctx *x, const u_char *iv, const u_char *ctr);
/* XOR bytes of keystream into m, to c (may be m), and advance the counter by the blocks
 * used (a partial last block counts), as the reference does. */
void chacha_encrypt_bytes(struct chacha_ctx *x, const u_char *m, u_char *c, u_int bytes);
/* One-time Poly1305 tag of m under the 32-byte key (zeros if OpenSSL fails: the MAC then
 * fails and so does the connection, never silently). */
void poly1305_auth(u_char out[16], const u_char *m, size_t inlen, const u_char key[32]);
/* 1 once OpenSSL's ChaCha20 and Poly1305 are available to this thread. */
int fastcrypto_ready(void);

#endif
