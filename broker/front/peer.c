/* Connected muxssh clients: accept, SO_PEERCRED, framing, dispatch, replies. */
#include "peer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "localcmd.h"
#include "log.h"
#include "pool.h"
#include "prompt.h"
#include "proto.h"
#include "session.h"
#include "x11fwd.h"

/* Every connected client, the newest first: linked by peer_add, unlinked and freed by
 * peer_sweep only. */
static struct peer *peers;

struct peer *peer_add(int fd, pid_t pid)
{
    struct peer *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->fd = fd;
    p->pid = pid;
    p->next = peers;
    peers = p;
    return p;
}

struct peer *peer_first(void)
{
    return peers;
}

void peer_accept(int listen_fd)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                blog("accept: %s", strerror(errno));
            return;
        }
        struct ucred cred;
        socklen_t len = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid()) {
            blog("refused a connection from uid %d (pid %d): not this broker's user",
                 len == sizeof cred ? (int)cred.uid : -1, len == sizeof cred ? (int)cred.pid : -1);
            close(fd);
            continue;
        }
        if (!peer_add(fd, cred.pid)) {
            close(fd);
            return;
        }
    }
}

static reap_free_fn peer_free;

/* p is done with: out of the poll set now, freed at the end of the loop turn (reap.h), when
 * its session hears of it. */
static void release(struct peer *p)
{
    reap_release(&p->reap, peer_free);
}

void peer_queue(struct peer *p, struct proto_buf *b)
{
    if (!reap_released(&p->reap) &&
        (proto_end(b) < 0 || buf_append(&p->out, b->data, b->len) < 0)) {
        /* A lost reply (an EXIT, a STARTED) would leave the client waiting: drop it, and
         * muxssh reports the broker gone. */
        blog("client pid %d: cannot queue a reply: dropping the client", (int)p->pid);
        release(p);
    }
    proto_buf_free(b);
    peer_on_writable(p);
}

/* Queue a frame of type: n u32 fields, then the string text. */
static void send_u32s_str(struct peer *p, uint8_t type, const uint32_t *u, int n, const char *text)
{
    struct proto_buf b;
    proto_begin(&b, type);
    for (int i = 0; i < n; i++)
        proto_put_u32(&b, u[i]);
    proto_put_str(&b, text, (size_t)-1);
    peer_queue(p, &b);
}

void peer_send_exit(struct peer *p, int kind, int code, const char *msg)
{
    send_u32s_str(p, MSG_EXIT, (const uint32_t[]){(uint32_t)kind, (uint32_t)code}, 2, msg);
}

void peer_send_error(struct peer *p, int code, const char *msg)
{
    send_u32s_str(p, MSG_ERROR, (const uint32_t[]){(uint32_t)code}, 1, msg);
}

void peer_send_ctl_reply(struct peer *p, int status, const char *text)
{
    send_u32s_str(p, MSG_CONTROL_REPLY, (const uint32_t[]){(uint32_t)status}, 1, text);
}

void peer_send_ctl_out(struct peer *p, const char *text)
{
    send_u32s_str(p, MSG_CONTROL_OUT, NULL, 0, text);
}

void peer_send_message(struct peer *p, const char *text)
{
    send_u32s_str(p, MSG_MESSAGE, NULL, 0, text);
}

int peer_send_started(struct peer *p, uint32_t flags)
{
    struct proto_buf b;
    proto_begin(&b, MSG_STARTED);
    proto_put_u32(&b, flags);
    peer_queue(p, &b);
    return !buf_used(&p->out);
}

void peer_finish(struct peer *p)
{
    p->closing = 1;
    if (!buf_used(&p->out) && !p->waits)
        release(p);
}

/* Send the frame b (finished here, then freed) to p at once, with fd on its first byte when
 * fd >= 0; 0 if it left, -1 if not (nothing may be queued ahead of an fd's frame). */
