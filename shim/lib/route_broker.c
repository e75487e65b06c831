/* The shim's side of ROUTE: find (or start) the broker, send ROUTE through broker/proto's
 * heap-free entry points, answer its questions, and take the connected fd it returns. Stack
 * buffers and system calls only: no heap, no stdio, no locks. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <time.h>
#include <limits.h>
#include <spawn.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ask.h"
#include "proto.h"
#include "route.h"
#include "runtime.h"
#include "shim.h"

extern char **environ;

#define FRAME_MAX 8192 /* the largest frame the shim sends or takes */

/* The middle child, in a copy of the program (no shared memory): it runs `muxssh --mux-start`
 * as its own child and waits for it. _Fork, not fork: no atfork handler of the program runs,
 * and no libc lock a thread of the program may have held is taken. */
static int start_child(void *arg)
{
    char **argv = arg;
    pid_t pid = _Fork();
    if (pid == 0) {
        shim_real()->execve(argv[0], argv, environ);
        _exit(127);
    }
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    _exit(0);
}

/* No broker listening: `muxssh --mux-start` starts one (and waits until it listens). Two
 * levels, so the program never sees a child of ours: the middle child is cloned with no exit
 * signal (no SIGCHLD, and invisible to the program's wait(), waitpid(-1) and waitid(P_ALL):
 * only a __WCLONE or __WALL wait sees it) and reaped here; muxssh runs as its child, because
 * an exec would turn the middle child into an ordinary one (the kernel resets the exit
 * signal to SIGCHLD at exec). muxssh detaches the broker itself (fork, setsid, fork). */
static void start_broker(void)
{
    char mux[PATH_MAX];
    const char *m = shim_muxssh(environ, mux);
    if (!m)
        return;
    char *argv[] = {(char *)m, "--mux-start", NULL};
    void *stack = route_stack();
    if (!stack)
        return;
    pid_t pid = clone(start_child, (char *)stack + ROUTE_STACK, 0, argv);
    if (pid > 0)
        while (waitpid(pid, NULL, __WCLONE) < 0 && errno == EINTR)
            ;
    munmap(stack, ROUTE_STACK);
}

/* A socket to our own broker, or -1: runtime_open and runtime_dial decide (the directory
 * checked through a descriptor, SO_PEERCRED before a byte is sent). Anything they refuse is
 * "no broker", silently; only a missing directory or socket starts one, when start. */
static int our_broker(int start)
{
    char dir[RUNTIME_PATH_MAX];
    struct runtime_found found;
    int s = -1, why = runtime_open(dir, sizeof dir, 0, NULL, &found);
    if (why == RT_OK)
        why = runtime_dial(dir, 0, shim_real_net()->connect, &s, &found);
    if (start && (why == RT_MISSING || why == RT_NO_BROKER)) {
        start_broker(); /* creates the directory too */
        return our_broker(0);
    }
    return why == RT_OK ? s : -1;
}

/* Send a finished frame; 0 or -1. */
static int send_frame(int s, struct proto_buf *f)
{
    return proto_end(f) == 0 ? proto_send(s, f, NULL, 0) : -1;
}

/* Read and decode one frame into buf (FRAME_MAX bytes), keeping at most one fd; 0 or -1. */
static int recv_frame(int s, uint8_t *buf, struct proto_msg *m, int *fd)
{
    char why[8]; /* the decoder's reason is not shown: a bad frame is simply not served */
    int n = 0;
    *fd = -1; /* stays -1 unless an fd came (then the caller closes it on every path) */
    long len = proto_recv_into(s, buf, FRAME_MAX, fd, 1, &n);
    if (len <= 0)
        return -1;
    return proto_decode(buf, (size_t)len, m, why, sizeof why);
}

/* Environment the broker needs to resolve the route's host as ssh would. */
static const char *const passed_env[] = {
    "HOME",   "USER", "LOGNAME", "PATH", "SSH_AUTH_SOCK", "SSH_ASKPASS", "SSH_ASKPASS_REQUIRE",
    "DISPLAY"};

int route_dial_broker(void)
{
    return our_broker(1);
}

int route_timeout_ms(const struct via *via)
{
    /* -oConnectTimeout=N, -o ConnectTimeout=N or "-o" "ConnectTimeout N", any case. */
    for (int i = 0; i < via->nopts; i++) {
        const char *o = via->opts[i];
        if (o[0] != '-' || o[1] != 'o')
            continue;
        o = o[2] ? o + 2 : i + 1 < via->nopts ? via->opts[++i] : "";
        while (*o == ' ' || *o == '\t')
            o++;
        if (strncasecmp(o, "ConnectTimeout", 14) || (o[14] != '=' && o[14] != ' ' && o[14] != '\t'))
            continue;
        o += 15;
        while (*o == ' ' || *o == '\t' || *o == '=')
            o++;
        long v = 0;
        for (; *o >= '0' && *o <= '9' && v < 100000; o++)
            v = v * 10 + (*o - '0');
        if (v > 0)
            return (int)(v * 1000);
    }
    return 30000;
}

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

