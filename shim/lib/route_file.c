/* The routes file (~/.config/muxshim/routes or $MUXSHIM_ROUTES): "CIDR [port P[,P...]] via
 * DEST [ssh options]" lines, matched against a connect()'s address. Stack buffers and system
 * calls only: no heap, no stdio, no locks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
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
