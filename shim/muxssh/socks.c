/* SOCKS for -D, as ssh's channel_decode_socks4 and channel_decode_socks5: CONNECT only, no
 * authentication, the reply sent before the channel is open. */
#include "socks.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* Read exactly n bytes (never more: what follows belongs to the channel). 0 or -1. */
static int read_full(int fd, void *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
    for (size_t done = 0; done < n;) {
        ssize_t r = write(fd, (const char *)buf + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

/* A NUL-terminated string of at most max bytes, read a byte at a time. 0 or -1. */
static int read_cstring(int fd, char *out, size_t max)
{
    for (size_t i = 0; i < max; i++) {
        if (read_full(fd, out + i, 1) < 0)
            return -1;
        if (out[i] == '\0')
            return 0;
    }
    return -1; /* ssh: "too long", the peer is probably sending garbage */
}

/* SOCKS 4 and 4a, after the version byte. */
static int socks4(int fd, char *host, size_t hostlen, int *port)
{
    unsigned char req[7]; /* command, port, address */
    char user[1025];
    if (read_full(fd, req, sizeof req) < 0 || read_cstring(fd, user, sizeof user) < 0)
        return -1;
    if (req[3] == 0 && req[4] == 0 && req[5] == 0 && req[6] != 0) { /* 4a: 0.0.0.x, a name */
        if (read_cstring(fd, host, hostlen) < 0)
            return -1;
    } else if (!inet_ntop(AF_INET, req + 3, host, (socklen_t)hostlen)) {
        return -1;
    }
    *port = req[1] << 8 | req[2];
    if (req[0] != 1)
        return -1; /* CONNECT only */
    return 0;
}

/* SOCKS 5, after the version byte: "no authentication", then CONNECT. */
static int socks5(int fd, char *host, size_t hostlen, int *port)
{
    unsigned char n, methods[255], req[4], a[256], p[2];
    if (read_full(fd, &n, 1) < 0 || read_full(fd, methods, n) < 0 || !memchr(methods, 0, n))
        return -1;
    static const unsigned char noauth[2] = {5, 0};
    if (write_full(fd, noauth, 2) < 0 || read_full(fd, req, 4) < 0)
        return -1;
    if (req[0] != 5 || req[1] != 1 || req[2] != 0)
        return -1; /* only socks5 connect supported */
    if (req[3] == 1 || req[3] == 4) {
        if (read_full(fd, a, req[3] == 1 ? 4 : 16) < 0 ||
            !inet_ntop(req[3] == 1 ? AF_INET : AF_INET6, a, host, (socklen_t)hostlen))
            return -1;
    } else if (req[3] == 3) {
        unsigned char len;
        if (read_full(fd, &len, 1) < 0 || read_full(fd, a, len) < 0 || len >= hostlen)
            return -1;
        memcpy(host, a, len);
        host[len] = '\0';
    } else {
        return -1;
    }
    if (read_full(fd, p, 2) < 0)
        return -1;
    *port = p[0] << 8 | p[1];
    return 0;
}

int socks_request(int fd, char *host, size_t hostlen, int *port, int *version)
{
    unsigned char v;
    if (read_full(fd, &v, 1) < 0)
        return -1;
    *version = v;
    return v == 4 ? socks4(fd, host, hostlen, port) : v == 5 ? socks5(fd, host, hostlen, port) : -1;
}

int socks_reply(int fd, int version)
{
    static const unsigned char granted4[8] = {0, 90, 0, 0, 0, 0, 0, 0};
    static const unsigned char granted5[10] = {5, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    return version == 4 ? write_full(fd, granted4, sizeof granted4)
                        : write_full(fd, granted5, sizeof granted5);
}

int socks_handshake(int fd, char *host, size_t hostlen, int *port)
{
    int v;
    if (socks_request(fd, host, hostlen, port, &v) < 0)
        return -1;
    return socks_reply(fd, v);
}
