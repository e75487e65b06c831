/* Warm spare channels (see spare.h). */
#include "spare.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "envreq.h"
#include "fatal.h"
#include "halfsent.h"
#include "log.h"
#include "pool.h"

#define CHANNEL_WINDOW (2 * 1024 * 1024)
#define CHANNEL_PACKET 32768
#define IDLE_SHRINK_S 10 /* no session for this long: keep one spare again */
#define LINGER_MS 1000   /* a refusal this soon after a channel was freed may be its slot */
#define LINGER_TRIES 3

static int index_of(const struct sshconn *c, const struct spare *sp)
{
    return (int)(sp - c->spares);
}

/* An EAGAIN (1), for any rc of sp's calls: one that left a packet half sent marks sp's call
 * to be repeated before any other call on the connection; any other outcome, an EAGAIN on
 * reading included, clears the mark (a spare's steps each take up where libssh2 left off). */
static int again(struct sshconn *c, struct spare *sp, int rc)
{
    int me = index_of(c, sp) + 1;
    if (halfsent_eagain(c, rc))
        c->spare_blocked = me;
    else if (c->spare_blocked == me)
        c->spare_blocked = 0;
    return rc == LIBSSH2_ERROR_EAGAIN;
}

static void clear(struct sshconn *c, struct spare *sp)
{
    if (c->spare_blocked == index_of(c, sp) + 1)
        c->spare_blocked = 0;
    if (c->opener == sp)
        c->opener = NULL;
    envreq_free(sp->env);
    memset(sp, 0, sizeof *sp);
}

int spare_count(const struct sshconn *c)
{
    int n = 0;
    for (int i = 0; i < SPARE_MAX; i++)
        n += c->spares[i].state != SPARE_NONE;
    return n;
}

/* Spares that are or will be ready (the ones being closed not counted). */
static int usable(const struct sshconn *c)
{
    int n = 0;
    for (int i = 0; i < SPARE_MAX; i++)
        n += c->spares[i].state != SPARE_NONE && c->spares[i].state != SPARE_CLOSING;
    return n;
}

static int want(const struct sshconn *c)
{
    return c->spare_want < 1 ? 1 : c->spare_want > SPARE_MAX ? SPARE_MAX : c->spare_want;
}

static int wanted(const struct sshconn *c)
{
    return c->state == C_READY && !c->draining && !c->suspect && !c->spare_refused &&
           usable(c) < want(c) &&
           (c->max_sessions == 0 || pool_channels(c) + spare_count(c) < c->max_sessions);
}

/* The server refused a session channel. sshd frees a session's slot when it collects the
 * closed channel, after the batch of packets that carried our close: an open right behind
 * a close can find the slot still taken, which says nothing of the server's limit. So
 * right after a channel was freed the open is tried again (after the refusal came back,
 * so in a later batch) up to LINGER_TRIES times. Otherwise the limit is what is open
 * now; a server that refuses the first channel of a connection takes none (its sessions
 * go to the real ssh); one that refuses a used connection with nothing open (sessions
 * ended by us linger there until their commands exit) gets no new sessions on it: they go
 * to another connection, and this one goes when idle. */
static void refused(struct sshconn *c)
{
    int open = pool_channels(c) + spare_count(c);
    if (c->chan_freed_ms && clock_ms(CLOCK_MONOTONIC) - c->chan_freed_ms < LINGER_MS &&
        c->refused_soon < LINGER_TRIES) {
        c->refused_soon++;
        return;
    }
    c->refused_soon = 0;
    if (open > 0) {
        c->max_sessions = open;
        blog("%s refused channel %d: limit %d sessions per connection", c->cfg.hostname, open + 1,
             open);
    } else if (!c->opened_any) {
        c->spare_refused = 1; /* no session channel at all on this server */
        blog("%s refused a session channel on a fresh connection", c->cfg.hostname);
    } else {
        c->draining = 1;
        blog("%s refused a session channel with none open: no new sessions on this "
             "connection",
             c->cfg.hostname);
    }
}

