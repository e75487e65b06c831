/* Channels of forwards the connection holds (-O forward -R): no client to ask, so the broker
 * connects their targets itself, as an OpenSSH master does in its own process: resolved and
 * connected in a worker thread, and for a dynamic forward after the SOCKS request read from
 * the channel (ssh's rdynamic_connect_prepare and _finish: the reply only once connected). */
#include "inchan.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "inchan_int.h"
#include "log.h"
#include "socksparse.h"

#define SOCKS_REQ_MAX (2 * SOCKS_HOST_MAX + 64) /* a request longer than this is dropped */

/* A held dynamic forward's channel, reading its SOCKS request. */
struct held_socks {
    struct socks_req req;
    char permit[1024]; /* PermitRemoteOpen */
};

/* A held forward's channel: its target resolved and connected in a worker thread. */
struct connect_job {
    struct job job;
    struct sshconn *c; /* the loop's: valid while a is */
    struct inchan *a;  /* NULL once the channel is gone (the connection fd is closed) */
    char host[1024];   /* the target: a host, or a socket path when port is -2 */
    int port;
    int socks; /* the SOCKS version to answer once connected (0: none) */
    int fd;    /* the result: connected, or -1 */
};

/* Worker: resolve and connect the target, as ssh's connect_to does (each address in turn). */
static void connect_run(struct job *jb)
{
    struct connect_job *j = JOB_OF(jb, struct connect_job);
    j->fd = -1;
    if (j->port == -2) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        if (strlen(j->host) >= sizeof sun.sun_path)
            return;
        memcpy(sun.sun_path, j->host, strlen(j->host) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
            j->fd = fd;
        else if (fd >= 0)
            close(fd);
        return;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", j->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(j->host, port, &hints, &res) != 0)
        return;
    for (struct addrinfo *ai = res; ai && j->fd < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            j->fd = fd;
        else if (fd >= 0)
            close(fd);
    }
    freeaddrinfo(res);
}

/* Loop: the channel (if still there) is pumped to the connection, after the SOCKS reply for
 * a dynamic forward, or closes without one (a SOCKS client then hears nothing, as ssh's). */
static void connect_done(struct job *jb)
{
    struct connect_job *j = JOB_OF(jb, struct connect_job);
    struct inchan *a = j->a;
    if (!a) {
        if (j->fd >= 0)
            close(j->fd);
        return;
    }
    a->job = NULL;
    uint8_t reply[10];
    if (j->fd >= 0 && j->socks && buf_append(&a->to_ch, reply, socks_reply(j->socks, reply)) < 0) {
        close(j->fd);
        j->fd = -1;
    }
    if (j->fd < 0) {
        blog("%s: a held forward's connection to %s port %d failed", j->c->cfg.hostname, j->host,
             j->port);
        a->closing = 1;
    } else {
        fcntl(j->fd, F_SETFL, fcntl(j->fd, F_GETFL) | O_NONBLOCK);
        a->ep.fd = j->fd;
        a->ep.ready = 1;
    }
    j->c->dirty = 1;
}

static void connect_free(struct job *jb)
{
    free(JOB_OF(jb, struct connect_job));
}

static const struct job_ops connect_ops = {connect_run, connect_done, connect_free};

/* Connect a's target in a worker (socks: the SOCKS version to answer then); a closes when
 * that cannot start. */
static void start(struct sshconn *c, struct inchan *a, const char *host, int port, int socks)
{
    struct connect_job *j = calloc(1, sizeof *j);
    if (!j) {
        a->closing = 1;
        return;
    }
    j->c = c;
    j->a = a;
    j->port = port;
    j->socks = socks;
    snprintf(j->host, sizeof j->host, "%s", host);
    a->job = j;
    if (jobs_start(&j->job, &connect_ops) < 0) {
        a->job = NULL;
        a->closing = 1;
        free(j);
    }
}

void inchan_connect(struct sshconn *c, LIBSSH2_CHANNEL *ch, const char *host, int port,
                    size_t chunk)
{
    struct inchan *a = inchan_append(c, ch, -1, chunk);
    if (!a) {
        blog("out of memory for an incoming channel on %s", c->cfg.hostname);
        return; /* freed with the session; the server's side waits */
    }
    start(c, a, host, port, 0);
}

void inchan_socks(struct sshconn *c, LIBSSH2_CHANNEL *ch, const char *permit, size_t chunk)
{
    struct inchan *a = inchan_append(c, ch, -1, chunk);
    if (a && !(a->socks = calloc(1, sizeof *a->socks)))
        a->closing = 1;
    if (!a || !a->socks) {
        blog("out of memory for an incoming channel on %s", c->cfg.hostname);
        return;
    }
    snprintf(a->socks->permit, sizeof a->socks->permit, "%s", permit);
}

/* The request is whole: its target is connected if PermitRemoteOpen lets it (ssh logs a
 * refusal and closes the channel unanswered). */
static void requested(struct sshconn *c, struct inchan *a)
{
    struct held_socks *h = a->socks;
    a->socks = NULL;
    if (!socks_permitted(h->permit, h->req.host, h->req.port)) {
        blog("%s: a held dynamic forward's request to %s port %d is not permitted "
             "(PermitRemoteOpen)",
             c->cfg.hostname, h->req.host, h->req.port);
        a->closing = 1;
    } else {
        start(c, a, h->req.host, h->req.port, h->req.version);
    }
    free(h);
}

int inheld_socks_step(struct sshconn *c, struct inchan *a)
{
    int progress = inchan_flush(c, a);
    while (a->socks && !a->closing && !c->inchan_blocked) {
        struct socks_req *r = &a->socks->req;
        int step = buf_used(&a->to_fd)
                       ? socks_parse(r, a->to_fd.p + a->to_fd.off, buf_used(&a->to_fd))
                       : SOCKS_MORE;
        if (step == SOCKS_METHOD) {
            r->method_done = 1;
            buf_consume(&a->to_fd, r->used);
            if (buf_append(&a->to_ch, socks_method_reply, sizeof socks_method_reply) < 0)
                a->closing = 1;
            progress |= 1 | inchan_flush(c, a);
        } else if (step == SOCKS_REQUEST) {
            buf_consume(&a->to_fd, r->used); /* what follows is the target's */
            requested(c, a);
            return 1;
        } else if (step == SOCKS_BAD || buf_used(&a->to_fd) >= SOCKS_REQ_MAX || a->ch_eof) {
            a->closing = 1; /* ssh drops it; or its client left before it asked */
            return 1;
        } else if (inchan_fill(c, a) < 0) {
            return progress;
        } else {
            progress = 1;
        }
    }
    return progress;
}

void inheld_forget(struct inchan *a)
{
    if (a->job)
        a->job->a = NULL; /* its worker's connection is closed when it comes */
    free(a->socks);
    a->socks = NULL;
}
