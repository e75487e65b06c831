/* connect() routing inside the shim (see route.c): the routes file, the ROUTE request to the
 * broker, and the table getpeername answers from. Private to libmuxshim.so; heap-free. */
#ifndef MUXSHIM_ROUTE_H
#define MUXSHIM_ROUTE_H

#include <stddef.h>
#include <sys/socket.h>

#define ROUTE_WORDS 12 /* CIDR, port LIST, via DEST, and up to 7 ssh option words */

/* What a matching routes line says: the destination and the ssh options after it. */
struct via {
    char dest[256];
    char opts[ROUTE_WORDS][256];
    int nopts;
};

/* dst = a + b (+ c); -1 (dst unchanged past cap) when it does not fit. */
int route_join(char *dst, size_t cap, const char *a, const char *b, const char *c);
/* The route for addr:port in $MUXSHIM_ROUTES, else $HOME/.config/muxshim/routes: 1 and *via
 * on a match, else 0. */
int route_for(int family, const unsigned char *addr, unsigned port, struct via *via);
/* Ask the broker (started if none answers) to connect host:port through via; returns the
 * connected fd, or -1 with *err (0: not served, use the real connect; else the errno the
 * remote side's refusal maps to). */
int route_ask_broker(const struct via *via, const char *host, unsigned port, int family, int *err);
/* Remember that fd is a routed socket connected to sa, for getpeername. */
void route_remember(int fd, const struct sockaddr *sa, socklen_t len);

#endif
