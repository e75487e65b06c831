/* relay: a TCP relay on loopback for tests and the benchmark.
 *
 *   relay [-d MS] [-s BYTES] [-r BYTES] TARGET_PORT
 *
 * Listens on a free 127.0.0.1 port, prints it on stdout, and forwards every connection to
 * 127.0.0.1:TARGET_PORT, holding each chunk MS milliseconds in each direction (a round trip
 * of 2×MS). SIGUSR1 stalls every connection open at that moment: its bytes are no longer
 * forwarded, but it stays open, as a link does when a laptop sleeps or a route dies. New
 * connections are forwarded as usual. With -s, every new connection stalls by itself once
 * BYTES of the server's side have been forwarded (0: at once, before the server's banner).
 * With -r, the client's side of every connection gets a receive buffer of BYTES (no
 * autotuning), so that a stall soon fills the window and the client's sends queue up behind
 * it, as on a slow link that stops, instead of vanishing into megabytes of loopback buffer.
 * SIGTERM ends the relay. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAIRS 512
#define CHUNK 65536
#define MAX_QUEUED (4u << 20) /* per direction: stop reading beyond this */

struct chunk {
    long long due; /* ms */
    size_t len, off;
    struct chunk *next;
    char data[];
};

struct dir {
    int from, to;
    struct chunk *head, *tail;
    size_t queued;
    int eof;     /* from has closed: shut down to once the queue is empty */
    long budget; /* bytes still to forward before the pair stalls (-s), -1 no limit */
};

struct pair {
    struct dir d[2];
    int stalled;
    int used;
};

static struct pair pairs[MAX_PAIRS];
static volatile sig_atomic_t stall_req, stop_req;
static long delay_ms, stall_after = -1, rcvbuf;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        stall_req = 1;
    else
        stop_req = 1;
}

static void close_pair(struct pair *p)
{
    close(p->d[0].from);
    close(p->d[1].from);
    for (int i = 0; i < 2; i++) {
        while (p->d[i].head) {
            struct chunk *c = p->d[i].head;
            p->d[i].head = c->next;
            free(c);
        }
    }
    memset(p, 0, sizeof *p);
}

static int connect_target(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void accept_one(int lfd, int target)
{
    int a = accept(lfd, NULL, NULL);
    if (a < 0)
        return;
    int b = connect_target(target);
    struct pair *p = NULL;
    for (int i = 0; i < MAX_PAIRS && !p; i++)
        if (!pairs[i].used)
            p = &pairs[i];
    if (b < 0 || !p) {
        close(a);
        if (b >= 0)
            close(b);
        return;
    }
    nodelay(a);
    nodelay(b);
    fcntl(a, F_SETFL, O_NONBLOCK);
    fcntl(b, F_SETFL, O_NONBLOCK);
    p->used = 1;
    p->d[0] = (struct dir){.from = a, .to = b, .budget = -1};
    p->d[1] = (struct dir){.from = b, .to = a, .budget = stall_after};
    p->stalled = stall_after == 0;
}

/* Read what is there into the queue; returns -1 when the pair is finished. */
static int pump_in(struct dir *d)
{
    struct chunk *c = malloc(sizeof *c + CHUNK);
    if (!c)
        return -1;
    ssize_t n = read(d->from, c->data, CHUNK);
    if (n <= 0) {
        free(c);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            return 0;
        d->eof = 1;
        return n < 0 ? -1 : 0;
    }
    c->len = (size_t)n;
    c->off = 0;
    c->due = now_ms() + delay_ms;
    c->next = NULL;
    if (d->tail)
        d->tail->next = c;
    else
        d->head = c;
    d->tail = c;
    d->queued += (size_t)n;
    return 0;
}

/* Write what is due; returns -1 when the peer is gone. */
static int pump_out(struct dir *d, long long now)
{
    while (d->head && d->head->due <= now) {
        struct chunk *c = d->head;
        size_t len = c->len - c->off;
        if (d->budget >= 0 && len > (size_t)d->budget)
            len = (size_t)d->budget;
        if (len == 0)
            return 0; /* -s: the pair stalls here */
        ssize_t n = write(d->to, c->data + c->off, len);
        if (n < 0)
            return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        c->off += (size_t)n;
        d->queued -= (size_t)n;
        if (d->budget >= 0)
            d->budget -= n;
        if (c->off < c->len)
            return 0;
        d->head = c->next;
        if (!d->head)
            d->tail = NULL;
        free(c);
    }
    if (!d->head && d->eof == 1) {
        shutdown(d->to, SHUT_WR);
        d->eof = 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "d:s:r:")) != -1) {
        if (opt == 'd')
            delay_ms = atol(optarg);
        else if (opt == 's')
            stall_after = atol(optarg);
        else if (opt == 'r')
            rcvbuf = atol(optarg);
        else
            return 2;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "usage: relay [-d MS] [-s BYTES] [-r BYTES] TARGET_PORT\n");
        return 2;
    }
    int target = atoi(argv[optind]);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in la = {.sin_family = AF_INET};
    la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t ll = sizeof la;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* before listen: accepted sockets inherit it, and the window scale is chosen from it */
    if (rcvbuf > 0) {
        int rb = (int)rcvbuf;
        setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
    }
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&la, sizeof la) < 0 || listen(lfd, 128) < 0 ||
        getsockname(lfd, (struct sockaddr *)&la, &ll) < 0) {
        perror("relay: listen");
        return 1;
    }
    printf("%d\n", ntohs(la.sin_port));
    fflush(stdout);

    static struct pollfd pfd[1 + 2 * MAX_PAIRS];
    static struct dir *pdir[1 + 2 * MAX_PAIRS];
    while (!stop_req) {
        if (stall_req) {
            stall_req = 0;
            for (int i = 0; i < MAX_PAIRS; i++)
                if (pairs[i].used)
                    pairs[i].stalled = 1;
        }
        long long now = now_ms(), next = -1;
        int n = 0;
        pfd[n] = (struct pollfd){.fd = lfd, .events = POLLIN};
        pdir[n++] = NULL;
        for (int i = 0; i < MAX_PAIRS; i++) {
            struct pair *p = &pairs[i];
            if (!p->used || p->stalled)
                continue;
            for (int k = 0; k < 2; k++) {
                struct dir *d = &p->d[k];
                if (!d->eof && d->queued < MAX_QUEUED) {
                    pfd[n] = (struct pollfd){.fd = d->from, .events = POLLIN};
                    pdir[n++] = d;
                }
                if (d->head && d->head->due <= now) {
                    pfd[n] = (struct pollfd){.fd = d->to, .events = POLLOUT};
                    pdir[n++] = d;
                } else if (d->head && (next < 0 || d->head->due < next)) {
                    next = d->head->due;
                }
            }
        }
        int timeout = next < 0 ? 1000 : (int)(next > now ? next - now : 0);
        if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
            break;
        if (pfd[0].revents & POLLIN)
            accept_one(lfd, target);
        for (int i = 1; i < n; i++)
            if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) && pfd[i].events == POLLIN)
                pump_in(pdir[i]);
        now = now_ms();
        for (int i = 0; i < MAX_PAIRS; i++) {
            struct pair *p = &pairs[i];
            if (!p->used || p->stalled)
                continue;
            int dead = pump_out(&p->d[0], now) < 0 || pump_out(&p->d[1], now) < 0;
            if (p->d[1].budget == 0)
                p->stalled = 1;
            if (dead || (p->d[0].eof == 2 && p->d[1].eof == 2))
                close_pair(p);
        }
    }
    return 0;
}
