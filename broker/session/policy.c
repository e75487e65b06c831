/* What ssh would do with a resolved session: the mode it asks of the server (exec, shell,
 * subsystem, -N, -W), a pty or not, a reason to hand it to the real ssh, the counters. */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctlpath.h"
#include "engine.h"
#include "envreq.h"
#include "localcmd.h"
#include "log.h"
#include "session_int.h"
#include "stats.h"

/* 1 when forwards (one a line, "L LISTEN TARGET" or "D LISTEN") has a local forward to a
 * socket path on the server. */
static int forward_to_path(const char *forwards)
{
    for (const char *l = forwards; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
        const char *t = l[0] == 'L' ? strchr(l + 2, ' ') : NULL;
        if (t && t[1] == '/')
            return 1;
    }
    return 0;
}

/* 1 when rforwards (one a line, "R LISTEN TARGET") has one listening on a socket path (a
 * listen word with a slash, as ssh's parse_forward tells one). */
static int rforward_from_path(const char *rforwards)
{
    for (const char *l = rforwards; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
        size_t n = strcspn(l + 2, " \n");
        if (l[2] != '[' && memchr(l + 2, '/', n))
            return 1;
    }
    return 0;
}

/* Decide what the session asks of the server, as ssh would; NULL or a reason to fall back. */
static const char *choose_mode(struct session *s)
{
    const struct hostcfg *c = s->cfg;
    int stdin_tty = (s->flags & OPEN_STDIN_TTY) != 0;
    if (c->unsupported[0])
        return c->unsupported;
    if (c->forwardagent[0] && engine_old())
        return "ForwardAgent"; /* libssh2 1.10 takes no auth-agent channels */
    /* Local and dynamic forwards are bound by the client (FORWARDS), when it can. */
    if (c->forwards[0] && !(s->flags & (OPEN_FWD_LOCAL | OPEN_FWD_CHANNEL)))
        return c->forwards[0] == 'L' ? "LocalForward" : "DynamicForward";
    /* Remote forwards' channels are connected by the client (INCOMING), when it can. */
    if (c->rforwards[0] && !(s->flags & (OPEN_FWD_LOCAL | OPEN_FWD_CHANNEL)))
        return "RemoteForward";
    if (!engine_has_rfwd_streamlocal() && rforward_from_path(c->rforwards))
        return "RemoteForward of a Unix socket"; /* no streamlocal-forward in this libssh2 */
    if (!engine_has_streamlocal() &&
        ((s->flags & OPEN_FWD_PATH) || (c->forwards[0] && forward_to_path(c->forwards))))
        return "LocalForward to a socket path"; /* this libssh2 has no direct-streamlocal */
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
            session_say(s, "Pseudo-terminal will not be allocated because stdin is "
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
        sess_endpoint_close(&s->in);
        sess_endpoint_open(&s->in, fd);
    }
    return NULL;
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
void sess_count_served(const struct session *s)
{
    if (session_client(s) && !s->route && !s->ctl_op && s->cfg)
        stats_served(s->cfg->hostname, s->cfg->port, s->cfg->user);
}

void session_reject(struct session *s, int code, const char *msg)
{
    if (session_client(s) && code == ERR_FALLBACK && !s->route && !s->ctl_op)
        count_handed(s, msg);
    if (session_client(s)) {
        session_refuse(s, code, msg);
        return;
    }
    sess_tunnel_fail(s, code == ERR_FATAL ? CONN_FATAL : CONN_FALLBACK, msg);
    session_free(s);
}

void sess_resolved(struct resolve_job *j)
{
    struct session *s = j->sess;
    s->job = 0;
    if (j->rc == 0) {
        s->cfg = j->cfg;
        j->cfg = NULL;
        s->known = j->known;
        j->known = NULL;
    }
    if (s->ctl_op == SESSION_HANDED) {
        count_handed(s, s->command);
        session_free(s);
        return;
    }
    if (!session_client(s) && !s->tunnel_for) { /* the client left while ssh -G ran */
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
        sess_tell(s, &(struct session_note){.ev = SEV_RESOLVED}); /* the owner answers */
        sess_release_client(s);
        session_free(s);
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
    if (s->cfg->warnings[0] && session_client(s)) /* what the real ssh would have printed */
        session_say(s, s->cfg->warnings);
    s->state = S_WAITCONN;
    s->pool_ops->attach(s);
}