static int send_with_fd(struct peer *p, struct proto_buf *b, int fd)
{
    if (buf_used(&p->out))
        peer_on_writable(p);
    int rc = -1;
    if (!buf_used(&p->out) && !reap_released(&p->reap) && proto_end(b) == 0) {
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = b->data, .iov_len = b->len};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (fd >= 0) {
            mh.msg_control = cbuf;
            mh.msg_controllen = sizeof cbuf;
            struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &fd, sizeof fd);
        }
        ssize_t n;
        do
            n = sendmsg(p->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n > 0 && (size_t)n < b->len) /* the rest of the frame follows as any reply */
            buf_append(&p->out, b->data + n, b->len - (size_t)n);
        rc = n > 0 ? 0 : -1;
    }
    proto_buf_free(b);
    return rc;
}

/* Send ROUTE_REPLY {err} to p, with fd when err is 0; 0 if it left, -1 if not. */
static int send_route_reply(struct peer *p, int err, int fd)
{
    struct proto_buf b;
    proto_begin(&b, MSG_ROUTE_REPLY);
    proto_put_u32(&b, (uint32_t)err);
    return send_with_fd(p, &b, fd);
}

/* INCOMING to p (session.h's SEV_INCOMING): queued, or at once with an fd; 0 or -1. */
static int send_incoming(struct peer *p, const struct session_note *n)
{
    struct proto_buf b;
    proto_begin(&b, MSG_INCOMING);
    proto_put_u32(&b, n->id);
    proto_put_u32(&b, (uint32_t)n->kind);
    proto_put_u32(&b, (uint32_t)n->code);
    proto_put_str(&b, n->text, (size_t)-1);
    proto_put_u32(&b, (uint32_t)n->port);
    proto_put_str(&b, n->origin, (size_t)-1);
    if (n->fd >= 0)
        return send_with_fd(p, &b, n->fd);
    peer_queue(p, &b);
    return 0;
}

/* The client's side of its session's interface (session.h): the session's events become
 * frames to it. */
static int client_tell(void *owner, struct session *s, const struct session_note *n)
{
    struct peer *p = owner;
    struct proto_buf b;
    switch (n->ev) {
    case SEV_MESSAGE:
        peer_send_message(p, n->text);
        return 0;
    case SEV_LOCAL_COMMAND:
        proto_begin(&b, MSG_LOCAL_COMMAND);
        proto_put_str(&b, n->text, (size_t)-1);
        peer_queue(p, &b);
        return 0;
    case SEV_FORWARDS:
        proto_begin(&b, MSG_FORWARDS);
        proto_put_u32(&b, (uint32_t)n->code);
        proto_put_u32(&b, (uint32_t)n->kind);
        proto_put_str(&b, n->text, (size_t)-1);
        peer_queue(p, &b);
        return 0;
    case SEV_X11_AUTH:
        proto_begin(&b, MSG_X11_AUTH);
        proto_put_u32(&b, (uint32_t)n->code);
        proto_put_u32(&b, (uint32_t)n->kind);
        proto_put_str(&b, n->text, (size_t)-1);
        peer_queue(p, &b);
        return 0;
    case SEV_STARTED:
        return peer_send_started(p, (uint32_t)n->code);
    case SEV_PENDING:
        return buf_used(&p->out) != 0;
    case SEV_RESOLVED:
        control_resolved(p, s);
        return 0;
    case SEV_ROUTE_REPLY:
        return send_route_reply(p, n->code, n->fd);
    case SEV_INCOMING:
        return send_incoming(p, n);
    case SEV_ERROR:
        peer_send_error(p, n->code, n->text);
        return 0;
    case SEV_EXIT:
        peer_send_exit(p, n->kind, n->code, n->text);
        return 0;
    case SEV_RELEASE:
        if (p->sess == s)
            p->sess = NULL;
        peer_finish(p); /* closes once its replies are out */
        return 0;
    }
    return 0;
}

static const struct session_owner_ops client_owner = {.tell = client_tell};

void peer_own(struct peer *p, struct session *s)
{
    p->sess = s;
    session_set_owner(s, &client_owner, p);
}

/* Protocol violation: tell the client why, in one line, and drop it. */
static void violation(struct peer *p, const char *why)
{
    blog("client pid %d: %s", (int)p->pid, why);
    peer_send_error(p, ERR_PROTO, why);
    p->closing = 1;
    if (p->sess)
        session_client_gone(p->sess);
    p->sess = NULL;
    peer_finish(p);
}

