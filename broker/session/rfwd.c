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

enum rfwd_state { R_ASKING, R_LISTENING, R_CANCEL };

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
    struct rfwd *next;
};

/* "[HOST]:PORT", "PORT" or "/PATH" (ssh -G's words) into host (NULL when absent) and port
 * (-2 for a path, the path in host). 0 or -1. */
static int split(char *w, char **host, int *port)
{
    *host = NULL;
    if (w[0] == '/') {
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

/* The n-th line of s's remote forwards as a request, or NULL (none left, *end set) */
static struct rfwd *parse_nth(struct session *s, int n, int *end)
{
    const char *l = s->cfg->rforwards;
    for (int i = 0; i < n && *l; i++)
        l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "";
    *end = !*l;
    if (*end)
        return NULL;
    char line[1024], *lh, *th;
    int lp, tp;
    snprintf(line, sizeof line, "%.*s", (int)strcspn(l + 2, "\n"), l + 2);
    char *t = strchr(line, ' ');
    struct rfwd *r = t ? calloc(1, sizeof *r) : NULL;
    if (!r)
        return NULL;
    *t++ = '\0';
    if (split(line, &lh, &lp) < 0 || split(t, &th, &tp) < 0 || !th) {
        free(r);
        return NULL;
    }
    /* channel_rfwd_bind_host: no address is "localhost", "*" and "" are every address */
    snprintf(r->bind, sizeof r->bind, "%s", !lh ? "localhost" : !strcmp(lh, "*") ? "" : lh);
    r->want_port = lp;
    r->owner = s;
    r->kind = !strcmp(th, "socks") && tp == 0 ? INC_SOCKS : INC_CONNECT;
    snprintf(r->target, sizeof r->target, "%s",
             r->kind == INC_SOCKS ? s->cfg->permitremoteopen : th);
    r->target_port = tp;
    snprintf(r->shown, sizeof r->shown, "%s", th);
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
    char msg[128];
    const struct hostcfg *cfg = s->cfg;
    if (cfg->exitonforwardfailure) {
        snprintf(msg, sizeof msg, "Error: remote port forwarding failed for listen port %d",
                 r->want_port);
        sess_set_exit(s, EXIT_LOST, 255, cfg->loglevel >= 1 ? msg : "");
        s->state = S_DONE;
        s->rfwd_done = 1;
    } else if (cfg->loglevel >= 3 && !cfg->forkafterauthentication) {
        /* (ssh -f has gone to the background, stderr on /dev/null, before the reply) */
        snprintf(msg, sizeof msg, "Warning: remote port forwarding failed for listen port %d\r\n",
                 r->want_port);
        session_say(s, msg);
    }
    free(r);
}

/* r's tcpip-forward request, sent or continued; 1 once answered (r linked or freed). */
static int ask(struct sshconn *c, struct rfwd *r)
{
    int bound = 0;
    LIBSSH2_LISTENER *l =
        libssh2_channel_forward_listen_ex(c->ssh, r->bind, r->want_port, &bound, RFWD_QUEUE);
    int rc = l ? 0 : libssh2_session_last_errno(c->ssh);
    if (again(c, r, rc))
        return 0;
    c->rfwd_req = NULL;
    c->dirty = 1;
    struct session *s = r->owner;
    if (!l && rc != LIBSSH2_ERROR_REQUEST_DENIED)
        blog("tcpip-forward %s:%d on %s failed: %d", r->bind, r->want_port, c->cfg.hostname, rc);
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
        } else {
            libssh2_channel_free(ch); /* the session is gone: closed with it */
        }
        progress = 1;
    }
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
        progress |= ask(c, c->rfwd_req); /* its session left: finish it, to cancel it */
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
        free(r);
    }
    free(c->rfwd_req);
    c->rfwd_req = NULL;
    c->rfwd_blocked = NULL;
}
