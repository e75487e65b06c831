/* Remote forwards: tcpip-forward requests, their listeners' channels, cancels (rfwd.h). */
#include "rfwd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "halfsent.h"
#include "inchan.h"
#include "log.h"
#include "session_int.h"

/* Channels of a forwarded TCP connection: sshd's window and packet are those libssh2
 * assumes (2 MB, 32 KB), so writes may fill a whole packet. */
#define RFWD_CHUNK 32768
#define RFWD_QUEUE 64 /* channels libssh2 holds for a listener until we take them */

/* R_QUEUED: a held forward waiting in c->rfwds for its turn to be asked (one request at a
 * time, c->rfwd_req). */
enum rfwd_state { R_ASKING, R_LISTENING, R_CANCEL, R_QUEUED };

/* One remote forward: its request, then its listener. */
struct rfwd {
    enum rfwd_state state;
    LIBSSH2_LISTENER *l;
    struct session *owner; /* NULL once it left: the listener is cancelled */
    char bind[256];        /* the listen address asked for, as ssh's channel_rfwd_bind_host */
    char shown[256];       /* the target's host or path as ssh names it in its messages */
    int want_port, bound;  /* the port asked for (0: the server picks), and the one it gave */
    uint32_t kind;         /* INC_CONNECT, or INC_SOCKS for a dynamic forward */
    char target[1024];     /* the host or socket path (INC_SOCKS: PermitRemoteOpen) */
    int target_port;       /* -2 for a socket path, as ssh's PORT_STREAMLOCAL */
    int half;              /* the last call left a packet half sent */
    int held;              /* held for the connection (-O forward): the broker connects */
    char spec[1100];       /* held: its line, as ssh -G prints it (what -O cancel names) */
    rfwd_done_fn done;     /* held: who waits for the server's answer, until it came */
    void *done_arg;
    struct rfwd *next;
};

/* "[HOST]:PORT", "PORT" or a path (a word with a slash, as ssh's parse_forward tells one)
 * (ssh -G's words) into host (NULL when absent) and port (-2 for a path, the path in
 * host). 0 or -1. */
