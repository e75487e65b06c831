/* A session's requests in the order ssh sends them (pty, env, exec/shell/subsystem), the
 * state machine that steps it, libssh2's EAGAIN and error outcomes, and its channel's close
 * with the exit status. */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agentfwd.h"
#include "envreq.h"
#include "fatal.h"
#include "fingerprint.h"
#include "halfsent.h"
#include "log.h"
#include "session_int.h"
#include "x11fwd.h"

/* Records an EAGAIN: when it left a packet half sent, this op must be retried first (the
 * mark stays until the op returns something other than EAGAIN). */
int sess_again(struct session *s, int rc, int op)
{
    struct sshconn *c = s->conn;
    if (rc != LIBSSH2_ERROR_EAGAIN) {
        if (c->blocked == s && s->blocked_op == op) {
            c->blocked = NULL;
            s->blocked_op = OP_NONE;
        }
        return 0;
    }
    if (halfsent_eagain(c, rc)) {
        c->blocked = s;
        s->blocked_op = op;
    }
    return 1;
}

void sess_set_exit(struct session *s, int kind, int code, const char *msg)
{
    if (s->exit_kind != -1)
        return;
    s->exit_kind = kind;
    s->exit_code = code;
    snprintf(s->exit_msg, sizeof s->exit_msg, "%s", msg ? msg : "");
}

/* A libssh2 error that is not EAGAIN: end the channel, or the whole connection. */
void sess_fail(struct session *s, int rc, const char *what)
{
    char *m = NULL;
    libssh2_session_last_error(s->conn->ssh, &m, NULL, 0);
    blog("%s on %s: %s (%d)", what, s->conn->cfg.hostname, m ? m : "?", rc);
    if (fatal_channel_only(rc) && s->ch) {
        s->state = S_CLOSING;
        return;
    }
    s->pool_ops->broken(s->conn, rc);
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
    if (sess_again(s, rc, OP_PTY))
        return 0;
    if (rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED || rc == LIBSSH2_ERROR_CHANNEL_FAILURE ||
        rc == LIBSSH2_ERROR_INVAL) {
        /* As ssh: say so, and go on without one. */
        session_say(s, "PTY allocation request failed on channel 0\r\n");
        s->pty = 0;
        escape_init(&s->esc, -1);
    } else if (rc < 0) {
        sess_fail(s, rc, "pty request");
        return 1;
    }
    s->pty_sent = 1;
    return 1;
}

static int step_setenv(struct session *s)
{
    if (!x11fwd_request(s)) /* first, as ssh sends it */
        return 0;
    if (s->state != S_SETENV)
        return 1;
    if (!agentfwd_request(s)) /* ahead of the pty, as ssh sends it */
        return 0;
    if (s->state != S_SETENV)
        return 1;
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
        if (sess_again(s, rc, OP_SETENV))
            return 0;
        if (rc < 0 && rc != LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED) {
            sess_fail(s, rc, "env request");
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
    if (s->hk_shown || !session_client(s) || !s->cfg || !c || !s->cfg->visualhostkey ||
        !s->hk_known || s->cfg->loglevel < 3 ||
        fp_visual_text(c->facts.hostkey, c->facts.hostkey_len, text, sizeof text) < 0)
        return;
    s->hk_shown = 1;
    /* Ahead of the remote's stderr on the same fd; a terminal session's goes through
     * muxssh before it makes the terminal raw. */
    if (s->mode == MODE_NONE || s->mode == MODE_TCPIP || s->pty || (s->flags & OPEN_LOG_FILE))
        session_say(s, text);
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
        sess_count_served(s);
        uint32_t fl =
            (s->pty ? STARTED_PTY : 0) | (s->cfg->forkafterauthentication ? STARTED_FORK : 0);
        if (!session_tell_started(s, fl))
            return 0;
    } else if (sess_tell(s, &(struct session_note){.ev = SEV_PENDING}) &&
               s->blocked_op != OP_START) {
        return 0;
    }
    unsigned mlen = s->mode == MODE_SHELL ? 0 : (unsigned)strlen(s->command);
    int rc = envreq_hold(s->conn, s->ch, s->blocked_op != OP_START);
    if (rc == 0)
        rc = libssh2_channel_process_startup(s->ch, r, (unsigned)strlen(r),
                                             s->mode == MODE_SHELL ? NULL : s->command, mlen);
    envreq_release(s->conn);
    if (sess_again(s, rc, OP_START))
        return 0;
    if (rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED) {
        char msg[64];
        snprintf(msg, sizeof msg, "%s request failed on channel 0", r);
        sess_set_exit(s, EXIT_LOST, 255, msg);
        s->state = S_CLOSING;
        return 1;
    }
    if (rc < 0) {
        sess_fail(s, rc, "session start");
        return 1;
    }
    sess_endpoint_nonblock(&s->in);
    sess_endpoint_nonblock(&s->out);
    sess_endpoint_nonblock(&s->err);
    s->state = S_RUNNING;
    s->conn->total_sessions++;
    return 1;
}

