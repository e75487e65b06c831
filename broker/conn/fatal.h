/* ssh's words for a connection whose transport broke: a corrupted stream (MAC, packet
 * length), a bad key exchange signature, the peer gone. */
#ifndef MUXSHIM_FATAL_H
#define MUXSHIM_FATAL_H

#include <stddef.h>

/* Which failures fatal_words names. */
enum fatal_kind {
    FATAL_CORRUPT = 1, /* a corrupted stream: MAC or tag, packet length, kex signature */
    FATAL_CLOSED = 2,  /* the peer closed the connection */
};

/* ssh's remote id of the peer on fd (ssh_remote_ipaddr and _port): "ADDR port PORT", or
 * "UNKNOWN port 65535" for a peer with no address (a ProxyCommand, a jump host's tunnel). */
void fatal_remote_id(int fd, char *out, size_t outlen);
/* When libssh2's error rc is a failure of a kind in kinds: 1 and ssh's words for it into
 * out ("" below LogLevel INFO, loglevel as hostcfg's), the peer on fd; host is the name ssh
 * says the session's "Connection to HOST closed by remote host." with, used once the
 * session's loop has begun (in_loop), before which ssh says "Connection closed by ID".
 * Otherwise 0 and out "". */
int fatal_words(int rc, int kinds, int fd, int in_loop, const char *host, int loglevel,
                char *out, size_t outlen);

#endif
