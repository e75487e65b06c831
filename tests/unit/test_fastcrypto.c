/* fastcrypto.c: RFC 8439's ChaCha20 and Poly1305 vectors, and the reference's counter. */
#include <string.h>

#include <libssh2.h>

#include "check.h"
#include "fastcrypto.h"

int main(void)
{
#if LIBSSH2_VERSION_NUM != 0x010b01
    printf("%d passed, %d failed (libssh2 %s keeps its own ChaCha20)\n", passed, failed,
           LIBSSH2_VERSION);
    return 0;
#else
    u_char key[32], ctr[8] = {1}, nonce[8] = {0, 0, 0, 0x4a};
    for (int i = 0; i < 32; i++)
        key[i] = (u_char)i;
    /* RFC 8439 2.4.2: counter 1, nonce 00..00 4a 00 00 00 00 (words 13-15). */
    static const char plain[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
                                "only one tip for the future, sunscreen would be it.";
    static const u_char head[16] = {0x6e, 0x2e, 0x35, 0x9a, 0x25, 0x68, 0xf9, 0x80,
                                    0x41, 0xba, 0x07, 0x28, 0xdd, 0x0d, 0x69, 0x81};
    static const u_char tail[2] = {0x87, 0x4d};
    size_t n = sizeof plain - 1;
    u_char out[256];
    struct chacha_ctx x;
    CHECK(fastcrypto_ready(), "OpenSSL has ChaCha20 and Poly1305");
    chacha_keysetup(&x, key, 256);
    chacha_ivsetup(&x, nonce, ctr);
    chacha_encrypt_bytes(&x, (const u_char *)plain, out, (u_int)n);
    CHECK(n == 114 && !memcmp(out, head, 16) && !memcmp(out + n - 2, tail, 2),
          "RFC 8439 2.4.2 ciphertext");
    CHECK(x.input[12] == 3 && x.input[13] == 0, "counter advanced by 2 blocks: %u", x.input[12]);

    /* In place, and in pieces: a partial block uses up its block, as the reference. */
    u_char zero[192] = {0}, whole[192], part[192];
    chacha_ivsetup(&x, nonce, NULL);
    chacha_encrypt_bytes(&x, zero, whole, sizeof whole);
    memset(part, 0, sizeof part);
    chacha_ivsetup(&x, nonce, NULL);
    chacha_encrypt_bytes(&x, part, part, 70);
    chacha_encrypt_bytes(&x, part + 128, part + 128, 64);
    CHECK(!memcmp(part, whole, 70) && !memcmp(part + 128, whole + 128, 64), "in place, in pieces");

    /* RFC 8439 2.5.2. */
    static const u_char pkey[32] = {0x85, 0xd6, 0xbe, 0x78, 0x57, 0x55, 0x6d, 0x33,
                                    0x7f, 0x44, 0x52, 0xfe, 0x42, 0xd5, 0x06, 0xa8,
                                    0x01, 0x03, 0x80, 0x8a, 0xfb, 0x0d, 0xb2, 0xfd,
                                    0x4a, 0xbf, 0xf6, 0xaf, 0x41, 0x49, 0xf5, 0x1b};
    static const u_char tag[16] = {0xa8, 0x06, 0x1d, 0xc1, 0x30, 0x51, 0x36, 0xc6,
                                   0xc2, 0x2b, 0x8b, 0xaf, 0x0c, 0x01, 0x27, 0xa9};
    static const char msg[] = "Cryptographic Forum Research Group";
    /* As libssh2 verifies: the received tag follows the message (poly1305_auth compares
     * it, to stop libssh2 1.11.1's endless re-read of a corrupted packet). */
    u_char t[16], m[sizeof msg - 1 + 16];
    memcpy(m, msg, sizeof msg - 1);
    memcpy(m + sizeof msg - 1, tag, 16);
    poly1305_auth(t, m, sizeof msg - 1, pkey);
    CHECK(!memcmp(t, tag, 16), "RFC 8439 2.5.2 tag");
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
#endif
}
