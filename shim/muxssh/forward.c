/* Local and dynamic forwards, bound as ssh's channel_setup_local_fwd_listener does (bind
 * address rules, messages: fwdbind.c, shared with the broker's -O forward); each connection
 * is a child that asks the broker for a channel with OPEN (OPEN_STDIO_FWD | OPEN_FWD_CHANNEL)
 * and hands it the socket, as -W does. */
#include "forward.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "fwdbind.h"
#include "proto.h"
#include "socks.h"

extern char **environ;

#define FWD_MAX_SOCKS 64
#define FWD_MAX_KIDS 1024

struct listener {
    int fd, chan;
    char kind;        /* 'L' or 'D' */
    char target[600]; /* L: "HOST:PORT" for -W's parser, or a path on the server */
    int target_path;
};

static struct listener lsn[FWD_MAX_SOCKS];
static int nlsn, loglevel = 3;
static const struct fwd_session *sess;
static struct {
    pid_t pid;
    int chan;
} kids[FWD_MAX_KIDS];
static int nkids;

/* ssh's lowest free channel number: listeners first, then the session, then connections. */
static int chan_alloc(void)
{
    for (int id = nlsn + (sess->no_session ? 0 : 1);; id++) {
        int used = 0;
        for (int i = 0; i < nkids && !used; i++)
            used = kids[i].chan == id;
        if (!used)
            return id;
    }
}

static void say(int level, const char *fmt, const char *a, const char *b, const char *c)
{
    if (loglevel >= level) {
        fprintf(stderr, fmt, a, b, c);
        fflush(stderr);
    }
}

/* One word of a spec: "[host]:port", "port", or a path. host NULL when absent. */
static int split_listen(char *w, char **host, char **port)
{
    *host = NULL;
    *port = w;
    if (w[0] == '[') {
        char *close = strstr(w, "]:");
        if (!close)
            return -1;
        *close = '\0';
        *host = w + 1;
        *port = close + 2;
    }
    return 0;
}

static void add_listener(int fd, char kind, const char *target, int path)
{
    struct listener *l = &lsn[nlsn];
    l->fd = fd;
    l->chan = nlsn;
    l->kind = kind;
    l->target_path = path;
    snprintf(l->target, sizeof l->target, "%s", target);
    nlsn++;
}

/* ssh's words for a listener that cannot be bound (fwdbind.h), at its log level. */
static void bind_say(void *arg, int level, const char *line)
{
    (void)arg;
    say(level, "%s\r\n", line, "", "");
}

/* One "L LISTEN TARGET" or "D LISTEN" line: 1 when it listens, 0 when not. */
static int setup_one(char *line, uint32_t flags, uint32_t mask)
{
    char kind = line[0], *w = line + 2, *t = strchr(w, ' '), target[600] = "";
    int tpath = 0;
    if (t) {
        *t++ = '\0';
        tpath = t[0] == '/';
        char *th, *tp;
        if (tpath)
            snprintf(target, sizeof target, "%s", t);
        else if (split_listen(t, &th, &tp) == 0 && th)
            snprintf(target, sizeof target, "[%s]:%s", th, tp);
    }
    if (kind == 'L' && !target[0])
        return 0;
    int fds[FWD_MAX_SOCKS];
    int n = fwdbind_listen(w, flags, mask, fds, FWD_MAX_SOCKS - nlsn, bind_say, NULL);
    for (int i = 0; i < n; i++)
        add_listener(fds[i], kind, target, tpath);
    return n > 0;
}

int fwd_setup(const struct fwd_session *fs, uint32_t flags, uint32_t mask, const char *specs,
              size_t len)
{
    char *all = strndup(specs, len);
    int n = 0, ok = 0;
    sess = fs;
    loglevel = (int)(flags >> 8 & 255);
    if (!all)
        return -1;
    for (char *line = all, *nl; *line; line = nl + 1) {
        if (!(nl = strchr(line, '\n')))
            break;
        *nl = '\0';
        n++;
        ok += setup_one(line, flags, mask);
    }
    free(all);
    if (n > 0 && ok != n && (flags & FWD_EXIT_ON_FAILURE)) {
        say(1, "Could not request local forwarding.\r\n", "", "", "");
        return -1;
    }
    if (n > 0 && ok == 0)
        say(2, "Could not request local forwarding.\r\n", "", "", "");
    return 0;
}

int fwd_pollfds(struct pollfd *p, int max)
{
    int n = 0;
    for (int i = 0; i < nlsn && n < max; i++)
        p[n++] = (struct pollfd){.fd = lsn[i].fd, .events = POLLIN};
    return n;
}

/* End a connection's child: what the peer sent and nobody will read is read first, so that
 * closing fd sends a FIN, not a reset. */
