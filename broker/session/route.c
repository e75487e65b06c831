/* connect() routing in the broker: loopback pairs, the status (the reply with its fd is the
 * client's: front/peer.c). */
#include "route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The port of a bound or connected socket's address. */
static int port_of(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)ss)->sin_port)
                                    : ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

int route_pair(int family, int *mine, int *theirs)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof *a;
    }
    /* Nothing here waits: a non-blocking connect to a loopback listener; Linux completes the
     * handshake within the connect call, so the connection is in the listener's queue when
     * it returns (if it is not, yet, the program's connect fails rather than the loop wait). */
    int l = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), c = -1, a = -1;
    if (l < 0 || bind(l, (struct sockaddr *)&ss, sl) < 0 || listen(l, 8) < 0 ||
        getsockname(l, (struct sockaddr *)&ss, &sl) < 0)
        goto fail;
    c = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c < 0 || (connect(c, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS))
        goto fail;
    struct sockaddr_storage mine_addr;
    socklen_t ml = sizeof mine_addr;
    if (getsockname(c, (struct sockaddr *)&mine_addr, &ml) < 0)
        goto fail;
    /* Another local user could connect to the listener in this instant: take only the
     * connection whose source is our own socket. */
    for (int tries = 0; tries < 64 && a < 0; tries++) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        a = accept4(l, (struct sockaddr *)&from, &fl, SOCK_CLOEXEC);
        if (a < 0 && errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            goto fail;
        if (a < 0) {
            sched_yield(); /* not in the queue yet: let the softirq finish, never sleep */
        } else if (port_of(&from) != port_of(&mine_addr)) {
            close(a);
            a = -1;
        }
    }
    int soerr = 0;
    socklen_t el = sizeof soerr;
    struct pollfd pc = {.fd = c, .events = POLLOUT};
    if (a < 0 || poll(&pc, 1, 0) != 1 || getsockopt(c, SOL_SOCKET, SO_ERROR, &soerr, &el) < 0 ||
        soerr != 0) {
        if (a >= 0)
            close(a);
        errno = soerr ? soerr : ECONNREFUSED;
        goto fail;
    }
    /* The program's socket blocks unless it says otherwise, as its own connect's would. */
    int fl = fcntl(c, F_GETFL);
    if (fl < 0 || fcntl(c, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        close(a);
        goto fail;
    }
    close(l);
    int on = 1;
    setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    *mine = a;
    *theirs = c;
    return 0;
fail:
    if (l >= 0)
        close(l);
    if (c >= 0)
        close(c);
    return -1;
}

int route_connect_to(int family, int from_port, const char *to, int to_port, int *mine)
{
    struct sockaddr_storage from = {0}, dst = {0};
    socklen_t sl;
    int ok;
    if (family == AF_INET6) {
        struct sockaddr_in6 *f = (struct sockaddr_in6 *)&from, *d = (struct sockaddr_in6 *)&dst;
        f->sin6_family = d->sin6_family = AF_INET6;
        f->sin6_addr = in6addr_loopback;
        f->sin6_port = htons((uint16_t)from_port);
        d->sin6_port = htons((uint16_t)to_port);
        ok = inet_pton(AF_INET6, to, &d->sin6_addr) == 1 && IN6_IS_ADDR_LOOPBACK(&d->sin6_addr);
        sl = sizeof *f;
    } else {
        struct sockaddr_in *f = (struct sockaddr_in *)&from, *d = (struct sockaddr_in *)&dst;
        f->sin_family = d->sin_family = AF_INET;
        f->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        f->sin_port = htons((uint16_t)from_port);
        d->sin_port = htons((uint16_t)to_port);
        ok = inet_pton(AF_INET, to, &d->sin_addr) == 1 && (ntohl(d->sin_addr.s_addr) >> 24) == 127;
        sl = sizeof *f;
    }
    /* Only the program's own socket on loopback, from the shim's listener's port. */
    if (!ok || from_port <= 0 || to_port <= 0) {
        errno = EINVAL;
        return -1;
    }
    int on = 1, c = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c < 0 || setsockopt(c, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0 ||
        bind(c, (struct sockaddr *)&from, sl) < 0 ||
        (connect(c, (struct sockaddr *)&dst, sl) < 0 && errno != EINPROGRESS))
        goto fail;
    /* A simultaneous open on loopback: the program's socket, in SYN-SENT, answers our SYN
     * within the softirq that follows; nothing here sleeps. */
    int soerr = 0, done = 0;
    for (int tries = 0; tries < 64 && !done; tries++) {
        struct pollfd pc = {.fd = c, .events = POLLOUT};
        done = poll(&pc, 1, 0) == 1;
        if (!done)
            sched_yield();
    }
    socklen_t el = sizeof soerr;
    if (!done || getsockopt(c, SOL_SOCKET, SO_ERROR, &soerr, &el) < 0 || soerr) {
        errno = soerr ? soerr : ETIMEDOUT;
        goto fail;
    }
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    *mine = c;
    return 0;
fail:
    if (c >= 0) {
        int e = errno;
        close(c);
        errno = e;
    }
    return -1;
}

/* Is t a running routed channel to s's destination? */
static int same_route(const struct session *t, const struct session *s)
{
    return t->route && t->state == S_RUNNING && t->fwd_port == s->fwd_port &&
           !strcmp(t->fwd_host, s->fwd_host);
}

size_t route_status(const struct sshconn *c, int heading, char *out, size_t cap, struct json *j)
{
    size_t off = 0;
    for (const struct session *s = c->sessions; s; s = s->next) {
        if (!same_route(s, s))
            continue;
        int seen = 0, n = 0;
        for (const struct session *t = c->sessions; t != s && !seen; t = t->next)
            seen = same_route(t, s);
        if (seen)
            continue; /* counted with the first one */
        for (const struct session *t = s; t; t = t->next)
            n += same_route(t, s);
        char dest[300];
        snprintf(dest, sizeof dest, s->route == AF_INET6 ? "[%.256s]:%d" : "%.256s:%d", s->fwd_host,
                 s->fwd_port);
        if (j) {
            json_object(j, NULL);
            json_str(j, "to", dest);
            json_str(j, "via", c->cfg.hostname);
            json_int(j, "channels", n);
            json_close(j);
            continue;
        }
        int w = snprintf(out + off, cap - off, "%s%-40.40s %-28.28s %8d\n",
                         off || !heading
                             ? ""
                             : "ROUTED TO                                VIA                   "
                               "       CHANNELS\n",
                         dest, c->cfg.hostname, n);
        if (w < 0 || (size_t)w >= cap - off)
            return off;
        off += (size_t)w;
    }
    return off;
}
