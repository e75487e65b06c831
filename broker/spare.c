/* The warm spare channel (see spare.h). */
#include "spare.h"

#include "log.h"
#include "pool.h"

#define CHANNEL_WINDOW (2 * 1024 * 1024)
#define CHANNEL_PACKET 32768

/* An EAGAIN that left a packet half sent: this call must be repeated before any other. */
static int blocked(struct sshconn *c, int rc)
{
    c->spare_blocked = rc == LIBSSH2_ERROR_EAGAIN &&
                       (libssh2_session_block_directions(c->ssh) & LIBSSH2_SESSION_BLOCK_OUTBOUND);
    if (c->spare_blocked)
        c->want_write = 1;
    return rc == LIBSSH2_ERROR_EAGAIN;
}

static int wanted(const struct sshconn *c)
{
    return c->state == C_READY && !c->draining && !c->suspect &&
           (c->max_sessions == 0 || pool_channels(c) < c->max_sessions);
}

static int step_open(struct sshconn *c)
{
    c->spare = libssh2_channel_open_ex(c->ssh, "session", sizeof "session" - 1, CHANNEL_WINDOW,
                                       CHANNEL_PACKET, NULL, 0);
    if (c->spare || libssh2_session_last_errno(c->ssh) != LIBSSH2_ERROR_EAGAIN)
        c->opener = NULL;
    if (c->spare) {
        c->spare_blocked = 0;
        c->spare_state = SPARE_READY;
        return 1;
    }
    int rc = libssh2_session_last_errno(c->ssh);
    if (blocked(c, rc))
        return 0;
    c->spare_state = SPARE_NONE;
    if (rc == LIBSSH2_ERROR_CHANNEL_FAILURE) {
        int open = pool_channels(c);
        if (open == 0) {
            c->spare_state = SPARE_REFUSED; /* no session channel at all on this server */
            blog("%s refused a session channel on a fresh connection", c->cfg.hostname);
        } else {
            c->max_sessions = open;
            blog("%s refused channel %d: limit %d sessions per connection", c->cfg.hostname,
                 open + 1, open);
        }
        return 1;
    }
    char *m = NULL;
    libssh2_session_last_error(c->ssh, &m, NULL, 0);
    blog("channel open on %s: %s (%d)", c->cfg.hostname, m ? m : "?", rc);
    pool_lost(c);
    return 1;
}

/* Read through the spare: this is what consumes keepalive replies and other packets while
 * no session reads. Nothing is expected on the channel itself. */
static int step_read(struct sshconn *c)
{
    char junk[256];
    ssize_t n = libssh2_channel_read_ex(c->spare, 0, junk, sizeof junk);
    if (blocked(c, (int)n))
        return 0;
    if (n > 0)
        return 1;
    if (n == 0 && !libssh2_channel_eof(c->spare))
        return 0;
    /* The server closed the spare (or it broke): let it go and open another. */
    libssh2_channel_free(c->spare);
    c->spare = NULL;
    c->spare_state = SPARE_NONE;
    c->spare_blocked = 0;
    if (n < 0 && n != LIBSSH2_ERROR_CHANNEL_CLOSED && n != LIBSSH2_ERROR_CHANNEL_EOF_SENT &&
        n != LIBSSH2_ERROR_CHANNEL_UNKNOWN) {
        pool_lost(c);
    }
    return 1;
}

int spare_step(struct sshconn *c)
{
    if (c->state != C_READY)
        return 0;
    switch (c->spare_state) {
    case SPARE_NONE:
        if (!wanted(c) || c->opener)
            return 0;
        c->opener = c;
        c->spare_state = SPARE_OPENING;
        step_open(c);
        return 1;
    case SPARE_OPENING:
        return step_open(c);
    case SPARE_READY:
        return step_read(c);
    default:
        return 0;
    }
}

LIBSSH2_CHANNEL *spare_take(struct sshconn *c)
{
    if (c->spare_state != SPARE_READY || c->spare_blocked)
        return NULL;
    LIBSSH2_CHANNEL *ch = c->spare;
    c->spare = NULL;
    c->spare_state = SPARE_NONE;
    return ch;
}

int spare_reads(const struct sshconn *c)
{
    return c->spare_state == SPARE_READY || c->spare_state == SPARE_OPENING || pool_channels(c) > 0;
}

void spare_drop(struct sshconn *c)
{
    c->opener = NULL;
    c->spare = NULL;
    c->spare_state = SPARE_NONE;
    c->spare_blocked = 0;
}
