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

/* The version of the libssh2 running (libssh2_version(0)), and the one built against. */
const char *engine_version(void);
const char *engine_built_version(void);

/* Sets libssh2's recv callback (set2 where the library has it). */
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
