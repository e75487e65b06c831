/* Forwards held by a connection (-O forward), bound as ssh binds them (proto/fwdbind.c), and
 * their connections: a local forward's is a channel at once, a dynamic one's after its SOCKS
 * request (proto/socksparse.c), read here without waiting. What ssh -O forward and -O cancel
 * print is mux.c's mux_client_forward (OpenSSH 9.2): the master's own words go to its log. */
#include "fwdheld.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"
#include "fwdbind.h"
#include "log.h"
#include "pool.h"
#include "rfwd.h"
#include "session.h"
#include "socksparse.h"
#include "sshconfig.h"

#define HELD_FDS 16    /* listening sockets of one forward at most */
#define PENDING_MAX 64 /* SOCKS requests being read, per forward */
#define PORT_PATH (-2) /* ssh's PORT_STREAMLOCAL: the target is a path on the server */

/* A dynamic forward's connection whose SOCKS request is not whole yet. */
struct fwd_pending {
    int fd;
    struct socks_req req;
    size_t len;
    uint8_t buf[2 * SOCKS_HOST_MAX + 64];
    struct fwd_pending *next;
};

/* One forward the connection holds. */
struct pool_fwd {
    char spec[1200]; /* "L LISTEN TARGET" or "D LISTEN", as ssh -G prints it */
    char host[1100]; /* L: where its connections go ... */
    int port;        /* ... (PORT_PATH: host is a path on the server) */
    int fds[HELD_FDS], nfds;
    struct fwd_pending *pending;
    int npending;
    struct pool_fwd *next;
};

static void log_say(void *arg, int level, const char *line)
{
    (void)level;
    blog("%s: %s", (const char *)arg, line);
}

static void append(char *msg, size_t cap, const char *line)
{
    size_t n = strlen(msg);
    snprintf(msg + n, cap - n, "%s\r\n", line);
}

/* The forward c holds with this spec, or NULL. */
static struct pool_fwd **find(struct sshconn *c, const char *spec)
{
    for (struct pool_fwd **pp = &c->held; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->spec, spec))
            return pp;
    return NULL;
}

static void close_fwd(struct pool_fwd *f)
{
    for (int i = 0; i < f->nfds; i++)
        close(f->fds[i]);
    while (f->pending) {
        struct fwd_pending *p = f->pending;
        f->pending = p->next;
        close(p->fd);
        free(p);
    }
    free(f);
}

/* The listen word of spec as a path to bind (relative to cwd), or as it is. */
static void listen_word(const char *w, size_t n, const char *cwd, char *out, size_t cap)
{
    if (memchr(w, '/', n) && w[0] != '/')
        snprintf(out, cap, "%s/%.*s", cwd, (int)n, w);
    else
        snprintf(out, cap, "%.*s", (int)n, w);
}

/* Bind one spec line for c: the forward, or NULL when nothing listens (logged). */
static struct pool_fwd *bind_one(const char *line, const struct hostcfg *cfg, const char *cwd)
{
    struct pool_fwd *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    snprintf(f->spec, sizeof f->spec, "%s", line);
    const char *w = line + 2, *t = strchr(w, ' ');
    size_t wn = t ? (size_t)(t - w) : strlen(w);
    char listen[1100];
    listen_word(w, wn, cwd, listen, sizeof listen);
    if (line[0] == 'L') {
        const char *close = t ? strstr(t + 1, "]:") : NULL;
        if (t && t[1] == '/') {
            snprintf(f->host, sizeof f->host, "%s", t + 1);
            f->port = PORT_PATH;
        } else if (t && t[1] == '[' && close) {
            snprintf(f->host, sizeof f->host, "%.*s", (int)(close - t - 2), t + 2);
            f->port = atoi(close + 2);
        }
        if (!f->host[0] || !f->port) {
            free(f);
            return NULL;
        }
    }
    uint32_t flags = (cfg->gatewayports ? FWD_GATEWAY_PORTS : 0) |
                     (cfg->streamlocalbindunlink ? FWD_BIND_UNLINK : 0);
    f->nfds = fwdbind_listen(listen, flags, (uint32_t)cfg->streamlocalbindmask, f->fds, HELD_FDS,
                             log_say, f->spec);
    if (f->nfds == 0) {
        free(f);
        return NULL;
    }
    for (int i = 0; i < f->nfds; i++)
        fcntl(f->fds[i], F_SETFL, fcntl(f->fds[i], F_GETFL) | O_NONBLOCK);
    return f;
}

int pool_fwd_add(struct sshconn *c, const struct hostcfg *cfg, const char *cwd, char *msg,
                 size_t cap)
{
    int failed = 0;
    msg[0] = '\0';
    for (const char *l = cfg->forwards, *nl; *l && (nl = strchr(l, '\n')); l = nl + 1) {
        char line[1200];
        snprintf(line, sizeof line, "%.*s", (int)(nl - l), l);
        if (find(c, line))
            continue; /* the master's "found existing forwarding": nothing to do */
        const char *t = line[0] == 'L' ? strchr(line + 2, ' ') : NULL;
        if (t && t[1] == '/' && !engine_has_streamlocal()) {
            /* a LIBSSH2=system build older than 1.11.1: its connections could not be opened */
            char why[1400];
            snprintf(why, sizeof why,
                     "muxshim: this build's libssh2 cannot forward to a socket path on the "
                     "server (direct-streamlocal): %s not held",
                     line);
            append(msg, cap, why);
            failed = 1;
            continue;
        }
        struct pool_fwd *f = bind_one(line, cfg, cwd);
        if (!f) {
            if (cfg->loglevel >= 2)
                append(msg, cap,
                       "mux_client_forward: forwarding request failed: Port forwarding "
                       "failed");
            failed = 1;
            continue;
        }
        struct pool_fwd **pp = &c->held;
        while (*pp)
            pp = &(*pp)->next;
        *pp = f; /* listed in the order they came */
        blog("%s: holds forward %s", c->cfg.hostname, line);
    }
    return failed ? -1 : 0;
}

