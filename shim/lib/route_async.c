/* A routed connect() on a non-blocking socket: it returns EINPROGRESS at once, and the
 * program's own socket becomes writable, with SO_ERROR 0, when the route's channel is open,
 * or reports the failure through SO_ERROR, as a kernel connect does.
 *
 * How: the program's socket connects, for real, to a loopback listener of ours whose accept
 * queue is full (two connections of our own sit in it), so its SYN is dropped and the socket
 * stays in SYN-SENT: not writable, no error. A helper process holds the conversation with
 * the broker (and asks the user its questions); when the channel is open, the broker binds a
 * socket to the listener's port (SO_REUSEPORT, same user) and connects it to the program's
 * socket, a TCP simultaneous open: the program's socket goes SYN-RECEIVED, then ESTABLISHED,
 * never writable before. When the route fails, the helper closes the listener: the next
 * retransmission of the program's SYN (within 1 s, then 3 s, ...) is refused, and the program
 * sees ECONNREFUSED as from any refused port.
 *
 * The helper is a grandchild: the hook clones a child with no exit signal (no SIGCHLD, and
 * invisible to the program's wait(), waitpid(-1) and waitid(P_ALL)), which forks the helper
 * and exits at once; the hook reaps it with __WCLONE. Neither execs (an exec would reset the
 * exit signal to SIGCHLD). The helper, reparented to init (or the
 * nearest subreaper), keeps only the broker socket, the listener, its two connections and
 * stderr, and runs the program's signals at their default actions. Stack, static buffers and
 * system calls only: no heap, no stdio, no locks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "route.h"
#include "shim.h"

/* What the two clones need, read from their copy of the hook's stack. */
struct helper_args {
    int keep[5]; /* stderr, the broker socket, the listener, its two queued connections */
    const struct via *via;
    const struct route_ask *ask;
};

/* Close every descriptor but the n sorted ones in keep. */
static void close_others(const int *keep, int n)
{
    unsigned from = 0;
    for (int i = 0; i < n; i++) {
        if (keep[i] > (int)from)
            close_range(from, (unsigned)keep[i] - 1, 0);
        from = (unsigned)keep[i] + 1;
    }
    close_range(from, ~0U, 0);
}

static int helper(void *arg)
{
    struct helper_args *a = arg;
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL &&
            sa.sa_handler != SIG_IGN) {
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = SIG_DFL;
            sigaction(sig, &sa, NULL);
        }
    }
    int keep[5];
    memcpy(keep, a->keep, sizeof keep);
    for (int i = 1; i < 5; i++) /* sort: five numbers */
        for (int j = i; j > 0 && keep[j] < keep[j - 1]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    close_others(keep, 5);
    int err;
    route_converse(a->keep[1], a->via, a->ask, &err);
    /* Exiting closes the listener: on a failure, the program's next SYN is refused. */
    _exit(0);
}

/* The middle child: the helper is its own child (_Fork: no atfork handler of the program runs,
 * no libc lock is taken), and it exits at once, so the helper is reparented. */
static int mid(void *arg)
{
    if (_Fork() == 0)
        helper(arg);
    _exit(0);
}

/* A listener on loopback port 0 of the family, with SO_REUSEPORT, whose accept queue is full:
 * the listener, or -1. d1 and d2 are its queued connections. */
static int full_listener(int family, struct sockaddr_storage *ss, socklen_t *sl, int *d1, int *d2)
{
    const struct shim_real *r = shim_real_net();
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = (struct in6_addr)IN6ADDR_LOOPBACK_INIT;
        *sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *sl = sizeof *a;
    }
    int on = 1, l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    *d1 = *d2 = -1;
    /* Backlog 1 holds two: the third SYN is dropped (not answered with a cookie, as a
     * backlog of 0 would be, with a "SYN flooding" line in the kernel's log). */
    if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0 ||
        bind(l, (struct sockaddr *)ss, *sl) < 0 || listen(l, 1) < 0 ||
        getsockname(l, (struct sockaddr *)ss, sl) < 0)
        goto fail;
    *d1 = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    *d2 = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*d1 < 0 || *d2 < 0 || r->connect(*d1, (struct sockaddr *)ss, *sl) < 0 ||
        r->connect(*d2, (struct sockaddr *)ss, *sl) < 0)
        goto fail;
    return l;
fail:
    if (l >= 0)
        close(l);
    if (*d1 >= 0)
        close(*d1);
    if (*d2 >= 0)
        close(*d2);
    return -1;
}

int route_connect_async(int fd, int family, struct via *via, struct route_ask *ask, int *result)
{
    /* A socket the program bound itself keeps the waiting path (route.c). */
    struct sockaddr_storage me;
    socklen_t ml = sizeof me;
    if (getsockname(fd, (struct sockaddr *)&me, &ml) < 0 || me.ss_family != family ||
        (family == AF_INET ? ((struct sockaddr_in *)&me)->sin_port
                           : ((struct sockaddr_in6 *)&me)->sin6_port) != 0)
        return -1;
    int s = route_dial_broker();
    if (s < 0)
        return 0; /* no broker: the real connect */
    struct sockaddr_storage ls;
    socklen_t ll;
    int d1, d2, l = full_listener(family, &ls, &ll, &d1, &d2);
    if (l < 0) {
        close(s);
        return 0;
    }
    int rc = shim_real_net()->connect(fd, (struct sockaddr *)&ls, ll), e = errno;
    ml = sizeof me;
    if (rc == 0 || e != EINPROGRESS || getsockname(fd, (struct sockaddr *)&me, &ml) < 0) {
        close(s);
        close(l);
        close(d1);
        close(d2);
        if (rc == 0 || e == EINPROGRESS) { /* connected to our listener: nothing to route */
            *result = -1;
            errno = ECONNREFUSED;
            return 1;
        }
        return 0; /* not connecting: the real connect can still run */
    }
    if (family == AF_INET6) {
        ask->from_port = ntohs(((struct sockaddr_in6 *)&ls)->sin6_port);
        ask->to_port = ntohs(((struct sockaddr_in6 *)&me)->sin6_port);
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&me)->sin6_addr, ask->to_addr,
                  sizeof ask->to_addr);
    } else {
        ask->from_port = ntohs(((struct sockaddr_in *)&ls)->sin_port);
        ask->to_port = ntohs(((struct sockaddr_in *)&me)->sin_port);
        inet_ntop(AF_INET, &((struct sockaddr_in *)&me)->sin_addr, ask->to_addr,
                  sizeof ask->to_addr);
    }
    /* The middle child's stack (the helper goes on with its copy): without CLONE_VM each child
     * writes its own copy of the mapping, and the caller's own stack is never used. */
    char *stack = route_stack();
    struct helper_args a = {{2, s, l, d1, d2}, via, ask};
    pid_t pid = stack ? clone(mid, stack + ROUTE_STACK, 0, &a) : -1;
    if (pid > 0)
        while (waitpid(pid, NULL, __WCLONE) < 0 && errno == EINTR)
            ;
    if (stack)
        munmap(stack, ROUTE_STACK);
    close(s);
    close(l);
    close(d1);
    close(d2);
    /* With no helper, the listener is gone: the SYN's retransmission is refused. */
    *result = -1;
    errno = EINPROGRESS;
    return 1;
}
