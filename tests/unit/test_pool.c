/* The pool (broker/pool) with the layers below it only (session, jobs, conn, config, proto,
 * base; no front/). The test is the sessions' owner (a client recording what it is told,
 * sessions.h); sessions are made from real OPEN frames, resolved by the real ssh -G in a
 * worker and given to the pool through its own pool_session_ops. Connections are built by
 * hand as test_teardown builds them (pool_link, C_CONNECTING or C_READY, no server); the one
 * the pool makes itself goes to a closed loopback port and fails. What needs a server is the
 * suites'. Meant to run under ASan too: nothing may be freed before the reap. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "pool.h"
#include "pool_int.h"
#include "reap.h"
#include "sessions.h"
#include "sshconfig.h"

#define HOST "unit-pool.invalid"

/* Port 9 on loopback: nothing listens there, a connection the pool makes is refused. */
static char *opts[] = {"-F", "/dev/null", "-o", "HostName=127.0.0.1", "-o", "Port=9", NULL};
static char *opts_n[] = {"-F", "/dev/null", "-o", "HostName=127.0.0.1", "-o", "Port=9", "-N", NULL};
static char token[65]; /* the authority of HOST with opts (and opts_n: -N is no part of it) */

/* A connection of token (HOST's authority unless other) in state st, in the pool's list. */
static struct sshconn *conn(enum conn_state st, int other)
{
    struct sshconn *c = calloc(1, sizeof *c);
    snprintf(c->token, sizeof c->token, "%s", other ? "0123456789abcdef" : token);
    snprintf(c->cfg.hostname, sizeof c->cfg.hostname, "%s", HOST);
    c->sock = -1;
    c->state = st;
    pool_link(c);
    return c;
}

/* A session of cl for HOST (with -N when none), resolved and given to the pool. */
static struct session *session(struct client *cl, int none)
{
    char err[256] = "";
    struct session *s = open_for(&pool_session_ops, cl, none ? opts_n : opts, HOST,
                                 none ? "" : "true", 0, err, sizeof err);
    CHECK(s != NULL, "OPEN makes a session: %s", err);
    finish_jobs();
    return s;
}

static int nconns(void)
{
    int n = 0;
    for (struct sshconn *c = pool_first(); c; c = c->next)
        n++;
    return n;
}

/* Whether c is still in the pool's list. */
static int listed(const struct sshconn *c)
{
    for (struct sshconn *p = pool_first(); p; p = p->next)
        if (p == c)
            return 1;
    return 0;
}

/* pool_find counts the ready connections of an authority only. */
static void test_find(void)
{
    struct sshconn *a = conn(C_READY, 0), *b = conn(C_CONNECTING, 0), *o = conn(C_READY, 1);
    struct sshconn *d = conn(C_READY, 0), *out[4] = {0};
    d->state = C_DEAD;
    CHECK(pool_find(token, out, 4) == 1 && out[0] == a, "one ready connection of the authority");
    b->state = C_READY;
    CHECK(pool_find(token, out, 4) == 2 && pool_find(token, out, 1) == 1, "two, at most max");
    CHECK(pool_find(o->token, out, 4) == 1 && out[0] == o, "another authority's own");
    pool_kill(a, "unit");
    pool_kill(b, "unit");
    pool_kill(o, "unit");
    pool_tick(time(NULL)); /* dead and empty: released */
    CHECK(reap_released(&a->reap) && reap_released(&d->reap) && listed(a),
          "dead connections are released, still listed");
    reap_run();
    CHECK(nconns() == 0, "and freed by the reap (%d left)", nconns());
}

/* A resolved session waits on a connection of its authority being made, not on another
 * authority's, a draining one or a suspect one; the pool keeps the session list and its
 * count; each session leaves through pool_session_ops (session_free), and the connection
 * notes when it became idle. With no connection that has room, the pool makes one, which
 * fails (nothing listens): the session gets ssh's error, and the connection goes. */
