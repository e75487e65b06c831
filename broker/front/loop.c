/* muxbroker's event loop: one poll over clients, connections and the clients' fds. */
#include "loop.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentfwd.h"
#include "objects.h"
#include "clock.h"
#include "jobs.h"
#include "log.h"
#include "peer.h"
#include "pool.h"
#include "prompt.h"
#include "reap.h"
#include "session.h"
#include "spare.h"
#include "state.h"

#define EMPTY_GRACE 2 /* seconds the broker lingers holding nothing */

static volatile sig_atomic_t stop_requested;

void loop_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

enum kind { K_LISTEN, K_JOBS, K_PEER, K_CONN, K_EP };

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
static int build(struct pollset *ps)
{
    int rc = 0;
    ps->n = 0;
    rc |= add(ps, B.listen_fd, POLLIN, K_LISTEN, NULL, NULL);
    rc |= add(ps, B.job_rd, POLLIN, K_JOBS, NULL, NULL);
    for (struct peer *p = B.peers; p; p = p->next)
        if (!reap_released(&p->reap))
            rc |= add(ps, p->fd,
                      (short)((p->closing ? 0 : POLLIN) | (buf_used(&p->out) ? POLLOUT : 0)),
                      K_PEER, p, NULL);
    for (struct sshconn *c = B.conns; c; c = c->next) {
        if (c->state != C_READY)
            continue;
        /* Only poll for input that something will read: else poll would spin on it. */
        short cev = (short)((spare_reads(c) || agentfwd_reads(c) ? POLLIN : 0) |
                            (c->want_write ? POLLOUT : 0));
        if (cev)
            rc |= add(ps, c->sock, cev, K_CONN, c, NULL);
        short aev;
        struct endpoint *aep;
        for (int i = 0; (aep = agentfwd_endpoint(c, i, &aev)) != NULL; i++)
            if (aev)
                rc |= add(ps, aep->fd, aev, K_EP, c, aep);
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
    for (struct sshconn *c = B.conns; c; c = c->next)
        if (c->dirty)
            return 1;
    return 0;
}

static void finish_jobs(void)
{
    struct job *j;
    while ((j = jobs_take()) != NULL) {
        if (prompt_pending(j)) {
            prompt_route(j); /* a question, not the end: the worker waits for the answer */
            continue;
        }
        if (j->kind == JOB_RESOLVE)
            session_resolved(j);
        else if (j->kind == JOB_KEM)
            pool_kem_made(j);
        else
            pool_connected(j);
        jobs_free(j);
    }
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
    B.turns++;
    if (d > B.turn_max_us)
        B.turn_max_us = d;
    if (d > LOOP_SLOW_US)
        B.turns_slow++;
}

int loop_run(void)
{
    struct pollset ps = {0};
    /* A fixed threshold (glibc raises its own as mapped chunks are freed): each session's
     * 128 KiB buffers are mapped apart and unmapped when the session ends. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    time_t last_tick = 0;
    int short_set = 0;
    while (!stop_requested) {
        int timeout = any_dirty() ? 0 : 1000;
        if (build(&ps) < 0) {
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
        B.turn_end_us = t0 + LOOP_BUDGET_US;
        /* Mark readiness first: objects may go away while we act on them. */
        for (size_t i = 0; n > 0 && i < ps.n; i++) {
            short re = ps.pfd[i].revents;
            if (!re)
                continue;
            struct slot *sl = &ps.slot[i];
            if (sl->kind == K_CONN || sl->kind == K_EP) {
                ((struct sshconn *)sl->obj)->dirty = 1;
                if (sl->ep)
                    sl->ep->ready = 1;
            }
        }
        for (size_t i = 0; n > 0 && i < ps.n; i++) {
            short re = ps.pfd[i].revents;
            if (!re)
                continue;
            struct slot *sl = &ps.slot[i];
            if (sl->kind == K_LISTEN)
                peer_accept();
            else if (sl->kind == K_JOBS)
                finish_jobs();
            else if (sl->kind == K_PEER) {
                struct peer *p = sl->obj;
                if (re & POLLOUT)
                    peer_on_writable(p);
                if (re & (POLLIN | POLLHUP | POLLERR))
                    peer_on_readable(p);
            }
        }
        for (struct sshconn *c = B.conns; c; c = c->next)
            if (c->dirty)
                pool_pump(c);
        loop_reap();
        time_t now = time(NULL);
        if (now != last_tick) {
            last_tick = now;
            pool_tick(now);
            /* The sessions' large buffers are mapped apart (loop_run) and go back to the
             * system when freed; what small allocations leave is handed back once no
             * client is left, since malloc_trim walks every arena, which takes up to
             * 0.2 s on a heap that many sessions used, and every client would wait. */
            loop_reap(); /* what the tick released */
            if (!B.peers && session_freed_take())
                malloc_trim(0);
            if (!B.conns && !B.peers && B.njobs == 0) {
                if (!B.empty_since)
                    B.empty_since = now;
                else if (now - B.empty_since >= EMPTY_GRACE)
                    break;
            } else {
                B.empty_since = 0;
            }
        }
        turn_done(t0);
    }
    B.quit = 1;
    free(ps.pfd);
    free(ps.slot);
    return 0;
}
