/* muxssh's side of the broker socket: finding or starting the broker, and requests. */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

#define READY_TIMEOUT_MS 5000
#define BUSY_RETRY_MS 2000

static int count(char *const *v)
{
    int n = 0;
    while (v && v[n])
        n++;
    return n;
}

/* The broker binary: $MUXSHIM_BROKER, else muxbroker beside this program. */
static int broker_path(char *out, size_t outlen)
{
    const char *env = getenv("MUXSHIM_BROKER");
    if (env && *env) {
        snprintf(out, outlen, "%s", env);
        return 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = 0;
    if ((size_t)snprintf(out, outlen, "%s/muxbroker", self) >= outlen)
        return -1;
    return 0;
}

/* Start a broker for dir detached from us (double fork, setsid) and read its readiness
 * word: 0, -1 with err, or CLIENT_REFUSED when dir fails runtime_open's checks (no broker
 * is started into it; the broker checks it again, with the same function). */
static int start_broker(const char *dir, char *word, size_t wordlen, char *err, size_t errlen)
{
    char path[PATH_MAX], here[RUNTIME_PATH_MAX];
    struct runtime_found found;
    int why = runtime_open(here, sizeof here, 0, NULL, &found);
    if (why != RT_OK || strcmp(here, dir)) {
        if (why == RT_OK)
            snprintf(err, errlen, "runtime directory %s is not %s", here, dir);
        else
            runtime_why_text(why, here, &found, err, errlen);
        return CLIENT_REFUSED;
    }
    if (broker_path(path, sizeof path) < 0 || access(path, X_OK) < 0) {
        snprintf(err, errlen, "cannot find muxbroker");
        return -1;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        setsid();
        if (fork() != 0)
            _exit(0);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        /* Only the pipe's write end survives into the broker. */
        int wfd = fcntl(p[1], F_DUPFD, 3);
        for (int fd = 3; fd < 1024; fd++)
            if (fd != wfd)
                close(fd);
        char num[16];
        snprintf(num, sizeof num, "%d", wfd);
        unsetenv("LD_PRELOAD");
        setenv("MUXSHIM_DISABLE", "1", 1);
        setenv("MUXSHIM_DIR", dir, 1); /* the one checked above */
        execl(path, "muxbroker", "--ready-fd", num, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    size_t got = 0;
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    while (got + 1 < wordlen) {
        int r = poll(&pf, 1, READY_TIMEOUT_MS);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        ssize_t n = read(p[0], word + got, wordlen - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    word[got] = 0;
    close(p[0]);
    if (!got) {
        snprintf(err, errlen, "the broker did not start");
        return -1;
    }
    return 0;
}

static int hello(int fd, char *err, size_t errlen)
{
    struct proto_buf b;
    proto_begin(&b, MSG_HELLO);
    proto_put_u32(&b, PROTO_VERSION);
    proto_put_u32(&b, (uint32_t)getpid());
    proto_put_u32(&b, 0);
    if (proto_end(&b) < 0 || proto_send(fd, &b, NULL, 0) < 0) {
        proto_buf_free(&b);
        snprintf(err, errlen, "cannot talk to the broker: %s", strerror(errno));
        return -1;
    }
    proto_buf_free(&b);
    struct proto_msg m;
    uint8_t *body = NULL;
    int r = client_recv(fd, &m, &body, err, errlen);
    if (r > 0 && m.type == MSG_ERROR) {
        char text[256];
        proto_str_copy(&m.s[0], text, sizeof text);
        snprintf(err, errlen, "broker: %s", text);
        r = -1;
    } else if (r > 0 && (m.type != MSG_HELLO || m.u[0] != PROTO_VERSION)) {
        snprintf(err, errlen, "the broker speaks another protocol");
        r = -1;
    } else if (r == 0) {
        snprintf(err, errlen, "the broker closed the connection");
        r = -1;
    }
    free(body);
    return r > 0 ? 0 : -1;
}

int client_connect(const char *dir, int start, char *err, size_t errlen)
{
    struct runtime_found found;
    int fd, why = runtime_dial(dir, 0, NULL, &fd, &found);
    if (why == RT_NO_BROKER && start) {
        char word[256];
        int r = start_broker(dir, word, sizeof word, err, errlen);
        if (r < 0)
            return r;
        if (!strncmp(word, "error: ", 7)) {
            snprintf(err, errlen, "broker: %s", word + 7);
            return -1;
        }
        /* "ok", or "busy" when another client started it first: it will listen soon. */
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            why = runtime_dial(dir, 0, NULL, &fd, &found);
            if (why != RT_NO_BROKER)
                break;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
            if (ms > BUSY_RETRY_MS)
                break;
            usleep(10000);
        }
    }
    if (why != RT_OK) { /* nothing was sent */
        runtime_why_text(why, dir, &found, err, errlen);
        return why == RT_NO_BROKER ? -1 : CLIENT_REFUSED;
    }
    if (hello(fd, err, errlen) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_buf(int sock, struct proto_buf *b, const int *fds, int nfds, char *err,
                    size_t errlen)
{
    int rc = 0;
    if (proto_end(b) < 0) {
        snprintf(err, errlen, "request too large for the protocol");
        rc = -1;
    } else if (proto_send(sock, b, fds, nfds) < 0) {
        snprintf(err, errlen, "cannot talk to the broker: %s", strerror(errno));
        rc = -1;
    }
    proto_buf_free(b);
    return rc;
}

int client_open(int sock, const char *real_ssh, const char *cwd, char *const *opts,
                const char *dest, const char *command, char *const *env, uint32_t flags,
                const int fds[3], char *err, size_t errlen)
{
    struct proto_buf b;
    proto_begin(&b, MSG_OPEN);
    proto_put_str(&b, real_ssh, (size_t)-1);
    proto_put_str(&b, cwd, (size_t)-1);
    proto_put_strlist(&b, opts, count(opts));
    proto_put_str(&b, dest, (size_t)-1);
    proto_put_str(&b, command, (size_t)-1);
    proto_put_strlist(&b, env, count(env));
    proto_put_u32(&b, flags);
    return send_buf(sock, &b, fds, 3, err, errlen);
}

int client_control(int sock, uint32_t op, const char *real_ssh, const char *cwd, char *const *opts,
                   const char *dest, char *const *env, char *err, size_t errlen)
{
    struct proto_buf b;
    proto_begin(&b, MSG_CONTROL);
    proto_put_u32(&b, op);
    proto_put_str(&b, real_ssh, (size_t)-1);
    proto_put_str(&b, cwd, (size_t)-1);
    proto_put_strlist(&b, opts, count(opts));
    proto_put_str(&b, dest, (size_t)-1);
    proto_put_strlist(&b, env, count(env));
    return send_buf(sock, &b, NULL, 0, err, errlen);
}

void client_notify_handed(const char *dir, const char *real_ssh, const char *cwd, char *const *opts,
                          const char *dest, const char *reason, char *const *env)
{
    struct runtime_found found;
    int fd;
    if (runtime_dial(dir, 1, NULL, &fd, &found) != RT_OK)
        return;
    struct proto_buf b;
    proto_begin(&b, MSG_HELLO);
    proto_put_u32(&b, PROTO_VERSION);
    proto_put_u32(&b, (uint32_t)getpid());
    proto_put_u32(&b, HELLO_NOTICE);
    /* No reply comes: HELLO and HANDED go out together, then the socket closes. */
    if (proto_end(&b) == 0 && proto_send(fd, &b, NULL, 0) == 0) {
        proto_buf_free(&b);
        proto_begin(&b, MSG_HANDED);
        proto_put_str(&b, real_ssh, (size_t)-1);
        proto_put_str(&b, cwd, (size_t)-1);
        proto_put_strlist(&b, opts, count(opts));
        proto_put_str(&b, dest, (size_t)-1);
        proto_put_str(&b, reason, (size_t)-1);
        proto_put_strlist(&b, env, count(env));
        if (proto_end(&b) == 0)
            proto_send(fd, &b, NULL, 0);
    }
    proto_buf_free(&b);
    close(fd);
}

int client_prompt_reply(int sock, uint32_t id, int ok, const char *answer, char *err, size_t errlen)
{
    struct proto_buf b;
    proto_begin(&b, MSG_PROMPT_REPLY);
    proto_put_u32(&b, id);
    proto_put_u32(&b, ok ? 1 : 0);
    proto_put_str(&b, ok ? answer : "", (size_t)-1);
    return send_buf(sock, &b, NULL, 0, err, errlen); /* which wipes the answer */
}

/* Send a message of one u32. 0 or -1. */
static int send_u32(int sock, uint8_t type, uint32_t v, char *err, size_t errlen)
{
    struct proto_buf b;
    proto_begin(&b, type);
    proto_put_u32(&b, v);
    return send_buf(sock, &b, NULL, 0, err, errlen);
}

int client_local_done(int sock, uint32_t status, char *err, size_t errlen)
{
    return send_u32(sock, MSG_LOCAL_DONE, status, err, errlen);
}

int client_forwards_done(int sock, char *err, size_t errlen)
{
    return send_u32(sock, MSG_FORWARDS_DONE, 0, err, errlen);
}

int client_x11_auth_reply(int sock, int ok, const char *proto, const char *cookie, char *err,
                          size_t errlen)
{
    struct proto_buf b;
    proto_begin(&b, MSG_X11_AUTH_REPLY);
    proto_put_u32(&b, ok ? 1 : 0);
    proto_put_str(&b, proto, (size_t)-1);
    proto_put_str(&b, cookie, (size_t)-1);
    return send_buf(sock, &b, NULL, 0, err, errlen); /* which wipes the cookie */
}

int client_window_change(int sock, const struct winsize *ws, char *err, size_t errlen)
{
    struct proto_buf b;
    proto_begin(&b, MSG_WINDOW_CHANGE);
    proto_put_u32(&b, ws->ws_col);
    proto_put_u32(&b, ws->ws_row);
    proto_put_u32(&b, ws->ws_xpixel);
    proto_put_u32(&b, ws->ws_ypixel);
    return send_buf(sock, &b, NULL, 0, err, errlen);
}

int client_incoming_reply(int sock, uint32_t id, int err_no, int fd, char *err, size_t errlen)
{
    struct proto_buf b;
    proto_begin(&b, MSG_INCOMING_REPLY);
    proto_put_u32(&b, id);
    proto_put_u32(&b, (uint32_t)err_no);
    return send_buf(sock, &b, &fd, err_no == 0 && fd >= 0 ? 1 : 0, err, errlen);
}

int client_recv_fd(int sock, struct proto_msg *m, uint8_t **body, int *fd, char *err, size_t errlen)
{
    int fds[4], nfds = 0;
    *body = NULL;
    if (fd)
        *fd = -1;
    long n = proto_recv(sock, body, fds, 4, &nfds, err, errlen);
    int keep = n > 0 && fd && nfds == 1 && (*body)[0] == MSG_INCOMING;
    for (int i = keep ? 1 : 0; i < nfds; i++)
        close(fds[i]); /* the broker sends fds with INCOMING only */
    if (n <= 0)
        return n == 0 ? 0 : -1;
    if (proto_decode(*body, (size_t)n, m, err, errlen) < 0) {
        if (keep)
            close(fds[0]);
        free(*body);
        *body = NULL;
        return -1;
    }
    if (keep)
        *fd = fds[0];
    return 1;
}

int client_recv(int sock, struct proto_msg *m, uint8_t **body, char *err, size_t errlen)
{
    return client_recv_fd(sock, m, body, NULL, err, errlen);
}
