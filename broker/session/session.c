/* One muxssh session: from OPEN to EXIT, and the channel pump in between. */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "control.h"
#include "ctlpath.h"
#include "envreq.h"
#include "fingerprint.h"
#include "localcmd.h"
#include "log.h"
#include "peer.h"
#include "pool.h"
#include "route.h"
#include "stats.h"

#define READ_CHUNK (128 * 1024)
#define TYPED_CHUNK 4096 /* a read from a terminal with escape sequences on */

static char *pstrdup(const struct pstr *s)
{
    return strndup(s->p, s->n);
}

/* Save an fd's flags and make it non-blocking; terminals stay as they are. */
static void endpoint_open(struct endpoint *e, int fd)
{
    e->fd = fd;
    e->saved_flags = -1;
    e->ready = 0;
    e->tty = fd >= 0 && isatty(fd);
}

static void endpoint_nonblock(struct endpoint *e)
{
    if (e->fd < 0 || e->tty || e->saved_flags != -1)
        return;
    int fl = fcntl(e->fd, F_GETFL);
    if (fl < 0)
        return;
    e->saved_flags = fl;
    if (!(fl & O_NONBLOCK))
        fcntl(e->fd, F_SETFL, fl | O_NONBLOCK);
}

/* Restore the caller's flags and close our copy. */
static void endpoint_close(struct endpoint *e)
{
    if (e->fd < 0)
        return;
    if (e->saved_flags != -1)
        fcntl(e->fd, F_SETFL, e->saved_flags);
    close(e->fd);
    e->fd = -1;
}

/* Start the ssh -G job of a new session; returns s, or NULL (s freed) with err. */
static struct session *start_resolve(struct session *s, char *err, size_t errlen)
{
    s->state = S_RESOLVING;
    struct job *j = calloc(1, sizeof *j);
    if (!j || (j->kind = JOB_RESOLVE, j->sess = s, jobs_start(j) < 0)) {
        free(j);
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
static struct session *session_alloc(struct peer *p, int in, int out, int errfd, char *err,
                                     size_t errlen)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        for (int fd = 0, fds[3] = {in, out, errfd}; fd < 3; fd++)
            if (fds[fd] >= 0)
                close(fds[fd]);
        return NULL;
    }
    s->peer = p;
    endpoint_open(&s->in, in);
    endpoint_open(&s->out, out);
    endpoint_open(&s->err, errfd);
    s->exit_kind = -1;
    return s;
}

struct session *session_new(struct peer *p, const struct proto_msg *m, const int *fds, int ctl_op,
                            char *err, size_t errlen)
{
    struct session *s =
        session_alloc(p, fds ? fds[0] : -1, fds ? fds[1] : -1, fds ? fds[2] : -1, err, errlen);
    if (!s)
        return NULL;
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
    if ((s->flags & OPEN_STDIO_FWD) && parse_fwd(s, s->command) < 0) {
        snprintf(err, errlen, "bad -W argument \"%.100s\"", s->command);
        session_free(s);
        return NULL;
    }
    return start_resolve(s, err, errlen);
}

