/* scripts/libssh2-patch/hybrid.c, the arithmetic of our post-quantum hybrid key exchanges: the
 * shared secret K, the exchange hash H and a derived key, for SHA-512 (sntrup761x25519) and
 * SHA-256 (mlkem768x25519), against values computed apart from our code. The X25519 inputs
 * are RFC 7748 6.1's (Alice's private key, Bob's public key; the RFC gives their secret);
 * the rest came from Python's hashlib with this script (python3, `cryptography` for X25519):
 *
 *   import hashlib, struct
 *   from cryptography.hazmat.primitives.asymmetric.x25519 import (X25519PrivateKey,
 *       X25519PublicKey)
 *   s = lambda b: struct.pack(">I", len(b)) + b
 *   a = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
 *   bp = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
 *   x = X25519PrivateKey.from_private_bytes(a).exchange(X25519PublicKey.from_public_bytes(bp))
 *   kem = bytes(range(32))
 *   parts = [b"SSH-2.0-libssh2_1.11.1", b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u7",
 *            b"\x14client kexinit", b"\x14server kexinit", b"\x00\x00\x00\x0bssh-ed25519host",
 *            bytes(range(100)), bytes(range(100, 200))]
 *   for name, h in (("sha512", hashlib.sha512), ("sha256", hashlib.sha256)):
 *       K = s(h(kem + x).digest())
 *       H = h(b"".join(s(p) for p in parts) + K).digest()
 *       need = 100 if name == "sha512" else 40      # more than one block
 *       out = h(K + H + b"C" + H).digest()           # the first exchange: session id = H
 *       while len(out) < need:
 *           out += h(K + H + out).digest()
 *       print(name, "K", K.hex()); print(name, "H", H.hex()); print(name, "C", out[:need].hex())
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hybrid.h"

static size_t unhex(const char *hex, unsigned char *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        char b[3] = {hex[2 * i], hex[2 * i + 1], 0};
        out[i] = (unsigned char)strtoul(b, NULL, 16);
    }
    return n;
}

static int same(const unsigned char *got, size_t len, const char *want)
{
    unsigned char w[256];
    return unhex(want, w) == len && !memcmp(got, w, len);
}

static const char alice[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char bob_pub[] = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";

static const struct {
    int bits;
    size_t need;
    const char *k, *h, *c;
} want[] = {
    {512, 100,
     "000000407e8fbcf5a1ddd5cdc198db03f1de3adc486264c7415d88b13147da323d06b0fd6597c8e883f964f8"
     "abae85d260168ff58b70d09667b33c24d4793429145f0c5a",
     "7c774ce94fd5ef448c8e34352589bee39c41545bee6f7affb22bfa0ff9a4e190ab17071f63b376567828a279"
     "72bb52181c6c0057bc2213fe3b8529d74a43caec",
     "ef7ae5c419ff6c1b840e3c7f77105194a0233cec8e0d46145ee27772d0b3d26a1020ad2685a173f7c978ec71"
     "2070f3e956224f92e36b54d18c68042ddba655224193029d3c8ff5b7bfb624b51c7144885b0315945e59ab8f"
     "0f04e14c69607e145de95066"},
    {256, 40, "000000202f3032e0e0944759a516fd8c31953e089addd524450255d1560fb48c486900f6",
     "4c756c62db37b67b6a9849bfccc5f1c4585cd48887f8050d82e69704c8cec508",
     "a42bbec0205be42d54733ee364600fe33d2b7e8e3191c545c1ac044add93a9122959ee2a05702edf"},
};

int main(void)
{
    unsigned char priv[32], peer[32], kem[32], qc[100], qs[100];
    unhex(alice, priv);
    unhex(bob_pub, peer);
    for (int i = 0; i < 32; i++)
        kem[i] = (unsigned char)i;
    for (int i = 0; i < 100; i++) {
        qc[i] = (unsigned char)i;
        qs[i] = (unsigned char)(100 + i);
    }
    static const char *const text[] = {"SSH-2.0-libssh2_1.11.1",
                                       "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u7",
                                       "\x14"
                                       "client kexinit",
                                       "\x14"
                                       "server kexinit"};
    static const unsigned char hostkey[] = "\0\0\0\x0bssh-ed25519host";
    const unsigned char *parts[7] = {(const unsigned char *)text[0],
                                     (const unsigned char *)text[1],
                                     (const unsigned char *)text[2],
                                     (const unsigned char *)text[3],
                                     hostkey,
                                     qc,
                                     qs};
    size_t lens[7] = {strlen(text[0]),    strlen(text[1]), strlen(text[2]), strlen(text[3]),
                      sizeof hostkey - 1, sizeof qc,       sizeof qs};

    for (size_t t = 0; t < sizeof want / sizeof want[0]; t++) {
        int bits = want[t].bits;
        size_t dlen = (size_t)bits / 8;
        unsigned char k[LIBSSH2_HYBRID_MAX_K], h[LIBSSH2_HYBRID_MAX_DIGEST], c[128];
        int klen = _libssh2_hybrid_secret(bits, kem, priv, peer, k);
        CHECK(klen == (int)(4 + dlen), "SHA-%d: K is a string of the digest (%d bytes)", bits,
              klen);
        CHECK(klen > 0 && same(k, (size_t)klen, want[t].k), "SHA-%d: K", bits);
        CHECK(_libssh2_hybrid_exchange_hash(bits, parts, lens, 7, k, (size_t)klen, h) == 0 &&
                  same(h, dlen, want[t].h),
              "SHA-%d: the exchange hash", bits);
        memset(c, 0xee, sizeof c);
        CHECK(_libssh2_hybrid_derive(bits, k, (size_t)klen, h, h, dlen, 'C', c, want[t].need) ==
                      0 &&
                  same(c, want[t].need, want[t].c) && c[want[t].need] == 0xee,
              "SHA-%d: key C, %zu bytes (two blocks), nothing written past it", bits, want[t].need);
    }

    /* (The K above hashes RFC 7748 6.1's X25519 secret, 4a5d9d5b...1e161742, as the script's
     * X25519 gives it.) A peer key of all zeros, a low-order point, gives an all-zero
     * secret, which must be refused, not hashed. */
    unsigned char zero[32] = {0}, k[LIBSSH2_HYBRID_MAX_K];
    CHECK(_libssh2_hybrid_secret(256, kem, priv, zero, k) == -1,
          "an all-zero X25519 secret is refused");
    CHECK(_libssh2_hybrid_secret(384, kem, priv, peer, k) == -1, "only SHA-256 and SHA-512");
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
