/* Agent forwarding: the session's auth-agent request, and the server's agent channels
 * joined to the forwarded agent's socket. */
#include "agentfwd.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine.h"
#include "envreq.h"
#include "fatal.h"
#include "halfsent.h"
#include "log.h"
#include "session_int.h"
#include "x11fwd.h"

/* sshd takes packets of 16 KB at most on agent channels (CHAN_X11_PACKET_DEFAULT), and
 * libssh2 1.11 records the window and packet size of a channel the server opened swapped
 * (it would send 32 KB packets into a 64 KB window): writes stay within one small packet. */
#define AGENT_CHUNK 16384

enum agent_op { AOP_NONE = 0, AOP_READ, AOP_WRITE, AOP_EOF, AOP_CLOSE };

/* One server-opened auth-agent channel and our connection to the agent. */
struct agentch {
    LIBSSH2_CHANNEL *ch;
    struct endpoint ep;       /* the agent socket, non-blocking (-1: none, close at once) */
    struct buf to_agent;      /* from the channel, not yet written to the agent */
    struct buf to_ch;         /* from the agent, not yet written to the channel */
    int ch_eof, agent_eof;    /* each side's end of input */
    int eof_sent;             /* our EOF went to the server */
    int closing;              /* close the channel and free */
    enum agent_op blocked_op; /* the call that left a packet half sent */
    int x11;                  /* an x11 channel whose display is not joined yet (x11fwd.h) */
    struct agentch *next;
};

