/* The SOCKS 4, 4a and 5 requests a dynamic forward (-D) takes, as ssh's channels.c. */
#ifndef MUXSHIM_SOCKS_H
#define MUXSHIM_SOCKS_H

#include <stddef.h>

/* Read one CONNECT request from fd (blocking, never a byte past it) and write ssh's reply
 * (granted at once: a refused channel then closes the connection). The destination goes
 * in host (a name or numeric address) and *port. 0, or -1 when ssh would drop it. */
int socks_handshake(int fd, char *host, size_t hostlen, int *port);

#endif