static int split(char *w, char **host, int *port)
{
    *host = NULL;
    if (w[0] != '[' && strchr(w, '/')) {
        *host = w;
        *port = -2;
        return 0;
    }
    if (w[0] == '[') {
        char *close = strstr(w, "]:");
        if (!close)
            return -1;
        *close = '\0';
        *host = w + 1;
        w = close + 2;
    }
    char *end;
    long p = strtol(w, &end, 10);
    if (*end || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

/* One line of remote forwards (after its "R ") as a request, or NULL (a line ssh -G would
 * not print, or memory short); permit is PermitRemoteOpen, a dynamic forward's target. */
static struct rfwd *parse_line(const char *l, const char *permit)
{
    char line[1024], *lh, *th;
    int lp, tp;
    snprintf(line, sizeof line, "%.*s", (int)strcspn(l, "\n"), l);
    char *t = strchr(line, ' ');
    struct rfwd *r = t ? calloc(1, sizeof *r) : NULL;
    if (!r)
        return NULL;
    *t++ = '\0';
    if (split(line, &lh, &lp) < 0 || split(t, &th, &tp) < 0 || !th) {
        free(r);
        return NULL;
    }
    /* channel_rfwd_bind_host: no address is "localhost", "*" and "" are every address (a
     * path goes as it is: the server resolves a relative one) */
    snprintf(r->bind, sizeof r->bind, "%s",
             !lh                            ? "localhost"
             : !strcmp(lh, "*") && lp != -2 ? ""
                                            : lh);
    r->want_port = lp;
    r->kind = !strcmp(th, "socks") && tp == 0 ? INC_SOCKS : INC_CONNECT;
    snprintf(r->target, sizeof r->target, "%s", r->kind == INC_SOCKS ? permit : th);
    r->target_port = tp;
    snprintf(r->shown, sizeof r->shown, "%s", th);
    return r;
}

/* The n-th line of s's remote forwards as a request, or NULL (none left, *end set) */
static struct rfwd *parse_nth(struct session *s, int n, int *end)
{
    const char *l = s->cfg->rforwards;
    for (int i = 0; i < n && *l; i++)
        l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "";
    *end = !*l;
    if (*end)
        return NULL;
    struct rfwd *r = parse_line(l + 2, s->cfg->permitremoteopen);
    if (r)
        r->owner = s;
    return r;
}

/* An EAGAIN (1) that may have left r's packet half sent; 0 for any other rc. */
static int again(struct sshconn *c, struct rfwd *r, int rc)
{
    if (rc != LIBSSH2_ERROR_EAGAIN) {
        if (c->rfwd_blocked == r)
            c->rfwd_blocked = NULL;
        r->half = 0;
        return 0;
    }
    if (halfsent_eagain(c, rc)) {
        c->rfwd_blocked = r;
        r->half = 1;
    }
    return 1;
}

static void link_in(struct sshconn *c, struct rfwd *r)
{
    r->next = c->rfwds;
    c->rfwds = r;
}

/* The server refused s's forward r (freed here): ssh's words, and under
 * ExitOnForwardFailure the end of s with 255 before anything ran. */
static void refused(struct session *s, struct rfwd *r)
{
    char msg[400], what[320];
    const struct hostcfg *cfg = s->cfg;
    rfwd_failed_words(r->want_port, r->bind, what, sizeof what);
    if (cfg->exitonforwardfailure) {
        snprintf(msg, sizeof msg, "Error: %s", what);
        sess_set_exit(s, EXIT_LOST, 255, cfg->loglevel >= 1 ? msg : "");
        s->state = S_DONE;
        s->rfwd_done = 1;
    } else if (cfg->loglevel >= 3 && !cfg->forkafterauthentication) {
        /* (ssh -f has gone to the background, stderr on /dev/null, before the reply) */
        snprintf(msg, sizeof msg, "Warning: %s\r\n", what);
        session_say(s, msg);
    }
    free(r);
}

/* Tell who waits for held r the answer (the port the server gave, or -1: refused). */
void rfwd_failed_words(int want_port, const char *path, char *out, size_t cap)
{
    if (want_port == -2)
        snprintf(out, cap, "remote port forwarding failed for listen path %s", path);
    else
        snprintf(out, cap, "remote port forwarding failed for listen port %d", want_port);
}

static void tell(struct rfwd *r, int bound)
{
    rfwd_done_fn done = r->done;
    r->done = NULL;
    if (done)
        done(r->done_arg, &(struct rfwd_answer){.bound = bound,
                                                .want_port = r->want_port,
                                                .listen_path = r->bind,
                                                .shown = r->shown,
                                                .target_port = r->target_port});
}

/* The server answered held r's request: it listens for the connection (linked), or r is
 * freed. */
static void held_answered(struct sshconn *c, struct rfwd *r, LIBSSH2_LISTENER *l, int bound)
{
    if (!l) {
        tell(r, -1);
        free(r);
        return;
    }
    r->l = l;
    r->bound = bound;
    r->state = R_LISTENING;
    link_in(c, r);
    blog("%s: holds forward %s (port %d)", c->cfg.hostname, r->spec, bound);
    tell(r, bound);
}

/* r's tcpip-forward request, sent or continued; 1 once answered (r linked or freed). */
static int ask(struct sshconn *c, struct rfwd *r)
{
    int bound = 0;
    LIBSSH2_LISTENER *l = engine_forward_listen(c->ssh, r->bind, r->want_port, &bound, RFWD_QUEUE);
    int rc = l ? 0 : libssh2_session_last_errno(c->ssh);
    if (again(c, r, rc))
        return 0;
    c->rfwd_req = NULL;
    c->dirty = 1;
    struct session *s = r->owner;
    if (!l && rc != LIBSSH2_ERROR_REQUEST_DENIED)
        blog("tcpip-forward %s:%d on %s failed: %d", r->bind, r->want_port, c->cfg.hostname, rc);
    if (r->held) {
        held_answered(c, r, l, bound);
        return 1;
    }
    if (!s) { /* its session left meanwhile */
        if (!l) {
            free(r);
            return 1;
        }
        r->l = l;
        r->state = R_CANCEL;
        link_in(c, r);
        return 1;
    }
    s->rfwd_next++;
    if (!l) {
        refused(s, r);
        return 1;
    }
    r->l = l;
    r->bound = bound;
    r->state = R_LISTENING;
    link_in(c, r);
    if (r->want_port == 0 && s->cfg->loglevel >= 3 && !s->cfg->forkafterauthentication) {
        char msg[700];
        snprintf(msg, sizeof msg, "Allocated port %d for remote forward to %s:%d\r\n", bound,
                 r->shown, r->target_port);
        session_say(s, msg);
    }
    return 1;
}

int rfwd_pending(struct session *s)
{
    struct sshconn *c = s->conn;
    if (!s->cfg || !s->cfg->rforwards[0] || (s->flags & OPEN_FWD_CHANNEL) || s->rfwd_done ||
        !session_client(s) || !c)
        return 0;
    if (c->state != C_READY)
        return 1;
    if (c->rfwd_req) {
        if (c->rfwd_req->owner == s && (!halfsent_held(c) || c->rfwd_blocked == c->rfwd_req))
            ask(c, c->rfwd_req);
        return !s->rfwd_done;
    }
    /* A probe's keepalive reply outstanding would be taken for the request's. */
    if (halfsent_held(c) || c->probe_at)
        return 1;
    int end;
    struct rfwd *r = parse_nth(s, s->rfwd_next, &end);
    if (end) {
        s->rfwd_done = 1;
        c->dirty = 1;
        return 0;
    }
    if (!r) { /* a line ssh -G would not print: skipped */
        s->rfwd_next++;
        return 1;
    }
    c->rfwd_req = r;
    engine_drop_global_replies(c->ssh);
    ask(c, r);
    return !s->rfwd_done;
}

void rfwd_session_gone(struct session *s)
{
    struct sshconn *c = s->conn;
    if (!c)
        return;
    if (c->rfwd_req && c->rfwd_req->owner == s)
        c->rfwd_req->owner = NULL; /* answered by the pump, then cancelled */
    for (struct rfwd *r = c->rfwds; r; r = r->next) {
        if (r->owner == s) {
            r->owner = NULL;
            r->state = R_CANCEL;
            c->dirty = 1;
        }
    }
}

static void unlink_free(struct sshconn *c, struct rfwd *r)
{
    for (struct rfwd **pp = &c->rfwds; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    if (c->rfwd_blocked == r)
        c->rfwd_blocked = NULL;
    free(r);
}

/* One listener: its channels to its session's client, or its cancel. Nonzero on progress. */
static int step_one(struct sshconn *c, struct rfwd *r)
{
    if (r->state == R_CANCEL) {
        int rc = libssh2_channel_forward_cancel(r->l); /* frees the listener, queued channels */
        if (again(c, r, rc))
            return 0;
        unlink_free(c, r);
        return 1;
    }
    if (r->state == R_QUEUED)
        return 0;
    int progress = 0;
    for (;;) {
        LIBSSH2_CHANNEL *ch = libssh2_channel_forward_accept(r->l);
        if (!ch) {
            again(c, r, libssh2_session_last_errno(c->ssh));
            return progress;
        }
        again(c, r, 0);
        if (r->owner) {
            inchan_ask(r->owner, ch, r->kind, r->target, r->target_port, "", RFWD_CHUNK);
        } else if (r->held && r->kind == INC_SOCKS) {
            inchan_socks(c, ch, r->target, RFWD_CHUNK); /* the broker is the SOCKS server */
        } else if (r->held) {
            inchan_connect(c, ch, r->target, r->target_port, RFWD_CHUNK); /* as a master does */
        } else {
            libssh2_channel_free(ch); /* the session is gone: closed with it */
        }
        progress = 1;
    }
}

/* The oldest held forward still to be asked for, when no request is in flight: asked. */
static int ask_queued(struct sshconn *c)
{
    if (c->rfwd_req || halfsent_held(c) || c->probe_at)
        return 0; /* (a probe's keepalive reply outstanding would be taken for the request's) */
    struct rfwd **found = NULL;
    for (struct rfwd **pp = &c->rfwds; *pp; pp = &(*pp)->next)
        if ((*pp)->state == R_QUEUED)
            found = pp; /* queued at the head: the last is the oldest */
    if (!found)
        return 0;
    struct rfwd *r = *found;
    *found = r->next;
    r->next = NULL;
    r->state = R_ASKING;
    c->rfwd_req = r;
    engine_drop_global_replies(c->ssh);
    ask(c, r);
    return 1;
}

int rfwd_step(struct sshconn *c)
{
    int progress = 0;
    if (c->state != C_READY)
        return 0;
    if (c->rfwd_blocked) {
        struct rfwd *b = c->rfwd_blocked;
        progress |= b == c->rfwd_req ? ask(c, b) : step_one(c, b);
        if (c->rfwd_blocked)
            return progress;
    }
    if (c->rfwd_req && !c->rfwd_req->owner && !halfsent_held(c))
        progress |= ask(c, c->rfwd_req); /* its session left (or held): finish it */
    progress |= ask_queued(c);
    struct rfwd *r = c->rfwds;
    while (r && !halfsent_held(c)) {
        struct rfwd *next = r->next; /* r may be freed */
        progress |= step_one(c, r);
        r = next;
    }
    return progress;
}

int rfwd_reads(const struct sshconn *c)
{
    return c->rfwds != NULL || c->rfwd_req != NULL;
}

void rfwd_drop(struct sshconn *c)
{
    while (c->rfwds) {
        struct rfwd *r = c->rfwds;
        c->rfwds = r->next;
        tell(r, -1); /* a held one not answered yet: it never will be */
        free(r);
    }
    if (c->rfwd_req)
        tell(c->rfwd_req, -1);
    free(c->rfwd_req);
    c->rfwd_req = NULL;
    c->rfwd_blocked = NULL;
}

/* Held r's target path, when relative, as its caller's (under cwd). */
static void path_of(struct rfwd *r, const char *cwd)
{
    if (r->target_port == -2 && r->target[0] != '/' && cwd && cwd[0]) {
        char full[sizeof r->target];
        int n = snprintf(full, sizeof full, "%s/%s", cwd, r->target);
        if (n > 0 && (size_t)n < sizeof full)
            memcpy(r->target, full, (size_t)n + 1);
    }
}

/* The held forward of c with this spec, not being cancelled, or NULL. */
static struct rfwd *held_find(struct sshconn *c, const char *spec)
{
    if (c->rfwd_req && c->rfwd_req->held && !strcmp(c->rfwd_req->spec, spec))
        return c->rfwd_req;
    for (struct rfwd *r = c->rfwds; r; r = r->next)
        if (r->held && r->state != R_CANCEL && !strcmp(r->spec, spec))
            return r;
    return NULL;
}

int rfwd_held_add(struct sshconn *c, const char *spec, const char *permit, const char *cwd,
                  rfwd_done_fn done, void *arg)
{
    struct rfwd *r = held_find(c, spec);
    if (r) { /* the master's "found existing forwarding" (or "found allocated port") */
        if (r->state != R_LISTENING)
            return -1;
        done(arg, &(struct rfwd_answer){.bound = r->bound,
                                        .want_port = r->want_port,
                                        .shown = r->shown,
                                        .target_port = r->target_port});
        return 0;
    }
    if (strncmp(spec, "R ", 2) || !(r = parse_line(spec + 2, permit)))
        return -1;
    snprintf(r->spec, sizeof r->spec, "%s", spec);
    path_of(r, cwd);
    r->held = 1;
    r->state = R_QUEUED;
    r->done = done;
    r->done_arg = arg;
    link_in(c, r);
    c->dirty = 1;
    return 1;
}

int rfwd_held_cancel(struct sshconn *c, const char *spec)
{
    struct rfwd *r = held_find(c, spec);
    if (!r || r->state != R_LISTENING)
        return -1;
    r->held = 0; /* no more channels taken for it */
    r->state = R_CANCEL;
    c->dirty = 1;
    blog("%s: forward %s cancelled", c->cfg.hostname, spec);
    return 0;
}

int rfwd_held_any(const struct sshconn *c)
{
    for (const struct rfwd *r = c->rfwds; r; r = r->next)
        if (r->held && r->state != R_CANCEL)
            return 1;
    return 0;
}

size_t rfwd_held_list(const struct sshconn *c, char *out, size_t cap)
{
    size_t off = 0;
    if (cap)
        out[0] = '\0';
    for (const struct rfwd *r = c->rfwds; r && off < cap; r = r->next) {
        if (!r->held || r->state != R_LISTENING)
            continue;
        int n = r->want_port ? snprintf(out + off, cap - off, "%s\tconnection\n", r->spec)
                             : snprintf(out + off, cap - off, "%s (port %d)\tconnection\n", r->spec,
                                        r->bound);
        if (n < 0 || (size_t)n >= cap - off)
            break;
        off += (size_t)n;
    }
    return off;
}
