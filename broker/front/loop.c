/* muxbroker's event loop: one poll over clients, connections and the clients' fds. */
#include "loop.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inchan.h"
#include "rfwd.h"
#include "objects.h"
#include "clock.h"
#include "fwdheld.h"
#include "jobs.h"
#include "log.h"
#include "peer.h"
#include "pool.h"
#include "prompt.h"
#include "reap.h"
#include "session.h"
#include "spare.h"

#define EMPTY_GRACE 2 /* seconds the broker lingers holding nothing */
/* A turn pumps connections for about this long, then polls again (without sleeping) so
 * new clients and other connections are not kept waiting behind bulk transfers. */
#define LOOP_BUDGET_US 4000

static volatile sig_atomic_t stop_requested;
static struct loop_turns turn_counts; /* written by turn_done only */

void loop_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

enum kind { K_LISTEN, K_JOBS, K_PEER, K_CONN, K_EP, K_FWD };

struct slot {
    enum kind kind;
    void *obj;
    struct endpoint *ep;
};

struct pollset {
    struct pollfd *pfd;
    struct slot *slot;
    size_t n, cap;
};

static int add(struct pollset *ps, int fd, short ev, enum kind k, void *obj, struct endpoint *ep)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 64;
        struct pollfd *p = realloc(ps->pfd, cap * sizeof *p);
        if (!p)
            return -1;
        ps->pfd = p;
        struct slot *s = realloc(ps->slot, cap * sizeof *s);
        if (!s)
            return -1;
        ps->slot = s;
        ps->cap = cap;
    }
    ps->pfd[ps->n] = (struct pollfd){.fd = fd, .events = ev};
    ps->slot[ps->n] = (struct slot){.kind = k, .obj = obj, .ep = ep};
    ps->n++;
    return 0;
}

/* The poll set for this turn; -1 when an fd could not be added (memory is short). */
static int build(struct pollset *ps, int listen_fd)
{
    int rc = 0;
    ps->n = 0;
    if (listen_fd >= 0) /* (-1 once handed over) */
        rc |= add(ps, listen_fd, POLLIN, K_LISTEN, NULL, NULL);
    rc |= add(ps, jobs_fd(), POLLIN, K_JOBS, NULL, NULL);
    for (struct peer *p = peer_first(); p; p = p->next)
        /* (one finished but waiting for its answers has nothing to poll: a hang-up would spin) */
        if (!reap_released(&p->reap) && !(p->closing && p->waits && !buf_used(&p->out)))
            rc |= add(ps, p->fd,
                      (short)((p->closing ? 0 : POLLIN) | (buf_used(&p->out) ? POLLOUT : 0)),
                      K_PEER, p, NULL);
    for (struct sshconn *c = pool_first(); c; c = c->next) {
        if (c->state != C_READY)
            continue;
        /* Only poll for input that something will read: else poll would spin on it. */
        short cev = (short)((spare_reads(c) || inchan_reads(c) || rfwd_reads(c) ? POLLIN : 0) |
                            (c->want_write ? POLLOUT : 0));
        if (cev)
            rc |= add(ps, c->sock, cev, K_CONN, c, NULL);
        short aev;
        struct endpoint *aep;
        for (int i = 0; (aep = inchan_endpoint(c, i, &aev)) != NULL; i++)
            if (aev)
                rc |= add(ps, aep->fd, aev, K_EP, c, aep);
        short fev;
        int ffd;
        for (int i = 0; (ffd = pool_fwd_pollfd(c, i, &fev)) >= 0; i++)
            rc |= add(ps, ffd, fev, K_FWD, c, NULL); /* -O forward's listeners */
        for (struct session *s = c->sessions; s; s = s->next) {
            short ev[3];
            session_poll_events(s, ev);
            struct endpoint *eps[3] = {&s->in, &s->out, &s->err};
            for (int i = 0; i < 3; i++)
                if (ev[i] && eps[i]->fd >= 0)
                    rc |= add(ps, eps[i]->fd, ev[i], K_EP, c, eps[i]);
        }
    }
    return rc;
}

static int any_dirty(void)
{
    for (struct sshconn *c = pool_first(); c; c = c->next)
        if (c->dirty)
            return 1;
    return 0;
}

void loop_reap(void)
{
    /* Freeing may release more (a gone client's session, a tunnel's connection and its
     * sessions): reap_run frees those too, until nothing is left. */
    reap_run();
}

/* What one turn's work took: the time every other client waited for the next poll. */
static void turn_done(long t0)
{
    long d = clock_us(CLOCK_MONOTONIC) - t0;
    turn_counts.turns++;
    if (d > turn_counts.max_us)
        turn_counts.max_us = d;
    if (d > LOOP_SLOW_US)
        turn_counts.slow++;
}

