/* Liveness of a shared connection: keepalives while sessions wait on a silent server, the
 * ServerAlive window, and a probe before an idle connection is reused. */
#ifndef MUXSHIM_ALIVE_H
#define MUXSHIM_ALIVE_H

#include "objects.h"

/* A freshly authenticated connection: start counting from now, and count every byte
 * libssh2 reads from the server from here on (c->rx_bytes, the time of the last one). */
void alive_init(struct sshconn *c);
/* Whether c may be reused without a probe (the server spoke recently, sleep included). */
int alive_fresh(const struct sshconn *c);
/* Ask the server for a sign of life before sessions use c. */
void alive_probe(struct sshconn *c);
/* Whether a probe is waiting for its answer (sessions wait with it). */
int alive_probing(const struct sshconn *c);
/* Once a second: keepalives while sessions wait on a silent server. Returns ALIVE_OK,
 * ALIVE_SUSPECT (a probe went unanswered: give new sessions another connection) or
 * ALIVE_DEAD (the keepalive window passed: end the connection). */
int alive_tick(struct sshconn *c);
/* The window (ServerAliveInterval × ServerAliveCountMax, or muxshim's default) in ms. */
long long alive_window_ms(const struct sshconn *c);

enum { ALIVE_OK, ALIVE_SUSPECT, ALIVE_DEAD };

#endif
