/* ssh's words for a connection whose transport broke: a corrupted stream (MAC, packet
 * length), a bad key exchange signature, the peer gone; and which libssh2 errors concern one
 * channel only. */
#ifndef MUXSHIM_FATAL_H
#define MUXSHIM_FATAL_H

#include <libssh2.h>
#include <stddef.h>

/* Which failures fatal_words names. */
enum fatal_kind {
    FATAL_CORRUPT = 1, /* a corrupted stream: MAC or tag, packet length, kex signature */
    FATAL_CLOSED = 2,  /* the peer closed or reset the connection */
};

/* Note what corrupted a stream in this thread (a failed tag libssh2 cannot report, see
 * fastcrypto.c), for the next fatal_code. */
void fatal_note(int rc);
/* Whether a corruption was noted since the last fatal_code (not taken). */
int fatal_noted(void);
/* Watch s for MAC failures (libssh2's MACERROR callback notes them; they still fail). */
void fatal_watch(LIBSSH2_SESSION *s);
/* Whether the server sent a disconnect message on this thread's connection since fatal_watch. */
int fatal_disconnected(void);
/* When the server sent a disconnect message on this thread's connection since fatal_watch:
 * 1 and ssh's words for it ("Received disconnect from ID:REASON: TEXT", "Disconnected from
 * ID", by loglevel as fatal_words'), the peer on fd; else 0. */
int fatal_disconnect_words(int fd, int loglevel, char *out, size_t outlen);
/* 1 when libssh2's error rc concerns one channel only (a refused or failed request, a channel
 * closed, gone or overrun); any other error means the connection is unusable. */
int fatal_channel_only(int rc);
/* Stands for "the stream is corrupted, libssh2 did not say how" in fatal_code. */
#define FATAL_UNSAID 1

/* The libssh2 code that names the failure of a call on s that returned rc: what was noted
 * since the last call (taken), else rc; FATAL_UNSAID becomes an AEAD cipher's failed tag
 * (LIBSSH2_ERROR_DECRYPT), else a bad packet length (LIBSSH2_ERROR_OUT_OF_BOUNDARY). */
int fatal_code(LIBSSH2_SESSION *s, int rc);
/* Remember the peer on fd (just connected) for fatal_remote_id in this thread, as ssh keeps
 * the address it connected to: a socket the peer reset has none any more. */
void fatal_peer_note(int fd);
/* ssh's remote id of the peer on fd (ssh_remote_ipaddr and _port): "ADDR port PORT", or
 * "UNKNOWN port 65535" for a peer with no address (a ProxyCommand, a jump host's tunnel). */
void fatal_remote_id(int fd, char *out, size_t outlen);
/* When libssh2's error rc on s is a failure of a kind in kinds: 1 and ssh's words for it
 * into out ("" below LogLevel INFO, loglevel as hostcfg's), the peer on fd; host is the
 * name ssh says the session's "Connection to HOST closed by remote host." with, used once
 * the session's loop has begun (in_loop), before which ssh says "Connection closed by ID".
 * Otherwise 0, out untouched. */
int fatal_words(LIBSSH2_SESSION *s, int rc, int kinds, int fd, int in_loop, const char *host,
                int loglevel, char *out, size_t outlen);

#endif
