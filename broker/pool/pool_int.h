/* What broker/pool's files share with each other and no other module (pool.h is the
 * interface). */
#ifndef MUXSHIM_POOL_INT_H
#define MUXSHIM_POOL_INT_H

#include "objects.h"

/* pool.c */
/* Put the new connection c in the pool's list (conn_new; unit tests that build one). */
void pool_link(struct sshconn *c);
/* Take s off c's session list (the connection notes when it became idle). */
void pool_unlink_session(struct sshconn *c, struct session *s);
/* Sessions waiting on c that c cannot serve go elsewhere: another connection when c is full
 * or suspect, the real ssh when the server takes no session channel at all. */
void pool_move_waiting(struct sshconn *c);

/* sweep.c */
/* End c's finished sessions and start or give spares to its waiting ones. */
void pool_sweep(struct sshconn *c);

/* sticky.c */
/* Remember for STICKY_SECONDS that the authority token goes to the real ssh, because why. */
void pool_remember_fallback(const char *token, const char *why, int gssapi);

#endif