/* A non-blocking connection to the agent at path, or -1. */
static int agent_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!path[0] || strlen(path) >= sizeof sa.sun_path)
        return -1;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        blog("cannot reach the forwarded agent %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void agentfwd_adopt(struct sshconn *c, LIBSSH2_CHANNEL *ch, int x11)
{
    struct agentch *a = calloc(1, sizeof *a);
    if (!a) {
        blog("out of memory for a forwarded channel on %s", c->cfg.hostname);
        return; /* freed with the session; the remote's client waits */
    }
    a->ch = ch;
    a->x11 = x11;
    a->ep.fd = !x11 && c->facts.fwd_agent[0] ? agent_connect(c->facts.fwd_agent) : -1;
    a->ep.saved_flags = -1;
    a->ep.ready = !x11; /* an x11 channel's display is joined on its first bytes */
    a->closing = !x11 && a->ep.fd < 0;
    struct agentch **pp = &c->agents;
    while (*pp)
        pp = &(*pp)->next;
    *pp = a;
    c->dirty = 1;
}

#if LIBSSH2_VERSION_NUM >= 0x010b00
/* libssh2 confirmed a server's auth-agent channel open, from inside whatever call read the
 * packet: only note it here (no libssh2 calls); the pump joins it. */
static void on_agent_open(LIBSSH2_SESSION *ssh, LIBSSH2_CHANNEL *ch, void **abstract)
{
    (void)ssh;
    agentfwd_adopt(*abstract, ch, 0);
}
#endif

void agentfwd_init(struct sshconn *c)
{
#if LIBSSH2_VERSION_NUM >= 0x010b01
    libssh2_session_callback_set2(c->ssh, LIBSSH2_CALLBACK_AUTHAGENT,
                                  (libssh2_cb_generic *)on_agent_open);
#elif LIBSSH2_VERSION_NUM >= 0x010b00
    libssh2_session_callback_set(c->ssh, LIBSSH2_CALLBACK_AUTHAGENT, (void *)on_agent_open);
#else
    (void)c;
#endif
}

int agentfwd_request(struct session *s)
{
    struct sshconn *c = s->conn;
    if (s->agent_sent || !c->facts.fwd_agent[0])
        return 1;
#if LIBSSH2_VERSION_NUM >= 0x010b00
    int rc = envreq_hold(c, s->ch, s->blocked_op != OP_AGENT);
    if (rc == 0)
        rc = libssh2_channel_request_auth_agent(s->ch);
    envreq_release(c);
    if (sess_again(s, rc, OP_AGENT))
        return 0;
    if (rc < 0 && !fatal_channel_only(rc)) {
        sess_fail(s, rc, "auth-agent request");
        return 1;
    }
#endif
    s->agent_sent = 1;
    return 1;
}

/* An EAGAIN (1) that may have left a's packet half sent (marked as sess_again marks a
 * session's); 0 for any other rc. */
static int again(struct sshconn *c, struct agentch *a, long rc, enum agent_op op)
{
    if (rc != LIBSSH2_ERROR_EAGAIN) {
        if (c->agent_blocked == a && a->blocked_op == op) {
            c->agent_blocked = NULL;
            a->blocked_op = AOP_NONE;
        }
        return 0;
    }
    if (halfsent_eagain(c, (int)rc)) {
        c->agent_blocked = a;
        a->blocked_op = op;
    }
    return 1;
}

/* The channel's bytes to the agent. */
static int to_agent(struct sshconn *c, struct agentch *a)
{
    int progress = 0;
    for (;;) {
        if (a->x11 && buf_used(&a->to_agent)) {
            int r = x11fwd_first(c, &a->to_agent, &a->ep.fd);
            if (r < 0) {
                a->closing = 1; /* no session's cookie, or its display is out of reach */
                return 1;
            }
            if (r > 0)
                a->x11 = 0, a->ep.ready = 1, progress = 1;
        }
        while (!a->x11 && buf_used(&a->to_agent)) {
            ssize_t n = write(a->ep.fd, a->to_agent.p + a->to_agent.off, buf_used(&a->to_agent));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                return progress;
            if (n <= 0) {
                a->closing = 1; /* the agent went away */
                return 1;
            }
            buf_consume(&a->to_agent, (size_t)n);
            progress = 1;
        }
        if (a->ch_eof || buf_reserve(&a->to_agent, AGENT_CHUNK) < 0)
            return progress;
        ssize_t n =
            libssh2_channel_read(a->ch, (char *)a->to_agent.p + a->to_agent.len, AGENT_CHUNK);
        if (again(c, a, n, AOP_READ))
            return progress;
        if (n < 0 || (n == 0 && libssh2_channel_eof(a->ch))) {
            a->ch_eof = 1; /* the remote's client is done (or the channel broke) */
            return 1;
        }
        if (n == 0)
            return progress;
        a->to_agent.len += (size_t)n;
        progress = 1;
    }
}

/* The agent's bytes to the channel, then our EOF once the agent closed. */
static int to_channel(struct sshconn *c, struct agentch *a)
{
    int progress = 0;
    if (!a->agent_eof && !buf_used(&a->to_ch) && a->ep.ready) {
        if (buf_reserve(&a->to_ch, AGENT_CHUNK) < 0)
            return 0;
        ssize_t n = read(a->ep.fd, a->to_ch.p + a->to_ch.len, AGENT_CHUNK);
        if (n > 0) {
            a->to_ch.len += (size_t)n;
            progress = 1;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            a->agent_eof = progress = 1;
        } else {
            a->ep.ready = 0;
        }
    }
    while (buf_used(&a->to_ch)) {
        size_t len = buf_used(&a->to_ch) < AGENT_CHUNK ? buf_used(&a->to_ch) : AGENT_CHUNK;
        ssize_t n = libssh2_channel_write(a->ch, (char *)a->to_ch.p + a->to_ch.off, len);
        if (again(c, a, n, AOP_WRITE))
            return progress;
        if (n < 0) {
            a->closing = 1;
            return 1;
        }
        buf_consume(&a->to_ch, (size_t)n);
        progress = 1;
    }
    if (a->agent_eof && !a->eof_sent) {
        int rc = libssh2_channel_send_eof(a->ch);
        if (again(c, a, rc, AOP_EOF))
            return progress;
        a->eof_sent = progress = 1;
    }
    return progress;
}

/* Close the channel (waiting for the server's close without blocking) and free a; 1 once
 * freed, 0 while the close waits. */
static int close_one(struct sshconn *c, struct agentch *a)
{
    if (a->ch) {
        int rc = libssh2_channel_close(a->ch);
        if (again(c, a, rc, AOP_CLOSE))
            return 0;
        libssh2_channel_free(a->ch);
        a->ch = NULL;
    }
    for (struct agentch **pp = &c->agents; *pp; pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    }
    if (a->ep.fd >= 0)
        close(a->ep.fd);
    buf_free(&a->to_agent, 1);
    buf_free(&a->to_ch, 1);
    free(a);
    return 1;
}

/* One channel as far as it goes; the op that left a packet half sent first. */
static int step_one(struct sshconn *c, struct agentch *a)
{
    int progress = 0;
    switch (a->blocked_op) {
    case AOP_READ:
        progress |= to_agent(c, a);
        break;
    case AOP_WRITE:
    case AOP_EOF:
        progress |= to_channel(c, a);
        break;
    case AOP_CLOSE:
        return close_one(c, a);
    default:
        break;
    }
    if (c->agent_blocked || a->closing)
        return a->closing && !c->agent_blocked ? progress | close_one(c, a) : progress;
    progress |= to_agent(c, a);
    if (!c->agent_blocked && !a->closing)
        progress |= to_channel(c, a);
    /* The remote's client hung up and all it sent reached the agent (or it never sent a
     * whole first X11 packet): done. */
    if (!c->agent_blocked && a->ch_eof && (!buf_used(&a->to_agent) || a->x11))
        a->closing = 1;
    if (!c->agent_blocked && a->closing)
        return progress | close_one(c, a);
    return progress;
}

int agentfwd_step(struct sshconn *c)
{
    int progress = 0;
    if (c->agent_blocked) {
        progress |= step_one(c, c->agent_blocked);
        if (c->agent_blocked)
            return progress;
    }
    struct agentch *a = c->agents;
    while (a && !c->agent_blocked && !c->blocked && c->state == C_READY) {
        struct agentch *next = a->next; /* a may be freed */
        progress |= step_one(c, a);
        a = next;
    }
    return progress;
}

struct endpoint *agentfwd_endpoint(struct sshconn *c, int i, short *events)
{
    struct agentch *a = c->agents;
    while (a && i-- > 0)
        a = a->next;
    if (!a)
        return NULL;
    *events = 0;
    if (a->ep.fd >= 0 && !a->closing) {
        if (!a->agent_eof && !buf_used(&a->to_ch))
            *events |= POLLIN;
        if (buf_used(&a->to_agent))
            *events |= POLLOUT;
    }
    return &a->ep;
}

int agentfwd_reads(const struct sshconn *c)
{
    return c->agents != NULL;
}

void agentfwd_drop(struct sshconn *c)
{
    while (c->agents) {
        struct agentch *a = c->agents;
        c->agents = a->next;
        if (a->ep.fd >= 0)
            close(a->ep.fd);
        buf_free(&a->to_agent, 1);
        buf_free(&a->to_ch, 1);
        free(a);
    }
    c->agent_blocked = NULL;
}
