/* A simple growable byte buffer with a read offset. */
#ifndef MUXSHIM_BUF_H
#define MUXSHIM_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *p;
    size_t off; /* first unread byte */
    size_t len; /* end of data */
    size_t cap;
    size_t hw; /* bytes of p written so far (as far as len has reached): what a wipe clears */
};

/* Bytes waiting in b. */
static inline size_t buf_used(const struct buf *b)
{
    return b->len - b->off;
}
/* Make room for n more bytes at the end (compacting first); returns 0 or -1. */
int buf_reserve(struct buf *b, size_t n);
/* Append n bytes; returns 0 or -1. */
int buf_append(struct buf *b, const void *src, size_t n);
/* Drop n bytes from the front. */
void buf_consume(struct buf *b, size_t n);
/* Drop every byte waiting in b (kept for the wipe). */
void buf_drop(struct buf *b);
/* Free the memory, wiping what was written first when wipe is set. */
void buf_free(struct buf *b, int wipe);

#endif
