/* libssh2's one-pending-send rule on a shared connection (halfsent.h). */
#include "halfsent.h"

int halfsent_eagain(struct sshconn *c, int rc)
{
    if (rc != LIBSSH2_ERROR_EAGAIN ||
        !(libssh2_session_block_directions(c->ssh) & LIBSSH2_SESSION_BLOCK_OUTBOUND))
        return 0;
    c->want_write = 1;
    return 1;
}

int halfsent_held(const struct sshconn *c)
{
    return c->blocked || c->spare_blocked || c->inchan_blocked || c->rfwd_blocked;
}
