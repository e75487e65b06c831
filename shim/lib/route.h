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

#define ROUTE_STACK (80 * 1024) /* a clone's stack (route_stack) */

/* An anonymous private mapping of size bytes, or NULL. */
void *route_map(size_t size);
/* *slot, or a mapping of size bytes published there with a compare-and-swap (first use). */
void *route_map_once(void **slot, size_t size);
/* A mapping of ROUTE_STACK bytes for a clone child's stack (munmap it after), or NULL. */
void *route_stack(void);
/* The route for addr:port in $MUXSHIM_ROUTES, else $HOME/.config/muxshim/routes: 1 and *via
 * on a match, else 0. */
int route_for(int family, const unsigned char *addr, unsigned port, struct via *via);
/* What a routed connect asks the broker for: host:port of the family, and, for a connect
 * the program does not wait for (route_async.c), where the broker connects its end of the
 * channel from (loopback port from_port) and to (the program's socket, to_addr:to_port);
 * from_port 0: the broker hands over one end of a loopback pair instead. */
struct route_ask {
    char host[46];
    unsigned port;
    int family;
    unsigned from_port;
    char to_addr[46];
    unsigned to_port;
};

/* The broker's socket (the broker started if none answers): the fd, or -1 (no broker). */
int route_dial_broker(void);
/* The route's ConnectTimeout (its -o options) in ms, else 30 s. */
int route_timeout_ms(const struct via *via);
/* HELLO and ROUTE on s (closed here), the broker's questions answered on the terminal. Returns
 * the connected fd (from_port 0) or 0 (from_port set: the broker connected the program's
 * socket), or -1 with *err: 0 not served (use the real connect), ETIMEDOUT when the broker did
 * not answer within the route's ConnectTimeout, else the errno the refusal maps to. */
int route_converse(int s, const struct via *via, const struct route_ask *ask, int *err);
/* route_dial_broker, then route_converse. */
int route_ask_broker(const struct via *via, const struct route_ask *ask, int *err);
/* The non-blocking connect of fd (route_async.c): 1 when handled (*result -1, errno
 * EINPROGRESS or the failure), 0 when the real connect must run (no broker), -1 when the
 * waiting path must (a socket the program bound itself). */
int route_connect_async(int fd, int family, struct via *via, struct route_ask *ask, int *result);
/* Whether fd is a socket this shim routed (connected, or connecting): another connect() on it
 * is the kernel's (EALREADY, EISCONN or the failure, as for any socket). */
int route_known(int fd);
/* Remember that fd is a routed socket connected to sa, for getpeername. */
void route_remember(int fd, const struct sockaddr *sa, socklen_t len);

#endif