/* Wait until s is readable or the deadline passes: 0, or -1 with errno ETIMEDOUT. */
static int wait_readable(int s, long deadline)
{
    for (;;) {
        long left = deadline - now_ms();
        struct pollfd p = {.fd = s, .events = POLLIN};
        int n = left > 0 ? poll(&p, 1, (int)left) : 0;
        if (n > 0)
            return 0;
        if (n == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (errno != EINTR)
            return -1;
    }
}

int route_converse(int s, const struct via *via, const struct route_ask *ask, int *err)
{
    uint8_t buf[FRAME_MAX];
    struct proto_buf f;
    struct proto_msg m;
    int fd = -1, rc = -1, timeout = route_timeout_ms(via);
    long deadline = now_ms() + timeout;
    *err = 0;
    proto_begin_into(&f, MSG_HELLO, buf, sizeof buf);
    proto_put_u32(&f, PROTO_VERSION);
    proto_put_u32(&f, (uint32_t)getpid());
    proto_put_u32(&f, 0);
    if (send_frame(s, &f) < 0)
        goto out;
    if (wait_readable(s, deadline) < 0) {
        *err = errno == ETIMEDOUT ? ETIMEDOUT : 0;
        goto out;
    }
    if (recv_frame(s, buf, &m, &fd) < 0 || m.type != MSG_HELLO)
        goto out;
    char real[PATH_MAX], cwd[PATH_MAX];
    if (shim_path_search("ssh", environ, real, sizeof real) != 0 || !getcwd(cwd, sizeof cwd))
        goto out;
    proto_begin_into(&f, MSG_ROUTE, buf, sizeof buf);
    proto_put_str(&f, real, (size_t)-1);
    proto_put_str(&f, cwd, (size_t)-1);
    proto_put_str(&f, via->dest, (size_t)-1);
    proto_put_str(&f, ask->host, (size_t)-1);
    proto_put_u32(&f, ask->port);
    proto_put_u32(&f, (uint32_t)ask->family);
    /* The "NAME=VALUE" words, packed: what does not fit here would not fit the frame. */
    char *env[sizeof passed_env / sizeof passed_env[0] + 1], vars[FRAME_MAX];
    size_t used = 0;
    int nv = 0;
    for (size_t i = 0; i < sizeof passed_env / sizeof passed_env[0]; i++) {
        const char *v = shim_env(environ, passed_env[i]);
        if (!v)
            continue;
        if (runtime_join(vars + used, sizeof vars - used, passed_env[i], "=", v) < 0) {
            f.err = 1; /* the frame cannot be sent */
            break;
        }
        env[nv++] = vars + used;
        used += strlen(vars + used) + 1;
    }
    env[nv] = NULL;
    proto_put_strlist(&f, env, -1);
    char *opts[ROUTE_WORDS + 1];
    for (int i = 0; i < via->nopts; i++)
        opts[i] = (char *)via->opts[i];
    opts[via->nopts] = NULL;
    proto_put_strlist(&f, opts, -1);
    proto_put_u32(&f, ask->from_port);
    proto_put_str(&f, ask->to_addr, (size_t)-1);
    proto_put_u32(&f, ask->to_port);
    if (send_frame(s, &f) < 0)
        goto out;
    for (;;) {
        if (fd >= 0)
            close(fd);
        fd = -1;
        if (wait_readable(s, deadline) < 0) {
            *err = errno == ETIMEDOUT ? ETIMEDOUT : 0;
            goto out;
        }
        if (recv_frame(s, buf, &m, &fd) < 0)
            goto out;
        if (m.type == MSG_ROUTE_REPLY) {
            uint32_t e = m.u[0];
            if (e == 0 && (fd >= 0 || ask->from_port)) {
                rc = fd >= 0 ? fd : 0;
                fd = -1;
            } else {
                *err = e ? (int)e : ECONNREFUSED;
            }
            goto out;
        }
        if (m.type == MSG_MESSAGE) {
            while (m.s[0].n && write(2, m.s[0].p, m.s[0].n) < 0 && errno == EINTR)
                ;
            continue;
        }
        if (m.type == MSG_PROMPT) {
            uint32_t id = m.u[0], echo = m.u[1];
            char q[2048], a[1024];
            int ok = proto_str_copy(&m.s[0], q, sizeof q) == 0 &&
                     ask_user(q, echo != 0, a, sizeof a) == 0;
            proto_begin_into(&f, MSG_PROMPT_REPLY, buf, sizeof buf);
            proto_put_u32(&f, id);
            proto_put_u32(&f, ok ? 1 : 0);
            proto_put_str(&f, ok ? a : "", (size_t)-1);
            explicit_bzero(a, sizeof a);
            int sent = send_frame(s, &f);
            explicit_bzero(buf, sizeof buf); /* the answer */
            if (sent < 0)
                goto out;
            deadline = now_ms() + timeout; /* the user's time is not the broker's */
            continue;
        }
        goto out; /* ERROR or anything else: not served here */
    }
out:
    if (fd >= 0)
        close(fd);
    close(s);
    return rc;
}

int route_ask_broker(const struct via *via, const struct route_ask *ask, int *err)
{
    *err = 0;
    int s = route_dial_broker();
    return s < 0 ? -1 : route_converse(s, via, ask, err);
}