static void close_pending_fds(struct peer *p)
{
    for (int i = 0; i < p->nfds; i++)
        close(p->fds[i]);
    p->nfds = 0;
}

/* p's request made session s: p owns it; or none could be made (err): p is told, in a
 * CONTROL_REPLY for a CONTROL request (ctl), else an ERROR that sends it to the real ssh. */
static void take(struct peer *p, struct session *s, const char *err, int ctl)
{
    p->sess = s;
    if (s) {
        peer_own(p, s);
        return;
    }
    if (ctl)
        peer_send_ctl_reply(p, CTLR_ERROR, err);
    else
        peer_send_error(p, ERR_FALLBACK, err);
    peer_finish(p);
}

static void dispatch(struct peer *p, const uint8_t *body, size_t len)
{
    struct proto_msg m;
    char err[256];
    if (proto_decode(body, len, &m, err, sizeof err) < 0) {
        close_pending_fds(p);
        violation(p, err);
        return;
    }
    if (m.type != MSG_OPEN && p->nfds && !(m.type == MSG_INCOMING_REPLY && p->nfds == 1)) {
        close_pending_fds(p);
        violation(p, "file descriptors sent with a message other than OPEN or INCOMING_REPLY");
        return;
    }
    if (!p->hello && m.type != MSG_HELLO) {
        close_pending_fds(p);
        violation(p, "first message is not HELLO");
        return;
    }
    if (p->notice && m.type != MSG_HANDED && m.type != MSG_HELLO) {
        close_pending_fds(p);
        violation(p, "a notice client sends HANDED only");
        return;
    }
    switch (m.type) {
    case MSG_HELLO: {
        if (p->hello || m.u[0] != PROTO_VERSION) {
            char why[64];
            snprintf(why, sizeof why, p->hello ? "second HELLO" : "protocol version %u, want %u",
                     m.u[0], PROTO_VERSION);
            violation(p, why);
            return;
        }
        p->hello = 1;
        if (m.u[2] & HELLO_NOTICE) {
            p->notice = 1; /* the client reads nothing: no reply */
            return;
        }
        struct proto_buf b;
        proto_begin(&b, MSG_HELLO);
        proto_put_u32(&b, PROTO_VERSION);
        proto_put_u32(&b, (uint32_t)getpid());
        proto_put_u32(&b, 0);
        peer_queue(p, &b);
        return;
    }
    case MSG_OPEN: {
        if (p->sess || p->closing || p->nfds != 3) {
            close_pending_fds(p);
            violation(p, p->sess ? "second OPEN on one connection" : "OPEN needs exactly 3 fds");
            return;
        }
        int fds[3] = {p->fds[0], p->fds[1], p->fds[2]};
        p->nfds = 0;
        take(p, session_new(&m, fds, 0, &pool_session_ops, err, sizeof err), err, 0);
        return;
    }
    case MSG_CONTROL:
        if (p->sess || p->closing) {
            violation(p, "CONTROL while a request is running");
            return;
        }
        if ((m.u[0] & ~CTL_JSON) == CTL_LIST) {
            control_list(p, (m.u[0] & CTL_JSON) != 0);
            return;
        }
        /* (doctor with CTL_JSON: control_resolved answers it in JSON) */
        if ((m.u[0] < CTL_CHECK || m.u[0] > CTL_CANCEL) && m.u[0] != (CTL_DOCTOR | CTL_JSON)) {
            violation(p, "unknown CONTROL operation");
            return;
        }
        take(p, session_new(&m, NULL, (int)m.u[0], &pool_session_ops, err, sizeof err), err, 1);
        return;
    case MSG_HANDED: {
        /* No reply: the session resolves its host with no client, to be counted. */
        struct session *s = p->sess || p->closing ? NULL
                                                  : session_new(&m, NULL, SESSION_HANDED,
                                                                &pool_session_ops, err, sizeof err);
        if (!s && !p->sess && !p->closing)
            blog("client pid %d: HANDED not counted: %s", (int)p->pid, err);
        peer_finish(p);
        return;
    }
    case MSG_ROUTE:
        if (p->sess || p->closing) {
            violation(p, "ROUTE while a request is running");
            return;
        }
        take(p, session_new_route(&m, &pool_session_ops, err, sizeof err), err, 0);
        return;
    case MSG_PROMPT_REPLY:
        prompt_reply(p, m.u[0], m.u[1] != 0, m.s[0].p, m.s[0].n);
        explicit_bzero((void *)body, len); /* the answer may be a secret */
        return;
    case MSG_WINDOW_CHANGE:
        if (p->sess)
            session_window_change(p->sess, m.u[0], m.u[1], m.u[2], m.u[3]);
        return;
    case MSG_LOCAL_DONE:
        if (p->sess)
            localcmd_done(p->sess);
        return;
    case MSG_FORWARDS_DONE:
        if (p->sess)
            localcmd_forwards_done(p->sess);
        return;
    case MSG_X11_AUTH_REPLY:
        if (p->sess)
            x11fwd_reply(p->sess, &m);
        explicit_bzero((void *)body, len); /* the display's cookie */
        return;
    case MSG_INCOMING_REPLY: {
        int fd = p->nfds ? p->fds[0] : -1;
        p->nfds = 0;
        if (p->sess)
            session_incoming_reply(p->sess, m.u[0], (int)m.u[1], fd);
        else if (fd >= 0)
            close(fd);
        return;
    }
    case MSG_SIGNAL:
        /* Valid, but nothing in a non-terminal session uses them yet. */
        return;
    default: {
        char why[64];
        snprintf(why, sizeof why, "unexpected %s from a client", proto_type_name(m.type));
        violation(p, why);
        return;
    }
    }
}