static void test_attach(void)
{
    struct sshconn *ok = conn(C_CONNECTING, 0), *sus = conn(C_CONNECTING, 0);
    struct sshconn *drain = conn(C_CONNECTING, 0), *other = conn(C_CONNECTING, 1);
    sus->suspect = 1;
    pool_drain(drain);
    struct client c1 = {0}, c2 = {0}, c3 = {0};
    struct session *s1 = session(&c1, 0), *s2 = session(&c2, 0), *s3 = session(&c3, 0);
    CHECK(s1->conn == ok && s2->conn == ok && s3->conn == ok,
          "all three wait on the one with room");
    CHECK(ok->nsessions == 3 && ok->sessions == s3 && s3->next == s2 && s2->next == s1 && !s1->next,
          "listed newest first, counted (%d)", ok->nsessions);
    CHECK(!sus->sessions && !drain->sessions && !other->sessions && nconns() == 4,
          "no other connection takes one, none is made");
    CHECK(ok->idle_since == 0 && ok->dirty, "busy");
    session_free(s2);
    CHECK(ok->nsessions == 2 && ok->sessions == s3 && s3->next == s1 && !s2->conn,
          "a freed session leaves the list (%d)", ok->nsessions);
    CHECK(ok->idle_since == 0, "still busy");
    session_free(s3);
    session_free(s1);
    CHECK(ok->nsessions == 0 && !ok->sessions && ok->idle_since != 0, "empty: idle from now");
    CHECK(!strcmp(told(&c1), "F") && !strcmp(told(&c2), "F") && !strcmp(told(&c3), "F"),
          "each client told RELEASE once: %s %s %s", told(&c1), told(&c2), told(&c3));
    CHECK(reap_run() == 3, "the three freed by the reap");

    pool_drain(ok);
    struct client c4 = {0};
    struct session *s4 = session(&c4, 0); /* resolved, and its connect job run */
    struct sshconn *made = pool_first();
    CHECK(s4 && nconns() == 5 && made != ok && made != sus && made != drain && made != other,
          "no room anywhere: a connection is made for it");
    CHECK(
        !strcmp(told(&c4), "EF") && c4.notes[0].code == ERR_FATAL &&
            !strcmp(c4.notes[0].text, "ssh: connect to host 127.0.0.1 port 9: Connection refused"),
        "it fails: ssh's error, then RELEASE: %s %d '%s'", told(&c4), c4.notes[0].code,
        c4.notes[0].text);
    CHECK(made->state == C_DEAD && reap_released(&made->reap) && !made->sessions,
          "the failed connection is released");
    reap_run();
    CHECK(nconns() == 4 && !listed(made), "and freed by the reap");
    for (struct sshconn *c = pool_first(); c; c = c->next)
        pool_kill(c, "unit");
    pool_tick(time(NULL));
    reap_run();
    CHECK(nconns() == 0, "all gone");
}

/* A connection lost under its sessions: one that has not started goes to another
 * connection, once; a started one ends with ssh's words, its EXIT and RELEASE told when the
 * tick sweeps the dead connection, which is then released. pool_kill says what it is given. */
static void test_lost(void)
{
    struct sshconn *c = conn(C_CONNECTING, 0);
    struct client cn = {0}, cx = {0};
    struct session *n = session(&cn, 1), *x = session(&cx, 0);
    struct sshconn *c2 = conn(C_CONNECTING, 0); /* newer: the first one the pool tries */
    c->state = C_READY;                         /* as pool_connected leaves it, with no server */
    CHECK(session_conn_ready(n) && !strcmp(told(&cn), "S"), "-N runs: STARTED");
    pool_lost(c);
    CHECK(c->state == C_DEAD && c->dead_link, "lost: dead, no goodbye");
    CHECK(x->conn == c2 && c2->nsessions == 1 && c->nsessions == 1 && c->sessions == n,
          "the unstarted session went to the other connection");
    CHECK(n->state == S_DONE && !strcmp(told(&cn), "S"), "the started one is done, told later");
    pool_tick(time(NULL));
    CHECK(!strcmp(told(&cn), "SXF") && cn.notes[1].kind == EXIT_LOST && cn.notes[1].code == 255 &&
              !strcmp(cn.notes[1].text, "Connection to " HOST " closed by remote host."),
          "EXIT with ssh's words, RELEASE: %s '%s'", told(&cn), cn.notes[1].text);
    CHECK(!c->sessions && reap_released(&c->reap) && listed(c),
          "the empty dead connection is released");
    CHECK(reap_run() == 2 && !listed(c), "it and its session are freed by the reap");
    CHECK(cx.n == 0, "the moved session's client was told nothing");

    pool_kill(c2, "killed for the test");
    CHECK(x->state == S_DONE && x->conn == c2, "moved once already: it ends with the connection");
    pool_tick(time(NULL));
    CHECK(!strcmp(told(&cx), "XF") && cx.notes[0].kind == EXIT_LOST &&
              !strcmp(cx.notes[0].text, "killed for the test"),
          "pool_kill's words: %s '%s'", told(&cx), cx.notes[0].text);
    reap_run();
    CHECK(nconns() == 0, "all gone");
}

