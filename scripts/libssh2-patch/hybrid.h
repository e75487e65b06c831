/* The arithmetic of the post-quantum hybrid key exchanges that our libssh2 patch adds
 * (sntrup761x25519-sha512[@openssh.com] with SHA-512, mlkem768x25519-sha256 with
 * SHA-256; draft-ietf-sshm-mlkem-hybrid-kex, OpenSSH's kexsntrup761x25519.c): the shared
 * secret, the exchange hash and the derived keys. Compiled into libssh2.a by
 * scripts/libssh2.sh and into the unit test tests/unit/test_pqkex.c. OpenSSL only. */
#ifndef LIBSSH2_PQ_HYBRID_H
#define LIBSSH2_PQ_HYBRID_H
#include <stddef.h>

#define LIBSSH2_HYBRID_KEM_BYTES 32   /* the KEM's shared key, both KEMs */
#define LIBSSH2_HYBRID_X25519_BYTES 32
#define LIBSSH2_HYBRID_MAX_DIGEST 64
#define LIBSSH2_HYBRID_MAX_K (4 + LIBSSH2_HYBRID_MAX_DIGEST)

/* K: the SSH string of HASH(kem_key || X25519(x_priv, x_peer)), HASH SHA-sha_bits (256 or
 * 512), into out; its length (4 + the digest's), or -1 (bad key, all-zero X25519 result). */
int _libssh2_hybrid_secret(int sha_bits, const unsigned char *kem_key,
                           const unsigned char *x_priv, const unsigned char *x_peer,
                           unsigned char *out);

/* H: HASH of the n parts each as an SSH string (V_C, V_S, I_C, I_S, K_S, Q_C, Q_S), then of
 * k as it is (already a string); the digest into out. 0, or -1. */
int _libssh2_hybrid_exchange_hash(int sha_bits, const unsigned char *const *parts,
                                  const size_t *lens, int n, const unsigned char *k,
                                  size_t klen, unsigned char *out);

/* RFC 4253 7.2: need bytes of the key lettered letter ('A'..'F') from K, H and the session
 * id (K1 = HASH(K || H || letter || session_id), Kn = HASH(K || H || K1 .. Kn-1)) into
 * out. 0, or -1. */
int _libssh2_hybrid_derive(int sha_bits, const unsigned char *k, size_t klen,
                           const unsigned char *h, const unsigned char *sid, size_t sidlen,
                           char letter, unsigned char *out, size_t need);
#endif
