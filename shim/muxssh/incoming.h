/* Channels the server opened toward this client (a remote forward's, a display's): the broker
 * sends INCOMING and the client makes the connection in its own context, as ssh's
 * connect_to does (its network namespace, its working directory for a socket path, names
 * resolved here), and hands it back with INCOMING_REPLY; the broker pumps it. A dynamic
 * remote forward's channel comes as an fd on which the client is the SOCKS server. */
#ifndef MUXSHIM_INCOMING_H
#define MUXSHIM_INCOMING_H

#include <poll.h>

#include "proto.h"

/* Act on INCOMING m (fd: the one it brought, owned, or -1), answering on sock. */
void inc_start(int sock, const struct proto_msg *m, int fd);
/* Put the connections in progress in p (room for max); returns how many. */
int inc_pollfds(struct pollfd *p, int max);
/* Go on with the connections p says are ready (n entries, from inc_pollfds), answering on
 * sock. */
void inc_ready(int sock, const struct pollfd *p, int n);
/* Reap the SOCKS servers that ended, without waiting. */
void inc_reap(void);

#endif