/* What ssh prints when a terminal session ends (LogLevel INFO and up), into out. */
const char *sess_closed_line(const struct session *s, char *out, size_t outlen)
{
    out[0] = '\0';
    if (s->cfg->loglevel >= 3)
        snprintf(out, outlen, "Connection to %.200s closed.", s->cfg->hostname);
    return out;
}

static void collect_exit(struct session *s)
{
    char *sig = NULL;
    size_t siglen = 0;
    if (libssh2_channel_get_exit_signal(s->ch, &sig, &siglen, NULL, NULL, NULL, NULL) == 0 && sig) {
        /* OpenSSH 9.2 exits 255 without a word when the remote was killed by a signal. */
        blog("remote command on %s killed by signal %.*s", s->conn->cfg.hostname, (int)siglen, sig);
        libssh2_free(s->conn->ssh, sig);
        sess_set_exit(s, EXIT_SIGNAL, 255, "");
        return;
    }
    char msg[256];
    sess_set_exit(s, EXIT_STATUS, libssh2_channel_get_exit_status(s->ch),
                  s->pty ? sess_closed_line(s, msg, sizeof msg) : "");
}

static int step_closing(struct session *s)
{
    if (s->ch) {
        int rc = libssh2_channel_close(s->ch);
        if (sess_again(s, rc, OP_CLOSE))
            return 0;
        if (rc < 0 && !fatal_channel_only(rc)) {
            sess_fail(s, rc, "channel close");
            return 1;
        }
        collect_exit(s);
        libssh2_channel_free(s->ch);
        s->ch = NULL;
        s->pool_ops->channel_freed(s->conn);
    }
    s->state = S_DONE;
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

int session_conn_ready(struct session *s)
{
    if (s->mode == MODE_NONE) {
        session_show_hostkey(s);
        s->state = S_RUNNING; /* -N: nothing to open; logged in is started (-f forks) */
        if (session_client(s) && !s->started) {
            s->started = 1;
            sess_count_served(s);
            session_tell_started(s, s->cfg->forkafterauthentication ? STARTED_FORK : 0);
        }
        return 1;
    }
    if (s->mode == MODE_TCPIP) {
        s->state = S_OPENING; /* its own channel, not a spare session channel */
        return 1;
    }
    return 0;
}

void session_give_channel(struct session *s, LIBSSH2_CHANNEL *ch, const char **rest, int missed)
{
    s->spare_missed = missed;
    s->ch = ch;
    if (!ch)
        return;
    free(s->envreq);
    s->envreq = rest;
    s->envreq_next = 0;
    s->state = S_SETENV;
}

int session_step(struct session *s)
{
    switch (s->state) {
    case S_OPENING:
        if (!session_client(s) && !s->tunnel_for && !s->detached && s->conn->opener != s) {
            s->state = S_DONE;
            return 1;
        }
        return sess_step_opening(s); /* an open in flight is finished, then closed */
    case S_SETENV:
    case S_START:
        if (!session_client(s)) {
            s->state = S_CLOSING;
            return 1;
        }
        return step_requests(s);
    case S_RUNNING:
        if (!session_client(s) && s->mode == MODE_NONE) {
            s->state = S_DONE;
            return 1;
        }
        if (!session_client(s) && !s->tunnel_for && !s->detached) {
            s->state = S_CLOSING;
            return 1;
        }
        return sess_step_running(s);
    case S_CLOSING:
        return step_closing(s);
    default:
        return 0;
    }
}
