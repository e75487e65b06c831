/* A simple growable byte buffer with a read offset. */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

/* Callers write at p + len and then move len: note how far it has reached. */
static void mark(struct buf *b)
{
    if (b->len > b->hw)
        b->hw = b->len;
}

int buf_reserve(struct buf *b, size_t n)
{
    mark(b);
    if (b->off && b->off == b->len)
        b->off = b->len = 0;
    if (b->cap - b->len >= n)
        return 0;
    if (b->off) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= n)
            return 0;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
        cap *= 2;
    /* Not realloc: the old block is wiped before it goes back to the allocator. */
    uint8_t *p = malloc(cap);
    if (!p)
        return -1;
    if (b->p) {
        memcpy(p, b->p, b->len);
        explicit_bzero(b->p, b->hw);
        free(b->p);
    }
    b->p = p;
    b->cap = cap;
    b->hw = b->len;
    return 0;
}

int buf_append(struct buf *b, const void *src, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    mark(b);
    b->off += n;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

void buf_drop(struct buf *b)
{
    mark(b);
    b->off = b->len = 0;
}

void buf_free(struct buf *b, int wipe)
{
    mark(b);
    /* Only what was written: the rest of a large block was never touched, and wiping it
     * would fault in its pages (tens of ms on a busy machine, with every client waiting). */
    if (b->p && wipe)
        explicit_bzero(b->p, b->hw);
    free(b->p);
    memset(b, 0, sizeof *b);
}
