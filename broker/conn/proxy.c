/* ProxyCommand as OpenSSH 9.2's sshconnect.c runs it: ssh_proxy_connect, its tokens, its
 * stdin and stdout two pipes, its SIGHUP at the end. The child is spawned from the connect
 * worker; a thread of its own relays between its pipes and the socket libssh2 uses, passes
 * on its stderr, and reaps it, so the event loop never waits on it.
 *
 * Why a relay: libssh2 waits for its socket in both directions on one descriptor (its
 * blocking calls poll session->socket_fd for POLLIN or POLLOUT), and the broker peeks at
 * it (the banner deadline), cuts it with shutdown (deadlines) and asks its send queue
 * (keepalives): none of that works on a pair of pipes. */
#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "percent.h"
#include "words.h"

struct proxy {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pid_t pid;
    int reaped;  /* waited for: pid may belong to someone else now */
    int refs;    /* the connection's and the reaper's */
    int errfd;   /* the client's stderr (our dup) while connecting; the reaper's only */
    int detach;  /* asked: stop writing to errfd */
    int done;    /* errfd is closed (asked, or the command's stderr ended) */
    int eof;     /* the command's stderr ended */
    int rd;      /* the command's stderr (the reaper's) */
    int wake[2]; /* settle → reaper */
    char line[512];
    size_t n;
    /* The relay (the reaper's): the command's stdin and stdout pipes, our end of the
     * socketpair, and what is on its way each way. -1 once closed. */
    int to_cmd, from_cmd, sock;
    int sock_rd;  /* the socket's reading side is still open */
    int sock_eof; /* the command's EOF was passed on (shutdown SHUT_WR) */
    struct relay_buf {
        size_t off, len;
        char b[65536];
    } up, down; /* up: socket → command; down: command → socket */
};

int proxy_expand(const struct hostcfg *cfg, char *out, size_t outlen, char *err, size_t errlen)
{
    char port[16], tmpl[HC_STR + 8];
    snprintf(port, sizeof port, "%d", cfg->port);
    snprintf(tmpl, sizeof tmpl, "exec %s", cfg->proxycommand);
    const struct pct t[] = {
        {'h', cfg->hostname}, {'k', cfg->hostkeyalias[0] ? cfg->hostkeyalias : cfg->host},
        {'n', cfg->host},     {'p', port},
        {'r', cfg->user},
    };
    return pct_expand(tmpl, t, (int)(sizeof t / sizeof t[0]), NULL, out, outlen, err, errlen);
}

static void unref(struct proxy *p)
{
    pthread_mutex_lock(&p->mu);
    int last = --p->refs == 0;
    pthread_mutex_unlock(&p->mu);
    if (!last)
        return;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    close(p->wake[0]);
    close(p->wake[1]);
    free(p);
}

/* Once connected, the command's stderr goes to the broker log, a line at a time. */
static void log_bytes(struct proxy *p, const char *b, size_t n, int flush)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '\n' || p->n == sizeof p->line - 1) {
            blog("proxy command: %.*s", (int)p->n, p->line);
            p->n = 0;
            if (b[i] == '\n')
                continue;
        }
        p->line[p->n++] = b[i];
    }
    if (flush && p->n) {
        blog("proxy command: %.*s", (int)p->n, p->line);
        p->n = 0;
    }
}

/* Write all of b to the client's stderr (which the broker may have made non-blocking). */
static void to_client(int fd, const char *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            if (poll(&pf, 1, 1000) <= 0)
                return;
            continue;
        }
        if (w <= 0)
            return;
        b += w;
        n -= (size_t)w;
    }
}

