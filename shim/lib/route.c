/* connect() routing: a TCP connect to an address the user routed (~/.config/muxshim/routes
 * or $MUXSHIM_ROUTES) is carried by a direct-tcpip channel on the broker's connection to the
 * route's host. The broker answers with one end of a loopback TCP pair, which takes the
 * caller's fd number; getpeername on it reports the address the program asked for.
 * Stack buffers and system calls only: no heap, no stdio, no locks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ask.h"
#include "proto.h"
#include "shim.h"

extern char **environ;

/* Frames are built and read with broker/proto's codec, in stack buffers (its heap-free entry
 * points). */
#define FRAME_MAX 8192
#define ROUTES_MAX 8192

/* dst = a + b (+ c), truncation is failure. */
static int join(char *dst, size_t cap, const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
    if (la + lb + lc + 1 > cap)
        return -1;
    memcpy(dst, a, la);
    memcpy(dst + la, b, lb);
    if (c)
        memcpy(dst + la + lb, c, lc);
    dst[la + lb + lc] = '\0';
    return 0;
}

static void utoa(unsigned v, char *out)
{
    char t[12];
    int n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < 11);
    for (int i = 0; i < n; i++)
        out[i] = t[n - 1 - i];
    out[n] = '\0';
}

/* --- routes ------------------------------------------------------------------------- */

/* Does addr (4 or 16 bytes) fall in the CIDR text? */
static int cidr_match(const char *cidr, size_t n, int family, const unsigned char *addr)
{
    char text[64];
    if (n >= sizeof text)
        return 0;
    memcpy(text, cidr, n);
    text[n] = '\0';
    char *slash = strchr(text, '/');
    int bits = family == AF_INET ? 32 : 128;
    if (slash) {
        *slash = '\0';
        int b = 0;
        for (const char *p = slash + 1; *p; p++) {
            if (*p < '0' || *p > '9' || b > 128)
                return 0;
            b = b * 10 + (*p - '0');
        }
        if (b > bits || !slash[1])
            return 0;
        bits = b;
    }
    unsigned char net[16];
    if (inet_pton(family, text, net) != 1)
        return 0;
    for (int i = 0; i < bits; i++) {
        int m = 0x80 >> (i % 8);
        if ((net[i / 8] & m) != (addr[i / 8] & m))
            return 0;
    }
    return 1;
}

/* Is port in the comma list? */
static int port_in(const char *list, size_t n, unsigned port)
{
    unsigned v = 0;
    int digits = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && list[i] >= '0' && list[i] <= '9') {
            v = v * 10 + (unsigned)(list[i] - '0');
            digits++;
            continue;
        }
        if (digits && v == port)
            return 1;
        v = 0;
        digits = 0;
    }
    return 0;
}

#define ROUTE_WORDS 12 /* CIDR, port LIST, via DEST, and up to 7 ssh option words */

/* What a matching routes line says: the destination and the ssh options after it. */
struct via {
    char dest[256];
    char opts[ROUTE_WORDS][256];
    int nopts;
};

/* One routes line: "CIDR [port P[,P...]] via DEST [ssh options]"; 1 and v on a match. */
static int line_match(const char *l, size_t n, int family, const unsigned char *addr, unsigned port,
                      struct via *v)
{
    const char *w[ROUTE_WORDS] = {0};
    size_t wl[ROUTE_WORDS] = {0};
    int nw = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && (l[i] == ' ' || l[i] == '\t' || l[i] == '\r'))
            i++;
        if (i >= n || l[i] == '#')
            break;
        if (nw == ROUTE_WORDS)
            return 0; /* too many words: not a line this shim understands */
        w[nw] = l + i;
        while (i < n && l[i] != ' ' && l[i] != '\t' && l[i] != '\r')
            i++;
        wl[nw] = (size_t)(l + i - w[nw]);
        nw++;
    }
    int k = 1;
    if (nw >= 4 && wl[1] == 4 && !memcmp(w[1], "port", 4)) {
        if (!port_in(w[2], wl[2], port))
            return 0;
        k = 3;
    }
    if (nw < k + 2 || wl[k] != 3 || memcmp(w[k], "via", 3))
        return 0;
    if (!cidr_match(w[0], wl[0], family, addr))
        return 0;
    v->nopts = 0;
    for (int i = k + 1; i < nw; i++) {
        char *dst = i == k + 1 ? v->dest : v->opts[v->nopts++];
        if (wl[i] >= 256)
            return 0;
        memcpy(dst, w[i], wl[i]);
        dst[wl[i]] = '\0';
    }
    return 1;
}