void peer_on_readable(struct peer *p)
{
    for (;;) {
        if (reap_released(&p->reap) || p->closing)
            return;
        if (buf_reserve(&p->in, 65536) < 0)
            return;
        ssize_t n = proto_recvmsg(p->fd, p->in.p + p->in.len, p->in.cap - p->in.len, MSG_DONTWAIT,
                                  p->fds, (int)(sizeof p->fds / sizeof p->fds[0]), &p->nfds);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            /* The client went away (it exited or was killed): its session hears of it when
             * p is freed. */
            close_pending_fds(p);
            release(p);
            return;
        }
        p->in.len += (size_t)n;
        for (;;) {
            long fl = proto_frame_len(p->in.p + p->in.off, buf_used(&p->in));
            if (fl < 0) {
                close_pending_fds(p);
                violation(p, "frame size out of range");
                return;
            }
            if (fl == 0)
                break;
            const uint8_t *body = p->in.p + p->in.off + PROTO_HDR;
            size_t blen = (size_t)fl - PROTO_HDR;
            dispatch(p, body, blen);
            buf_consume(&p->in, (size_t)fl);
            if (reap_released(&p->reap) || p->closing)
                return;
        }
    }
}

void peer_on_writable(struct peer *p)
{
    while (buf_used(&p->out) && !reap_released(&p->reap)) {
        ssize_t n =
            send(p->fd, p->out.p + p->out.off, buf_used(&p->out), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            buf_consume(&p->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        /* The client is gone: this may be deep in a session's call (an ERROR, an EXIT), so
         * only release it; freeing it tells the session at the end of the loop turn. */
        release(p);
        return;
    }
    if (p->closing && !buf_used(&p->out) && !p->waits)
        release(p);
    if (p->sess && !buf_used(&p->out))
        session_client_flushed(p->sess); /* a session may wait for its STARTED to leave */
}

/* Free a released client (reap.h): off the list, and its session and question hear of it. */
static void peer_free(struct reap_node *r)
{
    struct peer *p = REAP_OBJ(r, struct peer, reap);
    for (struct peer **pp = &peers; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    if (p->sess)
        session_client_gone(p->sess);
    prompt_peer_gone(p);
    control_peer_gone(p);
    close_pending_fds(p);
    close(p->fd);
    buf_free(&p->in, 1);
    buf_free(&p->out, 1);
    free(p);
}