struct loop_turns loop_turns(void)
{
    return turn_counts;
}

/* Handing over: no new client reaches this broker, so a connection no session uses closes
 * now (pool_tick), not after its ControlPersist; those in use close when their last session
 * ends. One holding forwards for ssh -O forward keeps them until its ControlPersist ends, as
 * it would have. */
static void drain_idle(void)
{
    for (struct sshconn *c = pool_first(); c; c = c->next)
        if (c->state == C_READY && c->nsessions == 0 && c->idle_since && !c->held &&
            !rfwd_held_any(c))
            pool_drain(c);
}

int loop_run(int listen_fd, loop_tick_fn tick)
{
    struct pollset ps = {0};
    /* A fixed threshold (glibc raises its own as mapped chunks are freed): each session's
     * 128 KiB buffers are mapped apart and unmapped when the session ends. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    time_t last_tick = 0;
    time_t empty_since = 0; /* since when the broker holds nothing; 0 while it holds some */
    int short_set = 0;
    int handing_over = 0;
    while (!stop_requested) {
        int timeout = any_dirty() ? 0 : 1000;
        if (build(&ps, listen_fd) < 0) {
            /* Some fd is not polled: come back soon rather than sleep on what is. */
            if (!short_set)
                blog("out of memory for the poll set: %zu fds polled this turn", ps.n);
            short_set = 1;
            if (timeout > 10)
                timeout = 10;
        } else {
            short_set = 0;
        }
        int n = poll(ps.pfd, ps.n, timeout);
        if (n < 0 && errno != EINTR) {
            blog("poll: %s", strerror(errno));
            break;
        }
        long t0 = clock_us(CLOCK_MONOTONIC);
        long long turn_end_us = t0 + LOOP_BUDGET_US; /* when this turn's pumping stops */
        /* Mark readiness first: objects may go away while we act on them. */
        for (size_t i = 0; n > 0 && i < ps.n; i++) {
            short re = ps.pfd[i].revents;
            if (!re)
                continue;
            struct slot *sl = &ps.slot[i];
            if (sl->kind == K_CONN || sl->kind == K_EP) {
                pool_wake(sl->obj);
                if (sl->ep)
                    session_endpoint_ready(sl->ep);
            }
        }
        for (size_t i = 0; n > 0 && i < ps.n; i++) {
            short re = ps.pfd[i].revents;
            if (!re)
                continue;
            struct slot *sl = &ps.slot[i];
            if (sl->kind == K_LISTEN)
                peer_accept(listen_fd);
            else if (sl->kind == K_FWD)
                pool_fwd_wake(sl->obj); /* accepts and reads what waits, on all of them */
            else if (sl->kind == K_JOBS)
                jobs_finish(prompt_route); /* a question goes to a waiting client */
            else if (sl->kind == K_PEER) {
                struct peer *p = sl->obj;
                if (re & POLLOUT)
                    peer_on_writable(p);
                if (re & (POLLIN | POLLHUP | POLLERR))
                    peer_on_readable(p);
            }
        }
        for (struct sshconn *c = pool_first(); c; c = c->next)
            if (c->dirty)
                pool_pump(c, turn_end_us);
        loop_reap();
        time_t now = time(NULL);
        if (now != last_tick) {
            last_tick = now;
            if (tick && !handing_over && tick() == LOOP_HAND_OVER) {
                peer_accept(listen_fd); /* the clients already waiting are served here */
                listen_fd = -1;
                handing_over = 1;
            }
            if (handing_over)
                drain_idle();
            pool_tick(now);
            /* The sessions' large buffers are mapped apart (loop_run) and go back to the
             * system when freed; what small allocations leave is handed back once no
             * client is left, since malloc_trim walks every arena, which takes up to
             * 0.2 s on a heap that many sessions used, and every client would wait. */
            loop_reap(); /* what the tick released */
            if (!peer_first() && session_freed_take())
                malloc_trim(0);
            if (!pool_first() && !peer_first() && jobs_running() == 0) {
                if (handing_over)
                    break; /* (no grace: nobody new can reach this broker) */
                if (!empty_since)
                    empty_since = now;
                else if (now - empty_since >= EMPTY_GRACE)
                    break;
            } else {
                empty_since = 0;
            }
        }
        turn_done(t0);
    }
    jobs_stop(); /* from here on, work is done inline: nothing waits on the loop */
    free(ps.pfd);
    free(ps.slot);
    return 0;
}
