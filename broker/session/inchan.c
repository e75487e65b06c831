/* Incoming channels: the server's channels joined to a socket of ours (inchan.h). */
#include "inchan.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "halfsent.h"
#include "log.h"
#include "inchan_int.h"
#include "x11fwd.h"

struct inchan *inchan_append(struct sshconn *c, LIBSSH2_CHANNEL *ch, int fd, size_t chunk)
{
    struct inchan *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->ch = ch;
    a->ep.fd = fd;
    a->ep.saved_flags = -1;
    a->ep.ready = 1;
    a->chunk = chunk;
    a->theirs = -1;
    struct inchan **pp = &c->inchans;
    while (*pp)
        pp = &(*pp)->next;
    *pp = a;
    c->dirty = 1;
    return a;
}

int inchan_add(struct sshconn *c, LIBSSH2_CHANNEL *ch, int fd, size_t chunk)
{
    struct inchan *a = inchan_append(c, ch, fd, chunk);
    if (!a) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    a->closing = fd < 0;
    return 0;
}

/* Send a's INCOMING to its owner's client; 0 once it left (or nobody is there to take it). */
static int send_incoming(struct inchan *a)
{
    if (!a->owner || !session_client(a->owner)) {
        a->closing = 1;
        return 0;
    }
    int rc =
        sess_tell(a->owner, &(struct session_note){.ev = SEV_INCOMING,
                                                   .id = a->id,
                                                   .kind = (int)a->kind,
                                                   .code = (a->owner->cfg->loglevel & 255) << 8,
                                                   .text = a->host,
                                                   .port = a->port,
                                                   .origin = a->origin,
                                                   .fd = a->theirs});
    if (rc < 0)
        return -1;
    a->unsent = 0;
    if (a->theirs >= 0)
        close(a->theirs);
    a->theirs = -1;
    free(a->host);
    free(a->origin);
    a->host = a->origin = NULL;
    return 0;
}

/* a is s's, for its client to connect: ask it. */
static void ask(struct inchan *a, struct session *s, uint32_t kind, const char *host, int port,
                const char *origin)
{
    static uint32_t next_id;
    a->owner = s;
    a->kind = kind;
    a->port = port;
    a->host = strdup(host);
    a->origin = strdup(origin ? origin : "");
    if (++next_id == 0)
        next_id = 1;
    a->id = next_id;
    int sv[2];
    if (!a->host || !a->origin ||
        (kind == INC_SOCKS && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)) {
        a->closing = 1;
        return;
    }
    if (kind == INC_SOCKS) {
        a->ep.fd = sv[0]; /* the channel runs through the client's SOCKS server from now */
        a->theirs = sv[1];
    }
    a->unsent = send_incoming(a) < 0;
}

void inchan_ask(struct session *s, LIBSSH2_CHANNEL *ch, uint32_t kind, const char *host, int port,
                const char *origin, size_t chunk)
{
    struct inchan *a = inchan_append(s->conn, ch, -1, chunk);
    if (!a) {
        blog("out of memory for an incoming channel on %s", s->conn->cfg.hostname);
        return; /* freed with the session; the server's side waits */
    }
    ask(a, s, kind, host, port, origin);
}

void inchan_x11(struct sshconn *c, LIBSSH2_CHANNEL *ch, size_t chunk)
{
    struct inchan *a = inchan_append(c, ch, -1, chunk);
    if (a)
        a->x11 = 1;
    else
        blog("out of memory for an x11 channel on %s", c->cfg.hostname);
}

void inchan_reply(struct session *s, uint32_t id, int err, int fd)
{
    for (struct inchan *a = s->conn ? s->conn->inchans : NULL; a; a = a->next) {
        if (a->owner != s || a->id != id || a->ep.fd >= 0 || a->unsent || a->closing)
            continue;
        if (err || fd < 0) {
            a->closing = 1;
        } else {
            a->ep.fd = fd;
            a->ep.ready = 1;
            fd = -1;
        }
        s->conn->dirty = 1;
        break;
    }
    if (fd >= 0)
        close(fd);
}

void inchan_session_gone(struct session *s)
{
    for (struct inchan *a = s->conn ? s->conn->inchans : NULL; a; a = a->next) {
        if (a->owner == s) {
            a->owner = NULL;
            a->closing = 1;
            s->conn->dirty = 1;
        }
    }
}

