/* Pumping a connection: every session stepped until nothing moves (libssh2's one pending send
 * first), finished sessions ended, ready spares given to waiting sessions, oldest first. */
#include "pool.h"

#include <stdlib.h>

#include "alive.h"
#include "clock.h"
#include "halfsent.h"
#include "inchan.h"
#include "rfwd.h"
#include "localcmd.h"
#include "pool_int.h"
#include "session.h"
#include "spare.h"
#include "stats.h"

/* The oldest session on c that waits for a session channel (sessions are pushed at the
 * head, so the last one) and whose client has run its LocalCommand, or NULL. */
static struct session *oldest_waiting(struct sshconn *c)
{
    struct session *pick = NULL;
    for (struct session *s = c->sessions; s; s = s->next)
        if (s->state == S_WAITCONN && s->mode != MODE_NONE && s->mode != MODE_TCPIP &&
            !localcmd_pending(s))
            pick = s;
    return pick;
}

/* Give s a spare: it then sends only the env requests the spare has not (spare.h). */
static int give_spare(struct sshconn *c, struct session *s)
{
    const char **rest = NULL;
    int missed = s->spare_missed;
    LIBSSH2_CHANNEL *ch = spare_take(c, s->envall, &rest, &missed);
    session_give_channel(s, ch, rest, missed);
    if (!ch)
        return 0;
    c->dirty = 1;
    return 1;
}

/* Ends finished sessions and gives ready spares to waiting sessions, oldest first. */
void pool_sweep(struct sshconn *c)
{
    struct session *s = c->sessions;
    while (s) {
        struct session *next = s->next;
        if (s->state == S_DONE) {
            pool_unlink_session(c, s);
            session_finish(s);
        }
        s = next;
    }
    if (c->state != C_READY)
        return;
    pool_move_waiting(c);
    for (s = c->sessions; s; s = s->next)
        if (s->state == S_WAITCONN && !localcmd_pending(s) && session_conn_ready(s))
            c->dirty = 1; /* -N runs, -W and tunnels open their own channels */
    if (alive_probing(c))
        return;
    while ((s = oldest_waiting(c)) != NULL && give_spare(c, s))
        ;
}

/* One step of every session, from c->pump_from round the list (wrapping), so that when the
 * turn's budget runs out (CLOCK_MONOTONIC past deadline_us) the next turn starts where this
 * one stopped and no session waits for ever behind busier ones (c stays dirty; the round's
 * other steps still run). */
static void step_sessions(struct sshconn *c, int *progress, long long deadline_us)
{
    int n = 0;
    for (const struct session *s = c->sessions; s; s = s->next)
        n++;
    int from = c->pump_from < n ? c->pump_from : 0;
    c->pump_from = 0;
    struct session *s = c->sessions;
    for (int i = 0; i < from; i++)
        s = s->next;
    for (int k = 0; k < n && !halfsent_held(c) && c->state == C_READY; k++) {
        *progress |= session_step(s);
        if (s->conn != c)
            break; /* it left the list (and the walk with it): the next round goes on */
        s = s->next ? s->next : c->sessions;
        if (k + 1 < n && clock_us(CLOCK_MONOTONIC) > deadline_us) {
            c->pump_from = (from + k + 1) % n;
            c->dirty = 1;
            return;
        }
    }
}

void pool_pump(struct sshconn *c, long long deadline_us)
{
    c->dirty = 0;
    if (c->state == C_READY)
        c->want_write = 0;
    for (int round = 0; round < 64; round++) {
        /* Any call may read packets for every channel: while the server's bytes keep
         * coming, step everybody again, or a channel whose data was read by another's call
         * would wait for a wake-up that never comes. */
        unsigned long long rx = c->rx_bytes;
        int progress = 0;
        if (c->state == C_READY && c->spare_blocked)
            progress |= spare_step(c);
        if (c->state == C_READY && c->blocked)
            progress |= session_step(c->blocked);
        if (c->state == C_READY && c->inchan_blocked)
            progress |= inchan_step(c);
        if (c->state == C_READY && c->rfwd_blocked)
            progress |= rfwd_step(c);
        /* A spent budget ends the pump after this round. */
        step_sessions(c, &progress, deadline_us);
        if (c->state == C_READY && !halfsent_held(c))
            progress |= inchan_step(c);
        if (c->state == C_READY && !halfsent_held(c))
            progress |= rfwd_step(c);
        pool_sweep(c);
        if (c->state == C_READY && !halfsent_held(c))
            progress |= spare_step(c);
        pool_sweep(c);
        if (c->rx_bytes != rx)
            progress = 1;
        if (!progress && !c->dirty)
            break;
        c->dirty = 0;
        if (round == 63 || clock_us(CLOCK_MONOTONIC) > deadline_us) {
            c->dirty = 1; /* more to do: come back without sleeping, after a poll */
            break;
        }
    }
    pool_kem_ahead(c); /* a key exchange may have used the pair given ahead */
}