static void drain_exit(int fd)
{
    char buf[4096];
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
    _exit(0);
}

/* The child of one connection: SOCKS first for -D (its reply is the broker's), then the
 * channel's OPEN, then wait for its end. Never returns. */
static void serve_conn(const struct listener *l, int fd, int chan)
{
    char target[NI_MAXHOST + 24], err[512];
    uint32_t flags = OPEN_STDIO_FWD | OPEN_FWD_CHANNEL;
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* ssh's connections end with ssh */
    if (getppid() == 1)
        _exit(0);
    signal(SIGPIPE, SIG_IGN);
    if (l->kind == 'D') {
        char host[NI_MAXHOST];
        int port, version = socks_handshake(fd, host, sizeof host, &port);
        if (version < 0)
            _exit(0);
        /* the broker answers the request once the channel is open, as ssh does */
        snprintf(target, sizeof target, "%d [%s]:%d", version, host, port);
        flags |= OPEN_FWD_SOCKS;
    } else {
        snprintf(target, sizeof target, "%s", l->target);
        if (l->target_path)
            flags |= OPEN_FWD_PATH;
    }
    int sock = client_connect(sess->dir, 1, err, sizeof err), errfd = open("/dev/null", O_WRONLY);
    int fds[3] = {fd, fd, errfd};
    if (sock < 0 || errfd < 0 ||
        client_open(sock, sess->real_ssh, sess->cwd, sess->opts, sess->dest, target, environ, flags,
                    fds, err, sizeof err) < 0) {
        if (sess->verbose)
            fprintf(stderr, "debug1: muxshim: channel %d: %s\r\n", chan, err);
        _exit(0);
    }
    close(errfd);
    /* fd stays open here until the end: a refused channel's connection then ends with what
     * it sent read and a FIN, as ssh's (a close with unread bytes would be a reset) */
    for (;;) {
        struct proto_msg m;
        uint8_t *body = NULL;
        if (client_recv(sock, &m, &body, err, sizeof err) <= 0)
            drain_exit(fd);
        if (m.type == MSG_PROMPT) { /* only the session's client asks its user */
            client_prompt_reply(sock, m.u[0], 0, "", err, sizeof err);
        } else if (m.type == MSG_EXIT || m.type == MSG_ERROR) {
            const char *t = m.s[0].p, *why = memmem(t, m.s[0].n, "open failed: ", 13);
            if (m.type == MSG_EXIT && why) {
                why += 13;
                const char *e = memchr(why, '\r', m.s[0].n - (size_t)(why - t));
                int wl = e ? (int)(e - why) : 0;
                /* the server's description: sshd says "open failed" when it refuses */
                if (loglevel >= 3)
                    fprintf(stderr, "channel %d: open failed: %.*s%s\r\n", chan, wl, why,
                            strncmp(why, "administratively", 16) ? "" : ": open failed");
            } else if (m.type == MSG_ERROR && sess->verbose) {
                fprintf(stderr, "debug1: muxshim: channel %d: %.*s\r\n", chan, (int)m.s[0].n, t);
            }
            drain_exit(fd);
        }
        free(body); /* STARTED, MESSAGE: the session's client says what ssh says */
    }
}

void fwd_accept(const struct pollfd *p, int n)
{
    for (int i = 0; i < n && i < nlsn; i++) {
        if (!(p[i].revents & POLLIN))
            continue;
        int fd = accept4(lsn[i].fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        fwd_reap();
        if (nkids >= FWD_MAX_KIDS) {
            close(fd);
            continue;
        }
        int chan = chan_alloc();
        pid_t pid = fork();
        if (pid == 0) {
            for (int j = 0; j < nlsn; j++)
                close(lsn[j].fd);
            serve_conn(&lsn[i], fd, chan);
        }
        close(fd);
        if (pid > 0)
            kids[nkids++] = (typeof(kids[0])){pid, chan};
    }
}

/* Forget a reaped child. */
static void forget(pid_t pid)
{
    for (int i = 0; i < nkids; i++)
        if (kids[i].pid == pid) {
            kids[i] = kids[--nkids];
            return;
        }
}

void fwd_reap(void)
{
    pid_t pid;
    for (int i = nkids - 1; i >= 0; i--)
        if ((pid = waitpid(kids[i].pid, NULL, WNOHANG)) > 0)
            forget(pid);
}

void fwd_finish(void)
{
    for (int i = 0; i < nlsn; i++)
        close(lsn[i].fd);
    nlsn = 0;
    while (nkids > 0) {
        pid_t pid = waitpid(kids[nkids - 1].pid, NULL, 0);
        if (pid > 0 || errno != EINTR)
            forget(pid > 0 ? pid : kids[nkids - 1].pid);
    }
}
