/* The SOCKS 4, 4a and 5 requests a dynamic forward (-D) takes, as ssh's channels.c. */
#ifndef MUXSHIM_SOCKS_H
#define MUXSHIM_SOCKS_H

#include <stddef.h>

/* Read one CONNECT request from fd (blocking, never a byte past it), answering a SOCKS 5
 * greeting; the reply to the request is left to the broker, which sends ssh's once the
 * channel is open (a refused one closes the connection unanswered, as ssh). The destination
 * goes in host (a name or numeric address) and *port. The SOCKS version (4 or 5), or -1 when
 * ssh would drop it. */
int socks_handshake(int fd, char *host, size_t hostlen, int *port);

#endif
