/* The routes file (~/.config/muxshim/routes or $MUXSHIM_ROUTES): "CIDR [port P[,P...]] via
 * DEST [ssh options]" lines, matched against a connect()'s address. Read and parsed once per
 * process and again when its stat changes. Static and stack buffers and system calls only: no heap,
 * no stdio, no locks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "route.h"
#include "runtime.h"
#include "shim.h"

extern char **environ;

#define ROUTES_MAX 8192

void *route_map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *route_map_once(void **slot, size_t size)
{
    void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (p)
        return p;
    void *n = route_map(size);
    if (!n)
        return NULL;
    if (__atomic_compare_exchange_n(slot, &p, n, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return n;
    munmap(n, size); /* another thread's came first */
    return p;
}

void *route_stack(void)
{
    return route_map(ROUTE_STACK);
}

/* One routes line, parsed: the network, the ports (offsets into the file's text) and the
 * words after "via" (the destination, then ssh options). */
struct rule {
    unsigned char family, bits, nwords;
    unsigned char net[16];
    unsigned short ports_off, ports_len; /* ports_len 0: any port */
    unsigned short word_off[ROUTE_WORDS], word_len[ROUTE_WORDS];
};

/* The CIDR text into r's family, net and bits; 0 if it is one. */
static int parse_cidr(const char *cidr, size_t n, struct rule *r)
{
    char text[64];
    if (n >= sizeof text)
        return -1;
    memcpy(text, cidr, n);
    text[n] = '\0';
    char *slash = strchr(text, '/');
    if (slash)
        *slash = '\0';
    if (inet_pton(AF_INET, text, r->net) == 1)
        r->family = AF_INET;
    else if (inet_pton(AF_INET6, text, r->net) == 1)
        r->family = AF_INET6;
    else
        return -1;
    int max = r->family == AF_INET ? 32 : 128, b = 0;
    if (slash) {
        for (const char *p = slash + 1; *p; p++) {
            if (*p < '0' || *p > '9' || b > 128)
                return -1;
            b = b * 10 + (*p - '0');
        }
        if (b > max || !slash[1])
            return -1;
    }
    r->bits = (unsigned char)(slash ? b : max);
    return 0;
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

/* One line of text (at base + off, n bytes): "CIDR [port P[,P...]] via DEST [ssh options]";
 * 0 and *r when it is a rule. */
static int parse_line(const char *base, size_t off, size_t n, struct rule *r)
{
    const char *l = base + off;
    size_t w[ROUTE_WORDS] = {0}, wl[ROUTE_WORDS] = {0};
    int nw = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && (l[i] == ' ' || l[i] == '\t' || l[i] == '\r'))
            i++;
        if (i >= n || l[i] == '#')
            break;
        if (nw == ROUTE_WORDS)
            return -1; /* too many words: not a line this shim understands */
        w[nw] = i;
        while (i < n && l[i] != ' ' && l[i] != '\t' && l[i] != '\r')
            i++;
        wl[nw] = i - w[nw];
        nw++;
    }
    int k = 1;
    r->ports_len = 0;
    if (nw >= 4 && wl[1] == 4 && !memcmp(l + w[1], "port", 4)) {
        r->ports_off = (unsigned short)(off + w[2]);
        r->ports_len = (unsigned short)wl[2];
        k = 3;
    }
    if (nw < k + 2 || wl[k] != 3 || memcmp(l + w[k], "via", 3) ||
        parse_cidr(l + w[0], wl[0], r) < 0)
        return -1;
    r->nwords = 0;
    for (int i = k + 1; i < nw; i++) {
        if (wl[i] >= 256)
            return -1;
        r->word_off[r->nwords] = (unsigned short)(off + w[i]);
        r->word_len[r->nwords++] = (unsigned short)wl[i];
    }
    return 0;
}

