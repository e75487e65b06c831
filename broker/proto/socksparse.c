/* SOCKS parsing for -D, as OpenSSH's channels.c: CONNECT only, no authentication; the reply
 * is ssh's, and the caller sends it once the channel is open (a refused channel closes the
 * connection with no reply, as ssh frees the channel with its reply unsent). */
#include "socksparse.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

const uint8_t socks_method_reply[2] = {5, 0};

/* The length of a NUL-terminated string at p (at most max bytes with its NUL, of the len
 * there): its length with the NUL, 0 when it is not whole yet, -1 when too long. */
static long cstring(const uint8_t *p, size_t len, size_t max)
{
    const uint8_t *nul = memchr(p, 0, len < max ? len : max);
    if (nul)
        return (long)(nul - p) + 1;
    return len >= max ? -1 : 0; /* ssh: "too long", the peer is probably sending garbage */
}

/* SOCKS 4 and 4a: version, command, port, address, user, and for 4a (0.0.0.x) a name. */
static int socks4(struct socks_req *r, const uint8_t *b, size_t len)
{
    if (len < 8)
        return SOCKS_MORE;
    long user = cstring(b + 8, len - 8, 1025);
    if (user <= 0)
        return (int)user;
    size_t used = 8 + (size_t)user;
    if (b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] != 0) {
        long name = cstring(b + used, len - used, SOCKS_HOST_MAX);
        if (name <= 0)
            return (int)name;
        memcpy(r->host, b + used, (size_t)name);
        used += (size_t)name;
    } else if (!inet_ntop(AF_INET, b + 4, r->host, sizeof r->host)) {
        return SOCKS_BAD;
    }
    if (b[1] != 1)
        return SOCKS_BAD; /* CONNECT only */
    r->port = b[2] << 8 | b[3];
    r->used = used;
    return SOCKS_REQUEST;
}

/* SOCKS 5: the greeting (a method list that must offer "none"), then CONNECT. */
static int socks5(struct socks_req *r, const uint8_t *b, size_t len)
{
    if (!r->method_done) {
        if (len < 2 || len < 2u + b[1])
            return SOCKS_MORE;
        if (!memchr(b + 2, 0, b[1]))
            return SOCKS_BAD;
        r->used = 2u + b[1];
        return SOCKS_METHOD;
    }
    if (len < 5)
        return SOCKS_MORE;
    if (b[0] != 5 || b[1] != 1 || b[2] != 0)
        return SOCKS_BAD; /* only socks5 connect supported */
    size_t alen = b[3] == 1 ? 4 : b[3] == 4 ? 16 : b[3] == 3 ? 1u + b[4] : 0;
    if (!alen)
        return SOCKS_BAD;
    if (len < 4 + alen + 2)
        return SOCKS_MORE;
    if (b[3] == 3) {
        memcpy(r->host, b + 5, b[4]);
        r->host[b[4]] = '\0';
    } else if (!inet_ntop(b[3] == 1 ? AF_INET : AF_INET6, b + 4, r->host, sizeof r->host)) {
        return SOCKS_BAD;
    }
    r->port = b[4 + alen] << 8 | b[5 + alen];
    r->used = 4 + alen + 2;
    return SOCKS_REQUEST;
}

int socks_parse(struct socks_req *r, const uint8_t *buf, size_t len)
{
    if (len < 1)
        return SOCKS_MORE;
    if (!r->version && buf[0] != 4 && buf[0] != 5)
        return SOCKS_BAD;
    if (!r->version)
        r->version = buf[0];
    return r->version == 4 ? socks4(r, buf, len) : socks5(r, buf, len);
}

size_t socks_reply(int version, uint8_t *out)
{
    /* SOCKS 4: version 0, 90 granted, port and address 0. SOCKS 5: succeeded, an IPv4
     * address 0.0.0.0 and port 0 (ssh's INADDR_ANY, "ignored"). */
    static const uint8_t v4[8] = {0, 90, 0, 0, 0, 0, 0, 0};
    static const uint8_t v5[10] = {5, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    if (version == 4) {
        memcpy(out, v4, sizeof v4);
        return sizeof v4;
    }
    memcpy(out, v5, sizeof v5);
    return sizeof v5;
}

/* Whether one PermitRemoteOpen word (n bytes at w: "HOST:PORT", the host in brackets for an
 * IPv6 address, "*" for any host or port) lets host:port be opened, as ssh's open_match:
 * names compared as given, not resolved. */
static int permit_word(const char *w, size_t n, const char *host, int port)
{
    const char *colon = NULL;
    for (size_t i = 0; i < n; i++)
        if (w[i] == ':')
            colon = w + i;
    if (!colon)
        return 0;
    const char *h = w, *p = colon + 1;
    size_t hl = (size_t)(colon - w), pl = n - hl - 1;
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    int port_ok = pl == 1 && p[0] == '*';
    if (!port_ok && pl > 0 && pl <= 5) {
        long v = 0;
        size_t i = 0;
        while (i < pl && p[i] >= '0' && p[i] <= '9')
            v = v * 10 + (p[i++] - '0');
        port_ok = i == pl && v == port;
    }
    int host_ok = (hl == 1 && h[0] == '*') || (strlen(host) == hl && !memcmp(h, host, hl));
    return port_ok && host_ok;
}

int socks_permitted(const char *list, const char *host, int port)
{
    if (!list[0] || !strcmp(list, "any"))
        return 1;
    for (const char *w = list; *w;) {
        size_t n = strcspn(w, " ");
        if (n && permit_word(w, n, host, port))
            return 1;
        w += n + (w[n] == ' ');
    }
    return 0;
}
