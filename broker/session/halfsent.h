/* libssh2's one-pending-send rule on a shared connection: a call that returned EAGAIN with a
 * packet half sent must be repeated, with the same arguments, before any other call on the
 * connection sends. The call to repeat is marked by who made it: c->blocked (a session, its
 * op in blocked_op), c->spare_blocked (a spare, spare.h), c->inchan_blocked (a channel
 * the server opened, inchan.h), c->rfwd_blocked (a remote forward, rfwd.h); each clears its own
 * mark. */
#ifndef MUXSHIM_HALFSENT_H
#define MUXSHIM_HALFSENT_H

#include "objects.h"

/* 1 when rc, from a libssh2 call on c, is an EAGAIN that left a packet half sent (c then
 * waits to write: want_write); 0 for any other rc, an EAGAIN on reading included. */
int halfsent_eagain(struct sshconn *c, int rc);
/* 1 while a call on c is marked to be repeated before any other (see above). */
int halfsent_held(const struct sshconn *c);

#endif