/* Once a second, an idle ready connection closes when ControlPersist has passed since its
 * last session left, or at once when draining or suspect; never while busy. */
static void test_idle(void)
{
    time_t now = time(NULL);
    struct sshconn *young = conn(C_READY, 0), *old = conn(C_READY, 0), *ever = conn(C_READY, 0);
    struct sshconn *busy = conn(C_READY, 0), *drain = conn(C_READY, 0), *sus = conn(C_READY, 0);
    young->persist = old->persist = busy->persist = drain->persist = sus->persist = 60;
    young->idle_since = now - 59;
    old->idle_since = now - 60;
    ever->idle_since = now - 86400; /* persist 0: for ever */
    busy->idle_since = 0;
    drain->idle_since = sus->idle_since = now;
    pool_drain(drain);
    sus->suspect = 1;
    pool_tick(now);
    CHECK(!reap_released(&young->reap) && !reap_released(&ever->reap) &&
              !reap_released(&busy->reap),
          "within ControlPersist, for ever, or busy: kept");
    CHECK(reap_released(&old->reap) && reap_released(&drain->reap) && reap_released(&sus->reap),
          "ControlPersist passed, draining, suspect: released");
    CHECK(old->state == C_DEAD && listed(old), "out of every search, freed only at the reap");
    CHECK(reap_run() == 3 && nconns() == 3, "three freed");
    struct sshconn *out[4];
    CHECK(pool_find(token, out, 4) == 3, "the kept ones are still found");
}

/* The broker stops: every connection ends, a session not started is turned away (the loop
 * has ended), a started one exits; all released, freed only by the reap after. */
static void test_shutdown(void)
{
    session_freed_take();
    struct sshconn *c = conn(C_CONNECTING, 0);
    struct client cn = {0}, cx = {0};
    struct session *n = session(&cn, 1), *x = session(&cx, 0);
    c->state = C_READY;
    session_conn_ready(n);
    int before = nconns();
    jobs_stop(); /* as the loop does when it ends, before pool_shutdown */
    pool_shutdown();
    int released = 0;
    for (struct sshconn *p = pool_first(); p; p = p->next)
        released += reap_released(&p->reap);
    CHECK(nconns() == before && released == before, "all %d released, none freed", before);
    CHECK(!strcmp(told(&cn), "SXF") && !strcmp(cn.notes[1].text, "muxshim broker stopped"),
          "the started session exits: %s '%s'", told(&cn), cn.notes[1].text);
    CHECK(!strcmp(told(&cx), "EF") && cx.notes[0].code == ERR_FALLBACK &&
              !strcmp(cx.notes[0].text, "the broker is stopping"),
          "the waiting one goes to ssh: %s '%s'", told(&cx), cx.notes[0].text);
    CHECK(reap_released(&n->reap) && reap_released(&x->reap) && session_freed_take() == 0,
          "sessions released, not freed");
    char line[512];
    const char *l = stats_line("127.0.0.1:9", line, sizeof line);
    CHECK(l && strstr(l, "(the broker is stopping: 1)"), "counted as handed: %s", l ? l : "none");
    reap_run();
    CHECK(nconns() == 0 && session_freed_take() == 2, "the reap frees them all");
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } cases[] = {{"find", test_find},
                 {"attach", test_attach},
                 {"lost", test_lost},
                 {"idle", test_idle},
                 {"shutdown", test_shutdown}};
    struct hostcfg cfg = {0};
    char err[256];
    if (jobs_init() < 0 || libssh2_init(0) != 0 ||
        sshconfig_resolve(SSH, "/", opts, HOST, "", env_plain, &cfg, err, sizeof err) < 0) {
        printf("pool: cannot start\n");
        return 1;
    }
    snprintf(token, sizeof token, "%s", cfg.token);
    hostcfg_clear(&cfg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (argc < 2 || !strcmp(argv[1], cases[i].name))
            cases[i].fn();
    printf("pool: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