static int step_open(struct sshconn *c, struct spare *sp)
{
    sp->ch = libssh2_channel_open_ex(c->ssh, "session", sizeof "session" - 1, CHANNEL_WINDOW,
                                     CHANNEL_PACKET, NULL, 0);
    if (sp->ch || libssh2_session_last_errno(c->ssh) != LIBSSH2_ERROR_EAGAIN)
        c->opener = NULL;
    if (sp->ch) {
        int ok;
        again(c, sp, 0);
        c->opened_any = 1;
        c->refused_soon = 0;
        sp->env = envreq_dup((const char *const *)c->env_hint, &ok); /* none if out of memory */
        sp->env_next = 0;
        sp->state = SPARE_ENV;
        return 1;
    }
    int rc = libssh2_session_last_errno(c->ssh);
    if (again(c, sp, rc))
        return 0;
    clear(c, sp);
    if (rc == LIBSSH2_ERROR_CHANNEL_FAILURE) {
        refused(c);
        return 1;
    }
    char *m = NULL;
    libssh2_session_last_error(c->ssh, &m, NULL, 0);
    blog("channel open on %s: %s (%d)", c->cfg.hostname, m ? m : "?", rc);
    pool_broken(c, rc);
    return 1;
}

/* The spare's env requests, one at a time (libssh2 keeps one env request per channel); a
 * refused variable is simply not set, as with ssh. */
static int step_env(struct sshconn *c, struct spare *sp)
{
    while (sp->env && sp->env[sp->env_next]) {
        const char *e = sp->env[sp->env_next];
        const char *eq = strchr(e, '=');
        int retry = c->spare_blocked == index_of(c, sp) + 1;
        int rc = envreq_hold(c, sp->ch, !retry);
        if (rc == 0 && !retry && libssh2_channel_eof(sp->ch) == 1) {
            envreq_release(c);
            sp->state = SPARE_CLOSING; /* the server ended it: no reply will come */
            return 1;
        }
        if (rc == 0)
            rc = libssh2_channel_setenv_ex(sp->ch, e, (unsigned)(eq - e), eq + 1,
                                           (unsigned)strlen(eq + 1));
        envreq_release(c);
        if (again(c, sp, rc))
            return 0;
        if (rc < 0 && rc != LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED) {
            char *m = NULL;
            libssh2_session_last_error(c->ssh, &m, NULL, 0);
            blog("env request on a spare on %s: %s (%d)", c->cfg.hostname, m ? m : "?", rc);
            if (!fatal_channel_only(rc)) {
                pool_broken(c, rc);
                return 1;
            }
            sp->state = SPARE_CLOSING;
            return 1;
        }
        sp->env_next++;
    }
    sp->state = SPARE_READY;
    return 1;
}

/* Read through a ready spare: this is what consumes keepalive replies and other packets
 * while no session reads. Nothing is expected on the channel itself. */
static int step_read(struct sshconn *c, struct spare *sp)
{
    char junk[256];
    ssize_t n = libssh2_channel_read_ex(sp->ch, 0, junk, sizeof junk);
    if (again(c, sp, (int)n))
        return 0;
    if (n > 0)
        return 1;
    if (n == 0 && !libssh2_channel_eof(sp->ch))
        return 0;
    /* The server closed the spare (or it broke): let it go and open another. */
    libssh2_channel_free(sp->ch);
    clear(c, sp);
    pool_channel_freed(c);
    if (n < 0 && !fatal_channel_only((int)n))
        pool_broken(c, (int)n);
    return 1;
}

static int step_close(struct sshconn *c, struct spare *sp)
{
    int rc = libssh2_channel_close(sp->ch);
    if (again(c, sp, rc))
        return 0;
    libssh2_channel_free(sp->ch);
    clear(c, sp);
    pool_channel_freed(c);
    if (rc < 0 && !fatal_channel_only(rc))
        pool_broken(c, rc);
    return 1;
}