/* The routes file: $MUXSHIM_ROUTES, else $HOME/.config/muxshim/routes. */
static int route_for(int family, const unsigned char *addr, unsigned port, struct via *via)
{
    char path[PATH_MAX];
    const char *r = shim_env(environ, "MUXSHIM_ROUTES"), *home = shim_env(environ, "HOME");
    if (r && *r) {
        if (join(path, sizeof path, r, "", NULL) < 0)
            return 0;
    } else if (!home || !*home ||
               join(path, sizeof path, home, "/.config/muxshim/routes", NULL) < 0) {
        return 0;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[ROUTES_MAX];
    size_t len = 0;
    ssize_t got;
    while (len < sizeof buf && (got = read(fd, buf + len, sizeof buf - len)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && buf[e] != '\n')
            e++;
        if (line_match(buf + i, e - i, family, addr, port, via))
            return 1;
        i = e + 1;
    }
    return 0;
}

/* --- the broker ---------------------------------------------------------------------- */

static int runtime_dir(char *out, size_t cap)
{
    const char *d = shim_env(environ, "MUXSHIM_DIR"), *x = shim_env(environ, "XDG_RUNTIME_DIR");
    char uid[12];
    utoa((unsigned)getuid(), uid);
    int rc = d && *d          ? join(out, cap, d, "", NULL)
             : x && *x == '/' ? join(out, cap, x, "/muxshim", NULL)
                              : join(out, cap, "/tmp/muxshim-", uid, NULL);
    struct stat st;
    if (rc < 0 || lstat(out, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
        (st.st_mode & 077))
        return -1;
    return 0;
}

static int dial(const char *dir)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (join(sa.sun_path, sizeof sa.sun_path, dir, "/broker.sock", NULL) < 0)
        return -1;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    if (shim_real()->connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(s);
        return -1;
    }
    return s;
}

/* No broker listening: `muxssh --mux-start` starts one (and waits until it listens). */
static void start_broker(void)
{
    const char *m = shim_muxssh(environ);
    if (!m)
        return;
    char *argv[] = {(char *)m, "--mux-start", NULL};
    pid_t pid;
    if (shim_real()->posix_spawn(&pid, m, NULL, NULL, argv, environ) != 0)
        return;
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
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

/* Ask the broker; returns the connected fd, or -1 with *err (0: not served, use the real
 * connect; else the errno the remote side's refusal maps to). */
static int ask_broker(const struct via *via, const char *host, unsigned port, int family, int *err)
{
    char dir[PATH_MAX];
    *err = 0;
    if (runtime_dir(dir, sizeof dir - 16) < 0) {
        start_broker(); /* creates the directory too */
        if (runtime_dir(dir, sizeof dir - 16) < 0)
            return -1;
    }
    int s = dial(dir);
    if (s < 0) {
        start_broker();
        s = dial(dir);
    }
    if (s < 0)
        return -1;
    uint8_t buf[FRAME_MAX];
    struct proto_buf f;
    struct proto_msg m;
    int fd = -1, rc = -1;
    proto_begin_into(&f, MSG_HELLO, buf, sizeof buf);
    proto_put_u32(&f, PROTO_VERSION);
    proto_put_u32(&f, (uint32_t)getpid());
    proto_put_u32(&f, 0);
    if (send_frame(s, &f) < 0 || recv_frame(s, buf, &m, &fd) < 0 || m.type != MSG_HELLO)
        goto out;
    char real[PATH_MAX], cwd[PATH_MAX];
    if (shim_path_search("ssh", environ, real, sizeof real) != 0 || !getcwd(cwd, sizeof cwd))
        goto out;
    proto_begin_into(&f, MSG_ROUTE, buf, sizeof buf);
    proto_put_str(&f, real, (size_t)-1);
    proto_put_str(&f, cwd, (size_t)-1);
    proto_put_str(&f, via->dest, (size_t)-1);
    proto_put_str(&f, host, (size_t)-1);
    proto_put_u32(&f, port);
    proto_put_u32(&f, (uint32_t)family);
    /* The "NAME=VALUE" words, packed: what does not fit here would not fit the frame. */
    char *env[sizeof passed_env / sizeof passed_env[0] + 1], vars[FRAME_MAX];
    size_t used = 0;
    int nv = 0;
    for (size_t i = 0; i < sizeof passed_env / sizeof passed_env[0]; i++) {
        const char *v = shim_env(environ, passed_env[i]);
        if (!v)
            continue;
        if (join(vars + used, sizeof vars - used, passed_env[i], "=", v) < 0) {
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
    if (send_frame(s, &f) < 0)
        goto out;
    for (;;) {
        if (fd >= 0)
            close(fd);
        if (recv_frame(s, buf, &m, &fd) < 0)
            goto out;
        if (m.type == MSG_ROUTE_REPLY) {
            uint32_t e = m.u[0];
            if (e == 0 && fd >= 0) {
                rc = fd;
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
            proto_buf_free(&f); /* wipes the answer */
            if (sent < 0)
                goto out;
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

/* --- the fd table for getpeername ---------------------------------------------------- */

#define PEERS 64
static struct peer_slot {
    int state; /* 0 free, 1 being written, 2 ready (atomic) */
    int fd;
    dev_t dev;
    ino_t ino;
    socklen_t len;
    struct sockaddr_storage addr;
} peers[PEERS];
static unsigned next_slot;

static void remember(int fd, const struct sockaddr *sa, socklen_t len)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || len > sizeof(struct sockaddr_storage))
        return;
    for (int tries = 0; tries < PEERS; tries++) {
        unsigned i = __atomic_fetch_add(&next_slot, 1, __ATOMIC_RELAXED) % PEERS;
        int s = __atomic_load_n(&peers[i].state, __ATOMIC_ACQUIRE);
        if (s == 1 || !__atomic_compare_exchange_n(&peers[i].state, &s, 1, 0, __ATOMIC_ACQUIRE,
                                                   __ATOMIC_RELAXED))
            continue;
        peers[i].fd = fd;
        peers[i].dev = st.st_dev;
        peers[i].ino = st.st_ino;
        peers[i].len = len;
        memcpy(&peers[i].addr, sa, len);
        __atomic_store_n(&peers[i].state, 2, __ATOMIC_RELEASE);
        return;
    }
}

int shim_route_peername(int fd, struct sockaddr *sa, socklen_t *len)
{
    struct stat st;
    int have = 0;
    for (int i = 0; i < PEERS; i++) {
        if (__atomic_load_n(&peers[i].state, __ATOMIC_ACQUIRE) != 2 || peers[i].fd != fd)
            continue;
        /* The same socket still (not a later one with the same number)? */
        if (!have && fstat(fd, &st) < 0)
            return 0;
        have = 1;
        if (peers[i].dev != st.st_dev || peers[i].ino != st.st_ino)
            continue;
        socklen_t n = peers[i].len < *len ? peers[i].len : *len;
        memcpy(sa, &peers[i].addr, n);
        *len = peers[i].len;
        return 1;
    }
    return 0;
}

/* --- the hook's body ------------------------------------------------------------------ */

/* Carry over what the caller set on its socket before connect. */
static void carry_over(int from, int to)
{
    static const int opts[][2] = {{IPPROTO_TCP, TCP_NODELAY}, {SOL_SOCKET, SO_KEEPALIVE},
                                  {SOL_SOCKET, SO_RCVTIMEO},  {SOL_SOCKET, SO_SNDTIMEO},
                                  {SOL_SOCKET, SO_LINGER},    {SOL_SOCKET, SO_OOBINLINE}};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        unsigned char v[32];
        socklen_t l = sizeof v;
        if (getsockopt(from, opts[i][0], opts[i][1], v, &l) == 0)
            setsockopt(to, opts[i][0], opts[i][1], v, l);
    }
}

int shim_route_connect(int fd, const struct sockaddr *sa, socklen_t len, int *result)
{
    if (!sa || shim_inert(environ))
        return 0;
    int family = sa->sa_family, type = 0;
    socklen_t tl = sizeof type;
    const unsigned char *addr;
    unsigned port;
    if (family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const void *)sa;
        addr = (const unsigned char *)&in->sin_addr;
        port = ntohs(in->sin_port);
        if (addr[0] == 127)
            return 0;
    } else if (family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        addr = (const unsigned char *)&in6->sin6_addr;
        port = ntohs(in6->sin6_port);
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) || IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return 0;
    } else {
        return 0;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM)
        return 0;
    struct via via;
    char host[INET6_ADDRSTRLEN];
    if (!route_for(family, addr, port, &via) || !inet_ntop(family, addr, host, sizeof host))
        return 0;
    int err = 0, got = ask_broker(&via, host, port, family, &err);
    if (got < 0 && !err)
        return 0; /* the broker cannot serve it: as without the shim */
    if (got < 0) {
        *result = -1;
        errno = err;
        return 1;
    }
    int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
    carry_over(fd, got);
    if (fl >= 0)
        fcntl(got, F_SETFL, fl);
    if (dup3(got, fd, (fdfl >= 0 && (fdfl & FD_CLOEXEC)) ? O_CLOEXEC : 0) < 0) {
        int e = errno;
        close(got);
        *result = -1;
        errno = e;
        return 1;
    }
    close(got);
    remember(fd, sa, len);
    *result = 0;
    return 1;
}
