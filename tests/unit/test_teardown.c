/* Teardown regressions (issue 15): a client that is gone by the time the broker sends it an
 * ERROR must not make the broker use or free its session twice. Each case builds the
 * objects by hand around a client socket whose other end is closed, so the first send fails
 * with EPIPE, then runs the loop's end-of-turn reap. Meant to run under ASan: on the old
 * code each case is a heap-use-after-free or a double free. And (issue 23) nothing is
 * freed before that reap, the broker's shutdown included. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "jobs.h"
#include "loop.h"
#include "peer.h"
#include "pool.h"
#include "pool_int.h"
#include "proto.h"
#include "reap.h"
#include "session.h"

/* The loop's end of turn. */
static void reap(void)
{
    loop_reap();
}

/* A client whose muxssh has already gone: its end of the socket is closed. */
static struct peer *dead_client(void)
{
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        return NULL;
    close(sp[1]);
    struct peer *p = peer_add(sp[0], getpid());
    p->hello = 1;
    return p;
}

/* A session of p waiting for a connection, with no fds of the client's. */
static struct session *waiting_session(struct peer *p)
{
    struct session *s = calloc(1, sizeof *s);
    s->pool_ops = &pool_session_ops;
    p->sess = s;
    peer_own(p, s);
    s->in.fd = s->out.fd = s->err.fd = -1;
    s->in.saved_flags = s->out.saved_flags = s->err.saved_flags = -1;
    s->exit_kind = -1;
    s->state = S_WAITCONN;
    s->mode = MODE_EXEC;
    s->command = strdup("true");
    s->dest = strdup("unit.invalid");
    return s;
}

/* A connection being made (or made, with state), in the broker's list, holding s. */
static struct sshconn *conn_with(struct session *s, enum conn_state state)
{
    struct sshconn *c = calloc(1, sizeof *c);
    snprintf(c->cfg.hostname, sizeof c->cfg.hostname, "unit.invalid");
    c->sock = -1;
    c->state = state;
    pool_link(c);
    s->conn = c;
    c->sessions = s;
    c->nsessions = 1;
    return c;
}

/* session_reject on a session whose client closed its socket (pool_attach's reject paths,
 * ssh -G failing). */
static void test_reject_epipe(void)
{
    struct peer *p = dead_client();
    CHECK(p != NULL, "socketpair");
    struct session *s = waiting_session(p);
    session_reject(s, ERR_FALLBACK, "the broker is stopping");
    reap();
    CHECK(peer_first() == NULL, "the dead client is freed at the end of the turn");
}

/* The client dies in the poll round its connection job completes: the job slot is handled
 * first, and conn_failed rejects the session to a client whose socket is closed. */
static void test_conn_failed_epipe(void)
{
    struct peer *p = dead_client();
    struct session *s = waiting_session(p);
    struct sshconn *c = conn_with(s, C_CONNECTING);
    struct connect_job *j = calloc(1, sizeof *j);
    j->conn = c;
    j->sock = -1;
    j->errfd = -1;
    j->status = CONN_FALLBACK;
    snprintf(j->res.err, sizeof j->res.err, "connection refused");
    pool_connected(j);
    pool_connect_job_free(j); /* as the loop does after a connect job's done */
    reap();
    CHECK(peer_first() == NULL, "the dead client is freed");
    CHECK(pool_first() == NULL, "the failed connection is freed");
}

/* A server that takes no session channel: the waiting session goes to the real ssh, its
 * ERROR to a client that is gone (pool.c read s->peer->sess after the send cleared it). */
static void test_refused_epipe(void)
{
    struct peer *p = dead_client();
    struct session *s = waiting_session(p);
    struct sshconn *c = conn_with(s, C_READY);
    c->spare_refused = 1;
    pool_move_waiting(c);
    reap();
    CHECK(peer_first() == NULL, "the dead client is freed");
    CHECK(c->sessions == NULL && c->nsessions == 0, "the session left the connection");
    pool_shutdown(); /* c goes the way every connection goes when the broker stops */
    reap();
    CHECK(pool_first() == NULL, "the connection is freed when the broker stops");
}

/* session_free on a session its client still holds: the client is told (SEV_RELEASE) and
 * lets go of it, so nothing points at the session once the reap frees it. */
static void test_free_held(void)
{
    struct peer *p = dead_client();
    struct session *s = waiting_session(p);
    session_free(s);
    CHECK(p->sess == NULL, "the client lets go of its freed session");
    reap();
    CHECK(peer_first() == NULL, "the client, finished, is freed");
}

/* The client is gone before its session: freeing the client releases the session, which the
 * same reap frees (a one-pass reap would leave it, and LeakSanitizer would say so). */
static void test_client_then_session(void)
{
    struct peer *p = dead_client();
    struct session *s = waiting_session(p);
    struct sshconn *c = conn_with(s, C_CONNECTING);
    peer_on_readable(p); /* reads EOF: the client is released, not freed */
    CHECK(peer_first() == p && reap_released(&p->reap),
          "the gone client is released, still listed");
    CHECK(c->nsessions == 1, "its session still waits");
    int n = reap_run();
    CHECK(n == 2, "one reap frees the client and the session it released (%d)", n);
    CHECK(peer_first() == NULL && c->sessions == NULL && c->nsessions == 0,
          "the client is off the list, the session off its connection");
    pool_shutdown(); /* c goes the way every connection goes when the broker stops */
    reap();
}

/* The broker stops (muxbroker.c): pool_shutdown ends the connection and its session, whose
 * EXIT meets a closed client socket; all three are released, and freed only by the reap
 * after it. */
static void test_shutdown(void)
{
    struct peer *p = dead_client();
    struct session *s = waiting_session(p);
    s->retried = 1; /* not sent elsewhere: it ends with the connection */
    struct sshconn *c = conn_with(s, C_CONNECTING);
    pool_shutdown();
    CHECK(pool_first() == c && reap_released(&c->reap), "the connection is released, not freed");
    CHECK(c->sessions == NULL && c->nsessions == 0, "its session left it");
    CHECK(peer_first() == p && reap_released(&p->reap), "the client is released, not freed");
    reap();
    CHECK(pool_first() == NULL && peer_first() == NULL, "the reap after the shutdown frees them");
}

/* No argument: every case; else only the one named (reject, conn_failed, refused,
 * free_held, client_then_session, shutdown). */
int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    if (!only || !strcmp(only, "reject"))
        test_reject_epipe();
    if (!only || !strcmp(only, "conn_failed"))
        test_conn_failed_epipe();
    if (!only || !strcmp(only, "refused"))
        test_refused_epipe();
    if (!only || !strcmp(only, "free_held"))
        test_free_held();
    if (!only || !strcmp(only, "client_then_session"))
        test_client_then_session();
    if (!only || !strcmp(only, "shutdown"))
        test_shutdown();
    printf("teardown: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
