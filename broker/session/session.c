/* One muxssh session: building it from OPEN, CONTROL, ROUTE or a jump host's tunnel, its
 * endpoints (the client's fds), what its client going away or its connection dying does to
 * it, and freeing it. The rest of its life is in policy.c, requests.c, pump.c and tcpip.c. */
#include "accept.h"
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inchan.h"
#include "jobs.h"
#include "rfwd.h"
#include "reap.h"
#include "session_int.h"
#include "term.h"
#include "x11fwd.h"

static char *pstrdup(const struct pstr *s)
{
    return strndup(s->p, s->n);
}

/* Worker: ssh -G for the session, and the files its sharing decision compares (accept.h),
 * read here rather than on the loop. */
static void resolve_run(struct job *job)
{
    struct resolve_job *j = JOB_OF(job, struct resolve_job);
    struct session *s = j->sess;
    j->cfg = calloc(1, sizeof *j->cfg);
    if (!j->cfg) {
        j->rc = -1;
        strcpy(j->err, "out of memory");
        return;
    }
    j->rc = sshconfig_resolve(s->real_ssh, s->cwd, s->opts, s->dest, s->command, s->env, j->cfg,
                              j->err, sizeof j->err);
    if (j->rc == 0)
        j->known = accept_files_read(j->cfg);
}

static void resolve_done(struct job *job)
{
    sess_resolved(JOB_OF(job, struct resolve_job));
}

/* The resolve job's destructor: what the session did not take. */
static void resolve_free(struct job *job)
{
    struct resolve_job *j = JOB_OF(job, struct resolve_job);
    hostcfg_free(j->cfg);
    accept_files_free(j->known);
    free(j);
}

static const struct job_ops resolve_ops = {
    .run = resolve_run, .done = resolve_done, .free = resolve_free};

/* Start the ssh -G job of a new session; returns s, or NULL (s freed) with err. */
static struct session *start_resolve(struct session *s, char *err, size_t errlen)
{
    s->state = S_RESOLVING;
    struct resolve_job *j = calloc(1, sizeof *j);
    if (!j || (j->sess = s, jobs_start(&j->job, &resolve_ops) < 0)) {
        if (j)
            resolve_free(&j->job);
        snprintf(err, errlen, "cannot start resolving the host");
        session_free(s);
        return NULL;
    }
    s->job = 1;
    return s;
}

/* -W's HOST:PORT (or [HOST]:PORT) into fwd_host and fwd_port; 0 or -1. */
static int parse_fwd(struct session *s, const char *arg)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg)
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535)
        return -1;
    size_t n = (size_t)(colon - arg);
    if (arg[0] == '[' && n >= 2 && arg[n - 1] == ']') {
        arg++;
        n -= 2;
    }
    s->fwd_host = strndup(arg, n);
    s->fwd_port = (int)port;
    return s->fwd_host ? 0 : -1;
}

/* A new session with its three endpoints (fds owned from here on) and no exit yet; NULL
 * with err, the fds closed, when memory is short. */
static struct session *session_alloc(int in, int out, int errfd, char *err, size_t errlen)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        for (int fd = 0, fds[3] = {in, out, errfd}; fd < 3; fd++)
            if (fds[fd] >= 0)
                close(fds[fd]);
        return NULL;
    }
    sess_endpoint_open(&s->in, in);
    sess_endpoint_open(&s->out, out);
    sess_endpoint_open(&s->err, errfd);
    s->exit_kind = -1;
    return s;
}

