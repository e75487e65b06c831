/* The warm spare channel: a session channel opened ahead on each connection, so that a new
 * session needs only its exec request; while nothing else reads the connection, the spare
 * is what reads it. */
#ifndef MUXSHIM_SPARE_H
#define MUXSHIM_SPARE_H

#include "broker.h"

/* Open a spare when there is room, read through a ready one; returns nonzero on progress.
 * A refusal is recorded in c->max_sessions (or c->spare_state = SPARE_REFUSED). */
int spare_step(struct sshconn *c);
/* Hand the ready spare to a session (NULL when none is ready). */
LIBSSH2_CHANNEL *spare_take(struct sshconn *c);
/* Whether something will consume what the server sends on c (else it must not be polled). */
int spare_reads(const struct sshconn *c);
/* Forget the spare of a connection that is going away (libssh2 frees it with the session). */
void spare_drop(struct sshconn *c);

#endif
