/* The routes file (~/.config/muxshim/routes or $MUXSHIM_ROUTES): "CIDR [port P[,P...]] via
 * DEST [ssh options]" lines, matched against a connect()'s address. Read once per process and
 * again when its stat changes. Static and stack buffers and system calls only: no heap, no
 * stdio, no locks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "route.h"
#include "shim.h"

extern char **environ;

#define ROUTES_MAX 8192

/* dst = a + b (+ c), truncation is failure. */
int route_join(char *dst, size_t cap, const char *a, const char *b, const char *c)
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

/* A stat's identity of the routes file: a change to any of these means it was rewritten. */
struct file_id {
    int present;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
};

static void file_id_of(struct file_id *id, const struct stat *st)
{
    id->present = 1;
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mtime = st->st_mtim;
    id->ctime = st->st_ctim;
}

static int file_id_eq(const struct file_id *a, const struct file_id *b)
{
    if (a->present != b->present)
        return 0;
    return !a->present ||
           (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
            a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
            a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec);
}

/* Read path into buf (up to cap bytes); *id is what fstat said of the opened file, taken before
 * reading, so a write during the read shows as a change at the next stat. Returns the length
 * (0 with id->present = 0 when it cannot be opened). */
static size_t read_routes(const char *path, char *buf, size_t cap, struct file_id *id)
{
    struct stat st;
    id->present = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) == 0)
        file_id_of(id, &st);
    size_t len = 0;
    ssize_t got;
    while (len < cap && (got = read(fd, buf + len, cap - len)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    return len;
}

/* The first matching line of buf, into via. */
static int match_lines(const char *buf, size_t len, int family, const unsigned char *addr,
                       unsigned port, struct via *via)
{
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

/* The routes file as last read by this process: read once, and again only when a stat of the
 * path no longer matches (or the path itself changed, e.g. $MUXSHIM_ROUTES). Static, not heap:
 * the hook may run in a vfork child or a signal handler. Whoever holds `busy` (taken with an
 * atomic exchange, never waited for) owns the cache; a thread that finds it held reads the file
 * into its own stack buffer, as every connect did before the cache. */
static struct {
    int busy;
    int valid;
    char path[PATH_MAX];
    struct file_id id;
    size_t len;
    char buf[ROUTES_MAX];
} cache;

int route_for(int family, const unsigned char *addr, unsigned port, struct via *via)
{
    char path[PATH_MAX];
    const char *r = shim_env(environ, "MUXSHIM_ROUTES"), *home = shim_env(environ, "HOME");
    if (r && *r) {
        if (route_join(path, sizeof path, r, "", NULL) < 0)
            return 0;
    } else if (!home || !*home ||
               route_join(path, sizeof path, home, "/.config/muxshim/routes", NULL) < 0) {
        return 0;
    }
    if (__atomic_exchange_n(&cache.busy, 1, __ATOMIC_ACQUIRE)) {
        char buf[ROUTES_MAX];
        struct file_id id;
        size_t len = read_routes(path, buf, sizeof buf, &id);
        return match_lines(buf, len, family, addr, port, via);
    }
    struct stat st;
    struct file_id now = {0};
    if (stat(path, &st) == 0)
        file_id_of(&now, &st);
    if (!cache.valid || strcmp(cache.path, path) || !file_id_eq(&now, &cache.id)) {
        memcpy(cache.path, path, strlen(path) + 1);
        cache.len = now.present ? read_routes(path, cache.buf, sizeof cache.buf, &cache.id) : 0;
        if (!now.present)
            cache.id.present = 0;
        cache.valid = 1;
    }
    int hit = match_lines(cache.buf, cache.len, family, addr, port, via);
    __atomic_store_n(&cache.busy, 0, __ATOMIC_RELEASE);
    return hit;
}