struct session *session_new(const struct proto_msg *m, const int *fds, int ctl_op,
                            const struct session_pool_ops *pool, char *err, size_t errlen)
{
    struct session *s =
        session_alloc(fds ? fds[0] : -1, fds ? fds[1] : -1, fds ? fds[2] : -1, err, errlen);
    if (!s)
        return NULL;
    s->pool_ops = pool;
    s->ctl_op = ctl_op;
    if (ctl_op) {
        /* CONTROL: u32 op, str real_ssh, str cwd, strlist opts, str dest, strlist env */
        s->real_ssh = pstrdup(&m->s[0]);
        s->cwd = pstrdup(&m->s[1]);
        s->dest = pstrdup(&m->s[2]);
        s->opts = proto_strlist_dup(&m->l[0]);
        s->env = proto_strlist_dup(&m->l[1]);
        /* HANDED: the reason, after dest */
        s->command = ctl_op == SESSION_HANDED ? pstrdup(&m->s[3]) : strdup("");
        s->flags = OPEN_FWD_LOCAL; /* a question about muxssh's sessions, which bind them */
    } else {
        /* OPEN: str real_ssh, str cwd, strlist opts, str dest, str command, strlist env,
         * u32 flags */
        s->real_ssh = pstrdup(&m->s[0]);
        s->cwd = pstrdup(&m->s[1]);
        s->dest = pstrdup(&m->s[2]);
        s->command = pstrdup(&m->s[3]);
        s->opts = proto_strlist_dup(&m->l[0]);
        s->env = proto_strlist_dup(&m->l[1]);
        s->flags = m->u[0];
        /* Before the client can make it raw: the pty request carries these modes. */
        if ((s->flags & OPEN_STDIN_TTY) && s->in.tty)
            term_read(s->in.fd, &s->ti);
    }
    if (!s->real_ssh || !s->cwd || !s->dest || !s->command || !s->opts || !s->env) {
        snprintf(err, errlen, "out of memory");
        session_free(s);
        return NULL;
    }
    if (s->real_ssh[0] != '/' || s->cwd[0] != '/' || !s->dest[0]) {
        snprintf(err, errlen, "%s needs an absolute ssh path, an absolute cwd and a destination",
                 ctl_op ? "CONTROL" : "OPEN");
        session_free(s);
        return NULL;
    }
    if ((s->flags & (OPEN_STDIO_FWD | OPEN_FWD_PATH)) == (OPEN_STDIO_FWD | OPEN_FWD_PATH)) {
        s->fwd_host = strdup(s->command); /* a socket path on the server */
        s->fwd_port = -2;                 /* ssh's PORT_STREAMLOCAL */
        if (!s->fwd_host) {
            snprintf(err, errlen, "out of memory");
            session_free(s);
            return NULL;
        }
    } else if ((s->flags & OPEN_STDIO_FWD) && (s->flags & OPEN_FWD_SOCKS) &&
               (!strchr("45", s->command[0]) || s->command[1] != ' ' ||
                parse_fwd(s, s->command + 2) < 0)) {
        snprintf(err, errlen, "bad SOCKS forward \"%.100s\"", s->command);
        session_free(s);
        return NULL;
    } else if ((s->flags & OPEN_FWD_SOCKS) && s->fwd_host) {
        s->socks = s->command[0] - '0'; /* ssh's reply goes out once the channel is open */
    } else if ((s->flags & OPEN_STDIO_FWD) && parse_fwd(s, s->command) < 0) {
        snprintf(err, errlen, "bad -W argument \"%.100s\"", s->command);
        session_free(s);
        return NULL;
    }
    return start_resolve(s, err, errlen);
}

struct session *session_new_route(const struct proto_msg *m, const struct session_pool_ops *pool,
                                  char *err, size_t errlen)
{
    /* ROUTE: str real_ssh, str cwd, str via, str host, u32 port, u32 family, strlist env,
     * strlist opts, u32 from_port, str to_addr, u32 to_port */
    struct session *s = session_alloc(-1, -1, -1, err, errlen);
    if (!s)
        return NULL;
    s->pool_ops = pool;
    s->real_ssh = pstrdup(&m->s[0]);
    s->cwd = pstrdup(&m->s[1]);
    s->dest = pstrdup(&m->s[2]);
    s->fwd_host = pstrdup(&m->s[3]);
    s->fwd_port = (int)m->u[0];
    s->route = m->u[1] == AF_INET6 ? AF_INET6 : AF_INET;
    s->env = proto_strlist_dup(&m->l[0]);
    s->opts = proto_strlist_dup(&m->l[1]);
    s->command = strdup("");
    s->route_from = m->u[2] <= 65535 ? (int)m->u[2] : 0;
    s->route_to = pstrdup(&m->s[4]);
    s->route_to_port = m->u[3] <= 65535 ? (int)m->u[3] : 0;
    if (!s->real_ssh || !s->cwd || !s->dest || !s->fwd_host || !s->env || !s->opts || !s->command ||
        !s->route_to) {
        snprintf(err, errlen, "out of memory");
        session_free(s);
        return NULL;
    }
    if (s->real_ssh[0] != '/' || s->cwd[0] != '/' || !s->dest[0] || s->fwd_port <= 0 ||
        s->fwd_port > 65535 || (m->u[1] != AF_INET && m->u[1] != AF_INET6)) {
        snprintf(err, errlen, "ROUTE needs an absolute ssh path and cwd, a host and a port");
        session_free(s);
        return NULL;
    }
    return start_resolve(s, err, errlen);
}

