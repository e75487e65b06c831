/* The channel pump of a running session: client stdin to the channel (with ssh's escape
 * sequences on a pty), the channel's stdout and stderr to the client's fds. */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fatal.h"
#include "log.h"
#include "session_int.h"

#define READ_CHUNK (128 * 1024)
#define TYPED_CHUNK 4096 /* a read from a terminal with escape sequences on */
#define STEP_BYTES (256 * 1024)

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
            sess_set_exit(s, EXIT_LOST, 255, sess_closed_line(s, msg, sizeof msg));
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
    if (!s->in_eof && !buf_used(&s->to_ch)) {
        if (buf_reserve(&s->to_ch, READ_CHUNK) < 0)
            return 0;
        size_t room = s->esc.ch >= 0 ? TYPED_CHUNK : READ_CHUNK;
        ssize_t n = sess_endpoint_read(&s->in, s->to_ch.p + s->to_ch.len, room);
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
        if (sess_again(s, (int)n, OP_WRITE))
            return progress;
        if (n < 0 && fatal_channel_only((int)n)) {
            /* The remote end stopped reading (closed): the rest of stdin goes nowhere. */
            buf_drop(&s->to_ch);
            s->in_eof = s->eof_sent = 1;
            return 1;
        }
        if (n < 0) {
            sess_fail(s, (int)n, "channel write");
            return 1;
        }
        buf_consume(&s->to_ch, (size_t)n);
        s->conn->bytes_out += (unsigned long long)n;
        progress = 1;
    }
    if (s->in_eof && !s->eof_sent) {
        int rc = libssh2_channel_send_eof(s->ch);
        if (sess_again(s, rc, OP_EOF))
            return progress;
        if (rc < 0 && !fatal_channel_only(rc)) {
            sess_fail(s, rc, "channel eof");
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
    int op = stream ? OP_READ_ERR : OP_READ_OUT;
    int progress = 0;
    /* A read of this stream left a packet half sent (the window adjust it sends): the whole
     * connection waits on it, so the read is retried first, not after the client has taken
     * what is buffered (a client that does not read would stop every session on the
     * connection, and its keepalives). At most one chunk more is buffered. */
    int retry = s->conn->blocked == s && s->blocked_op == op;
    /* At most STEP_BYTES per step: the loop steps every session in turn. */
    size_t moved = 0;
    for (int round = 0; round < 16 && moved < STEP_BYTES; round++) {
        while (buf_used(b) && !retry) {
            ssize_t n = sess_endpoint_write(e, b->p + b->off, buf_used(b));
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
            buf_drop(b);
            s->out_dead = 1;
            break;
        }
        if (*eof)
            return progress;
        if (buf_reserve(b, READ_CHUNK) < 0)
            return progress;
        retry = 0;
        ssize_t n = libssh2_channel_read_ex(s->ch, stream, (char *)b->p + b->len, READ_CHUNK);
        if (sess_again(s, (int)n, op))
            return progress;
        if (n < 0) {
            sess_fail(s, (int)n, "channel read");
            return 1;
        }
        if (n == 0) {
            *eof = 1;
            return 1;
        }
        b->len += (size_t)n;
        moved += (size_t)n;
        s->conn->bytes_in += (unsigned long long)n;
        progress = 1;
    }
    return progress;
}

int sess_step_running(struct session *s)
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
        if (!sess_again(s, rc, OP_WINCH)) {
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
    if ((s->route || ((s->flags & OPEN_FWD_CHANNEL) && s->out.sock)) && s->out_eof &&
        !buf_used(&s->to_out) && !s->out_shut) {
        /* The far end finished sending: the program reads EOF, as from a TCP peer that
         * half-closed, and its own close (or shutdown) ends the channel. A forward's
         * connection likewise, as ssh shuts its socket down for writing at the channel's
         * EOF: a client that reads to the end would wait for ever otherwise. */
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
        if (sess_again(s, rc, OP_WAIT))
            return progress;
        if (rc < 0 && rc != LIBSSH2_ERROR_INVAL) {
            sess_fail(s, rc, "channel close wait");
            return 1;
        }
        s->state = S_CLOSING;
        return 1;
    }
    return progress;
}
