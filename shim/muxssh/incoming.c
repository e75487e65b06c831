/* Connections for the channels the server opens toward this client (incoming.h). */
#include "incoming.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "proto.h"
#include "socks.h"
#include "socksparse.h"

#define INC_MAX 64   /* connections in progress at once */
#define KIDS_MAX 256 /* SOCKS servers at once */

/* One connection being made, as ssh's channel_connect_ctx: the addresses left to try. */
struct conn_try {
    uint32_t id;
    int fd, port, loglevel;
    struct addrinfo *all, *next;
    char host[NI_MAXHOST];
};

static struct conn_try pend[INC_MAX];
static int npend;
static pid_t kids[KIDS_MAX];
static int nkids;

static void say_failed(const struct conn_try *t)
{
    if (t->loglevel >= 2) { /* ssh's error() */
        fprintf(stderr, "connect_to %.100s port %d: failed.\r\n", t->host, t->port);
        fflush(stderr);
    }
}

/* Start a connection to the next address of a name: 1 connected (t->fd), 0 in progress, -1
 * when none is left. */
static int try_next(struct conn_try *t)
{
    for (; t->next; t->next = t->next->ai_next) {
        struct addrinfo *ai = t->next;
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        t->fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (t->fd < 0)
            continue;
        int r = connect(t->fd, ai->ai_addr, ai->ai_addrlen);
        if (r == 0 || errno == EINPROGRESS) {
            t->next = ai->ai_next;
            return r == 0 ? 1 : 0;
        }
        close(t->fd);
        t->fd = -1;
    }
    return -1;
}

/* Begin t's connection to host:port: as try_next; -1 also when the name does not resolve. */
static int connect_begin(struct conn_try *t, const char *host, int port)
{
    snprintf(t->host, sizeof t->host, "%s", host);
    t->port = port;
    t->fd = -1;
    t->all = t->next = NULL;
    if (host[0] == '/') { /* a socket path: a relative one from our working directory */
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(host) >= sizeof sa.sun_path)
            return -1;
        strcpy(sa.sun_path, host);
        t->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (t->fd >= 0 && connect(t->fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            return 1;
        if (t->fd >= 0)
            close(t->fd);
        t->fd = -1;
        return -1;
    }
    char sport[16];
    snprintf(sport, sizeof sport, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int r = getaddrinfo(host, sport, &hints, &t->all);
    if (r) {
        if (t->loglevel >= 2)
            fprintf(stderr, "connect_to %.100s: unknown host (%s)\r\n", host, gai_strerror(r));
        t->all = NULL;
        return -1;
    }
    t->next = t->all;
    return try_next(t);
}

/* t's socket is writable: 1 connected, 0 in progress again (the next address), -1 failed. */
static int connect_more(struct conn_try *t)
{
    int e = 0;
    socklen_t el = sizeof e;
    if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0)
        return 1;
    close(t->fd);
    t->fd = -1;
    return try_next(t);
}

static void connect_end(struct conn_try *t)
{
    if (t->all)
        freeaddrinfo(t->all);
    t->all = t->next = NULL;
}

/* Copy a to b and b to a until both ended, each end passed on (shutdown). */
static void relay(int a, int b)
{
    int open_a = 1, open_b = 1;
    char buf[32768];
    while (open_a || open_b) {
        struct pollfd p[2] = {{.fd = open_a ? a : -1, .events = POLLIN},
                              {.fd = open_b ? b : -1, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        for (int i = 0; i < 2; i++) {
            if (!p[i].revents)
                continue;
            int from = i ? b : a, to = i ? a : b;
            ssize_t n = read(from, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                shutdown(to, SHUT_WR);
                *(i ? &open_b : &open_a) = 0;
                continue;
            }
            if (proto_write_all(to, buf, (size_t)n) < 0)
                return;
        }
    }
}

/* The child that serves one dynamic remote forward's channel (fd): SOCKS, then the
 * connection under PermitRemoteOpen, the reply only once it is made (ssh's
 * rdynamic_connect_finish), then the bytes both ways. Never returns. */
static void socks_child(int fd, const char *permit, int loglevel)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* ssh's channels end with ssh */
    if (getppid() == 1)
        _exit(0);
    signal(SIGPIPE, SIG_IGN);
    for (int i = 3; i < 1024; i++) /* the broker's socket and the listeners are not ours */
        if (i != fd)
            close(i);
    char host[NI_MAXHOST];
    int port, version;
    struct conn_try t = {.loglevel = loglevel};
    if ((version = socks_handshake(fd, host, sizeof host, &port)) < 0 ||
        !socks_permitted(permit, host, port))
        _exit(0);
    int r = connect_begin(&t, host, port);
    while (r == 0) {
        struct pollfd p = {.fd = t.fd, .events = POLLOUT};
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            break;
        r = connect_more(&t);
    }
    connect_end(&t);
    if (r != 1) {
        say_failed(&t);
        _exit(0);
    }
    int flags = fcntl(t.fd, F_GETFL);
    fcntl(t.fd, F_SETFL, flags & ~O_NONBLOCK);
    if (socks_send_reply(fd, version) == 0)
        relay(fd, t.fd);
    _exit(0);
}

/* Answer t's INCOMING with its outcome (r from try_next) and forget it. */
static void answer(int sock, struct conn_try *t, int r)
{
    char err[256];
    connect_end(t);
    if (r != 1)
        say_failed(t);
    client_incoming_reply(sock, t->id, r == 1 ? 0 : ECONNREFUSED, t->fd, err, sizeof err);
    if (t->fd >= 0)
        close(t->fd);
    *t = pend[--npend];
}

void inc_start(int sock, const struct proto_msg *m, int fd)
{
    char host[NI_MAXHOST], err[256];
    uint32_t id = m->u[0], kind = m->u[1];
    int loglevel = (int)(m->u[2] >> 8 & 255), port = (int)m->u[3];
    if (proto_str_copy(&m->s[0], host, sizeof host) < 0)
        host[0] = '\0';
    if (kind == INC_SOCKS) {
        inc_reap();
        pid_t pid = fd >= 0 && nkids < KIDS_MAX ? fork() : -1;
        if (pid == 0)
            socks_child(fd, host, loglevel);
        if (pid > 0)
            kids[nkids++] = pid;
        if (fd >= 0)
            close(fd);
        return;
    }
    if (fd >= 0)
        close(fd);
    if (kind != INC_CONNECT || !host[0] || npend >= INC_MAX) {
        client_incoming_reply(sock, id, ECONNREFUSED, -1, err, sizeof err);
        return;
    }
    struct conn_try *t = &pend[npend++];
    *t = (struct conn_try){.id = id, .loglevel = loglevel};
    int r = connect_begin(t, host, port);
    if (r != 0)
        answer(sock, t, r);
}

int inc_pollfds(struct pollfd *p, int max)
{
    int n = 0;
    for (int i = 0; i < npend && n < max; i++)
        p[n++] = (struct pollfd){.fd = pend[i].fd, .events = POLLOUT};
    return n;
}

void inc_ready(int sock, const struct pollfd *p, int n)
{
    /* Backwards: answer() moves the last entry into the one it ends. */
    for (int i = (n < npend ? n : npend) - 1; i >= 0; i--) {
        if (!p[i].revents || pend[i].fd != p[i].fd)
            continue;
        int r = connect_more(&pend[i]);
        if (r != 0)
            answer(sock, &pend[i], r);
    }
}

void inc_reap(void)
{
    for (int i = nkids - 1; i >= 0; i--)
        if (waitpid(kids[i], NULL, WNOHANG) > 0)
            kids[i] = kids[--nkids];
}