void session_set_owner(struct session *s, const struct session_owner_ops *ops, void *owner)
{
    s->owner_ops = ops;
    s->owner = owner;
}

void *session_client(const struct session *s)
{
    return s->tunnel_for ? NULL : s->owner; /* a tunnel's owner is the connection it carries */
}

static void *asker_of(const struct sshconn *c, int (*can_ask)(void *client), int depth)
{
    void *pick = NULL;
    /* Sessions are pushed at the head: the last one found is the oldest. */
    for (struct session *s = c ? c->sessions : NULL; s && depth < 16; s = s->next) {
        void *p = session_client(s);
        if (p && can_ask(p))
            pick = p;
        else if (!p && s->tunnel_for) {
            void *q = asker_of(s->tunnel_for, can_ask, depth + 1);
            if (q)
                pick = q;
        }
    }
    return pick;
}

void *session_asker(const struct sshconn *c, int (*can_ask)(void *client))
{
    return asker_of(c, can_ask, 0);
}

struct session *session_new_tunnel(const struct session *origin, char **opts, const char *dest,
                                   const char *host, int port, int fd, struct sshconn *carries,
                                   const struct session_owner_ops *ops, char *err, size_t errlen)
{
    struct session *s = session_alloc(fd, fcntl(fd, F_DUPFD_CLOEXEC, 3), -1, err, errlen);
    if (!s) {
        proto_strv_free(opts);
        return NULL;
    }
    s->opts = opts;
    s->pool_ops = origin->pool_ops;
    s->real_ssh = strdup(origin->real_ssh);
    s->cwd = strdup(origin->cwd);
    s->dest = strdup(dest);
    s->command = strdup("");
    s->fwd_host = strdup(host);
    s->fwd_port = port;
    s->env = proto_strv_dup(origin->env);
    s->tunnel_for = carries;
    session_set_owner(s, ops, carries);
    if (!s->real_ssh || !s->cwd || !s->dest || !s->command || !s->fwd_host || !s->env || !s->opts ||
        s->out.fd < 0) {
        snprintf(err, errlen, "out of memory");
        session_free(s);
        return NULL;
    }
    return start_resolve(s, err, errlen);
}

struct session *session_new_fwd(struct sshconn *c, const struct session_pool_ops *pool, int fd,
                                const char *host, int port, int socks, const void *early,
                                size_t nearly, char *err, size_t errlen)
{
    struct session *s = session_alloc(fd, fcntl(fd, F_DUPFD_CLOEXEC, 3), -1, err, errlen);
    if (!s)
        return NULL;
    s->pool_ops = pool;
    s->real_ssh = strdup("");
    s->cwd = strdup("");
    s->dest = strdup(c->cfg.hostname);
    s->command = strdup("");
    s->fwd_host = strdup(host);
    s->fwd_port = port;
    s->socks = socks;
    s->mode = MODE_TCPIP;
    s->flags = OPEN_STDIO_FWD | OPEN_FWD_CHANNEL | (port == -2 ? OPEN_FWD_PATH : 0);
    s->detached = 1; /* no client: it runs until either end closes */
    if (!s->real_ssh || !s->cwd || !s->dest || !s->command || !s->fwd_host || s->out.fd < 0 ||
        (nearly && buf_append(&s->to_ch, early, nearly) < 0)) {
        snprintf(err, errlen, "out of memory");
        session_free(s);
        return NULL;
    }
    s->state = S_OPENING;
    session_link(s, c, 0);
    c->dirty = 1;
    return s;
}

