/* What differs between libssh2 versions, in one place. engine_old() is the one switch for
 * what a libssh2 older than 1.11 still needs (RSA keys it can sign only with SHA-1, handed
 * to the real ssh and remembered): built against 1.11 or newer it is the constant 0. */
#ifndef MUXSHIM_ENGINE_H
#define MUXSHIM_ENGINE_H
#include <libssh2.h>
#include <stddef.h>
#include <sys/types.h>

#define ENGINE_BUILT_OLD (LIBSSH2_VERSION_NUM < 0x010b00)

/* 1 when the libssh2 running is older than 1.11 (only possible when built against one). */
static inline int engine_old(void)
{
    return ENGINE_BUILT_OLD && libssh2_version(0x010b00) == NULL;
}

/* 1 when this build's libssh2 opens direct-streamlocal@openssh.com channels (a forward to a
 * socket path on the server): 1.11.1 has it, the 1.10 of Debian 12 has not. */
int engine_has_streamlocal(void);
/* Open a direct-streamlocal@openssh.com channel to path on the server, as ssh does (from
 * 127.0.0.1 port 0); NULL as libssh2's opens fail (last errno), or always without it (last
 * errno LIBSSH2_ERROR_CHANNEL_FAILURE). */
LIBSSH2_CHANNEL *engine_direct_streamlocal(LIBSSH2_SESSION *s, const char *path);
/* 1 when this build's libssh2 asks the server to listen on a socket path
 * (streamlocal-forward@openssh.com, a remote forward -R /path:...): our patch
 * (scripts/libssh2-patch/streamlocal-forward.patch) adds it; no packaged libssh2 has it. */
int engine_has_rfwd_streamlocal(void);
/* Ask the server to listen for a remote forward: on bind and port (0: the server picks; the
 * port it gave in *bound), or, port ENGINE_PORT_PATH, on the socket path bind (*bound 0).
 * As libssh2_channel_forward_listen_ex: NULL with the session's last errno (a path without
 * engine_has_rfwd_streamlocal: LIBSSH2_ERROR_REQUEST_DENIED). */
#define ENGINE_PORT_PATH (-2)
LIBSSH2_LISTENER *engine_forward_listen(LIBSSH2_SESSION *s, const char *bind, int port, int *bound,
                                        int queue);

/* The version of the libssh2 running (libssh2_version(0)), and the one built against. */
const char *engine_version(void);
const char *engine_built_version(void);

/* 1 when the key exchange named name is a post-quantum hybrid (sntrup761x25519-*,
 * mlkem*): what OpenSSH 10.1 and later count as post-quantum. */
int engine_kex_pq(const char *name);

/* What ssh prints once its key exchange kex (host key algorithm hkalg) is done, at
 * loglevel (0 QUIET … 5 DEBUG1), into out (cap bytes, "\r\n" line ends): -v's "kex:" lines,
 * and, with warnweak (ssh 10.1+'s WarnWeakCrypto, its KexAlgorithms not set), OpenSSH
 * 10.1's warning (a logit(), INFO) when kex is not post-quantum. Returns strlen(out). */
size_t engine_kex_words(const char *kex, const char *hkalg, int loglevel, int warnweak, char *out,
                        size_t cap);

/* The post-quantum key exchanges the libssh2 running has, comma-separated, into out (cap
 * bytes): empty for a libssh2 without them (any packaged one so far; ours has them, see
 * scripts/libssh2.sh). */
void engine_pq_kexes(char *out, size_t cap);

/* 1 when this build's libssh2 has our patch's API (scripts/libssh2-patch/kex-hybrid.patch):
 * KEM key pairs given ahead, the server's offered key exchanges. */
int engine_has_pq_api(void);

/* 1 when libssh2 can negotiate the key exchange named name. */
int engine_kex_supported(const char *name);

/* The key exchange methods the server offered (its KEXINIT list) into out (cap bytes);
 * 0, or -1 (no patch, or none). */
int engine_server_kex(LIBSSH2_SESSION *s, char *out, size_t cap);

/* The hybrid key exchange whose KEM key pair s's next key exchange would have to make
 * (none given ahead), or NULL. */
const char *engine_kem_wanted(LIBSSH2_SESSION *s);
/* Bytes of a KEM key pair for the hybrid kex (0: not one, or no patch). */
size_t engine_kem_pair_len(const char *kex);
/* A new KEM key pair for kex into pair (engine_kem_pair_len bytes); any thread. 0 or -1. */
int engine_kem_pair_make(const char *kex, unsigned char *pair);
/* on 1: s's hybrid key exchanges wait (EAGAIN) for a pair given instead of making one on
 * the caller's thread (non-blocking sessions whose pairs a worker makes); 0: they make it. */
void engine_kem_wait(LIBSSH2_SESSION *s, int on);
/* Give s the pair for its next key exchange by kex (copied). 0 or -1. */
int engine_kem_give(LIBSSH2_SESSION *s, const char *kex, const unsigned char *pair);

/* Sets libssh2's recv callback (set2 where the library has it). */
/* Drop the replies to global requests that libssh2 keeps queued with nobody to take them
 * (keepalives'): a tcpip-forward request takes the first reply in the queue as its own.
 * Needs libssh2's internal queue (the static build's); elsewhere nothing is done. */
void engine_drop_global_replies(LIBSSH2_SESSION *s);
void engine_set_recv(LIBSSH2_SESSION *s,
                     ssize_t (*fn)(libssh2_socket_t, void *, size_t, int, void **));
/* Sets libssh2's send callback (set2 where the library has it). */
void engine_set_send(LIBSSH2_SESSION *s,
                     ssize_t (*fn)(libssh2_socket_t, const void *, size_t, int, void **));

/* The server's SSH_MSG_USERAUTH_BANNER, rendered as ssh prints it, into out (cap bytes);
 * 1 when there is one, 0 when not (or the library cannot say). Call after the first
 * libssh2_userauth_list. */
int engine_banner(LIBSSH2_SESSION *s, char *out, size_t cap);
#endif