static void let_go_of_client(struct proxy *p)
{
    pthread_mutex_lock(&p->mu);
    if (p->errfd >= 0)
        close(p->errfd);
    p->errfd = -1;
    p->done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Read what from has into b when it is empty and from_ready, then write what b holds to
 * to (both nonblocking). *from_end: from ended (EOF or error); *to_fail: to refused it. */
static void move(int from, int to, struct relay_buf *b, int from_ready, int *from_end, int *to_fail)
{
    *from_end = *to_fail = 0;
    if (from_ready && b->len == 0) {
        ssize_t n = read(from, b->b, sizeof b->b);
        if (n > 0) {
            b->off = 0;
            b->len = (size_t)n;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            *from_end = 1;
        }
    }
    if (b->len && to >= 0) {
        ssize_t w = send(to, b->b + b->off, b->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == ENOTSOCK)
            w = write(to, b->b + b->off, b->len);
        if (w > 0) {
            b->off += (size_t)w;
            b->len -= (size_t)w;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            *to_fail = 1;
            b->len = 0;
        }
    }
}

/* One turn of the relay after poll: pf[2] is the command's stdout, pf[3] the socket,
 * pf[4] the command's stdin. */
static void relay_turn(struct proxy *p, const struct pollfd *pf)
{
    int end, fail;
    /* command → socket */
    move(p->from_cmd, p->sock, &p->down, p->from_cmd >= 0 && pf[2].revents, &end, &fail);
    if (end)
        close_fd(&p->from_cmd);
    if (fail) /* the broker's end is gone: the command's writes fail, as when ssh exits */
        close_fd(&p->from_cmd);
    if (p->from_cmd < 0 && !p->down.len && p->sock >= 0 && !p->sock_eof) {
        shutdown(p->sock, SHUT_WR); /* its EOF, to libssh2 */
        p->sock_eof = 1;
    }
    /* socket → command */
    move(p->sock, p->to_cmd, &p->up, p->sock_rd && p->to_cmd >= 0 && (pf[3].revents & POLLIN), &end,
         &fail);
    if (end)
        p->sock_rd = 0;
    if (fail || (pf[4].revents & POLLERR)) { /* the command closed its stdin */
        close_fd(&p->to_cmd);
        p->up.len = 0;
        if (p->sock_rd)
            shutdown(p->sock, SHUT_RD); /* libssh2's next send fails, as ssh's write would */
        p->sock_rd = 0;
    }
    if (!p->sock_rd && !p->up.len)
        close_fd(&p->to_cmd); /* the broker's EOF, to the command */
}

static int relay_done(const struct proxy *p)
{
    return p->from_cmd < 0 && !p->down.len && p->to_cmd < 0;
}

static void *reaper(void *arg)
{
    struct proxy *p = arg;
    char b[4096];
    while (p->rd >= 0 || !relay_done(p)) {
        /* The socket only while it has something to do: a hung-up socket would report
         * POLLHUP on every turn while the command is slow to take what came before. */
        short sev = (short)((p->down.len ? POLLOUT : 0) |
                            (p->sock_rd && !p->up.len && p->to_cmd >= 0 ? POLLIN : 0));
        struct pollfd pf[5] = {
            {.fd = p->rd, .events = POLLIN},
            {.fd = p->wake[0], .events = p->errfd >= 0 ? POLLIN : 0},
            {.fd = p->down.len ? -1 : p->from_cmd, .events = POLLIN},
            {.fd = sev ? p->sock : -1, .events = sev},
            {.fd = p->to_cmd, .events = p->up.len ? POLLOUT : 0}, /* POLLERR: it closed */
        };
        if (poll(pf, 5, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        pthread_mutex_lock(&p->mu);
        int detach = p->detach;
        pthread_mutex_unlock(&p->mu);
        if (detach && p->errfd >= 0)
            let_go_of_client(p);
        relay_turn(p, pf);
        if (p->rd < 0 || !(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t n = read(p->rd, b, sizeof b);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_bytes(p, "", 0, 1);
            close_fd(&p->rd);
            pthread_mutex_lock(&p->mu);
            p->eof = 1;
            pthread_mutex_unlock(&p->mu);
            let_go_of_client(p);
            continue;
        }
        if (p->errfd >= 0)
            to_client(p->errfd, b, (size_t)n);
        else
            log_bytes(p, b, (size_t)n, 0);
    }
    log_bytes(p, "", 0, 1);
    close_fd(&p->rd);
    close_fd(&p->from_cmd);
    close_fd(&p->to_cmd);
    close_fd(&p->sock);
    pthread_mutex_lock(&p->mu);
    p->eof = 1;
    pthread_mutex_unlock(&p->mu);
    let_go_of_client(p);
    /* Wait without reaping, so that a SIGHUP under the lock never hits a reused pid. */
    siginfo_t si;
    while (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&p->mu);
    p->reaped = 1;
    waitpid(p->pid, NULL, 0);
    pthread_mutex_unlock(&p->mu);
    unref(p);
    return NULL;
}

/* The spawn itself: stdin, stdout and stderr pipes, ssh's signal state for the child. */
static pid_t spawn(const char *shell, const char *cmd, char *const *env, const char *cwd, int inr,
                   int outw, int errw, char *err, size_t errlen)
{
    pid_t pid = -1;
    char *argv[] = {(char *)shell, "-c", (char *)cmd, NULL};
    int rc = spawn_child(argv, env, cwd, inr, outw, errw, &pid);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", shell, strerror(rc));
        pid = -1;
    }
    return pid;
}

int proxy_start(const struct hostcfg *cfg, char *const *env, const char *cwd, int errfd,
                struct proxy **out, char *err, size_t errlen)
{
    char cmd[2 * HC_STR];
    int sv[2] = {-1, -1}, ep[2] = {-1, -1}, ip[2] = {-1, -1}, op[2] = {-1, -1};
    struct proxy *p = NULL;
    *out = NULL;
    if (proxy_expand(cfg, cmd, sizeof cmd, err, errlen) < 0)
        return -1;
    const char *shell = words_env(env, "SHELL");
    if (!shell || !*shell)
        shell = "/bin/sh";
    p = calloc(1, sizeof *p);
    if (!p || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        pipe2(ep, O_CLOEXEC) < 0 || pipe2(ip, O_CLOEXEC) < 0 || pipe2(op, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "Could not create pipes to communicate with the proxy: %s",
                 strerror(errno));
        goto fail;
    }
    p->wake[0] = p->wake[1] = p->errfd = -1;
    if (pipe2(p->wake, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    p->errfd = errfd >= 0 ? fcntl(errfd, F_DUPFD_CLOEXEC, 3) : -1;
    p->pid = spawn(shell, cmd, env, cwd, ip[0], op[1], ep[1], err, errlen);
    if (p->pid < 0)
        goto fail;
    close(ep[1]);
    close(ip[0]);
    close(op[1]);
    ep[1] = ip[0] = op[1] = -1;
    p->rd = ep[0];
    p->to_cmd = ip[1];
    p->from_cmd = op[0];
    p->sock = sv[1];
    p->sock_rd = 1;
    fcntl(p->to_cmd, F_SETFL, O_NONBLOCK);
    fcntl(p->from_cmd, F_SETFL, O_NONBLOCK);
    fcntl(p->sock, F_SETFL, O_NONBLOCK);
    p->refs = 2;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_attr_t at;
    pthread_t t;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 128 * 1024);
    int rc = pthread_create(&t, &at, reaper, p);
    pthread_attr_destroy(&at);
    if (rc != 0) {
        /* No reaper: end the command and wait for it here, once. */
        kill(p->pid, SIGHUP);
        waitpid(p->pid, NULL, 0);
        snprintf(err, errlen, "cannot start a thread: %s", strerror(rc));
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        ip[1] = p->to_cmd;
        op[0] = p->from_cmd;
        goto fail;
    }
    blog("proxy command for %s port %d: pid %d", cfg->hostname, cfg->port, (int)p->pid);
    *out = p;
    return sv[0]; /* sv[1] is the relay's now */
fail:
    for (int i = 0; i < 2; i++) {
        if (sv[i] >= 0)
            close(sv[i]);
        if (ep[i] >= 0)
            close(ep[i]);
        if (ip[i] >= 0)
            close(ip[i]);
        if (op[i] >= 0)
            close(op[i]);
        if (p && p->wake[i] >= 0)
            close(p->wake[i]);
    }
    if (p && p->errfd >= 0)
        close(p->errfd);
    free(p);
    return -1;
}

/* Wait on p->cv until cond (a field of p, read under the lock) is set or ms pass. */
static void wait_for(struct proxy *p, const int *cond, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    while (!*cond)
        if (pthread_cond_timedwait(&p->cv, &p->mu, &until) != 0)
            break;
    pthread_mutex_unlock(&p->mu);
}

void proxy_settle(struct proxy *p, int ok)
{
    if (!ok) {
        /* What it says as it fails comes before ssh's own words, as in ssh. */
        pthread_mutex_lock(&p->mu);
        if (!p->reaped)
            kill(p->pid, SIGHUP);
        pthread_mutex_unlock(&p->mu);
        wait_for(p, &p->eof, 1000);
    }
    pthread_mutex_lock(&p->mu);
    p->detach = 1;
    pthread_mutex_unlock(&p->mu);
    ssize_t w = write(p->wake[1], "", 1);
    (void)w;
    wait_for(p, &p->done, 1000);
}

void proxy_release(struct proxy *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    if (!p->reaped)
        kill(p->pid, SIGHUP);
    pthread_mutex_unlock(&p->mu);
    unref(p);
}
