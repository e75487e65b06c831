/* The SOCKS 4, 4a and 5 requests a dynamic forward (-D, or a dynamic -R) takes, as ssh's
 * channels.c; the parsing is socksparse.c's, shared with the broker. */
#ifndef MUXSHIM_SOCKS_H
#define MUXSHIM_SOCKS_H

#include <stddef.h>

/* Read one CONNECT request from fd (blocking, never a byte past it), answering a SOCKS 5
 * greeting; the reply to the request is left to the caller: for -D the broker sends ssh's
 * once the channel is open (a refused one closes the connection unanswered, as ssh), a
 * dynamic remote forward once its connection is made (socks_send_reply). The destination
 * goes in host (a name or numeric address) and *port. The SOCKS version (4 or 5), or -1 when
 * ssh would drop it. */
int socks_handshake(int fd, char *host, size_t hostlen, int *port);
/* Write ssh's "granted" reply of that SOCKS version to fd. 0 or -1. */
int socks_send_reply(int fd, int version);

#endif
