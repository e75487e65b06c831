/* The broker-wide state: the listening socket, the worker pipe, the lists of clients and
 * connections. One instance, B (state.c); only the modules that walk those lists include
 * this. */
#ifndef MUXSHIM_STATE_H
#define MUXSHIM_STATE_H

#include <time.h>

struct peer;
struct sshconn;

/* Broker-wide state. */
struct broker {
    int listen_fd;
    int job_rd, job_wr; /* worker completion pipe */
    char dir[108];
    struct peer *peers;
    struct sshconn *conns;
    int njobs;
    time_t empty_since;
    int quit;
    long turn_max_us;     /* the longest loop turn (from poll's return to the next poll) */
    long turn_end_us;     /* CLOCK_MONOTONIC µs by which this turn's pumping should stop */
    unsigned long turns, turns_slow; /* loop turns, and those over LOOP_SLOW_US */
};

#define LOOP_SLOW_US 20000
/* A turn pumps connections for about this long, then polls again (without sleeping) so
 * new clients and other connections are not kept waiting behind bulk transfers. */
#define LOOP_BUDGET_US 4000

extern struct broker B;

#endif