struct session *session_new_route(struct peer *p, const struct proto_msg *m, char *err,
                                  size_t errlen)
{
    /* ROUTE: str real_ssh, str cwd, str via, str host, u32 port, u32 family, strlist env,
     * strlist opts */
    struct session *s = session_alloc(p, -1, -1, -1, err, errlen);
    if (!s)
        return NULL;
    s->real_ssh = pstrdup(&m->s[0]);
    s->cwd = pstrdup(&m->s[1]);
    s->dest = pstrdup(&m->s[2]);
    s->fwd_host = pstrdup(&m->s[3]);
    s->fwd_port = (int)m->u[0];
    s->route = m->u[1] == AF_INET6 ? AF_INET6 : AF_INET;
    s->env = proto_strlist_dup(&m->l[0]);
    s->opts = proto_strlist_dup(&m->l[1]);
    s->command = strdup("");
    if (!s->real_ssh || !s->cwd || !s->dest || !s->fwd_host || !s->env || !s->opts || !s->command) {
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

struct session *session_new_tunnel(const struct session *origin, char **opts, const char *dest,
                                   const char *host, int port, int fd, struct sshconn *carries,
                                   char *err, size_t errlen)
{
    struct session *s = session_alloc(NULL, fd, fcntl(fd, F_DUPFD_CLOEXEC, 3), -1, err, errlen);
    if (!s) {
        proto_strv_free(opts);
        return NULL;
    }
    s->opts = opts;
    s->real_ssh = strdup(origin->real_ssh);
    s->cwd = strdup(origin->cwd);
    s->dest = strdup(dest);
    s->command = strdup("");
    s->fwd_host = strdup(host);
    s->fwd_port = port;
    s->env = proto_strv_dup(origin->env);
    s->tunnel_for = carries;
    if (!s->real_ssh || !s->cwd || !s->dest || !s->command || !s->fwd_host || !s->env || !s->opts ||
        s->out.fd < 0) {
        snprintf(err, errlen, "out of memory");
        session_free(s);
        return NULL;
    }
    return start_resolve(s, err, errlen);
}

/* Decide what the session asks of the server, as ssh would; NULL or a reason to fall back. */
static const char *choose_mode(struct session *s)
{
    const struct hostcfg *c = s->cfg;
    int stdin_tty = (s->flags & OPEN_STDIN_TTY) != 0;
    if (c->unsupported[0])
        return c->unsupported;
    if (s->fwd_host) {
        s->mode = MODE_TCPIP; /* no session: the channel carries stdin and stdout as they are */
        s->err_eof = 1;
        escape_init(&s->esc, -1);
        return NULL;
    }
    if (c->sessiontype == HC_SESSION_NONE) {
        s->mode = MODE_NONE;
        return NULL;
    }
    if (c->sessiontype == HC_SESSION_SUBSYSTEM) {
        if (!s->command[0])
            return "subsystem without a name";
        s->mode = MODE_SUBSYSTEM;
    } else if (s->command[0]) {
        s->mode = MODE_EXEC;
    } else if (c->remotecommand[0]) {
        free(s->command);
        s->command = strdup(c->remotecommand);
        if (!s->command)
            return "out of memory";
        s->mode = MODE_EXEC;
    } else {
        s->mode = MODE_SHELL;
    }
    /* ssh.c's choice: a pty when asked for, or by default for a shell; never with -T; and
     * without a terminal on stdin only when forced (-tt). */
    int pty = c->requesttty == HC_TTY_FORCE || c->requesttty == HC_TTY_YES;
    if (s->mode == MODE_SHELL)
        pty = c->requesttty != HC_TTY_NO;
    if ((!stdin_tty || c->stdinnull || (s->flags & OPEN_STDIN_NULL)) &&
        c->requesttty != HC_TTY_FORCE) {
        if (pty && c->loglevel >= 3)
            peer_send_message(s->peer, "Pseudo-terminal will not be allocated because stdin is "
                                       "not a terminal.\r\n");
        pty = 0;
    }
    s->pty = pty;
    if (pty && !s->ti.modes_len)
        term_read(-1, &s->ti); /* forced without a terminal: ssh's defaults, 80x24 */
    escape_init(&s->esc, pty ? c->escapechar : -1);
    if (c->stdinnull && !(s->flags & OPEN_STDIN_NULL)) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return "cannot open /dev/null";
        endpoint_close(&s->in);
        endpoint_open(&s->in, fd);
    }
    return NULL;
}

/* The session goes on, or ends, without its client, which closes once its replies are out. */
static void release_peer(struct session *s)
{
    struct peer *p = s->peer;
    if (!p)
        return;
    if (p->sess == s)
        p->sess = NULL;
    peer_finish(p);
    s->peer = NULL;
}

/* A jump host's tunnel ends before it carried anything: the connection it was for fails
 * with st and msg (pool_tunnel_done does nothing once that connection is made). */
static void tunnel_fail(struct session *s, enum conn_status st, const char *msg)
{
    struct sshconn *t = s->tunnel_for;
    if (!t)
        return;
    s->tunnel_for = NULL;
    if (t->tunnel == s)
        t->tunnel = NULL;
    pool_tunnel_done(t, st, msg);
}

/* Count a hand-over to the real ssh under the session's host (its destination as given
 * when ssh -G failed). */
static void count_handed(const struct session *s, const char *why)
{
    if (s->cfg)
        stats_handed(s->cfg->hostname, s->cfg->port, s->cfg->user, why);
    else
        stats_handed(s->dest, 0, "", why);
}

/* Count a session the broker serves (once its command may run). */
static void count_served(const struct session *s)
{
    if (s->peer && !s->route && !s->ctl_op && s->cfg)
        stats_served(s->cfg->hostname, s->cfg->port, s->cfg->user);
}

void session_reject(struct session *s, int code, const char *msg)
{
    if (s->peer && code == ERR_FALLBACK && !s->route && !s->ctl_op)
        count_handed(s, msg);
    if (s->peer) {
        char text[700];
        snprintf(text, sizeof text, "%s%.600s",
                 code == ERR_FALLBACK && s->cfg && s->cfg->has_own_controlpath ? "own-controlpath: "
                                                                               : "",
                 msg);
        peer_send_error(s->peer, code, text);
        release_peer(s);
    }
    tunnel_fail(s, code == ERR_FATAL ? CONN_FATAL : CONN_FALLBACK, msg);
    session_free(s);
}

void session_resolved(struct job *j)
{
    struct session *s = j->sess;
    s->job = 0;
    if (j->rc == 0) {
        s->cfg = j->cfg;
        j->cfg = NULL;
    }
    if (s->ctl_op == SESSION_HANDED) {
        count_handed(s, s->command);
        session_free(s);
        return;
    }
    if (!s->peer && !s->tunnel_for) { /* the client left while ssh -G ran */
        session_free(s);
        return;
    }
    if (j->rc != 0) {
        /* The real ssh reports its own config errors, word for word. */
        blog("ssh -G for %s failed: %s", s->dest, j->err);
        session_reject(s, ERR_FALLBACK, j->err);
        return;
    }
    if (s->ctl_op) {
        control_resolved(s);
        return;
    }
    /* ssh would ride the OpenSSH master on the caller's own ControlPath: no new login. */
    const char *why =
        ctlpath_live_master(s->cfg) ? "an OpenSSH master listens on ControlPath" : choose_mode(s);
    if (!why)
        why = localcmd_prepare(s);
    if (why) {
        session_reject(s, ERR_FALLBACK, why);
        return;
    }
    if (!(s->envall = envreq_build(s->cfg, s->env))) {
        session_reject(s, ERR_FALLBACK, "out of memory");
        return;
    }
    if (s->cfg->warnings[0] && s->peer) /* what the real ssh would have printed */
        peer_send_message(s->peer, s->cfg->warnings);
    s->state = S_WAITCONN;
    pool_attach(s);
}

int session_unstarted(const struct session *s)
{
    return s->state < S_RUNNING && !s->started;
}

/* Records an EAGAIN: when it left a packet half sent, this op must be retried first. */
static int again(struct session *s, int rc, int op)
{
    struct sshconn *c = s->conn;
    if (rc != LIBSSH2_ERROR_EAGAIN) {
        if (c->blocked == s && s->blocked_op == op) {
            c->blocked = NULL;
            s->blocked_op = OP_NONE;
        }
        return 0;
    }
    if (libssh2_session_block_directions(c->ssh) & LIBSSH2_SESSION_BLOCK_OUTBOUND) {
        c->want_write = 1;
        c->blocked = s;
        s->blocked_op = op;
    }
    return 1;
}

static void set_exit(struct session *s, int kind, int code, const char *msg)
{
    if (s->exit_kind != -1)
        return;
    s->exit_kind = kind;
    s->exit_code = code;
    snprintf(s->exit_msg, sizeof s->exit_msg, "%s", msg ? msg : "");
}

/* Errors that concern one channel only; anything else means the connection is unusable. */
static int channel_level(int rc)
{
    switch (rc) {
    case LIBSSH2_ERROR_CHANNEL_FAILURE:
    case LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED:
    case LIBSSH2_ERROR_CHANNEL_UNKNOWN:
    case LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED:
    case LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED:
    case LIBSSH2_ERROR_CHANNEL_CLOSED:
    case LIBSSH2_ERROR_CHANNEL_EOF_SENT:
        return 1;
    default:
        return 0;
    }
}

/* A libssh2 error that is not EAGAIN: end the channel, or the whole connection. */
static void fail(struct session *s, int rc, const char *what)
{
    char *m = NULL;
    libssh2_session_last_error(s->conn->ssh, &m, NULL, 0);
    blog("%s on %s: %s (%d)", what, s->conn->cfg.hostname, m ? m : "?", rc);
    if (channel_level(rc) && s->ch) {
        s->state = S_CLOSING;
        return;
    }
    pool_lost(s->conn);
}

/* The pty request, ahead of env requests as ssh sends it. */
static int step_pty(struct session *s)
{
    const char *term = NULL;
    for (char **e = s->env; *e && !term; e++)
        if (!strncmp(*e, "TERM=", 5))
            term = *e + 5;
    if (!term)
        term = "";
    static const unsigned char no_modes[1] = {0};
    const unsigned char *modes = s->ti.modes;
    size_t mlen = s->ti.modes_len;
    if (strlen(term) > 64)
        term = ""; /* libssh2 1.10 takes 256 bytes of TERM and modes at most */
    if (strlen(term) + mlen > TERM_MODES_MAX) {
        modes = no_modes;
        mlen = 1;
    }
    int rc = envreq_hold(s->conn, s->ch, s->blocked_op != OP_PTY);
    if (rc == 0)
        rc = libssh2_channel_request_pty_ex(s->ch, term, (unsigned)strlen(term),
                                            (const char *)modes, (unsigned)mlen, (int)s->ti.cols,
                                            (int)s->ti.rows, (int)s->ti.xpixel, (int)s->ti.ypixel);
    envreq_release(s->conn);
    if (again(s, rc, OP_PTY))
        return 0;
    if (rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED || rc == LIBSSH2_ERROR_CHANNEL_FAILURE ||
        rc == LIBSSH2_ERROR_INVAL) {
        /* As ssh: say so, and go on without one. */
        peer_send_message(s->peer, "PTY allocation request failed on channel 0\r\n");
        s->pty = 0;
        escape_init(&s->esc, -1);
    } else if (rc < 0) {
        fail(s, rc, "pty request");
        return 1;
    }
    s->pty_sent = 1;
    return 1;
}

static int step_setenv(struct session *s)
{
    if (s->pty && !s->pty_sent) {
        step_pty(s);
        if (!s->pty_sent)
            return 0;
    }
    while (s->envreq && s->envreq[s->envreq_next]) {
        const char *e = s->envreq[s->envreq_next];
        const char *eq = strchr(e, '=');
        int rc = envreq_hold(s->conn, s->ch, s->blocked_op != OP_SETENV);
        if (rc == 0)
            rc = libssh2_channel_setenv_ex(s->ch, e, (unsigned)(eq - e), eq + 1,
                                           (unsigned)strlen(eq + 1));
        envreq_release(s->conn);
        if (again(s, rc, OP_SETENV))
            return 0;
        if (rc < 0 && rc != LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED) {
            fail(s, rc, "env request");
            return 1;
        }
        s->envreq_next++; /* a refused variable is ignored, as ssh does */
    }
    s->state = S_START;
    return 1;
}

void session_show_hostkey(struct session *s)
{
    char text[1024];
    struct sshconn *c = s->conn;
    if (s->hk_shown || !s->peer || !s->cfg || !c || !s->cfg->visualhostkey || !s->hk_known ||
        s->cfg->loglevel < 3 ||
        fp_visual_text(c->facts.hostkey, c->facts.hostkey_len, text, sizeof text) < 0)
        return;
    s->hk_shown = 1;
    /* Ahead of the remote's stderr on the same fd; a terminal session's goes through
     * muxssh before it makes the terminal raw. */
    if (s->mode == MODE_NONE || s->mode == MODE_TCPIP || s->pty)
        peer_send_message(s->peer, text);
    else
        buf_append(&s->to_err, text, strlen(text));
}

static int step_start(struct session *s)
{
    static const char *const req[] = {
        [MODE_EXEC] = "exec", [MODE_SHELL] = "shell", [MODE_SUBSYSTEM] = "subsystem"};
    const char *r = req[s->mode];
    /* The client must know the command may run before the request can reach the server:
     * from then on, losing the broker must not make it run the command again itself. */
    if (!s->started) {
        s->started = 1;
        session_show_hostkey(s);
        count_served(s);
        uint32_t fl =
            (s->pty ? STARTED_PTY : 0) | (s->cfg->forkafterauthentication ? STARTED_FORK : 0);
        if (!peer_send_started(s->peer, fl))
            return 0;
    } else if (buf_used(&s->peer->out) && s->blocked_op != OP_START) {
        return 0;
    }
    unsigned mlen = s->mode == MODE_SHELL ? 0 : (unsigned)strlen(s->command);
    int rc = envreq_hold(s->conn, s->ch, s->blocked_op != OP_START);
    if (rc == 0)
        rc = libssh2_channel_process_startup(s->ch, r, (unsigned)strlen(r),
                                             s->mode == MODE_SHELL ? NULL : s->command, mlen);
    envreq_release(s->conn);
    if (again(s, rc, OP_START))
        return 0;
    if (rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED) {
        char msg[64];
        snprintf(msg, sizeof msg, "%s request failed on channel 0", r);
        set_exit(s, EXIT_LOST, 255, msg);
        s->state = S_CLOSING;
        return 1;
    }
    if (rc < 0) {
        fail(s, rc, "session start");
        return 1;
    }
    endpoint_nonblock(&s->in);
    endpoint_nonblock(&s->out);
    endpoint_nonblock(&s->err);
    s->state = S_RUNNING;
    s->conn->total_sessions++;
    return 1;
}

/* What ssh prints when a terminal session ends (LogLevel INFO and up), into out. */
static const char *closed_line(const struct session *s, char *out, size_t outlen)
{
    out[0] = '\0';
    if (s->cfg->loglevel >= 3)
        snprintf(out, outlen, "Connection to %.200s closed.", s->cfg->hostname);
    return out;
}

/* Bytes typed into a pty session, just read into to_ch's free space: take out escape
 * sequences. Returns 1 when ~. ended the session. */
static int typed(struct session *s, size_t n)
{
    unsigned char in[TYPED_CHUNK];
    memcpy(in, s->to_ch.p + s->to_ch.len, n);
    size_t off = 0;
    while (off < n) {
        size_t outlen = 0, used = 0;
        enum escape_action a =
            escape_filter(&s->esc, in + off, n - off, s->to_ch.p + s->to_ch.len, &outlen, &used);
        s->to_ch.len += outlen;
        off += used;
        if (a == ESC_CLOSE) {
            char msg[256];
            set_exit(s, EXIT_LOST, 255, closed_line(s, msg, sizeof msg));
            s->state = S_CLOSING;
            return 1;
        }
        if (a == ESC_HELP) {
            char help[1024];
            escape_help(s->esc.ch, help, sizeof help);
            buf_append(&s->to_err, help, strlen(help));
        }
    }
    return 0;
}

/* Client stdin → channel. */
static int pump_in(struct session *s)
{
    int progress = 0;
    if (!s->in_eof && !buf_used(&s->to_ch) && (!s->in.tty || s->in.ready)) {
        if (buf_reserve(&s->to_ch, READ_CHUNK) < 0)
            return 0;
        size_t room = s->esc.ch >= 0 ? TYPED_CHUNK : READ_CHUNK;
        ssize_t n = read(s->in.fd, s->to_ch.p + s->to_ch.len, room);
        s->in.ready = 0;
        if (n > 0 && s->esc.ch >= 0) {
            if (typed(s, (size_t)n))
                return 1;
            progress = 1;
        } else if (n > 0) {
            s->to_ch.len += (size_t)n;
            progress = 1;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            s->in_eof = 1; /* a read error ends input, as for ssh */
            progress = 1;
        }
    }
    while (buf_used(&s->to_ch)) {
        ssize_t n =
            libssh2_channel_write(s->ch, (char *)s->to_ch.p + s->to_ch.off, buf_used(&s->to_ch));
        if (again(s, (int)n, OP_WRITE))
            return progress;
        if (n < 0 && channel_level((int)n)) {
            /* The remote end stopped reading (closed): the rest of stdin goes nowhere. */
            s->to_ch.off = s->to_ch.len = 0;
            s->in_eof = s->eof_sent = 1;
            return 1;
        }
        if (n < 0) {
            fail(s, (int)n, "channel write");
            return 1;
        }
        buf_consume(&s->to_ch, (size_t)n);
        s->conn->bytes_out += (unsigned long long)n;
        progress = 1;
    }
    if (s->in_eof && !s->eof_sent) {
        int rc = libssh2_channel_send_eof(s->ch);
        if (again(s, rc, OP_EOF))
            return progress;
        if (rc < 0 && !channel_level(rc)) {
            fail(s, rc, "channel eof");
            return 1;
        }
        s->eof_sent = 1;
        progress = 1;
    }
    return progress;
}

/* Channel stream (0 stdout, 1 stderr) → client fd. */
static int pump_out(struct session *s, int stream)
{
    struct buf *b = stream ? &s->to_err : &s->to_out;
    struct endpoint *e = stream ? &s->err : &s->out;
    int *eof = stream ? &s->err_eof : &s->out_eof;
    int progress = 0;
    for (int round = 0; round < 16; round++) {
        while (buf_used(b)) {
            ssize_t n = write(e->fd, b->p + b->off, buf_used(b));
            if (n > 0) {
                buf_consume(b, (size_t)n);
                progress = 1;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                return progress;
            /* The reader went away (EPIPE) or the fd broke: drop output like a closed pipe. */
            b->off = b->len = 0;
            s->out_dead = 1;
            break;
        }
        if (*eof)
            return progress;
        if (buf_reserve(b, READ_CHUNK) < 0)
            return progress;
        ssize_t n = libssh2_channel_read_ex(s->ch, stream, (char *)b->p + b->len, READ_CHUNK);
        if (again(s, (int)n, stream ? OP_READ_ERR : OP_READ_OUT))
            return progress;
        if (n < 0) {
            fail(s, (int)n, "channel read");
            return 1;
        }
        if (n == 0) {
            *eof = 1;
            return 1;
        }
        b->len += (size_t)n;
        s->conn->bytes_in += (unsigned long long)n;
        progress = 1;
    }
    return progress;
}

static int step_running(struct session *s)
{
    if (s->mode == MODE_NONE)
        return 0; /* -N: holds the connection until the client leaves */
    int progress = 0;
    struct sshconn *c = s->conn;
    /* A half-sent packet must be finished by the same call before anything else. */
    switch (s->blocked_op) {
    case OP_WINCH:
        break; /* retried just below */
    case OP_WRITE:
    case OP_EOF:
        progress |= pump_in(s);
        break;
    case OP_READ_OUT:
        progress |= pump_out(s, 0);
        break;
    case OP_READ_ERR:
        progress |= pump_out(s, 1);
        break;
    default:
        break;
    }
    if (s->winch && (!c->blocked || (c->blocked == s && s->blocked_op == OP_WINCH))) {
        int rc = libssh2_channel_request_pty_size_ex(s->ch, (int)s->ti.cols, (int)s->ti.rows,
                                                     (int)s->ti.xpixel, (int)s->ti.ypixel);
        if (!again(s, rc, OP_WINCH)) {
            s->winch = 0; /* sent, or refused: either way nothing waits for it */
            progress = 1;
        }
    }
    if (c->blocked || c->state == C_DEAD || s->state != S_RUNNING)
        return progress;
    progress |= pump_out(s, 0);
    if (c->blocked || c->state == C_DEAD || s->state != S_RUNNING)
        return progress;
    progress |= pump_out(s, 1);
    if (c->blocked || c->state == C_DEAD || s->state != S_RUNNING)
        return progress;
    if (s->route && s->out_eof && !buf_used(&s->to_out) && !s->out_shut) {
        /* The far end finished sending: the program reads EOF, as from a TCP peer that
         * half-closed, and its own close (or shutdown) ends the channel. */
        shutdown(s->out.fd, SHUT_WR);
        s->out_shut = 1;
        progress = 1;
    }
    if (s->out_dead) {
        s->state = S_CLOSING; /* nobody reads the output any more: end the channel */
        return 1;
    }
    progress |= pump_in(s);
    if (c->blocked || c->state == C_DEAD || s->state != S_RUNNING)
        return progress;
    if (s->out_eof && s->err_eof && !buf_used(&s->to_out) && !buf_used(&s->to_err)) {
        /* The remote side is done writing; wait for its close (it may still read stdin). */
        int rc = libssh2_channel_wait_closed(s->ch);
        if (again(s, rc, OP_WAIT))
            return progress;
        if (rc < 0 && rc != LIBSSH2_ERROR_INVAL) {
            fail(s, rc, "channel close wait");
            return 1;
        }
        s->state = S_CLOSING;
        return 1;
    }
    return progress;
}

static void collect_exit(struct session *s)
{
    char *sig = NULL;
    size_t siglen = 0;
    if (libssh2_channel_get_exit_signal(s->ch, &sig, &siglen, NULL, NULL, NULL, NULL) == 0 && sig) {
        /* OpenSSH 9.2 exits 255 without a word when the remote was killed by a signal. */
        blog("remote command on %s killed by signal %.*s", s->conn->cfg.hostname, (int)siglen, sig);
        libssh2_free(s->conn->ssh, sig);
        set_exit(s, EXIT_SIGNAL, 255, "");
        return;
    }
    char msg[256];
    set_exit(s, EXIT_STATUS, libssh2_channel_get_exit_status(s->ch),
             s->pty ? closed_line(s, msg, sizeof msg) : "");
}

static int step_closing(struct session *s)
{
    if (s->ch) {
        int rc = libssh2_channel_close(s->ch);
        if (again(s, rc, OP_CLOSE))
            return 0;
        if (rc < 0 && !channel_level(rc)) {
            fail(s, rc, "channel close");
            return 1;
        }
        collect_exit(s);
        libssh2_channel_free(s->ch);
        s->ch = NULL;
    }
    s->state = S_DONE;
    return 1;
}

/* A routed channel is open: the program gets one end of a loopback TCP pair, the session
 * pumps the other and runs on without a client. 0, or -1 (the program was told). */
static int hand_over(struct session *s)
{
    int mine, theirs, rc = -1;
    if (route_pair(s->route, &mine, &theirs) < 0) {
        blog("no loopback pair for a routed connection: %s", strerror(errno));
        route_reply(s->peer, ECONNREFUSED, -1);
    } else {
        rc = route_reply(s->peer, 0, theirs);
        close(theirs);
        if (rc < 0)
            close(mine);
    }
    release_peer(s);
    if (rc < 0)
        return -1;
    endpoint_open(&s->in, mine);
    endpoint_open(&s->out, fcntl(mine, F_DUPFD_CLOEXEC, 3));
    s->detached = 1;
    return 0;
}

/* -W or a jump host's tunnel: open the direct-tcpip channel, and the session runs. */
static int step_opening(struct session *s)
{
    struct sshconn *c = s->conn;
    if (c->opener && c->opener != s)
        return 0; /* another channel open is in flight: ours waits its turn */
    c->opener = s;
    /* As ssh's stdio forward: the originator is 127.0.0.1 port 65535. */
    s->ch = libssh2_channel_direct_tcpip_ex(c->ssh, s->fwd_host, s->fwd_port, "127.0.0.1", 65535);
    if (!s->ch) {
        int rc = libssh2_session_last_errno(c->ssh);
        if (again(s, rc, OP_OPEN))
            return 0;
        c->opener = NULL;
        if (!channel_level(rc)) {
            fail(s, rc, "direct-tcpip open");
            return 1;
        }
        char *m = NULL;
        libssh2_session_last_error(c->ssh, &m, NULL, 0);
        /* libssh2 1.10 keeps the reason code but not the server's words ("Connection
         * refused"), so the line ssh prints is shorter here. */
        int prohibited = m && strstr(m, "prohibited");
        char msg[128];
        snprintf(msg, sizeof msg, "channel 0: open failed: %s\r\nstdio forwarding failed",
                 m && strstr(m, "connect failed") ? "connect failed"
                 : prohibited                     ? "administratively prohibited"
                                                  : "open failed");
        blog("direct-tcpip to %s port %d via %s refused: %s", s->fwd_host, s->fwd_port,
             c->cfg.hostname, m ? m : "?");
        s->started = 1;
        set_exit(s, EXIT_LOST, 255, msg);
        s->state = S_DONE;
        if (s->route && s->peer) {
            /* libssh2 1.10 keeps only the reason code: "connect failed" covers refused,
             * unreachable and timed out alike. */
            route_reply(s->peer, prohibited ? EACCES : ECONNREFUSED, -1);
            release_peer(s);
        }
        tunnel_fail(s, CONN_FATAL, msg);
        return 1;
    }
    again(s, 0, OP_OPEN);
    c->opener = NULL;
    if (!s->peer && !s->tunnel_for) {
        s->state = S_CLOSING; /* nobody wants it any more */
        return 1;
    }
    if (s->route && hand_over(s) < 0) {
        s->state = S_CLOSING;
        return 1;
    }
    s->started = 1;
    session_show_hostkey(s);
    count_served(s);
    if (s->peer)
        peer_send_started(s->peer, 0);
    endpoint_nonblock(&s->in);
    endpoint_nonblock(&s->out);
    s->state = S_RUNNING;
    c->total_sessions++;
    if (s->tunnel_for)
        pool_tunnel_done(s->tunnel_for, CONN_OK, "");
    return 1;
}

/* Env and start requests wait for their replies. libssh2 1.10 fails a wait that reads a
 * reply meant for another channel ("Failed waiting for channel success"), so each request
 * call is made with the connection's reads held back (envreq_hold): it only takes its own
 * reply from what the pump has read, and requests on many channels may be in flight. */
static int step_requests(struct session *s)
{
    int progress = s->state == S_SETENV ? step_setenv(s) : step_start(s);
    if (s->state != S_SETENV && s->state != S_START)
        s->conn->dirty = 1;
    return progress;
}

int session_step(struct session *s)
{
    switch (s->state) {
    case S_OPENING:
        if (!s->peer && !s->tunnel_for && !s->detached && s->conn->opener != s) {
            s->state = S_DONE;
            return 1;
        }
        return step_opening(s); /* an open in flight is finished, then closed */
    case S_SETENV:
    case S_START:
        if (!s->peer) {
            s->state = S_CLOSING;
            return 1;
        }
        return step_requests(s);
    case S_RUNNING:
        if (!s->peer && s->mode == MODE_NONE) {
            s->state = S_DONE;
            return 1;
        }
        if (!s->peer && !s->tunnel_for && !s->detached) {
            s->state = S_CLOSING;
            return 1;
        }
        return step_running(s);
    case S_CLOSING:
        return step_closing(s);
    default:
        return 0;
    }
}

void session_client_gone(struct session *s)
{
    s->peer = NULL;
    switch (s->state) {
    case S_RESOLVING:
        break; /* freed when its job returns */
    case S_WAITCONN:
        if (s->conn && s->conn->state == C_READY) {
            s->state = S_DONE;
            s->conn->dirty = 1;
        } else if (s->conn) {
            pool_detach(s);
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

void session_conn_lost(struct session *s, const char *msg)
{
    s->ch = NULL; /* freed with the connection */
    s->blocked_op = OP_NONE;
    set_exit(s, EXIT_LOST, 255, msg);
    s->state = S_DONE;
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
    struct peer *p = s->peer;
    /* Output is flushed (or its reader is gone): give the caller its fds back first. */
    endpoint_close(&s->err);
    endpoint_close(&s->out);
    endpoint_close(&s->in);
    if (p) {
        if (s->exit_kind == -1)
            set_exit(s, EXIT_STATUS, 0, "");
        peer_send_exit(p, s->exit_kind, s->exit_code, s->exit_msg);
        release_peer(s);
    }
    session_free(s);
}

void session_free(struct session *s)
{
    if (!s)
        return;
    B.freed++;
    if (s->peer && s->peer->sess == s)
        s->peer->sess = NULL;
    tunnel_fail(s, CONN_FATAL, s->exit_msg[0] ? s->exit_msg : "the jump host's connection ended");
    free(s->fwd_host);
    /* Reverse order: a description shared by several fds ends with the flags it had. */
    endpoint_close(&s->err);
    endpoint_close(&s->out);
    endpoint_close(&s->in);
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
    free(s->cfg);
    free(s);
}