/* Tell the session's owner n; 0 when it has none. */
int sess_tell(struct session *s, const struct session_note *n)
{
    if (!s->owner || !s->owner_ops)
        return 0;
    return s->owner_ops->tell(s->owner, s, n);
}

void session_say(struct session *s, const char *text)
{
    if (session_client(s))
        sess_tell(s, &(struct session_note){.ev = SEV_MESSAGE, .text = text});
}

int session_tell_started(struct session *s, uint32_t flags)
{
    return sess_tell(s, &(struct session_note){.ev = SEV_STARTED, .code = (int)flags});
}

/* The session goes on, or ends, without its client, which closes once its replies are out. */
void sess_release_client(struct session *s)
{
    if (!session_client(s))
        return;
    sess_tell(s, &(struct session_note){.ev = SEV_RELEASE});
    s->owner = NULL;
}

/* A jump host's tunnel ends before it carried anything: the connection it was for fails
 * with st and msg (its owner does nothing once that connection is made). */
void sess_tunnel_fail(struct session *s, enum conn_status st, const char *msg)
{
    if (!s->tunnel_for)
        return;
    sess_tell(s, &(struct session_note){.ev = SEV_ERROR,
                                        .code = st == CONN_FATAL ? ERR_FATAL : ERR_FALLBACK,
                                        .text = msg});
    sess_tell(s, &(struct session_note){.ev = SEV_RELEASE});
    s->tunnel_for = NULL;
    s->owner = NULL;
}

void session_refuse(struct session *s, int code, const char *msg)
{
    if (session_client(s))
        sess_tell(s, &(struct session_note){.ev = SEV_ERROR, .code = code, .text = msg});
    sess_release_client(s);
    session_free(s);
}

int session_unstarted(const struct session *s)
{
    return s->state < S_RUNNING && !s->started;
}

void session_link(struct session *s, struct sshconn *c, int made)
{
    s->made_conn = made;
    s->conn = c;
    s->next = c->sessions;
    c->sessions = s;
    c->nsessions++;
}

void session_unlink(struct session *s)
{
    struct sshconn *c = s->conn;
    inchan_session_gone(s); /* its channels end with it, on the connection they came on */
    rfwd_session_gone(s);   /* and the server's listeners for it */
    for (struct session **pp = c ? &c->sessions : NULL; pp && *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            c->nsessions--;
            break;
        }
    }
    if (c && c->blocked == s)
        c->blocked = NULL;
    s->next = NULL;
    s->conn = NULL;
}

void session_hostkey_known(struct session *s, int known)
{
    s->hk_known = known;
}

int session_retry(struct session *s)
{
    if (!session_unstarted(s) || !session_client(s) || s->retried)
        return 0;
    /* Nothing of the client's was consumed: try again on another connection, once (a link
     * that breaks every connection the same way must not hold the session for ever: the
     * second time it ends as ssh would have the first time). */
    s->retried = 1;
    s->ch = NULL;                    /* freed with the libssh2 session */
    s->rfwd_next = s->rfwd_done = 0; /* its remote forwards died with that connection */
    s->state = S_WAITCONN;
    s->blocked_op = OP_NONE;
    return 1;
}

void session_carried_gone(struct session *s)
{
    s->tunnel_for = NULL;
    s->owner = NULL;
}

void session_client_gone(struct session *s)
{
    if (reap_released(&s->reap))
        return;
    s->owner = NULL;
    switch (s->state) {
    case S_RESOLVING:
        break; /* freed when its job returns */
    case S_WAITCONN:
        if (s->conn && s->conn->state == C_READY) {
            s->state = S_DONE;
            s->conn->dirty = 1;
        } else if (s->conn) {
            s->pool_ops->detach(s);
            session_free(s);
        } else {
            session_free(s);
        }
        break;
    default:
        if (s->conn)
            s->conn->dirty = 1; /* the pump moves it to closing */
        break;
    }
}

