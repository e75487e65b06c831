/* The codec's heap side, for muxssh and the broker: frames that grow as they are written,
 * received frames and string lists copied to the heap, and receive errors in words. */
#include "proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* proto_buf's grow hook: double the heap buffer until need fits. */
static int grow(struct proto_buf *b, size_t need)
{
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

void proto_begin(struct proto_buf *b, uint8_t type)
{
    uint8_t *d = malloc(256);
    proto_begin_into(b, type, d, d ? 256 : 0); /* no memory: err is set, put_* do nothing */
    b->grow = grow;
}

void proto_buf_free(struct proto_buf *b)
{
    if (b->data)
        explicit_bzero(b->data, b->cap); /* a frame may carry an answer or an environment */
    if (!b->grow) {                      /* the caller's buffer: wiped only */
        b->len = 0;
        return;
    }
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char **proto_strlist_dup(const struct pstrlist *l)
{
    char **v = calloc((size_t)l->count + 1, sizeof *v);
    if (!v)
        return NULL;
    const uint8_t *it = NULL;
    struct pstr s;
    for (uint32_t i = 0; i < l->count && proto_strlist_next(l, &it, &s) == 0; i++) {
        v[i] = strndup(s.p, s.n);
        if (!v[i]) {
            proto_strv_free(v);
            return NULL;
        }
    }
    return v;
}

char **proto_strv_dup(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **out = calloc(n + 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++) {
        out[i] = strdup(v[i]);
        if (!out[i]) {
            proto_strv_free(out);
            return NULL;
        }
    }
    return out;
}

void proto_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

long proto_recv(int sock, uint8_t **body, int *fds, int maxfds, int *nfds, char *err, size_t errlen)
{
    uint8_t hdr[PROTO_HDR];
    int dummy = 0;
    if (!nfds)
        nfds = &dummy;
    *nfds = 0;
    *body = NULL;
    long r = proto_recv_exact(sock, hdr, sizeof hdr, fds, maxfds, nfds);
    if (r <= 0) {
        if (r < 0)
            snprintf(err, errlen, "read from peer: %s", strerror(errno));
        return r;
    }
    uint32_t n = proto_be32(hdr);
    if (n < 1 || n > PROTO_MAX_FRAME) {
        snprintf(err, errlen, "peer sent a frame of %u bytes", n);
        return -1;
    }
    uint8_t *b = malloc(n);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r = proto_recv_exact(sock, b, n, fds, maxfds, nfds);
    if (r <= 0) {
        snprintf(err, errlen, "peer closed in the middle of a frame");
        free(b);
        return -1;
    }
    *body = b;
    return (long)n;
}
