/* Wire protocol: one encoder, one decoder, framed send/receive with fds. Nothing here uses
 * the heap, stdio or a lock, so libmuxshim.so links this file; what does is proto_heap.c. */
#include "proto.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Field layout of each message type: u = u32, s = str, l = strlist. */
static const char *const schema[MSG_TYPE_MAX + 1] = {
    [MSG_HELLO] = "uuu",         [MSG_OPEN] = "sslsslu",       [MSG_PROMPT] = "uus",
    [MSG_PROMPT_REPLY] = "uus",  [MSG_MESSAGE] = "s",          [MSG_WINDOW_CHANGE] = "uuuu",
    [MSG_SIGNAL] = "s",          [MSG_EXIT] = "uus",           [MSG_CONTROL] = "usslsl",
    [MSG_CONTROL_REPLY] = "us",  [MSG_ERROR] = "us",           [MSG_STARTED] = "u",
    [MSG_ROUTE] = "ssssuullusu", [MSG_ROUTE_REPLY] = "u",      [MSG_HANDED] = "sslssl",
    [MSG_LOCAL_COMMAND] = "s",   [MSG_LOCAL_DONE] = "u",       [MSG_FORWARDS] = "uus",
    [MSG_FORWARDS_DONE] = "u",   [MSG_INCOMING] = "uuusus",    [MSG_INCOMING_REPLY] = "uu",
    [MSG_X11_AUTH] = "uus",      [MSG_X11_AUTH_REPLY] = "uss", [MSG_CONTROL_OUT] = "s",
};

static const char *const names[MSG_TYPE_MAX + 1] = {
    [MSG_HELLO] = "HELLO",
    [MSG_OPEN] = "OPEN",
    [MSG_PROMPT] = "PROMPT",
    [MSG_PROMPT_REPLY] = "PROMPT_REPLY",
    [MSG_MESSAGE] = "MESSAGE",
    [MSG_WINDOW_CHANGE] = "WINDOW_CHANGE",
    [MSG_SIGNAL] = "SIGNAL",
    [MSG_EXIT] = "EXIT",
    [MSG_CONTROL] = "CONTROL",
    [MSG_CONTROL_REPLY] = "CONTROL_REPLY",
    [MSG_ERROR] = "ERROR",
    [MSG_STARTED] = "STARTED",
    [MSG_ROUTE] = "ROUTE",
    [MSG_ROUTE_REPLY] = "ROUTE_REPLY",
    [MSG_HANDED] = "HANDED",
    [MSG_LOCAL_COMMAND] = "LOCAL_COMMAND",
    [MSG_LOCAL_DONE] = "LOCAL_DONE",
    [MSG_FORWARDS] = "FORWARDS",
    [MSG_FORWARDS_DONE] = "FORWARDS_DONE",
    [MSG_INCOMING] = "INCOMING",
    [MSG_INCOMING_REPLY] = "INCOMING_REPLY",
    [MSG_X11_AUTH] = "X11_AUTH",
    [MSG_X11_AUTH_REPLY] = "X11_AUTH_REPLY",
    [MSG_CONTROL_OUT] = "CONTROL_OUT",
};

const char *proto_schema(unsigned type)
{
    return type >= 1 && type <= MSG_TYPE_MAX && schema[type] ? schema[type] : "";
}

const char *proto_type_name(unsigned type)
{
    if (type == 0 || type > MSG_TYPE_MAX || !names[type])
        return "?";
    return names[type];
}