void session_client_flushed(struct session *s)
{
    if (s->conn)
        s->conn->dirty = 1; /* its connection's pump steps it again */
}

void session_conn_lost(struct session *s, const char *msg)
{
    s->ch = NULL; /* freed with the connection */
    s->blocked_op = OP_NONE;
    sess_set_exit(s, EXIT_LOST, 255, msg);
    s->state = S_DONE;
}

void session_incoming_reply(struct session *s, uint32_t id, int err, int fd)
{
    inchan_reply(s, id, err, fd);
}

void session_window_change(struct session *s, uint32_t cols, uint32_t rows, uint32_t xpixel,
                           uint32_t ypixel)
{
    s->ti.cols = cols; /* before the pty request, it simply takes the new size */
    s->ti.rows = rows;
    s->ti.xpixel = xpixel;
    s->ti.ypixel = ypixel;
    if (!s->pty || !s->pty_sent || !s->ch)
        return;
    s->winch = 1;
    if (s->conn)
        s->conn->dirty = 1;
}

void session_poll_events(const struct session *s, short ev[3])
{
    ev[0] = ev[1] = ev[2] = 0;
    if (s->state != S_RUNNING || s->mode == MODE_NONE)
        return;
    if (!s->in_eof && !buf_used(&s->to_ch))
        ev[0] = POLLIN;
    if (buf_used(&s->to_out))
        ev[1] = POLLOUT;
    if (buf_used(&s->to_err))
        ev[2] = POLLOUT;
}

void session_finish(struct session *s)
{
    int client = session_client(s) != NULL;
    /* Output is flushed (or its reader is gone): give the caller its fds back first. */
    sess_endpoint_close(&s->err);
    sess_endpoint_close(&s->out);
    sess_endpoint_close(&s->in);
    if (client) {
        if (s->exit_kind == -1)
            sess_set_exit(s, EXIT_STATUS, 0, "");
        sess_tell(s, &(struct session_note){.ev = SEV_EXIT,
                                            .kind = s->exit_kind,
                                            .code = s->exit_code,
                                            .text = s->exit_msg});
        sess_release_client(s);
    }
    session_free(s);
}

static reap_free_fn destroy;

void session_free(struct session *s)
{
    if (!s || reap_released(&s->reap))
        return;
    sess_release_client(s); /* a client still holding it lets it go */
    if (s->conn)
        s->pool_ops->detach(s);
    reap_release(&s->reap, destroy);
}

/* Sessions freed since session_freed_take last said so. */
static int freed;

/* Free a released session (reap.h): its tunnel's connection, if it still waits, fails
 * first. */
static void destroy(struct reap_node *r)
{
    struct session *s = REAP_OBJ(r, struct session, reap);
    freed++;
    sess_tunnel_fail(s, CONN_FATAL,
                     s->exit_msg[0] ? s->exit_msg : "the jump host's connection ended");
    free(s->fwd_host);
    free(s->route_to);
    /* Reverse order: a description shared by several fds ends with the flags it had. */
    sess_endpoint_close(&s->err);
    sess_endpoint_close(&s->out);
    sess_endpoint_close(&s->in);
    buf_free(&s->to_ch, 1);
    buf_free(&s->to_out, 1);
    buf_free(&s->to_err, 1);
    free(s->envreq); /* their strings belong to env and cfg */
    free(s->envall);
    proto_strv_free(s->env);
    proto_strv_free(s->opts);
    free(s->real_ssh);
    free(s->cwd);
    free(s->dest);
    free(s->command);
    free(s->localcmd);
    x11fwd_free(s); /* the display's cookie */
    hostcfg_free(s->cfg);
    accept_files_free(s->known);
    free(s);
}

int session_freed_take(void)
{
    int n = freed;
    freed = 0;
    return n;
}