int pool_fwd_cancel(struct sshconn *c, const struct hostcfg *cfg, const char *cwd, char *msg,
                    size_t cap)
{
    int failed = 0;
    (void)cwd;
    msg[0] = '\0';
    for (const char *l = cfg->forwards, *nl; *l && (nl = strchr(l, '\n')); l = nl + 1) {
        char line[1200];
        snprintf(line, sizeof line, "%.*s", (int)(nl - l), l);
        struct pool_fwd **pp = find(c, line);
        if (!pp) {
            if (cfg->loglevel >= 2)
                append(msg, cap,
                       "mux_client_forward: forwarding request failed: port not "
                       "forwarded");
            failed = 1;
            continue;
        }
        struct pool_fwd *f = *pp;
        *pp = f->next;
        blog("%s: forward %s cancelled", c->cfg.hostname, line);
        close_fwd(f);
    }
    return failed ? -1 : 0;
}

int pool_fwd_pollfd(const struct sshconn *c, int i, short *events)
{
    *events = POLLIN;
    for (const struct pool_fwd *f = c->held; f; f = f->next) {
        if (i < f->nfds)
            return f->fds[i];
        i -= f->nfds;
        for (const struct fwd_pending *p = f->pending; p; p = p->next)
            if (i-- == 0)
                return p->fd;
    }
    return -1;
}

/* A connection of f goes to a channel on c (its SOCKS request read, when socks). */
static void to_channel(struct sshconn *c, struct pool_fwd *f, int fd, const char *host, int port,
                       int socks, const void *early, size_t nearly)
{
    char err[256];
    if (!session_new_fwd(c, &pool_session_ops, fd, host, port, socks, early, nearly, err,
                         sizeof err))
        blog("%s: forward %s: %s", c->cfg.hostname, f->spec, err);
}

/* Read what p's client sent; 1 when p is done with (handed to a channel, or dropped). */
static int read_socks(struct sshconn *c, struct pool_fwd *f, struct fwd_pending *p)
{
    ssize_t n = recv(p->fd, p->buf + p->len, sizeof p->buf - p->len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        close(p->fd);
        return 1;
    }
    p->len += (size_t)n;
    for (;;) {
        int step = socks_parse(&p->req, p->buf, p->len);
        if (step == SOCKS_METHOD) {
            if (send(p->fd, socks_method_reply, sizeof socks_method_reply,
                     MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof socks_method_reply)
                step = SOCKS_BAD;
            p->req.method_done = 1;
            memmove(p->buf, p->buf + p->req.used, p->len - p->req.used);
            p->len -= p->req.used;
            if (step == SOCKS_METHOD)
                continue;
        }
        if (step == SOCKS_REQUEST) {
            to_channel(c, f, p->fd, p->req.host, p->req.port, p->req.version, p->buf + p->req.used,
                       p->len - p->req.used);
            return 1;
        }
        if (step == SOCKS_BAD || p->len == sizeof p->buf) {
            close(p->fd);
            return 1;
        }
        return 0;
    }
}

void pool_fwd_wake(struct sshconn *c)
{
    if (c->state != C_READY)
        return;
    for (struct pool_fwd *f = c->held; f; f = f->next) {
        for (struct fwd_pending **pp = &f->pending; *pp;) {
            struct fwd_pending *p = *pp;
            if (read_socks(c, f, p)) {
                *pp = p->next;
                f->npending--;
                free(p);
            } else {
                pp = &p->next;
            }
        }
        for (int i = 0; i < f->nfds; i++) {
            int fd;
            while ((fd = accept4(f->fds[i], NULL, NULL, SOCK_CLOEXEC)) >= 0) {
                if (f->spec[0] == 'L') {
                    to_channel(c, f, fd, f->host, f->port, 0, NULL, 0);
                    continue;
                }
                struct fwd_pending *p = f->npending < PENDING_MAX ? calloc(1, sizeof *p) : NULL;
                if (!p) {
                    close(fd);
                    continue;
                }
                p->fd = fd;
                if (read_socks(c, f, p)) {
                    free(p);
                    continue;
                }
                p->next = f->pending;
                f->pending = p;
                f->npending++;
            }
        }
    }
}

void pool_fwd_drop(struct sshconn *c)
{
    while (c->held) {
        struct pool_fwd *f = c->held;
        c->held = f->next;
        close_fwd(f);
    }
}

size_t pool_fwd_list(const struct sshconn *c, char *out, size_t cap)
{
    size_t off = 0;
    if (cap)
        out[0] = '\0'; /* none held: an empty text, not what the buffer held before */
    for (const struct pool_fwd *f = c->held; f && off < cap; f = f->next) {
        int n = snprintf(out + off, cap - off, "%s\tconnection\n", f->spec);
        if (n < 0 || (size_t)n >= cap - off)
            break;
        off += (size_t)n;
    }
    return off + rfwd_held_list(c, out + off, cap - off);
}