/* Does the rule (over the text base) take addr:port? 1 and *v if so. */
static int rule_match(const struct rule *r, const char *base, int family, const unsigned char *addr,
                      unsigned port, struct via *v)
{
    if (r->family != family || (r->ports_len && !port_in(base + r->ports_off, r->ports_len, port)))
        return 0;
    for (int i = 0; i < r->bits; i++) {
        int m = 0x80 >> (i % 8);
        if ((r->net[i / 8] & m) != (addr[i / 8] & m))
            return 0;
    }
    v->nopts = 0;
    for (int i = 0; i < r->nwords; i++) {
        char *dst = i == 0 ? v->dest : v->opts[v->nopts++];
        memcpy(dst, base + r->word_off[i], r->word_len[i]);
        dst[r->word_len[i]] = '\0';
    }
    return 1;
}

/* Each line of buf in turn: fn(base, off, len, arg) until it returns nonzero. */
static int each_line(const char *buf, size_t len, int (*fn)(const char *, size_t, size_t, void *),
                     void *arg)
{
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && buf[e] != '\n')
            e++;
        int rc = fn(buf, i, e - i, arg);
        if (rc)
            return rc;
        i = e + 1;
    }
    return 0;
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

/* What a connect asks of the lines (match_line), or how many rules were kept (keep_line). */
struct query {
    int family;
    const unsigned char *addr;
    unsigned port;
    struct via *via;
};

static int match_line(const char *base, size_t off, size_t n, void *arg)
{
    struct query *q = arg;
    struct rule r;
    return parse_line(base, off, n, &r) == 0 &&
           rule_match(&r, base, q->family, q->addr, q->port, q->via);
}

#define RULES_MAX 512 /* the most rules kept from one file (a line is at least 13 bytes) */

/* The routes file as last read by this process, and its rules parsed: read and parsed once,
 * and again only when a stat of the path no longer matches (or the path itself changed, e.g.
 * $MUXSHIM_ROUTES). Not heap: one anonymous mapping, made at the first connect that could be
 * routed and published with a compare-and-swap (a static array this size would cost every
 * process, routing or not, a mapping at load). The hook may run in a vfork child or a signal
 * handler: whoever holds `busy` (taken with an atomic exchange, never waited for) owns the
 * cache; a thread that finds it held reads the file into its own stack buffer and matches
 * as it parses. */
struct cache {
    int busy;
    int valid;
    char path[PATH_MAX];
    struct file_id id;
    size_t len;
    char buf[ROUTES_MAX];
    int nrules;
    struct rule rules[RULES_MAX];
};
static struct cache *cache_mem;

static int keep_line(const char *base, size_t off, size_t n, void *arg)
{
    struct cache *c = arg;
    if (c->nrules < RULES_MAX && parse_line(base, off, n, &c->rules[c->nrules]) == 0)
        c->nrules++;
    return 0;
}

int route_for(int family, const unsigned char *addr, unsigned port, struct via *via)
{
    char path[PATH_MAX];
    const char *r = shim_env(environ, "MUXSHIM_ROUTES"), *home = shim_env(environ, "HOME");
    if (r && *r) {
        if (runtime_join(path, sizeof path, r, "", NULL) < 0)
            return 0;
    } else if (!home || !*home ||
               runtime_join(path, sizeof path, home, "/.config/muxshim/routes", NULL) < 0) {
        return 0;
    }
    struct query q = {family, addr, port, via};
    struct cache *c = route_map_once((void **)&cache_mem, sizeof *c);
    if (!c || __atomic_exchange_n(&c->busy, 1, __ATOMIC_ACQUIRE)) {
        char buf[ROUTES_MAX];
        struct file_id id;
        size_t len = read_routes(path, buf, sizeof buf, &id);
        return each_line(buf, len, match_line, &q);
    }
    struct stat st;
    struct file_id now = {0};
    if (stat(path, &st) == 0)
        file_id_of(&now, &st);
    if (!c->valid || strcmp(c->path, path) || !file_id_eq(&now, &c->id)) {
        memcpy(c->path, path, strlen(path) + 1);
        c->len = now.present ? read_routes(path, c->buf, sizeof c->buf, &c->id) : 0;
        if (!now.present)
            c->id.present = 0;
        c->nrules = 0;
        each_line(c->buf, c->len, keep_line, c);
        c->valid = 1;
    }
    int hit = 0;
    for (int i = 0; i < c->nrules && !hit; i++)
        hit = rule_match(&c->rules[i], c->buf, family, addr, port, via);
    __atomic_store_n(&c->busy, 0, __ATOMIC_RELEASE);
    return hit;
}
