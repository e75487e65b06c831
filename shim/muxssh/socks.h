/* The SOCKS 4, 4a and 5 requests a dynamic forward (-D) takes, as ssh's channels.c. */
#ifndef MUXSHIM_SOCKS_H
#define MUXSHIM_SOCKS_H

#include <stddef.h>

/* Read one CONNECT request from fd (blocking, never a byte past it) and write ssh's reply
 * (granted at once: a refused channel then closes the connection). The destination goes
 * in host (a name or numeric address) and *port. 0, or -1 when ssh would drop it. */
int socks_handshake(int fd, char *host, size_t hostlen, int *port);
/* The request alone (SOCKS 5's method choice is answered): *version 4 or 5 for socks_reply.
 * A dynamic remote forward replies only once its connection is made, as ssh does. 0 or -1. */
int socks_request(int fd, char *host, size_t hostlen, int *port, int *version);
/* Write the "granted" reply of that version. 0 or -1. */
int socks_reply(int fd, int version);

#endif
