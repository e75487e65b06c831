/* Warm spare channels: session channels opened ahead on each connection and sent the env
 * requests the next session will most likely send (the last session's), so that a new
 * session whose env matches needs only its exec request. As many are kept as sessions
 * recently arrived faster than spares were ready (within the server's MaxSessions), and
 * fewer again when the connection is idle. While nothing else reads the connection, the
 * spares are what read it. */
#ifndef MUXSHIM_SPARE_H
#define MUXSHIM_SPARE_H

#include "objects.h"

/* Open spares while fewer than wanted, send their env requests, read through ready ones,
 * close unusable ones; returns nonzero on progress. A refused open is recorded in
 * c->max_sessions (or c->spare_refused). */
int spare_step(struct sshconn *c);
/* Hand a ready spare to a session whose env requests are want: the one needing the fewest
 * further requests, put in *rest (owned by the caller: pointers into want). NULL when none
 * fits; then (once per session, *missed) one more spare is wanted, and ready spares that can
 * serve neither want nor later sessions like it are closed. want becomes the hint for the
 * next spares either way. */
LIBSSH2_CHANNEL *spare_take(struct sshconn *c, const char *const *want, const char ***rest,
                            int *missed);
/* Spares open or being opened (they count against the server's MaxSessions). */
int spare_count(const struct sshconn *c);
/* Whether something will consume what the server sends on c (else it must not be polled). */
int spare_reads(const struct sshconn *c);
/* Once a second: a connection no session used for a while keeps one spare again. */
void spare_tick(struct sshconn *c, time_t now);
/* Forget the spares of a connection that is going away (libssh2 frees them with it). */
void spare_drop(struct sshconn *c);

#endif