static void put_bytes(struct proto_buf *b, const void *src, size_t n)
{
    if (b->err)
        return;
    if (b->len + n > PROTO_HDR + PROTO_MAX_FRAME) {
        b->err = 1;
        return;
    }
    if (b->len + n > b->cap && (!b->grow || b->grow(b, b->len + n) < 0)) {
        b->err = 1;
        return;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
}

void proto_begin_into(struct proto_buf *b, uint8_t type, uint8_t *buf, size_t cap)
{
    static const uint8_t zero[PROTO_HDR];
    b->data = buf;
    b->len = 0;
    b->cap = cap;
    b->err = 0;
    b->grow = NULL;
    put_bytes(b, zero, sizeof zero);
    put_bytes(b, &type, 1);
}

void proto_put_u32(struct proto_buf *b, uint32_t v)
{
    uint8_t w[4];
    proto_set_be32(w, v);
    put_bytes(b, w, 4);
}

void proto_put_str(struct proto_buf *b, const char *s, size_t n)
{
    if (!s)
        s = "";
    if (n == (size_t)-1)
        n = strlen(s);
    if (n > PROTO_MAX_FRAME || memchr(s, '\0', n)) {
        b->err = 1;
        return;
    }
    proto_put_u32(b, (uint32_t)n);
    put_bytes(b, s, n);
}

void proto_put_strlist(struct proto_buf *b, char *const *v, int count)
{
    uint32_t n = 0;
    if (v)
        while ((count < 0 || (int)n < count) && v[n])
            n++;
    if (n > PROTO_MAX_LIST) {
        b->err = 1;
        return;
    }
    proto_put_u32(b, n);
    for (uint32_t i = 0; i < n; i++)
        proto_put_str(b, v[i], (size_t)-1);
}

int proto_end(struct proto_buf *b)
{
    if (b->err || b->len < PROTO_HDR + 1)
        return -1;
    proto_set_be32(b->data, (uint32_t)(b->len - PROTO_HDR));
    return 0;
}

long proto_frame_len(const uint8_t *buf, size_t len)
{
    if (len < PROTO_HDR)
        return 0;
    uint32_t n = proto_be32(buf);
    if (n < 1 || n > PROTO_MAX_FRAME)
        return -1;
    if (len < PROTO_HDR + n)
        return 0;
    return (long)(PROTO_HDR + n);
}

/* err = a, then the number n (when a number is given), then c: the decoder's one-line
 * reasons, written without stdio (the shim decodes in its hooks). */
static void reason(char *err, size_t errlen, const char *a, const char *b, int has_n, size_t n,
                   const char *c)
{
    char num[24];
    size_t k = 0, at = 0;
    if (!errlen)
        return;
    do
        num[sizeof num - 1 - k++] = (char)('0' + n % 10);
    while ((n /= 10) && k < sizeof num);
    const char *parts[4] = {a, b, has_n ? num + sizeof num - k : "", c};
    const size_t lens[4] = {strlen(a), strlen(b), has_n ? k : 0, strlen(c)};
    for (int i = 0; i < 4; i++)
        for (size_t j = 0; j < lens[i] && at + 1 < errlen; j++)
            err[at++] = parts[i][j];
    err[at] = '\0';
}

/* Reads a str at *off; checks bounds and rejects embedded NUL. */
static int take_str(const uint8_t *p, size_t len, size_t *off, struct pstr *out)
{
    if (len - *off < 4)
        return -1;
    uint32_t n = proto_be32(p + *off);
    *off += 4;
    if (n > len - *off)
        return -1;
    if (memchr(p + *off, '\0', n))
        return -1;
    out->p = (const char *)(p + *off);
    out->n = n;
    *off += n;
    return 0;
}

int proto_decode(const uint8_t *body, size_t len, struct proto_msg *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (len < 1 || len > PROTO_MAX_FRAME) {
        reason(err, errlen, "bad frame size ", "", 1, len, "");
        return -1;
    }
    m->type = body[0];
    if (m->type == 0 || m->type > MSG_TYPE_MAX || !schema[m->type]) {
        reason(err, errlen, "unknown message type ", "", 1, m->type, "");
        return -1;
    }
    size_t off = 1;
    int nu = 0, ns = 0, nl = 0;
    for (const char *f = schema[m->type]; *f; f++) {
        if (*f == 'u') {
            if (len - off < 4)
                goto truncated;
            m->u[nu++] = proto_be32(body + off);
            off += 4;
        } else if (*f == 's') {
            if (take_str(body, len, &off, &m->s[ns++]) < 0)
                goto truncated;
        } else {
            if (len - off < 4)
                goto truncated;
            uint32_t count = proto_be32(body + off);
            off += 4;
            if (count > PROTO_MAX_LIST) {
                reason(err, errlen, names[m->type], ": list of ", 1, count,
                       " items is over the limit");
                return -1;
            }
            size_t start = off;
            for (uint32_t i = 0; i < count; i++) {
                struct pstr s;
                if (take_str(body, len, &off, &s) < 0)
                    goto truncated;
            }
            m->l[nl].p = body + start;
            m->l[nl].count = count;
            m->l[nl].bytes = (uint32_t)(off - start);
            nl++;
        }
    }
    if (off != len) {
        reason(err, errlen, names[m->type], ": ", 1, len - off, " trailing bytes");
        return -1;
    }
    return 0;
truncated:
    reason(err, errlen, names[m->type], ": truncated or malformed field", 0, 0, "");
    return -1;
}

int proto_strlist_next(const struct pstrlist *l, const uint8_t **it, struct pstr *out)
{
    if (!l->p)
        return -1;
    const uint8_t *end = l->p + l->bytes;
    const uint8_t *p = *it ? *it : l->p;
    if (p >= end)
        return -1;
    /* Items were validated by proto_decode: lengths are in bounds. */
    uint32_t n = proto_be32(p);
    out->p = (const char *)(p + 4);
    out->n = n;
    *it = p + 4 + n;
    return 0;
}

int proto_str_copy(const struct pstr *s, char *out, size_t outlen)
{
    if (s->n >= outlen)
        return -1;
    memcpy(out, s->p, s->n);
    out[s->n] = '\0';
    return 0;
}

/* Send len bytes of data, blocking, the fds (at most 4) with the first byte. 0 or -1/errno. */
static int send_all(int sock, const uint8_t *data, size_t len, const int *fds, int nfds)
{
    size_t off = 0;
    while (off < len) {
        struct iovec iov = {.iov_base = (void *)(data + off), .iov_len = len - off};
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(sizeof(int) * 4)];
        } cm;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (off == 0 && nfds > 0) {
            if (nfds > 4) {
                errno = EINVAL;
                return -1;
            }
            memset(&cm, 0, sizeof cm);
            mh.msg_control = cm.buf;
            mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
            struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
            memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
        }
        ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

int proto_send(int sock, const struct proto_buf *b, const int *fds, int nfds)
{
    return send_all(sock, b->data, b->len, fds, nfds);
}

int proto_write_all(int sock, const void *data, size_t len)
{
    return send_all(sock, data, len, NULL, 0);
}

ssize_t proto_recvmsg(int sock, void *buf, size_t len, int flags, int *fds, int maxfds, int *nfds)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * 8)];
    } cm;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
    ssize_t r = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
    for (struct cmsghdr *c = r >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int got[8];
        memcpy(got, CMSG_DATA(c), k * sizeof(int));
        for (size_t i = 0; i < k; i++) {
            if (*nfds < maxfds)
                fds[(*nfds)++] = got[i];
            else
                close(got[i]);
        }
    }
    return r;
}

long proto_recv_exact(int sock, uint8_t *buf, size_t n, int *fds, int maxfds, int *nfds)
{
    size_t off = 0;
    while (off < n) {
        ssize_t r = proto_recvmsg(sock, buf + off, n - off, 0, fds, maxfds, nfds);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            return off == 0 ? 0 : -1;
        off += (size_t)r;
    }
    return (long)n;
}

long proto_recv_into(int sock, uint8_t *buf, size_t cap, int *fds, int maxfds, int *nfds)
{
    uint8_t hdr[PROTO_HDR];
    *nfds = 0;
    long r = proto_recv_exact(sock, hdr, sizeof hdr, fds, maxfds, nfds);
    if (r <= 0)
        return r;
    uint32_t n = proto_be32(hdr);
    if (n < 1 || n > PROTO_MAX_FRAME || n > cap) {
        errno = EMSGSIZE;
        return -1;
    }
    r = proto_recv_exact(sock, buf, n, fds, maxfds, nfds);
    if (r <= 0) {
        if (r == 0)
            errno = EPIPE;
        return -1;
    }
    return (long)n;
}
