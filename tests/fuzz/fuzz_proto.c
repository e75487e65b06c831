/* libFuzzer target: the wire protocol decoder, fed a byte stream as the broker reads one.
 * Every complete frame is decoded; an accepted frame must re-encode to the same bytes (the
 * decoder takes only canonical frames) and its lists must copy out item for item; a
 * rejected one must say why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static void round_trip(const uint8_t *body, size_t len, const struct proto_msg *m)
{
    struct proto_buf b;
    int nu = 0, ns = 0, nl = 0;
    proto_begin(&b, m->type);
    for (const char *f = proto_schema(m->type); *f; f++) {
        if (*f == 'u') {
            proto_put_u32(&b, m->u[nu++]);
        } else if (*f == 's') {
            proto_put_str(&b, m->s[ns].p, m->s[ns].n);
            ns++;
        } else {
            const struct pstrlist *l = &m->l[nl++];
            char **v = proto_strlist_dup(l);
            if (!v)
                abort();
            uint32_t n = 0;
            const uint8_t *it = NULL;
            struct pstr item;
            while (proto_strlist_next(l, &it, &item) == 0) {
                if (!v[n] || strlen(v[n]) != item.n || memcmp(v[n], item.p, item.n))
                    abort();
                n++;
            }
            if (n != l->count || v[n])
                abort();
            proto_put_strlist(&b, v, -1);
            proto_strv_free(v);
        }
    }
    if (proto_end(&b) < 0 || b.len != PROTO_HDR + len || memcmp(b.data + PROTO_HDR, body, len))
        abort();
    proto_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        long fl = proto_frame_len(data + off, size - off);
        if (fl <= 0)
            break;
        const uint8_t *body = data + off + PROTO_HDR;
        size_t blen = (size_t)fl - PROTO_HDR;
        struct proto_msg m;
        char err[256] = "";
        if (proto_decode(body, blen, &m, err, sizeof err) == 0)
            round_trip(body, blen, &m);
        else if (!err[0] || strchr(err, '\n'))
            abort(); /* a rejection always has a one-line reason */
        off += (size_t)fl;
    }
    return 0;
}
