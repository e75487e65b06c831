/* The broker's one clock reader: monotonic (or boot-time) clocks in ms and µs. */
#ifndef MUXSHIM_CLOCK_H
#define MUXSHIM_CLOCK_H

#include <time.h>

/* Clock id (CLOCK_MONOTONIC, CLOCK_BOOTTIME) in µs. */
static inline long long clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* Clock id in ms. */
static inline long long clock_ms(clockid_t id)
{
    return clock_us(id) / 1000;
}

#endif