/* An EAGAIN (1) that may have left a's packet half sent (marked as sess_again marks a
 * session's); 0 for any other rc. */
int inchan_again(struct sshconn *c, struct inchan *a, long rc, enum in_op op)
{
    if (rc != LIBSSH2_ERROR_EAGAIN) {
        if (c->inchan_blocked == a && a->blocked_op == op) {
            c->inchan_blocked = NULL;
            a->blocked_op = IOP_NONE;
        }
        return 0;
    }
    if (halfsent_eagain(c, (int)rc)) {
        c->inchan_blocked = a;
        a->blocked_op = op;
    }
    return 1;
}

long inchan_fill(struct sshconn *c, struct inchan *a)
{
    if (buf_reserve(&a->to_fd, a->chunk) < 0)
        return -1;
    ssize_t n = libssh2_channel_read(a->ch, (char *)a->to_fd.p + a->to_fd.len, a->chunk);
    if (inchan_again(c, a, n, IOP_READ))
        return -1;
    if (n < 0 || (n == 0 && libssh2_channel_eof(a->ch))) {
        a->ch_eof = 1; /* the remote's side is done (or the channel broke) */
        return 0;
    }
    if (n == 0)
        return -1;
    a->to_fd.len += (size_t)n;
    return n;
}

/* The channel's bytes to our socket, then its EOF (shutdown) once they are all written. */
static int to_fd(struct sshconn *c, struct inchan *a)
{
    int progress = 0;
    for (;;) {
        while (buf_used(&a->to_fd)) {
            ssize_t n = send(a->ep.fd, a->to_fd.p + a->to_fd.off, buf_used(&a->to_fd),
                             MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                return progress;
            if (n <= 0) {
                a->closing = 1; /* the far end on our side went away */
                return 1;
            }
            buf_consume(&a->to_fd, (size_t)n);
            progress = 1;
        }
        if (a->ch_eof) {
            if (!a->fd_shut) {
                shutdown(a->ep.fd, SHUT_WR);
                a->fd_shut = progress = 1;
            }
            return progress;
        }
        long n = inchan_fill(c, a);
        if (n < 0)
            return progress;
        c->bytes_in += (unsigned long long)n; /* the status table's counts */
        progress = 1;
    }
}

/* An x11 channel's first bytes, read until they tell whose it is: then its session's client
 * is asked to connect its display, and they go there first (with the real cookie). */
static int x11_first(struct sshconn *c, struct inchan *a)
{
    int progress = 0;
    for (;;) {
        struct session *s = NULL;
        char where[256];
        int port = 0;
        int r =
            buf_used(&a->to_fd) ? x11fwd_first(c, &a->to_fd, &s, where, sizeof where, &port) : 0;
        if (r != 0) {
            a->x11 = 0;
            if (r < 0)
                a->closing = 1; /* no session's cookie, or too late for it */
            else
                ask(a, s, INC_CONNECT, where, port, "x11");
            return 1;
        }
        if (a->ch_eof) {
            a->closing = 1; /* the X client left before it said who it was */
            return progress;
        }
        if (inchan_fill(c, a) < 0)
            return progress;
        progress = 1;
    }
}

int inchan_flush(struct sshconn *c, struct inchan *a)
{
    int progress = 0;
    while (buf_used(&a->to_ch)) {
        size_t len = buf_used(&a->to_ch) < a->chunk ? buf_used(&a->to_ch) : a->chunk;
        ssize_t n = libssh2_channel_write(a->ch, (char *)a->to_ch.p + a->to_ch.off, len);
        if (inchan_again(c, a, n, IOP_WRITE))
            return progress;
        if (n < 0) {
            a->closing = 1;
            return 1;
        }
        if (n == 0)
            return progress; /* the server's window is full */
        buf_consume(&a->to_ch, (size_t)n);
        c->bytes_out += (unsigned long long)n;
        progress = 1;
    }
    return progress;
}

/* Our socket's bytes to the channel, then our EOF once it closed. */
static int to_channel(struct sshconn *c, struct inchan *a)
{
    int progress = 0;
    if (!a->fd_eof && !buf_used(&a->to_ch) && a->ep.ready && a->ep.fd >= 0) {
        if (buf_reserve(&a->to_ch, a->chunk) < 0)
            return 0;
        ssize_t n = recv(a->ep.fd, a->to_ch.p + a->to_ch.len, a->chunk, MSG_DONTWAIT);
        if (n > 0) {
            a->to_ch.len += (size_t)n;
            progress = 1;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            a->fd_eof = progress = 1;
        } else {
            a->ep.ready = 0;
        }
    }
    progress |= inchan_flush(c, a);
    if (buf_used(&a->to_ch) || a->closing)
        return progress;
    if (a->fd_eof && !a->eof_sent) {
        int rc = libssh2_channel_send_eof(a->ch);
        if (inchan_again(c, a, rc, IOP_EOF))
            return progress;
        a->eof_sent = progress = 1;
    }
    return progress;
}

static void free_one(struct inchan *a)
{
    inheld_forget(a);
    if (a->ep.fd >= 0)
        close(a->ep.fd);
    if (a->theirs >= 0)
        close(a->theirs);
    buf_free(&a->to_fd, 1);
    buf_free(&a->to_ch, 1);
    free(a->host);
    free(a->origin);
    free(a);
}

/* Close the channel (waiting for the server's close without blocking) and free a; 1 once
 * freed, 0 while the close waits. */
static int close_one(struct sshconn *c, struct inchan *a)
{
    if (a->ch) {
        int rc = libssh2_channel_close(a->ch);
        if (inchan_again(c, a, rc, IOP_CLOSE))
            return 0;
        libssh2_channel_free(a->ch);
        a->ch = NULL;
    }
    for (struct inchan **pp = &c->inchans; *pp; pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    }
    free_one(a);
    return 1;
}

/* One channel as far as it goes; the op that left a packet half sent first. */
static int step_one(struct sshconn *c, struct inchan *a)
{
    int progress = 0;
    switch (a->blocked_op) {
    case IOP_READ:
        progress |= a->x11 ? x11_first(c, a) : a->socks ? inheld_socks_step(c, a) : to_fd(c, a);
        break;
    case IOP_WRITE:
    case IOP_EOF:
        progress |= to_channel(c, a);
        break;
    case IOP_CLOSE:
        return close_one(c, a);
    default:
        break;
    }
    if (a->x11 && !a->closing && !c->inchan_blocked)
        progress |= x11_first(c, a);
    if (a->socks && !a->closing && !c->inchan_blocked)
        progress |= inheld_socks_step(c, a);
    if (a->unsent && !a->closing && send_incoming(a) == 0)
        progress = 1;
    if (c->inchan_blocked || (a->ep.fd < 0 && !a->closing))
        return progress; /* the client (or our worker) has not connected it yet */
    if (!a->closing) {
        progress |= to_fd(c, a);
        if (!c->inchan_blocked && !a->closing)
            progress |= to_channel(c, a);
    }
    /* Both sides are done and all of each reached the other. */
    if (!c->inchan_blocked && a->ch_eof && a->fd_shut && a->eof_sent && !buf_used(&a->to_ch))
        a->closing = 1;
    if (!c->inchan_blocked && a->closing)
        return progress | close_one(c, a);
    return progress;
}

int inchan_step(struct sshconn *c)
{
    int progress = 0;
    if (c->inchan_blocked) {
        progress |= step_one(c, c->inchan_blocked);
        if (c->inchan_blocked)
            return progress;
    }
    struct inchan *a = c->inchans;
    while (a && !c->inchan_blocked && !c->blocked && c->state == C_READY) {
        struct inchan *next = a->next; /* a may be freed */
        progress |= step_one(c, a);
        a = next;
    }
    return progress;
}

struct endpoint *inchan_endpoint(struct sshconn *c, int i, short *events)
{
    struct inchan *a = c->inchans;
    while (a && i-- > 0)
        a = a->next;
    if (!a)
        return NULL;
    *events = 0;
    if (a->ep.fd >= 0 && !a->closing) {
        if (!a->fd_eof && !buf_used(&a->to_ch))
            *events |= POLLIN;
        if (buf_used(&a->to_fd))
            *events |= POLLOUT;
    }
    return &a->ep;
}

int inchan_reads(const struct sshconn *c)
{
    return c->inchans != NULL;
}

void inchan_drop(struct sshconn *c)
{
    while (c->inchans) {
        struct inchan *a = c->inchans;
        c->inchans = a->next;
        free_one(a);
    }
    c->inchan_blocked = NULL;
}