static int step_one(struct sshconn *c, struct spare *sp)
{
    switch (sp->state) {
    case SPARE_OPENING:
        return step_open(c, sp);
    case SPARE_ENV:
        return step_env(c, sp);
    case SPARE_READY:
        return step_read(c, sp);
    case SPARE_CLOSING:
        return step_close(c, sp);
    default:
        return 0;
    }
}

int spare_step(struct sshconn *c)
{
    if (c->state != C_READY)
        return 0;
    if (c->spare_blocked)
        return step_one(c, &c->spares[c->spare_blocked - 1]);
    int progress = 0;
    for (int i = 0; i < SPARE_MAX && !c->spare_blocked && c->state == C_READY; i++)
        progress |= step_one(c, &c->spares[i]);
    if (c->state != C_READY || c->spare_blocked || c->opener || !wanted(c))
        return progress;
    for (int i = 0; i < SPARE_MAX; i++) {
        struct spare *sp = &c->spares[i];
        if (sp->state != SPARE_NONE)
            continue;
        sp->state = SPARE_OPENING;
        c->opener = sp;
        step_open(c, sp);
        return 1;
    }
    return progress;
}

LIBSSH2_CHANNEL *spare_take(struct sshconn *c, const char *const *want_env, const char ***rest,
                            int *missed)
{
    c->spare_used = time(NULL);
    if (!envreq_equal((const char *const *)c->env_hint, want_env)) {
        int ok;
        char **hint = envreq_dup(want_env, &ok);
        if (ok) {
            envreq_free(c->env_hint);
            c->env_hint = hint;
        }
    }
    const char **out = calloc((size_t)envreq_count(want_env) + 1, sizeof *out);
    if (!out)
        return NULL;
    struct spare *best = NULL;
    int best_n = -1;
    for (int i = 0; i < SPARE_MAX; i++) {
        struct spare *sp = &c->spares[i];
        if (sp->state != SPARE_READY || c->spare_blocked == i + 1)
            continue;
        int n = envreq_rest((const char *const *)sp->env, want_env, out);
        if (n >= 0 && (best_n < 0 || n < best_n)) {
            best = sp;
            best_n = n;
        }
    }
    if (best) {
        envreq_rest((const char *const *)best->env, want_env, out);
        LIBSSH2_CHANNEL *ch = best->ch;
        clear(c, best);
        *rest = out;
        return ch;
    }
    free(out);
    if (!*missed) {
        *missed = 1;
        if (c->spare_want < SPARE_MAX)
            c->spare_want = want(c) + 1;
    }
    /* Ready spares that cannot serve this session nor the next ones like it make room. */
    for (int i = 0; i < SPARE_MAX; i++) {
        struct spare *sp = &c->spares[i];
        if (sp->state != SPARE_READY)
            continue;
        const char *probe[HC_MAX_ENV * 2 + 2];
        if (envreq_count(want_env) < (int)(sizeof probe / sizeof probe[0]) &&
            envreq_rest((const char *const *)sp->env, want_env, probe) < 0) {
            sp->state = SPARE_CLOSING;
            c->dirty = 1;
        }
    }
    return NULL;
}

int spare_reads(const struct sshconn *c)
{
    return spare_count(c) > 0 || pool_channels(c) > 0;
}

void spare_tick(struct sshconn *c, time_t now)
{
    if (c->spare_want <= 1 || c->nsessions > 0 || now - c->spare_used < IDLE_SHRINK_S)
        return;
    c->spare_want = 1;
    for (int i = 0, keep = 0; i < SPARE_MAX; i++) {
        struct spare *sp = &c->spares[i];
        if (sp->state == SPARE_READY && keep++ >= 1) {
            sp->state = SPARE_CLOSING;
            c->dirty = 1;
        }
    }
}

void spare_drop(struct sshconn *c)
{
    for (int i = 0; i < SPARE_MAX; i++)
        clear(c, &c->spares[i]);
    c->opener = NULL;
    c->spare_blocked = 0;
}
